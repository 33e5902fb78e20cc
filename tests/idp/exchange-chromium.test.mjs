// The emulated Exchange hosts are reachable from this Chromium (/usr/bin/chromium) with
// exchangeChromiumArgs() (tests/support/browser.mjs): --host-resolver-rules maps the real
// names on ports 443 and 80 to the emulator's loopback ports, the SPKI list accepts its
// certificate. Checked from an extension service worker (where the product's EWS calls
// run) and from a page, by the emulator's own request log (what reached it, with which
// Host). Unmapped names must fail without leaving the machine.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { startIdp } from './idp.mjs';
import { CHROMIUM, CHROMIUM_ARGS, exchangeChromiumArgs } from '../support/browser.mjs';

const POX = (email) => `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>${email}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`;

let idp;
let context;
let worker;
let dir;

before(async () => {
  idp = await startIdp({});
  dir = mkdtempSync(path.join(os.tmpdir(), 'exchange-chromium-'));
  const ext = path.join(dir, 'ext');
  const profile = path.join(dir, 'profile');
  // A bare MV3 extension with the host permissions the product asks for at run time.
  await import('node:fs').then((fs) => fs.mkdirSync(ext));
  writeFileSync(path.join(ext, 'manifest.json'), JSON.stringify({
    manifest_version: 3,
    name: 'exchange reachability probe',
    version: '1.0',
    background: { service_worker: 'sw.js' },
    host_permissions: ['https://*.contoso.test/*', 'http://*.fabrikam.test/*', 'https://*.fabrikam.test/*', 'https://outlook.office365.com/*'],
  }));
  writeFileSync(path.join(ext, 'sw.js'), 'self.addEventListener("install", () => self.skipWaiting());\n');
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, `--disable-extensions-except=${ext}`, `--load-extension=${ext}`, ...exchangeChromiumArgs(idp.info.exchange)],
  });
  worker = context.serviceWorkers()[0] ?? await context.waitForEvent('serviceworker', { timeout: 15_000 });
});

