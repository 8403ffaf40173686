/* test.js — drives Debian's Chromium over a built help site (see run.sh).
 * Usage: node test.js SITE_DIR ARTIFACTS_DIR
 * Serves SITE_DIR on 127.0.0.1 (random port), then checks search, navigation,
 * breadcrumbs and the console; saves screenshots.  Prints "N passed, N failed". */
'use strict';
const fs = require('fs');
const path = require('path');
const http = require('http');
const { chromium } = require('playwright-core');
const search = require('../../theme/search.js');

const [site, artifacts] = process.argv.slice(2);
if (!site || !artifacts) {
  console.error('usage: node test.js SITE_DIR ARTIFACTS_DIR');
  process.exit(2);
}
fs.mkdirSync(artifacts, { recursive: true });

let passed = 0, failed = 0;
function check(ok, what, detail) {
  if (ok) { passed++; console.log('ok   ' + what); }
  else { failed++; console.log('FAIL ' + what + (detail ? ': ' + detail : '')); }
}

/* ---- a static file server, loopback only --------------------------------- */
const TYPES = { '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.js': 'text/javascript',
  '.json': 'application/json', '.xml': 'application/xml', '.svg': 'image/svg+xml',
  '.txt': 'text/plain', '.png': 'image/png', '.ico': 'image/x-icon' };
const root = path.resolve(site);
/* The site may be built for a sub-path (base_url https://host/help/): serve
 * it under the same path, read from the home page's sitegen-base meta tag. */
const baseMeta = /<meta name="sitegen-base" content="([^"]*)"/.exec(fs.readFileSync(path.join(root, 'index.html'), 'utf8'));
let mount = baseMeta ? new URL(baseMeta[1], 'http://x/').pathname : '/';
if (!mount.endsWith('/')) mount += '/';
const server = http.createServer((req, res) => {
  let p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  if (!p.startsWith(mount)) { res.writeHead(404); res.end(); return; }
  p = '/' + p.slice(mount.length);
  let f = path.join(root, p);
  if (!f.startsWith(root)) { res.writeHead(403); res.end(); return; }
  if (p.endsWith('/')) f = path.join(f, 'index.html');
  fs.readFile(f, (err, data) => {
    if (err) {
      fs.readFile(path.join(root, '404.html'), (e2, d404) => {
        res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
        res.end(e2 ? 'not found' : d404);
      });
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(f)] || 'application/octet-stream' });
    res.end(data);
  });
});

