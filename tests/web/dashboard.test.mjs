// Browser tests of the web host: the Sync Settings dashboard (against www/fake-engine.js via
// ?engine=fake), the pop-up sign-in driver (www/host-web.js) and its callback page.
//
//   node --test tests/web/
//
// Real Chromium (/usr/bin/chromium) through playwright-core, headless, on a static server of
// our own bound to 127.0.0.1. Pages of a fake identity provider are answered by Playwright's
// request routing, so nothing leaves the machine.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startStaticServer } from './static-server.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const LAUNCH = {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
};

let server;
let browser;
let base;

before(async () => {
  // No engine configuration: a www/config.json left by the demo (git-ignored) points at a
  // provider that is gone, and the fake-engine pages must not pick it up.
  server = await startStaticServer({ port: 0, files: { '/www/config.json': null } });
  base = server.url;
  browser = await chromium.launch(LAUNCH);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh context + page with page errors collected (a test fails on any). */
async function newPage(t, { viewport = { width: 1280, height: 900 } } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  t.after(async () => {
    await context.close();
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  });
  return { context, page, errors };
}

async function openDashboard(t, query = '', opts) {
  const { context, page } = await newPage(t, opts);
  await page.goto(`${base}/www/index.html?engine=fake${query}`);
  await page.waitForSelector('body[data-ready="true"]');
  return { context, page };
}

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

// ---- static server ------------------------------------------------------------------------

describe('static server', () => {
  it('serves files with the right MIME types and nothing outside its root', async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sa-static-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await mkdir(path.join(dir, 'pkg'));
    await writeFile(path.join(dir, 'pkg', 'x_bg.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    await writeFile(path.join(dir, 'pkg', 'x.js'), 'export default 1;\n');
    await writeFile(path.join(dir, 'a.mjs'), 'export const a = 1;\n');
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>x</title>');
    const s = await startStaticServer({ root: dir, port: 0 });
    t.after(() => s.close());
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);

    const wasm = await fetch(`${s.url}/pkg/x_bg.wasm`);
    assert.equal(wasm.status, 200);
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assert.equal((await wasm.arrayBuffer()).byteLength, 8);
    assert.match((await fetch(`${s.url}/pkg/x.js`)).headers.get('content-type'), /^text\/javascript/);
    assert.match((await fetch(`${s.url}/a.mjs`)).headers.get('content-type'), /^text\/javascript/);
    assert.match((await fetch(`${s.url}/`)).headers.get('content-type'), /^text\/html/);
    assert.equal((await fetch(`${s.url}/nope.js`)).status, 404);
    assert.equal((await fetch(`${s.url}/..%2f..%2fetc%2fpasswd`)).status, 403);
  });

  it('serves only www/ and pkg/ of the repository, never .git, sources or tests', async (t) => {
    const s = await startStaticServer({ port: 0 });
    t.after(() => s.close());
    assert.equal((await fetch(`${s.url}/www/index.html`)).status, 200);
    for (const p of ['/.git/HEAD', '/Cargo.toml', '/src/lib.rs', '/tests/run.sh', '/node_modules/.package-lock.json']) {
      assert.equal((await fetch(`${s.url}${p}`)).status, 404, p);
    }
    const root = await fetch(`${s.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/www/index.html');
  });
});

// ---- dashboard rendering ------------------------------------------------------------------

describe('dashboard (fake engine)', () => {
  it('renders both sections, the chosen mail service card and the CRM card', async (t) => {
    const { page } = await openDashboard(t);
    const headings = await page.locator('h2').allTextContents();
    assert.deepEqual(headings, ['E-Mail Configuration', 'CRM']);

    assert.equal(await byTestId(page, 'mail-service-microsoft365').isChecked(), true);
    assert.equal(await byTestId(page, 'card-microsoft').isVisible(), true);
    assert.equal(await byTestId(page, 'card-google').count(), 0, 'only the chosen mail service is shown');
    assert.equal(await byTestId(page, 'card-salesforce').isVisible(), true);

    const status = byTestId(page, 'status-microsoft');
    assert.equal(await status.getAttribute('data-status'), 'connected');
    assert.equal((await status.textContent()).trim().endsWith('Connected'), true, 'status has text, not only colour');
    assert.match(await byTestId(page, 'account-microsoft').textContent(), /alice@contoso\.com/);
    assert.match(await byTestId(page, 'signin-needed-microsoft').textContent(), /^Sign-in needed in 2[23] h$/);
    assert.equal(await byTestId(page, 'reason-microsoft').count(), 0);

    for (const s of ['microsoft', 'salesforce']) {
      assert.equal(await byTestId(page, `refresh-${s}`).isVisible(), true);
      assert.equal(await byTestId(page, `change-${s}`).isVisible(), true);
      assert.equal(await byTestId(page, `disconnect-${s}`).isVisible(), true);
      assert.equal(await byTestId(page, `refresh-${s}`).evaluate((b) => b.tagName), 'BUTTON');
    }
  });

  it('shows reasons in plain words and only the buttons the view offers', async (t) => {
    const { page } = await openDashboard(t, '&scenario=attention');
    assert.equal(await byTestId(page, 'status-microsoft').getAttribute('data-status'), 'needs_attention');
    assert.match(await byTestId(page, 'status-microsoft').textContent(), /Needs attention/);
    assert.match(await byTestId(page, 'reason-microsoft').textContent(), /password was changed/);
    assert.equal(await byTestId(page, 'refresh-microsoft').isVisible(), true);
    assert.match(await byTestId(page, 'refresh-microsoft').getAttribute('class'), /sa-btn--primary/, 'the suggested action stands out');

    // Salesforce: canRefresh false (contact_admin), canChange true.
    assert.match(await byTestId(page, 'reason-salesforce').textContent(), /deactivated/);
    assert.equal(await byTestId(page, 'refresh-salesforce').count(), 0);
    assert.equal(await byTestId(page, 'change-salesforce').isVisible(), true);
    assert.equal(await byTestId(page, 'signin-needed-microsoft').count(), 0);
  });

  it('a disconnected card offers only Connect; "Not sure" explains the choices', async (t) => {
    const { page } = await openDashboard(t, '&scenario=empty');
    assert.equal(await byTestId(page, 'mail-service-not_sure').isChecked(), true);
    assert.match(await byTestId(page, 'mail-service-hint').textContent(), /Gmail with Google/);
    assert.equal(await byTestId(page, 'status-salesforce').getAttribute('data-status'), 'disconnected');
    assert.equal(await byTestId(page, 'refresh-salesforce').count(), 0);
    assert.equal(await byTestId(page, 'disconnect-salesforce').count(), 0);
    assert.equal((await byTestId(page, 'change-salesforce').textContent()).trim(), 'Connect');
  });

  it('choosing another mail service shows its card first; a signed-in one stays listed', async (t) => {
    const { page } = await openDashboard(t);
    await page.locator('label', { has: byTestId(page, 'mail-service-gmail') }).click();
    await byTestId(page, 'card-google').waitFor();
    const cards = await page.locator('[data-testid="section-email"] [data-testid^="card-"]').evaluateAll((els) => els.map((e) => e.dataset.testid));
    assert.deepEqual(cards, ['card-google', 'card-microsoft'], 'Microsoft is still signed in, so it stays visible');
    const calls = await page.evaluate(() => window.__sidebarAuth.auth.fakeCalls());
    assert.deepEqual(calls.at(-1), { method: 'selectMailService', service: null, options: { choice: 'gmail' } });
  });

  it('keyboard: Tab reaches Refresh in a logical order, Enter triggers it, busy disables it', async (t) => {
    const { page } = await openDashboard(t);
    const order = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.textContent?.trim()));
    }
    assert.deepEqual(order.slice(0, 8), [
      'Devtools',
      'mail-service-microsoft365',
      'refresh-microsoft',
      'change-microsoft',
      'disconnect-microsoft',
      'refresh-salesforce',
      'change-salesforce',
      'disconnect-salesforce',
    ]);
    // Back to Refresh (Microsoft) and press Enter.
    for (let i = 0; i < 5; i++) await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-testid')), 'refresh-microsoft');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.equal(outline, 'solid', 'focus is visible');
    await page.keyboard.press('Enter');

    await page.waitForSelector('[data-testid="status-microsoft"][data-status="signing_in"]');
    assert.equal(await byTestId(page, 'refresh-microsoft').getAttribute('aria-disabled'), 'true');
    assert.equal(await byTestId(page, 'change-microsoft').getAttribute('aria-disabled'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-testid')), 'refresh-microsoft', 'focus survives redraws');
    await page.waitForSelector('[data-testid="status-microsoft"][data-status="connected"]');
    assert.equal(await byTestId(page, 'refresh-microsoft').getAttribute('aria-disabled'), null);
    const calls = await page.evaluate(() => window.__sidebarAuth.auth.fakeCalls());
    assert.deepEqual(calls.filter((c) => c.method === 'reauthorize'), [{ method: 'reauthorize', service: 'microsoft', options: {} }]);
  });

  it('a rejected action shows its message in the aria-live region', async (t) => {
    const { page } = await openDashboard(t);
    await page.evaluate(() => window.__sidebarAuth.auth.fakeFailNext({ provider: 'salesforce', endpoint: 'token', kind: 'error', code: 'inactive_user' }));
    await byTestId(page, 'refresh-salesforce').click();
    const live = byTestId(page, 'errors');
    await page.waitForFunction(() => document.querySelector('[data-testid="errors"]').textContent.length > 0);
    assert.equal(await live.getAttribute('aria-live'), 'assertive');
    assert.match(await live.textContent(), /^Salesforce: Your user is deactivated/);
    await byTestId(page, 'errors-dismiss').click();
    assert.equal(await live.textContent(), '');
  });

  it('CRM Change: pick a saved login, or a new username with Sandbox or a My Domain URL', async (t) => {
    const { page } = await openDashboard(t);
    const lastConnect = () => page.evaluate(() => window.__sidebarAuth.auth.fakeCalls().filter((c) => c.method === 'connect').at(-1));

    await byTestId(page, 'change-salesforce').click();
    assert.equal(await byTestId(page, 'change-salesforce').getAttribute('aria-expanded'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-testid')), 'change-choice-salesforce-saved:0', 'the form takes focus');
    await byTestId(page, 'change-choice-salesforce-saved:1').check();
    await byTestId(page, 'change-submit-salesforce').click();
    assert.deepEqual((await lastConnect()).options, { loginHint: 'alice@acme.test.uat', loginHost: 'https://test.salesforce.com' });
    await page.waitForSelector('[data-testid="status-salesforce"][data-status="connected"]');

    await byTestId(page, 'change-salesforce').click();
    await byTestId(page, 'change-choice-salesforce-new').check();
    await byTestId(page, 'change-username-salesforce').fill('bob@acme.test');
    await byTestId(page, 'change-host-salesforce-sandbox').check();
    await byTestId(page, 'change-submit-salesforce').click();
    assert.deepEqual((await lastConnect()).options, { loginHint: 'bob@acme.test', loginHost: 'https://test.salesforce.com' });
    await page.waitForSelector('[data-testid="status-salesforce"][data-status="connected"]');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-testid')), 'change-salesforce', 'focus returns to Change');

    await byTestId(page, 'change-salesforce').click();
    await byTestId(page, 'change-choice-salesforce-new').check();
    await byTestId(page, 'change-host-salesforce-custom').check();
    await byTestId(page, 'change-custom-host-salesforce').fill('http://acme.my.salesforce.com');
    await byTestId(page, 'change-submit-salesforce').click();
    assert.match(await byTestId(page, 'change-error-salesforce').textContent(), /https:\/\//);
    await byTestId(page, 'change-custom-host-salesforce').fill('https://acme.my.salesforce.com/');
    await byTestId(page, 'change-submit-salesforce').click();
    assert.deepEqual((await lastConnect()).options, { loginHost: 'https://acme.my.salesforce.com' });

    // Escape closes the form and returns focus to Change.
    await page.waitForSelector('[data-testid="status-salesforce"][data-status="connected"]');
    await byTestId(page, 'change-salesforce').click();
    await page.keyboard.press('Escape');
    assert.equal(await byTestId(page, 'change-form-salesforce').count(), 0);
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-testid')), 'change-salesforce');
  });

  it('"Sign-in needed in N h" follows the clock without a new view', async (t) => {
    const { context, page } = await newPage(t);
    await page.clock.install({ time: new Date('2025-11-25T10:00:00Z') });
    await page.goto(`${base}/www/index.html?engine=fake`);
    await page.waitForSelector('body[data-ready="true"]');
    const text = () => byTestId(page, 'signin-needed-microsoft').textContent();
    assert.match(await text(), /^Sign-in needed in 2[23] h$/);
    await page.clock.fastForward('03:00:00');
    await page.waitForFunction(() => /in (19|20) h$/.test(document.querySelector('[data-testid="signin-needed-microsoft"]').textContent));
    void context;
  });

  it('works at 360 px without horizontal scrolling', async (t) => {
    const { page } = await openDashboard(t, '&scenario=attention', { viewport: { width: 360, height: 800 } });
    await byTestId(page, 'change-salesforce').click();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0);
  });

  it('with ?popup=1 the fake signs in through the real pop-up and callback page', async (t) => {
    const { context, page } = await openDashboard(t, '&popup=1');
    const popupSeen = context.waitForEvent('page');
    await byTestId(page, 'change-microsoft').click();
    const popup = await popupSeen;
    assert.match(popup.url(), /\/www\/callback\.html\?code=fake-code-microsoft&state=/);
    await page.waitForSelector('[data-testid="status-microsoft"][data-status="connected"]');
    assert.deepEqual(await page.evaluate(() => window.__sidebarAuth.driver.ignoredMessages()), []);
  });
});

// ---- devtools page -----------------------------------------------------------------------

describe('dashboard: fields of the real engine’s view (src/view.rs)', () => {
  it('draws notice, section hint, provider code and “Try again” (canRetry → retryNow)', async (t) => {
    const { context, page } = await newPage(t);
    await context.route(`${base}/__test/view.html`, (route) =>
      route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>view</title><link rel="stylesheet" href="/www/dashboard.css"><div id="root"></div>' }),
    );
    await page.goto(`${base}/__test/view.html`);
    await page.evaluate(async () => {
      const { renderDashboard } = await import('/www/dashboard.js');
      const conn = (service, title, extra) => ({
        service, title, account: null, status: 'disconnected', statusText: 'Not connected', reason: null, reasonText: null,
        action: null, providerCode: null, signInNeededAt: null, signInNeededText: null, accessTokenExpiresAt: null,
        expiryProvenance: null, nextRetryAt: null, canRefresh: false, canChange: true, canRetry: false, busy: false, ...extra,
      });
      const view = {
        now: Date.now(),
        notice: 'Saved sign-ins could not be read (syntax error). They were kept for support; please connect again.',
        sections: [
          {
            id: 'email', title: 'E-Mail Configuration', mailService: 'not_sure',
            mailServiceChoices: [{ id: 'microsoft365', label: 'Microsoft 365' }, { id: 'not_sure', label: 'Not sure' }],
            hint: 'Addresses ending in gmail.com: Gmail.',
            connections: [
              conn('microsoft', 'Microsoft 365', {
                account: 'alice@contoso.com', status: 'needs_attention', statusText: 'Paused after repeated failures',
                reason: 'provider_unavailable', reasonText: 'The service is temporarily unavailable. Sync will retry by itself.',
                action: 'retry_later', providerCode: 'AADSTS50033', canRefresh: true, canRetry: true,
              }),
              conn('google', 'Gmail'),
            ],
          },
          { id: 'crm', title: 'CRM', hint: 'Salesforce is not configured for this installation.', connections: [], savedLogins: [], loginHosts: [] },
        ],
      };
      window.calls = [];
      const record = (name) => (...args) => window.calls.push([name, ...args]);
      renderDashboard(document.getElementById('root'), view, {
        refresh: record('refresh'), change: record('change'), disconnect: record('disconnect'),
        selectMailService: record('selectMailService'), retryNow: record('retryNow'),
      });
    });
    const notice = byTestId(page, 'notice');
    assert.equal(await notice.getAttribute('role'), 'status');
    assert.match(await notice.textContent(), /could not be read/);
    assert.equal((await byTestId(page, 'hint-email').textContent()).trim(), 'Addresses ending in gmail.com: Gmail.');
    assert.equal(await byTestId(page, 'mail-service-hint').count(), 0, 'the engine’s hint replaces the built-in one');
    assert.match(await byTestId(page, 'hint-crm').textContent(), /not configured/);
    assert.equal((await byTestId(page, 'provider-code-microsoft').locator('code').textContent()).trim(), 'AADSTS50033');
    assert.equal(await byTestId(page, 'provider-code-google').count(), 0);
    const retry = byTestId(page, 'retry-microsoft');
    assert.equal((await retry.textContent()).trim(), 'Try again');
    assert.match(await retry.getAttribute('class'), /sa-btn--primary/);
    assert.doesNotMatch(await byTestId(page, 'refresh-microsoft').getAttribute('class'), /sa-btn--primary/, 'one suggested action');
    assert.equal(await byTestId(page, 'retry-google').count(), 0);
    await retry.click();
    assert.deepEqual(await page.evaluate(() => window.calls), [['retryNow', 'microsoft']]);
  });
});

describe('devtools page (fake engine)', () => {
  it('advances the clock, arms a provider error, shows redacted state and exports the log', async (t) => {
    const { page } = await newPage(t, { viewport: { width: 1280, height: 1000 } });
    await page.goto(`${base}/www/devtools.html?engine=fake`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await byTestId(page, 'card-microsoft').isVisible(), true, 'the dashboard is on the page');
    assert.match(await byTestId(page, 'dt-state-microsoft').textContent(), /\[redacted\]/);

    // Every documented error of the provider is offered, plus the transient faults.
    const labels = await byTestId(page, 'dt-fault-kind').locator('option').allTextContents();
    for (const code of ['AADSTS50173', 'AADSTS700084', 'AADSTS53003', 'AADSTS50196', 'temporarily_unavailable']) {
      assert.ok(labels.some((l) => l.includes(code)), code);
    }
    assert.ok(labels.some((l) => l.includes('503')) && labels.some((l) => l.includes('429')) && labels.some((l) => /malformed/i.test(l)));

    // Make Salesforce's next refresh fail with inactive_user, then let time pass until it refreshes.
    await byTestId(page, 'dt-fault-provider').selectOption('salesforce');
    await byTestId(page, 'dt-fault-kind').selectOption({ label: 'inactive_user' });
    await byTestId(page, 'dt-fault-arm').click();
    await page.waitForFunction(() => /Armed/.test(document.querySelector('[data-testid="dt-fault-status"]').textContent));
    await byTestId(page, 'dt-advance-1h').click();
    await byTestId(page, 'dt-advance-1h').click();
    await page.waitForSelector('[data-testid="status-salesforce"][data-status="needs_attention"]');
    assert.match(await byTestId(page, 'reason-salesforce').textContent(), /deactivated/);

    // +24 h ends Microsoft's 24 h spa sign-in.
    await byTestId(page, 'dt-advance-24h').click();
    await page.waitForSelector('[data-testid="status-microsoft"][data-status="needs_attention"]');
    assert.match(await byTestId(page, 'dt-clock').textContent(), /ahead/);

    const rows = await byTestId(page, 'dt-log').locator('tbody tr').count();
    assert.ok(rows >= 3, `event log has rows (${rows})`);

    const downloadSeen = page.waitForEvent('download');
    await byTestId(page, 'dt-export').click();
    const download = await downloadSeen;
    assert.match(download.suggestedFilename(), /^sidebar-auth-events-.*\.json$/);
    const file = await download.path();
    const report = JSON.parse(await (await import('node:fs/promises')).readFile(file, 'utf8'));
    assert.ok(Array.isArray(report.events) && report.events.length === rows);
    assert.equal(JSON.stringify(report).includes('fake-access-token'), false, 'no token text in the export');
  });
});

describe('devtools page against the local identity provider (tests/idp)', () => {
  it('every fault in the menus is one the provider accepts; revoke and end-sessions reach it', async (t) => {
    let startIdp;
    try {
      ({ startIdp } = await import('../idp/idp.mjs'));
    } catch (err) {
      t.skip(`tests/idp not available: ${err.message}`);
      return;
    }
    const idp = await startIdp({ port: 0 });
    t.after(() => idp.close());
    const { context, page } = await newPage(t, { viewport: { width: 1280, height: 1000 } });
    await context.route(`${base}/www/config.json`, (route) =>
      route.fulfill({ contentType: 'application/json', body: JSON.stringify({ devtools: { controlUrl: idp.info.control } }) }),
    );
    await page.goto(`${base}/www/devtools.html?engine=fake`);
    await page.waitForSelector('body[data-ready="true"]');
    // The provider's extra codes arrive from GET /control.
    await page.waitForSelector('optgroup[label="Other codes of the local provider"]', { state: 'attached' });

    const status = byTestId(page, 'dt-fault-status');
    let armed = 0;
    for (const provider of ['microsoft', 'google', 'salesforce']) {
      await byTestId(page, 'dt-fault-provider').selectOption(provider);
      const values = await byTestId(page, 'dt-fault-kind').locator('option').evaluateAll((os) => os.map((o) => o.value));
      for (const value of values) {
        await page.evaluate(() => (document.querySelector('[data-testid="dt-fault-status"]').textContent = ''));
        await byTestId(page, 'dt-fault-kind').selectOption(value);
        await byTestId(page, 'dt-fault-arm').click();
        await page.waitForFunction(() => document.querySelector('[data-testid="dt-fault-status"]').textContent !== '');
        const text = await status.textContent();
        const label = await byTestId(page, 'dt-fault-kind').locator(`option[value="${value}"]`).textContent();
        assert.match(text, /^Armed/, `${provider} / ${label}: ${text}`);
        armed += 1;
      }
    }
    const pending = await (await fetch(`${idp.info.control}/faults`)).json();
    assert.equal(pending.length, armed);
    assert.ok(pending.every((f) => f.endpoint === 'token'));
    await fetch(`${idp.info.control}/clear-faults`, { method: 'POST' });

    await byTestId(page, 'dt-fault-provider').selectOption('microsoft');
    await byTestId(page, 'dt-revoke').click();
    await page.waitForFunction(() => /^Revoked/.test(document.querySelector('[data-testid="dt-fault-status"]').textContent));
    await byTestId(page, 'dt-end-sessions').click();
    await page.waitForFunction(() => /^Ended/.test(document.querySelector('[data-testid="dt-fault-status"]').textContent));
  });
});

// ---- pop-up driver and callback page ------------------------------------------------------

describe('web host driver (host-web.js) and callback page', () => {
  const CALLBACK = () => `${base}/www/callback.html`;

  /** A page on our origin with the driver loaded as window.driver. */
  async function driverPage(t) {
    const { context, page } = await newPage(t);
    await context.route(`${base}/__test/blank.html`, (route) =>
      route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>test</title><body>test</body>' }),
    );
    await page.goto(`${base}/__test/blank.html`);
    await page.evaluate(async () => {
      const m = await import('/www/host-web.js');
      window.hostWeb = m;
      window.driver = m.webHostDriver({ log: () => {} });
    });
    return { context, page };
  }

  /** Start openSignIn in the page; its outcome lands in window.outcome. */
  async function startSignIn(page, authorizeUrl) {
    await page.evaluate(
      ({ url, redirect }) => {
        window.outcome = null;
        window.driver.openSignIn(url, redirect, true).then(
          (value) => (window.outcome = { ok: true, value }),
          (error) => (window.outcome = { ok: false, error }),
        );
      },
      { url: authorizeUrl, redirect: CALLBACK() },
    );
  }

  const outcome = async (page) => {
    await page.waitForFunction(() => window.outcome !== null, null, { timeout: 10_000 });
    return page.evaluate(() => window.outcome);
  };

  it('ignores a message from another origin and resolves with the callback page’s one', async (t) => {
    const { context, page } = await driverPage(t);
    // The "provider" lives on another origin and tries to answer for the callback page.
    await context.route('http://idp.test/**', (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><script>
          const q = new URLSearchParams(location.search);
          const state = q.get('state'), redirect = q.get('redirect_uri');
          window.opener.postMessage({ type: 'sidebar-auth:redirect', url: redirect + '?code=evil&state=' + state }, '*');
          setTimeout(() => { location.href = redirect + '?code=good&state=' + encodeURIComponent(state); }, 300);
        </script>`,
      }),
    );
    const popupSeen = context.waitForEvent('page');
    await startSignIn(page, `http://idp.test/authorize?state=S1&redirect_uri=${encodeURIComponent(CALLBACK())}`);
    const popup = await popupSeen;
    const result = await outcome(page);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.value, `${CALLBACK()}?code=good&state=S1`);
    const ignored = await page.evaluate(() => window.driver.ignoredMessages());
    assert.deepEqual(ignored.map((e) => [e.reason, e.origin]), [['origin', 'http://idp.test']]);
    assert.equal(JSON.stringify(ignored).includes('evil'), false, 'no code text is kept');
    if (!popup.isClosed()) await popup.waitForEvent('close', { timeout: 5000 });
    assert.equal(popup.isClosed(), true, 'the callback page closes itself');
  });

  it('ignores a wrong state, a wrong source and a wrong shape', async (t) => {
    const { context, page } = await driverPage(t);
    await context.route(`${base}/__test/authorize*`, (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><script>
          const q = new URLSearchParams(location.search);
          const state = q.get('state'), redirect = q.get('redirect_uri');
          window.opener.postMessage({ type: 'sidebar-auth:redirect', url: redirect + '?code=bad&state=WRONG' }, location.origin);
          window.opener.postMessage({ type: 'something-else', url: redirect + '?code=bad&state=' + state }, location.origin);
          setTimeout(() => { location.href = redirect + '?code=good&state=' + encodeURIComponent(state); }, 400);
        </script>`,
      }),
    );
    await startSignIn(page, `${base}/__test/authorize?state=S2&redirect_uri=${encodeURIComponent(CALLBACK())}`);
    // The opener itself (not the pop-up) posts a well-formed answer with the right state.
    await page.evaluate((cb) => window.postMessage({ type: 'sidebar-auth:redirect', url: `${cb}?code=self&state=S2` }, location.origin), CALLBACK());
    const result = await outcome(page);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.value, `${CALLBACK()}?code=good&state=S2`);
    const reasons = (await page.evaluate(() => window.driver.ignoredMessages())).map((e) => e.reason).sort();
    assert.deepEqual(reasons, ['shape', 'source', 'state']);
  });

  it('rejects with sign_in_cancelled when the pop-up is closed', async (t) => {
    const { context, page } = await driverPage(t);
    await context.route('http://idp.test/**', (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Sign in</title>' }));
    const popupSeen = context.waitForEvent('page');
    await startSignIn(page, 'http://idp.test/authorize?state=S3');
    const popup = await popupSeen;
    await popup.close();
    const result = await outcome(page);
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'sign_in_cancelled');
  });

  it('rejects with popup_blocked, interaction_required, and opens the documented window', async (t) => {
    const { page } = await driverPage(t);
    const r = await page.evaluate(async () => {
      const calls = [];
      const fakeWin = {
        open: (...args) => {
          calls.push(args);
          return null;
        },
        location: window.location,
        addEventListener() {},
        removeEventListener() {},
        setInterval,
        clearInterval,
        setTimeout,
        clearTimeout,
        localStorage: window.localStorage,
      };
      const d = window.hostWeb.webHostDriver({ window: fakeWin });
      const blocked = await d.openSignIn('https://idp.test/authorize?state=S4', 'https://x/cb', true).catch((e) => e);
      const silent = await d.openSignIn('https://idp.test/authorize?state=S5', 'https://x/cb', false).catch((e) => e);
      return { blocked: blocked.code, silent: silent.code, calls };
    });
    assert.equal(r.blocked, 'popup_blocked');
    assert.equal(r.silent, 'interaction_required');
    assert.deepEqual(r.calls, [['https://idp.test/authorize?state=S4', 'sidebar-auth-signin', 'popup,width=520,height=680']]);
  });

  it('the callback page clears the code from its URL and never sends it as a Referer', async (t) => {
    const { page } = await newPage(t);
    const referers = [];
    page.on('request', (req) => {
      if (!req.url().includes('callback.html')) referers.push(req.headers()['referer'] ?? null);
    });
    await page.goto(`${CALLBACK()}?code=SECRET-CODE&state=abc`);
    await page.waitForFunction(() => location.search === '');
    assert.equal(await page.evaluate(() => location.href), CALLBACK());
    assert.match(await byTestId(page, 'callback-message').textContent(), /lost its connection/);
    assert.equal(referers.some((r) => r && r.includes('SECRET')), false);
  });

  it('stores the vault text under sidebar-auth.vault', async (t) => {
    const { page } = await driverPage(t);
    const r = await page.evaluate(async () => {
      localStorage.clear();
      const before = await window.driver.load();
      await window.driver.save('{"v":1}');
      return { before, after: await window.driver.load(), raw: localStorage.getItem('sidebar-auth.vault') };
    });
    assert.deepEqual(r, { before: null, after: '{"v":1}', raw: '{"v":1}' });
  });

  it('scheduleWake keeps one timer, replaces it, and clamps long delays', async (t) => {
    const { page } = await driverPage(t);
    const r = await page.evaluate(async () => {
      let wakes = 0;
      const d = window.hostWeb.webHostDriver();
      d.onWake(() => wakes++);
      d.scheduleWake(Date.now() + 150);
      d.scheduleWake(Date.now() + 250); // replaces the first
      await new Promise((res) => setTimeout(res, 600));
      const afterTwo = wakes;
      const far = Date.now() + 2 ** 40;
      d.scheduleWake(far); // beyond setTimeout's range: must not fire at once
      await new Promise((res) => setTimeout(res, 100));
      const armedAt = d.scheduledWakeAt();
      d.dispose();
      return { afterTwo, afterFar: wakes, armed: armedAt === far };
    });
    assert.deepEqual(r, { afterTwo: 1, afterFar: 1, armed: true });
  });
});