after(async () => {
  await context?.close();
  await idp?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** fetch in the service worker: {status, headers, text} or {error}. */
function swFetch(url, init = {}) {
  return worker.evaluate(async ([u, i]) => {
    try {
      const r = await fetch(u, { redirect: 'manual', ...i });
      return { status: r.status, type: r.type, www: r.headers.get('www-authenticate'), text: await r.text() };
    } catch (e) {
      return { error: String(e) };
    }
  }, [url, init]);
}

const lastRequest = () => idp.exchange.requests.at(-1);

test('service worker: https://autodiscover.contoso.test (port 443) reaches the emulator, certificate accepted, Basic works', async () => {
  idp.exchange.reset();
  const noAuth = await swFetch('https://autodiscover.contoso.test/autodiscover/autodiscover.xml', { method: 'POST', headers: { 'Content-Type': 'text/xml' }, body: POX('alex@contoso.test') });
  assert.equal(noAuth.status, 401, JSON.stringify(noAuth));
  assert.match(noAuth.www, /Basic realm="autodiscover\.contoso\.test"/);
  assert.equal(lastRequest().host, 'autodiscover.contoso.test');
  assert.equal(lastRequest().scheme, 'https');

  const authorization = `Basic ${Buffer.from('alex@contoso.test:Exchange-Pass-1').toString('base64')}`;
  const ok = await swFetch('https://autodiscover.contoso.test/autodiscover/autodiscover.xml', { method: 'POST', headers: { 'Content-Type': 'text/xml', Authorization: authorization }, body: POX('alex@contoso.test') });
  assert.equal(ok.status, 200, JSON.stringify(ok));
  assert.match(ok.text, /<EwsUrl>https:\/\/mail\.contoso\.test\/EWS\/Exchange\.asmx<\/EwsUrl>/);
  assert.deepEqual([lastRequest().authorization, lastRequest().login, lastRequest().auth], ['Basic', 'alex@contoso.test', 'accepted']);
});

test('service worker: http://autodiscover.fabrikam.test (port 80) reaches the emulator and its 302 is seen, not followed', async () => {
  idp.exchange.reset();
  const r = await swFetch('http://autodiscover.fabrikam.test/autodiscover/autodiscover.xml');
  // redirect:'manual' in a worker gives an opaque-redirect response (status 0): the
  // emulator's log shows the request arrived over http with that Host.
  assert.ok(r.type === 'opaqueredirect' || r.status === 302, JSON.stringify(r));
  assert.deepEqual([lastRequest().scheme, lastRequest().host, lastRequest().status, lastRequest().authorization], ['http', 'autodiscover.fabrikam.test', 302, null]);
  const followed = await swFetch('http://autodiscover.fabrikam.test/autodiscover/autodiscover.xml', { redirect: 'follow', method: 'GET' });
  // Followed, the redirect lands on https://mail.fabrikam.test (a POST there needs Basic).
  assert.equal(followed.status, 401, JSON.stringify(followed));
  assert.equal(lastRequest().host, 'mail.fabrikam.test');
  assert.equal(lastRequest().scheme, 'https');
});

test('service worker: Exchange Online autodiscover JSON at https://outlook.office365.com', async () => {
  const r = await swFetch('https://outlook.office365.com/autodiscover/autodiscover.json/v1.0/megan@m365.test?Protocol=EWS');
  assert.equal(r.status, 200, JSON.stringify(r));
  assert.deepEqual(JSON.parse(r.text), { Protocol: 'EWS', Url: 'https://outlook.office365.com/EWS/Exchange.asmx' });
});

test('page: the Exchange Online autodiscover JSON is readable only when its CORS switch is on', async () => {
  const page = await context.newPage();
  try {
    await page.goto(`${idp.base}/`);
    const read = () => page.evaluate(() => fetch('https://outlook.office365.com/autodiscover/autodiscover.json/v1.0/megan@m365.test?Protocol=EWS').then((r) => r.json(), (e) => `error: ${e}`));
    assert.match(String(await read()), /^error: TypeError/);
    idp.exchange.setConfig({ onlineAutodiscoverCors: true });
    assert.deepEqual(await read(), { Protocol: 'EWS', Url: 'https://outlook.office365.com/EWS/Exchange.asmx' });
  } finally {
    idp.exchange.reset();
    await page.close();
  }
});

test('service worker: names the emulated world has no server for, and other .test names, fail', async () => {
  idp.exchange.reset();
  const noSite = await swFetch('https://fabrikam.test/autodiscover/autodiscover.xml', { method: 'POST', body: 'x' });
  assert.ok(noSite.error, JSON.stringify(noSite));
  const unknown = await swFetch('https://autodiscover.nowhere.test/autodiscover/autodiscover.xml');
  assert.ok(unknown.error, JSON.stringify(unknown));
  assert.equal(idp.exchange.requests.length, 0, 'nothing reached an emulated site');
});

test('page: fetches to https://autodiscover.contoso.test and http://autodiscover.fabrikam.test reach the emulator', async () => {
  idp.exchange.reset();
  const page = await context.newPage();
  try {
    await page.goto(`${idp.base}/`);
    const results = await page.evaluate(async () => {
      const out = {};
      // EWS and POX Autodiscover send no CORS headers: a page can send (no-cors) but never read.
      out.https = await fetch('https://autodiscover.contoso.test/autodiscover/autodiscover.xml', { method: 'POST', mode: 'no-cors', body: 'x' }).then((r) => r.type, (e) => String(e));
      // (no-cors fetches must follow redirects: this one ends at https://mail.fabrikam.test.)
      out.http = await fetch('http://autodiscover.fabrikam.test/autodiscover/autodiscover.xml', { mode: 'no-cors' }).then((r) => r.type, (e) => String(e));
      out.readable = await fetch('https://autodiscover.contoso.test/autodiscover/autodiscover.xml', { method: 'POST', body: 'x' }).then((r) => r.status, (e) => `error: ${e}`);
      return out;
    });
    assert.equal(results.https, 'opaque', JSON.stringify(results));
    assert.equal(results.http, 'opaque', JSON.stringify(results));
    assert.match(String(results.readable), /^error: TypeError/, 'a page cannot read an Exchange answer (no CORS)');
    const seen = idp.exchange.requests.map((e) => `${e.scheme}://${e.host} ${e.status}`);
    assert.ok(seen.includes('https://autodiscover.contoso.test 401'), seen.join('\n'));
    assert.ok(seen.includes('http://autodiscover.fabrikam.test 302'), seen.join('\n'));
    assert.ok(seen.includes('https://mail.fabrikam.test 401'), seen.join('\n'));
  } finally {
    await page.close();
  }
});
