/* search.js — sitegen's client-side search (no dependencies, no CDN).
 *
 * Reads the sharded index written by src/searchidx.c (format:
 * docs/search-index.md).  The tokenizer and the Porter2 stemmer below mirror
 * the C code exactly: a query term must reduce to the same string as the
 * indexed word.  Change both together (tests/searchidx.sh checks parity).
 *
 * The page provides <meta name="sitegen-base" content="..."> (the site root,
 * absolute or relative to the page), a form with <input name="q"> and an
 * element #search-results.  Results are built with DOM nodes, never
 * innerHTML, so index content cannot inject markup. */
(function () {
  'use strict';

  /* ---- tokenizer (mirrors sg_search_tokenize) ---------------------------- */
  var FOLD_C0 = 'aaaaaaAceeeeiiiidnooooo-ouuuuyTS' +
                'aaaaaaAceeeeiiiidnooooo-ouuuuyTy';
  var FOLD_100 = 'aaaaaacccccccc' + 'dddd' + 'eeeeeeeeee' + 'gggggggg' + 'hhhh' +
    'iiiiiiiiii' + 'II' + 'jj' + 'kkk' + 'llllllllll' + 'nnnnnnnnn' + 'oooooo' +
    'OO' + 'rrrrrr' + 'ssssssss' + 'tttttt' + 'uuuuuuuuuuuu' + 'ww' + 'yyy' +
    'zzzzzz' + 's';
  var EXPAND = { A: 'ae', T: 'th', I: 'ij', O: 'oe', S: 'ss' };
  var MAX_TERM = 64; /* bytes of UTF-8, as SG_SEARCH_MAX_TERM */
  var STOP = {};
  ('a an and are as at be by for from in is it of on or that the this to ' +
   'was were with you your').split(' ').forEach(function (w) { STOP[w] = 1; });

  /* Folded form of code point c: null = separator, '' = ignore. */
  function fold(c) {
    if (c < 0x80) {
      if (c >= 65 && c <= 90) c += 32;
      if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) return String.fromCharCode(c);
      return null;
    }
    if (c < 0xC0) return null;
    var f = c < 0x100 ? FOLD_C0.charAt(c - 0xC0) : c < 0x180 ? FOLD_100.charAt(c - 0x100) : '';
    if (f) {
      if (f === '-') return null;
      return EXPAND[f] || f;
    }
    if (c >= 0x300 && c <= 0x36F) return '';
    if ((c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) ||
        (c >= 0xFE10 && c <= 0xFE6F) || (c >= 0xFF00 && c <= 0xFF0F) ||
        (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
        (c >= 0xFF5B && c <= 0xFF65) || c >= 0xFFF0) return null;
    if ((c >= 0x391 && c <= 0x3A9) || (c >= 0x410 && c <= 0x42F)) c += 0x20;
    else if (c >= 0x400 && c <= 0x40F) c += 0x50;
    else if (c === 0x3C2) c = 0x3C3;
    return String.fromCodePoint(c);
  }

  function utf8len(s) {
    var n = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      n += c < 0x80 ? 1 : c < 0x800 ? 2 : (c >= 0xD800 && c <= 0xDBFF) ? (i++, 4) : 3;
    }
    return n;
  }

  /* Splits text into folded words, before stopwords and stemming:
   * [{w: word, start: index, end: index}] with UTF-16 indices into text. */
  function words(text) {
    var out = [], cps = Array.from(text), tok = '', start = -1, pos = 0, over = false;
    function isApos(c) { return c === 0x27 || c === 0x2019; }
    function flush(end) {
      if (tok || over) {
        if (!over) out.push({ w: tok, start: start, end: end });
        tok = ''; over = false;
      }
      start = -1;
    }
    for (var i = 0; i < cps.length; i++) {
      var c = cps[i].codePointAt(0), r = fold(c);
      if (r === null && isApos(c) && tok) {
        var c2 = i + 1 < cps.length ? cps[i + 1].codePointAt(0) : -1;
        var c3 = i + 2 < cps.length ? cps[i + 2].codePointAt(0) : -1;
        var r2 = c2 >= 0 ? fold(c2) : null;
        if (r2) {
          if ((c2 === 115 || c2 === 83) && (c3 < 0 || fold(c3) === null)) {
            pos += cps[i].length + cps[i + 1].length;
            i++;
            continue; /* possessive 's */
          }
          pos += cps[i].length;
          continue; /* don't -> dont */
        }
      }
      if (r) {
        if (start < 0) start = pos;
        if (utf8len(tok) + utf8len(r) <= MAX_TERM) tok += r; else over = true;
      } else if (r === null) {
        flush(pos);
      }
      pos += cps[i].length;
    }
    flush(pos);
    return out;
  }

  function tokenize(text) {
    var out = [];
    words(text).forEach(function (x) { if (!STOP[x.w]) out.push(stem(x.w)); });
    return out;
  }

  /* ---- Porter2 (Snowball 2.2 English), mirrors sg_stem ------------------- */
  function isv(c) { return 'aeiouy'.indexOf(c) >= 0 && c !== ''; }

  function stem(word) {
    if (!/^[a-z]+$/.test(word)) return word;
    var EX1 = { skis: 'ski', skies: 'sky', dying: 'die', lying: 'lie', tying: 'tie',
      idly: 'idl', gently: 'gentl', ugly: 'ugli', early: 'earli', only: 'onli',
      singly: 'singl', sky: 'sky', news: 'news', howe: 'howe', atlas: 'atlas',
      cosmos: 'cosmos', bias: 'bias', andes: 'andes' };
    if (Object.prototype.hasOwnProperty.call(EX1, word)) return EX1[word];
    if (word.length <= 2) return word;

    var b = word.split('');
    if (b[0] === 'y') b[0] = 'Y';
    for (var i = 1; i < b.length; i++) if (b[i] === 'y' && isv(b[i - 1])) b[i] = 'Y';
    var w = b.join('');

    function regionAfter(s, from) {
      for (var k = from + 1; k < s.length; k++)
        if (!isv(s[k]) && isv(s[k - 1])) return k + 1;
      return s.length;
    }
    var p1;
    if (/^(gener|arsen)/.test(w)) p1 = 5;
    else if (/^commun/.test(w)) p1 = 6;
    else p1 = regionAfter(w, 0);
    var p2 = regionAfter(w, p1);

    function ends(s) { return w.length >= s.length && w.slice(w.length - s.length) === s; }
    function setTo(k, s) { w = w.slice(0, w.length - k) + s; }
    function shortv(end) {
      var c1 = w[end - 1], c2 = w[end - 2], c3 = w[end - 3];
      if (end >= 3 && !isv(c1) && c1 !== 'w' && c1 !== 'x' && c1 !== 'Y' && isv(c2) && !isv(c3)) return true;
      return end === 2 && isv(w[0]) && !isv(w[1]);
    }
    function hasVowel(end) {
      for (var k = 0; k < end; k++) if (isv(w[k])) return true;
      return false;
    }
    function longest(rules) {
      for (var k = 0; k < rules.length; k += 2) if (ends(rules[k])) return k;
      return -1;
    }

    /* step 1a */
    if (ends('sses')) setTo(4, 'ss');
    else if (ends('ied') || ends('ies')) setTo(3, w.length - 3 >= 2 ? 'i' : 'ie');
    else if (ends('ss') || ends('us')) { /* nothing */ }
    else if (ends('s') && w.length >= 3 && hasVowel(w.length - 2)) w = w.slice(0, -1);

    var EX2 = ['inning', 'outing', 'canning', 'herring', 'earring', 'proceed', 'exceed', 'succeed'];
    if (EX2.indexOf(w) < 0) {
      /* step 1b */
      var s1b = ['eedly', 'ingly', 'edly', 'eed', 'ing', 'ed'], m = -1;
      for (i = 0; i < s1b.length; i++) if (ends(s1b[i])) { m = i; break; }
      if (m === 0 || m === 3) {
        if (w.length - s1b[m].length >= p1) setTo(s1b[m].length, 'ee');
      } else if (m >= 0 && hasVowel(w.length - s1b[m].length)) {
        w = w.slice(0, w.length - s1b[m].length);
        var last = w[w.length - 1];
        if (ends('at') || ends('bl') || ends('iz')) w += 'e';
        else if (w.length >= 2 && last === w[w.length - 2] && 'bdfgmnprt'.indexOf(last) >= 0) w = w.slice(0, -1);
        else if (w.length === p1 && shortv(w.length)) w += 'e';
      }
      /* step 1c */
      if (w.length >= 3 && (ends('y') || ends('Y')) && !isv(w[w.length - 2]))
        w = w.slice(0, -1) + 'i';
      /* step 2 */
      var r2 = ['ational', 'ate', 'ization', 'ize', 'iveness', 'ive', 'fulness', 'ful',
        'ousness', 'ous', 'tional', 'tion', 'biliti', 'ble', 'lessli', 'less', 'fulli', 'ful',
        'ousli', 'ous', 'entli', 'ent', 'aliti', 'al', 'iviti', 'ive', 'alism', 'al',
        'ation', 'ate', 'abli', 'able', 'alli', 'al', 'anci', 'ance', 'enci', 'ence',
        'izer', 'ize', 'ator', 'ate', 'bli', 'ble', 'ogi', 'og', 'li', ''];
      var k = longest(r2);
      if (k >= 0 && w.length - r2[k].length >= p1) {
        if (r2[k] === 'ogi') { if (w.length >= 4 && w[w.length - 4] === 'l') setTo(3, 'og'); }
        else if (r2[k] === 'li') { if (w.length >= 3 && 'cdeghkmnrt'.indexOf(w[w.length - 3]) >= 0) setTo(2, ''); }
        else setTo(r2[k].length, r2[k + 1]);
      }
      /* step 3 */
      var r3 = ['ational', 'ate', 'tional', 'tion', 'alize', 'al', 'icate', 'ic', 'iciti', 'ic',
        'ative', '', 'ical', 'ic', 'ness', '', 'ful', ''];
      k = longest(r3);
      if (k >= 0 && w.length - r3[k].length >= p1 &&
          !(r3[k] === 'ative' && w.length - 5 < p2)) setTo(r3[k].length, r3[k + 1]);
      /* step 4 */
      var r4 = ['ement', '', 'ance', '', 'ence', '', 'able', '', 'ible', '', 'ment', '',
        'ate', '', 'ive', '', 'ize', '', 'iti', '', 'ism', '', 'ion', '', 'ous', '',
        'ant', '', 'ent', '', 'ic', '', 'al', '', 'er', ''];
      k = longest(r4);
      if (k >= 0 && w.length - r4[k].length >= p2) {
        var pre = w[w.length - 4];
        if (r4[k] !== 'ion' || (w.length >= 4 && (pre === 's' || pre === 't')))
          setTo(r4[k].length, '');
      }
      /* step 5 */
      var n = w.length, e = w[n - 1];
      if (e === 'e') {
        if (n - 1 >= p2 || (n - 1 >= p1 && !shortv(n - 1))) w = w.slice(0, -1);
      } else if (e === 'l') {
        if (n - 1 >= p2 && n >= 2 && w[n - 2] === 'l') w = w.slice(0, -1);
      }
    }
    return w.replace(/Y/g, 'y');
  }

  /* Exposed for tests/searchidx.sh (node) and the browser test. */
  var api = { tokenize: tokenize, stem: stem, words: words };
  if (typeof module !== 'undefined' && module.exports) { module.exports = api; return; }
  window.sitegenSearch = api;

  /* ---- index access ------------------------------------------------------ */
  var MAX_SHOWN = 20, MAX_PREFIX_SHARDS = 8, SHARD_DEPTH = 6;
  var root, metaP, shardCache = {}, chunkCache = {};

  function getJSON(path, cache) {
    if (!cache[path]) {
      cache[path] = fetch(new URL(path, root).href).then(function (r) {
        if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
        return r.json();
      });
    }
    return cache[path];
  }

  function shardFile(key) {
    var out = 'search/t/', bytes = new TextEncoder().encode(key);
    for (var i = 0; i < bytes.length; i++) {
      var c = bytes[i];
      out += (c >= 97 && c <= 122) || (c >= 48 && c <= 57) ? String.fromCharCode(c)
        : '_' + (c < 16 ? '0' : '') + c.toString(16);
    }
    return out + '.json';
  }

  /* The shard holding term t: the longest listed key that is a prefix of t. */
  function shardOf(meta, t) {
    var cps = Array.from(t);
    for (var l = Math.min(cps.length, SHARD_DEPTH); l > 0; l--) {
      var k = cps.slice(0, l).join('');
      if (meta.keySet[k]) return k;
    }
    return null;
  }

  /* Shards that may hold terms starting with p. */
  function shardsForPrefix(meta, p) {
    var out = [], own = shardOf(meta, p);
    if (own) out.push(own);
    for (var i = 0; i < meta.shards.length && out.length < MAX_PREFIX_SHARDS; i++) {
      var k = meta.shards[i];
      if (k !== own && k.length > p.length && k.indexOf(p) === 0) out.push(k);
    }
    return out;
  }

  /* Query words: [{term, prefix (folded raw word or null)}]. */
  function parseQuery(q, live) {
    var ws = words(q), out = [];
    var trailing = live && ws.length && ws[ws.length - 1].end === q.length;
    ws.forEach(function (x, i) {
      if (STOP[x.w]) return;
      var isLast = trailing && i === ws.length - 1 && Array.from(x.w).length >= 2;
      out.push({ term: stem(x.w), prefix: isLast ? x.w : null });
    });
    return out;
  }

  function fieldScore(v) {
    var tf = v >> 2;
    return 8 * (v & 1) + 3 * ((v >> 1) & 1) + (tf > 0 ? 1 + Math.log(tf) : 0);
  }

  function search(q, live) {
    return metaP.then(function (meta) {
      var qs = parseQuery(q, live);
      if (!qs.length) return { hits: [], terms: [] };
      var need = {};
      qs.forEach(function (x) {
        var k = shardOf(meta, x.term);
        if (k) need[k] = 1;
        if (x.prefix) {
          shardsForPrefix(meta, x.prefix).forEach(function (s) { need[s] = 1; });
          shardsForPrefix(meta, x.term).forEach(function (s) { need[s] = 1; });
        }
      });
      var keys = Object.keys(need);
      return Promise.all(keys.map(function (k) { return getJSON(shardFile(k), shardCache); }))
        .then(function (shards) {
          var N = meta.pages, pages = {};
          qs.forEach(function (x, qi) {
            var cand = [];
            shards.forEach(function (sh) {
              Object.keys(sh).forEach(function (t) {
                if (t === x.term) cand.push([t, 1]);
                else if (x.prefix && (t.indexOf(x.prefix) === 0 || t.indexOf(x.term) === 0))
                  cand.push([t, 0.5]);
              });
            });
            var seen = {};
            cand.forEach(function (c) {
              if (seen[c[0]]) return;
              seen[c[0]] = 1;
              var list = null;
              for (var s = 0; s < shards.length && !list; s++)
                if (Object.prototype.hasOwnProperty.call(shards[s], c[0])) list = shards[s][c[0]];
              var df = list.length / 2, idf = Math.log(1 + N / df), id = 0;
              for (var j = 0; j < list.length; j += 2) {
                id += list[j];
                var sc = idf * fieldScore(list[j + 1]) * c[1];
                var p = pages[id] || (pages[id] = { id: id, best: {}, score: 0, matched: 0 });
                if (!(qi in p.best)) { p.best[qi] = sc; p.matched++; }
                else if (sc > p.best[qi]) p.best[qi] = sc;
              }
            });
          });
          var hits = Object.keys(pages).map(function (id) {
            var p = pages[id];
            for (var k in p.best) p.score += p.best[k];
            return p;
          });
          hits.sort(function (a, b) {
            return b.matched - a.matched || b.score - a.score || a.id - b.id;
          });
          return { hits: hits, terms: qs };
        });
    });
  }

  function pageInfo(meta, id) {
    var c = Math.floor(id / meta.page_chunk);
    return getJSON('search/p/' + c + '.json', chunkCache).then(function (chunk) {
      return chunk[id % meta.page_chunk];
    });
  }

  /* ---- rendering --------------------------------------------------------- */
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  /* Excerpt with query words wrapped in <mark>. */
  function highlight(text, terms) {
    var frag = document.createDocumentFragment(), at = 0;
    words(text).forEach(function (x) {
      if (STOP[x.w]) return;
      var t = stem(x.w), hit = terms.some(function (q) {
        return t === q.term || (q.prefix && (x.w.indexOf(q.prefix) === 0 || t.indexOf(q.term) === 0));
      });
      if (!hit) return;
      frag.appendChild(document.createTextNode(text.slice(at, x.start)));
      frag.appendChild(el('mark', null, text.slice(x.start, x.end)));
      at = x.end;
    });
    frag.appendChild(document.createTextNode(text.slice(at)));
    return frag;
  }

  function init() {
    var results = document.getElementById('search-results');
    /* The search page may hold two boxes (site header and page form): all
     * of them drive the results and are kept in sync. */
    var inputs = Array.prototype.slice.call(document.querySelectorAll('input[name=q]'));
    if (!results || !inputs.length) return;
    var input = inputs[inputs.length - 1];
    var baseMeta = document.querySelector('meta[name="sitegen-base"]');
    root = new URL(baseMeta ? baseMeta.getAttribute('content') : './', location.href);
    if (!/\/$/.test(root.pathname)) root = new URL('./', root);
    metaP = getJSON('search/meta.json', {}).then(function (meta) {
      if (meta.format !== 1) throw new Error('search index format ' + meta.format + ' not supported');
      meta.keySet = {};
      meta.shards.forEach(function (k) { meta.keySet[k] = 1; });
      return meta;
    });

    var status = document.getElementById('search-status');
    if (!status) {
      status = el('p', null, '');
      status.id = 'search-status';
      status.setAttribute('role', 'status');
      results.parentNode.insertBefore(status, results);
    }
    var seq = 0, timer = null;

    function run(live) {
      var q = input.value.trim(), my = ++seq;
      var url = new URL(location.href);
      if (q) url.searchParams.set('q', q); else url.searchParams.delete('q');
      history.replaceState(null, '', url.href);
      if (!q) { results.textContent = ''; status.textContent = ''; return; }
      search(q, live).then(function (r) {
        if (my !== seq) return null;
        var shown = r.hits.slice(0, MAX_SHOWN);
        return metaP.then(function (meta) {
          return Promise.all(shown.map(function (h) { return pageInfo(meta, h.id); }));
        }).then(function (infos) {
          if (my !== seq) return;
          results.textContent = '';
          var list = el('ol', 'search-hits');
          infos.forEach(function (pg) {
            var li = el('li', 'search-hit');
            var a = el('a', null, pg[1]);
            a.href = new URL(pg[0].replace(/^\//, ''), root).href;
            var h = el('h2', 'search-hit-title');
            h.appendChild(a);
            li.appendChild(h);
            if (pg[2]) li.appendChild(el('p', 'search-hit-section', pg[2]));
            var p = el('p', 'search-hit-excerpt');
            p.appendChild(highlight(pg[3], r.terms));
            li.appendChild(p);
            list.appendChild(li);
          });
          results.appendChild(list);
          var n = r.hits.length;
          status.textContent = n === 0 ? 'No pages match \u201C' + q + '\u201D.'
            : n + (n === 1 ? ' page matches' : ' pages match') + ' \u201C' + q + '\u201D' +
              (n > MAX_SHOWN ? ' (showing the best ' + MAX_SHOWN + ').' : '.');
        });
      }).catch(function (e) {
        if (my !== seq) return;
        status.textContent = 'Search is unavailable: ' + e.message;
      });
    }

    inputs.forEach(function (box) {
      if (box.form) box.form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        input = box;
        run(false);
      });
      box.addEventListener('input', function () {
        input = box;
        inputs.forEach(function (o) { if (o !== box) o.value = box.value; });
        clearTimeout(timer);
        timer = setTimeout(function () { run(true); }, 120);
      });
    });
    var q0 = new URLSearchParams(location.search).get('q');
    if (q0) {
      inputs.forEach(function (o) { o.value = q0; });
      run(false);
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
