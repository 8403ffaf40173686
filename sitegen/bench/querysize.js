/* querysize.js — bytes a browser downloads for one search on a built index:
 * meta.json + the query's shards (as theme/search.js picks them) + the page
 * chunks of the first 10 results, ranked exactly as search.js does.
 * Usage: node querysize.js SITE_DIR "query words" */
'use strict';
const fs = require('fs'), path = require('path');
const s = require('../theme/search.js');
const [site, query] = process.argv.slice(2);
const dir = path.join(site, 'search');
const size = f => fs.statSync(path.join(dir, f)).size;
const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
const keys = new Set(meta.shards);
const file = k => 't/' + Array.from(Buffer.from(k)).map(c => (c >= 97 && c <= 122) || (c >= 48 && c <= 57) ? String.fromCharCode(c) : '_' + c.toString(16).padStart(2, '0')).join('') + '.json';
const shardOf = t => { const c = Array.from(t); for (let l = Math.min(6, c.length); l > 0; l--) if (keys.has(c.slice(0, l).join(''))) return c.slice(0, l).join(''); return null; };
const terms = [...new Set(s.tokenize(query))];
let bytes = size('meta.json'), shardBytes = 0;
const score = new Map(), N = meta.pages;
for (const k of new Set(terms.map(shardOf).filter(Boolean))) shardBytes += size(file(k));
terms.forEach(t => {
  const k = shardOf(t); if (!k) return;
  const list = JSON.parse(fs.readFileSync(path.join(dir, file(k)), 'utf8'))[t]; if (!list) return;
  const idf = Math.log(1 + N / (list.length / 2)); let id = 0;
  for (let j = 0; j < list.length; j += 2) {
    id += list[j]; const v = list[j + 1], tf = v >> 2;
    const sc = idf * (8 * (v & 1) + 3 * ((v >> 1) & 1) + (tf > 0 ? 1 + Math.log(tf) : 0));
    const e = score.get(id) || { m: 0, s: 0 }; e.m++; e.s += sc; score.set(id, e);
  }
});
const top = [...score.entries()].sort((a, b) => b[1].m - a[1].m || b[1].s - a[1].s || a[0] - b[0]).slice(0, 10);
const chunks = new Set(top.map(([id]) => Math.floor(id / meta.page_chunk)));
let chunkBytes = 0; chunks.forEach(c => { chunkBytes += size('p/' + c + '.json'); });
bytes += shardBytes + chunkBytes;
console.log(`search download for "${query}": ${(bytes / 1024).toFixed(1)} KB total (meta ${(size('meta.json') / 1024).toFixed(1)} KB, ` +
  `${terms.length} term shard(s) ${(shardBytes / 1024).toFixed(1)} KB, ${chunks.size} page chunk(s) ${(chunkBytes / 1024).toFixed(1)} KB; ${score.size} pages matched; goal <= 300 KB)`);