/* ---- pick a word that occurs only in one article's body ------------------ */
function readJSON(rel) { return JSON.parse(fs.readFileSync(path.join(root, 'search', rel), 'utf8')); }
function shardFile(key) {
  let out = '';
  for (const c of Buffer.from(key, 'utf8'))
    out += (c >= 97 && c <= 122) || (c >= 48 && c <= 57) ? String.fromCharCode(c) : '_' + c.toString(16).padStart(2, '0');
  return 't/' + out + '.json';
}
function pageMeta(meta, id) { return readJSON('p/' + Math.floor(id / meta.page_chunk) + '.json')[id % meta.page_chunk]; }
function htmlText(file) {
  return fs.readFileSync(file, 'utf8').replace(/<(script|style)[\s\S]*?<\/\1>/g, ' ')
    .replace(/<[^>]*>/g, ' ').replace(/&[a-z#0-9]+;/g, ' ');
}
function pickBodyWord() {
  const meta = readJSON('meta.json');
  for (const key of meta.shards) {
    const shard = readJSON(shardFile(key));
    for (const term of Object.keys(shard).sort()) {
      const list = shard[term];
      if (list.length !== 2 || (list[1] & 3) !== 0 || !/^[a-z]{6,}$/.test(term)) continue;
      const pg = pageMeta(meta, list[0]);
      if (pg[0].split('/').filter(Boolean).length < 2) continue; /* an article, not a section */
      const file = path.join(root, pg[0], 'index.html');
      if (!fs.existsSync(file)) continue;
      const hit = search.words(htmlText(file)).find(w => /^[a-z]+$/.test(w.w) && search.stem(w.w) === term);
      if (hit) return { word: hit.w, term, url: pg[0], title: pg[1] };
    }
  }
  return null;
}

async function main() {
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  const base = 'http://127.0.0.1:' + server.address().port + mount;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const consoleErrors = [];
  async function newPage(width, height) {
    const ctx = await browser.newContext({ viewport: { width, height } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(10000);
    /* The browser's own /favicon.ico probe lies outside a site mounted under
     * a sub-path; everything else that fails counts. */
    const favicon = u => new URL(u, base).pathname === '/favicon.ico';
    page.on('console', m => {
      if (m.type() === 'error' && !favicon((m.location() || {}).url || ''))
        consoleErrors.push(m.text() + ' @ ' + ((m.location() || {}).url || page.url()));
    });
    page.on('pageerror', e => consoleErrors.push(String(e) + ' @ ' + page.url()));
    page.on('response', r => { if (r.status() >= 400 && !favicon(r.url())) consoleErrors.push('HTTP ' + r.status() + ' ' + r.url()); });
    /* Nothing may leave loopback (no CDN, no fonts, no analytics). */
    page.on('request', r => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) consoleErrors.push('external request ' + r.url()); });
    return page;
  }

  try {
    const target = pickBodyWord();
    check(target !== null, 'index has a word found only in one article body');
    const page = await newPage(1366, 900);

    await page.goto(base);
    check(await page.locator('h1').count() > 0, 'home page renders a heading');
    await page.screenshot({ path: path.join(artifacts, 'desktop-home.png'), fullPage: true });

    if (target) {
      /* Search from the header box: submit navigates to the search page. */
      await page.fill('header input[name=q]', target.word);
      await page.press('header input[name=q]', 'Enter');
      await page.waitForURL(/\/search\/\?q=/);
      const link = page.locator('#search-results a[href$="' + target.url + '"]');
      await link.first().waitFor().catch(() => {});
      check(await link.count() > 0, 'search for body-only word "' + target.word + '" finds ' + target.url);
      const status = (await page.locator('#search-status').textContent().catch(() => '')) || '';
      check(/match/.test(status), 'search status announces the result count', status);
      await page.screenshot({ path: path.join(artifacts, 'desktop-search.png'), fullPage: true });

      /* Live search while typing a prefix of a title word. */
      const titleWord = search.words(target.title).map(w => w.w).find(w => w.length >= 5 && /^[a-z]+$/.test(w));
      if (titleWord) {
        const box = page.locator('#search-results').locator('xpath=preceding::input[@name="q"][1]');
        await box.fill('');
        await box.type(titleWord.slice(0, 4), { delay: 30 });
        const anyHit = page.locator('#search-results li.search-hit');
        await anyHit.first().waitFor().catch(() => {});
        check(await anyHit.count() > 0, 'live prefix search "' + titleWord.slice(0, 4) + '" shows results');
      }

      /* Follow the hit to the article. */
      await page.goto(base + 'search/?q=' + encodeURIComponent(target.word));
      await link.first().waitFor().catch(() => {});
      if (await link.count() > 0) {
        await Promise.all([page.waitForURL('**' + target.url), link.first().click()]);
        check(new URL(page.url()).pathname.endsWith(target.url), 'clicking the hit opens the article');
      } else {
        check(false, 'clicking the hit opens the article', 'no hit');
        await page.goto(base + target.url.replace(/^\//, ''));
      }
      const h1 = (await page.locator('main h1').first().textContent() || '').trim();
      check(h1 === target.title, 'article heading is its title', h1);
      await page.screenshot({ path: path.join(artifacts, 'desktop-article.png'), fullPage: true });

      /* Breadcrumbs: the section crumb leads to a section page listing the article. */
      const crumbs = page.locator('nav.breadcrumbs a');
      const n = await crumbs.count();
      check(n >= 2, 'breadcrumbs show home and section', String(n));
      if (n >= 2) {
        const secHref = await crumbs.nth(n - 1).getAttribute('href');
        await Promise.all([page.waitForNavigation(), crumbs.nth(n - 1).click()]);
        check(new URL(page.url()).pathname === new URL(secHref, page.url()).pathname, 'section breadcrumb navigates');
        const back = page.locator('main a[href$="' + target.url + '"], nav a[href$="' + target.url + '"]');
        check(await back.count() > 0, 'section page links to the article');
        if (await back.count() > 0) {
          await Promise.all([page.waitForNavigation(), back.first().click()]);
          check(new URL(page.url()).pathname.endsWith(target.url), 'section page link opens the article');
        }
        await Promise.all([page.waitForNavigation(), page.locator('nav.breadcrumbs a').first().click()]);
        check(new URL(page.url()).pathname === new URL(base).pathname, 'home breadcrumb returns to the home page');
      }
    }

    /* Phone width. */
    const phone = await newPage(390, 844);
    await phone.goto(base);
    await phone.screenshot({ path: path.join(artifacts, 'phone-home.png'), fullPage: true });
    if (target) {
      await phone.goto(base + target.url.replace(/^\//, ''));
      await phone.screenshot({ path: path.join(artifacts, 'phone-article.png'), fullPage: true });
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 1, 'article fits the phone width (no horizontal scroll)', overflow + 'px');
      await phone.goto(base + 'search/?q=' + encodeURIComponent(target.word));
      await phone.locator('#search-results li').first().waitFor().catch(() => {});
      await phone.screenshot({ path: path.join(artifacts, 'phone-search.png'), fullPage: true });
    }

    /* Escaping: a query with markup is shown as text, never parsed. */
    await page.goto(base + 'search/?q=' + encodeURIComponent('<img src=x onerror=alert(1)>'));
    await page.waitForTimeout(300);
    check(await page.locator('#search-results img, #search-status img').count() === 0, 'query markup is not injected');

    check(consoleErrors.length === 0, 'no console errors, failed or external requests', consoleErrors.slice(0, 5).join(' | '));
  } catch (e) {
    check(false, 'browser run', e && e.stack || String(e));
  } finally {
    await browser.close();
    server.close();
  }
  console.log(passed + ' passed, ' + failed + ' failed');
  process.exit(failed ? 1 : 0);
}

main();
