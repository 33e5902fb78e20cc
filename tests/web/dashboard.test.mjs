// Browser tests of the web host: the Sync Settings dashboard (rendering views the Rust
// engine produced, target/contract/fixtures.json), the pop-up sign-in driver
// (www/host-web.js) and its callback page.
//
//   node --test tests/web/
//
// Real Chromium (/usr/bin/chromium) through playwright-core, headless, on a static server of
// our own bound to 127.0.0.1. Pages of a fake identity provider are answered by Playwright's
// request routing, so nothing leaves the machine.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { axeRun, formatViolations } from '../support/axe.mjs';
import { mkdtemp, writeFile, mkdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startStaticServer, REPO_ROOT } from './static-server.mjs';

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
  // provider that is gone, and no page here may pick it up.
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
//
// The dashboard (www/dashboard.js) renders views the Rust engine really produced:
// `cargo test` writes them (tests/engine_flows.rs, contract_values_for_the_hosts) into
// target/contract/fixtures.json, so they cannot drift from the engine. The page gets them
// through a test double of the engine's *methods* (it records calls, can hold or reject one,
// and shows another fixture); every view it returns is one of the engine's. The real engine
// end to end is tests/e2e/.

const FIXTURES = path.join(REPO_ROOT, 'target', 'contract', 'fixtures.json');

const FIXTURE_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dashboard fixture</title>
<link rel="stylesheet" href="/www/dashboard.css"><script type="module" src="/__test/fixture-auth.js"></script></head>
<body><main class="sa-page"><div id="app"></div></main></body></html>`;

const FIXTURE_AUTH = `
import { mountDashboard } from '/www/dashboard.js';
const { views, errors } = await (await fetch('/__test/fixtures.json')).json();
const params = new URLSearchParams(location.search);
const clone = (v) => JSON.parse(JSON.stringify(v));
let current = clone(views[params.get('view') ?? 'connected']);
const listeners = new Map();
let nextId = 1;
const calls = [];
let failNext = null;
let held = null;
const notify = () => { for (const fn of listeners.values()) fn(current); };
async function answer(next) {
  if (held) await held.promise;
  if (failNext) { const e = failNext; failNext = null; throw e; }
  if (next) { current = clone(views[next]); notify(); }
  return current;
}
const auth = {
  view: () => current,
  subscribe(fn) { listeners.set(nextId, fn); return nextId++; },
  unsubscribe(id) { listeners.delete(id); },
  connect(service, options) { calls.push({ method: 'connect', service, options }); return answer(window.__test.after); },
  reauthorize(service) { calls.push({ method: 'reauthorize', service }); return answer(window.__test.after); },
  retryNow(service) { calls.push({ method: 'retryNow', service }); return answer(window.__test.after); },
  disconnect(service) { calls.push({ method: 'disconnect', service }); return answer(window.__test.after); },
  // On-premises Exchange: the password is recorded by its length only.
  signInWithPassword(service, options) {
    const { password, ...rest } = options;
    calls.push({ method: 'signInWithPassword', service, options: rest, passwordLength: password.length });
    return answer(window.__test.after);
  },
  discoverMailService(email) {
    calls.push({ method: 'discoverMailService', email });
    if (window.__test.finding) return Promise.resolve({ email, ...window.__test.finding });
    return Promise.resolve({ mailService: 'exchange', email, assumed: false, ewsUrl: null,
      summary: "Your company's Exchange server autodiscover.contoso.test answered. Is this your mail server?",
      host: 'autodiscover.contoso.test', autodiscoverUrl: 'https://autodiscover.contoso.test/autodiscover/autodiscover.xml' });
  },
  selectMailService(choice) {
    calls.push({ method: 'selectMailService', choice });
    const next = { gmail: 'gmail_chosen', not_sure: 'not_sure', microsoft365: 'connected' }[choice];
    if (next) { current = clone(views[next]); notify(); }
    return current;
  },
};
window.__test = {
  calls, errors, after: null, finding: null,
  show(name) { current = clone(views[name]); notify(); },
  /** The engine moves on without telling (time passes): only a fresh view() shows it. */
  replace(name) { current = clone(views[name]); },
  failNext(error) { failNext = error; },
  hold() { let release; held = { promise: new Promise((r) => (release = r)) }; held.release = release; },
  release() { const h = held; held = null; h?.release(); },
};
mountDashboard(document.getElementById('app'), auth);
document.body.setAttribute('data-ready', 'true');
`;

/** A page with the dashboard mounted on the fixture `view` (a name in fixtures.json);
 * `beforeGoto(page)` runs first (to install a fake clock). */
async function openDashboard(t, view = 'connected', { beforeGoto, ...opts } = {}) {
  const fixtures = await readFile(FIXTURES, 'utf8').catch(() => {
    throw new Error('target/contract/fixtures.json is missing: run cargo test first');
  });
  const { context, page } = await newPage(t, opts);
  await beforeGoto?.(page);
  await context.route(`${base}/__test/**`, (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/__test/dashboard.html') return route.fulfill({ contentType: 'text/html', body: FIXTURE_PAGE });
    if (url.pathname === '/__test/fixture-auth.js') return route.fulfill({ contentType: 'text/javascript', body: FIXTURE_AUTH });
    if (url.pathname === '/__test/fixtures.json') return route.fulfill({ contentType: 'application/json', body: fixtures });
    return route.fulfill({ status: 404, body: '' });
  });
  await page.goto(`${base}/__test/dashboard.html?view=${view}`);
  await page.waitForSelector('body[data-ready="true"]');
  return { context, page };
}

describe('dashboard (views the engine produced)', () => {
  it('renders both sections, the chosen mail service card and the CRM card', async (t) => {
    const { page } = await openDashboard(t, 'connected');
    const headings = await page.locator('h2').allTextContents();
    assert.deepEqual(headings, ['E-Mail Configuration', 'CRM']);

    assert.equal(await byTestId(page, 'mail-service-microsoft365').isChecked(), true);
    // The check mark of the chosen option is decoration: the option is named by its words.
    assert.equal(await page.getByRole('radio', { name: 'Microsoft 365 (work or school)', exact: true }).isChecked(), true);
    assert.equal(await byTestId(page, 'card-microsoft').isVisible(), true);
    assert.equal(await byTestId(page, 'card-google').count(), 0, 'only the chosen mail service is shown');
    assert.equal(await byTestId(page, 'card-salesforce').isVisible(), true);

    const status = byTestId(page, 'status-microsoft');
    assert.equal(await status.getAttribute('data-status'), 'connected');
    assert.equal((await status.textContent()).trim().endsWith('Connected'), true, 'status has text, not only colour');
    assert.match(await byTestId(page, 'account-microsoft').textContent(), /alice@contoso\.com/);
    assert.equal(await byTestId(page, 'signin-needed-microsoft').textContent(), 'Sign-in needed in 24 h', 'the engine’s words');
    assert.equal(await byTestId(page, 'reason-microsoft').count(), 0);

    for (const s of ['microsoft', 'salesforce']) {
      assert.equal(await byTestId(page, `refresh-${s}`).isVisible(), true);
      assert.equal(await byTestId(page, `change-${s}`).isVisible(), true);
      assert.equal(await byTestId(page, `disconnect-${s}`).isVisible(), true);
      assert.equal(await byTestId(page, `refresh-${s}`).evaluate((b) => b.tagName), 'BUTTON');
    }
  });

  it('shows reasons in plain words, the administrator advice, and the suggested action', async (t) => {
    const { page } = await openDashboard(t, 'blocked');
    assert.equal(await byTestId(page, 'status-microsoft').getAttribute('data-status'), 'needs_attention');
    assert.match(await byTestId(page, 'status-microsoft').textContent(), /Sign-in needed/);
    assert.match(await byTestId(page, 'reason-microsoft').textContent(), /password was changed/);
    assert.equal((await byTestId(page, 'provider-code-microsoft').locator('code').textContent()).trim(), 'AADSTS50173');
    assert.match(await byTestId(page, 'refresh-microsoft').getAttribute('class'), /sa-btn--primary/, 'the suggested action stands out');

    assert.match(await byTestId(page, 'status-salesforce').textContent(), /Blocked/);
    assert.match(await byTestId(page, 'reason-salesforce').textContent(), /deactivated/);
    assert.match(await byTestId(page, 'advice-salesforce').textContent(), /administrator/);
    assert.doesNotMatch(await byTestId(page, 'refresh-salesforce').getAttribute('class'), /sa-btn--primary/, 'Refresh is not suggested');
    assert.equal(await byTestId(page, 'signin-needed-microsoft').count(), 0, 'the grant is gone: no deadline');
  });

  it('a disconnected card offers only Connect; "Not sure" shows the engine’s hint and every mail card', async (t) => {
    const { page } = await openDashboard(t, 'not_sure');
    assert.equal(await byTestId(page, 'mail-service-not_sure').isChecked(), true);
    assert.match(await byTestId(page, 'hint-email').textContent(), /look up which service holds your mailbox/);
    for (const s of ['microsoft', 'google', 'exchange']) assert.equal(await byTestId(page, `card-${s}`).isVisible(), true, s);
    assert.equal(await byTestId(page, 'status-salesforce').getAttribute('data-status'), 'disconnected');
    assert.equal(await byTestId(page, 'refresh-salesforce').count(), 0);
    assert.equal(await byTestId(page, 'disconnect-salesforce').count(), 0);
    assert.equal((await byTestId(page, 'change-salesforce').textContent()).trim(), 'Connect');
    // On-premises Exchange signs in with a server and password the user gives at Connect.
    assert.equal((await byTestId(page, 'change-exchange').textContent()).trim(), 'Connect');
  });

  it('choosing another mail service shows its card first; a signed-in one stays listed', async (t) => {
    const { page } = await openDashboard(t, 'connected');
    await page.locator('label', { has: byTestId(page, 'mail-service-gmail') }).click();
    await byTestId(page, 'card-google').waitFor();
    const cards = await page.locator('[data-testid="section-email"] [data-testid^="card-"]').evaluateAll((els) => els.map((e) => e.dataset.testid));
    assert.deepEqual(cards, ['card-google', 'card-microsoft'], 'Microsoft is still signed in, so it stays visible');
    const calls = await page.evaluate(() => window.__test.calls);
    assert.deepEqual(calls.at(-1), { method: 'selectMailService', choice: 'gmail' });
  });

  it('keyboard: Tab reaches Refresh in a logical order, Enter triggers it, a call in flight disables it', async (t) => {
    const { page } = await openDashboard(t, 'connected');
    const order = [];
    for (let i = 0; i < 7; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.textContent?.trim()));
    }
    assert.deepEqual(order, [
      'mail-service-microsoft365',
      'refresh-microsoft',
      'change-microsoft',
      'disconnect-microsoft',
      'refresh-salesforce',
      'change-salesforce',
      'disconnect-salesforce',
    ]);
    for (let i = 0; i < 5; i++) await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-testid')), 'refresh-microsoft');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.equal(outline, 'solid', 'focus is visible');
    await page.evaluate(() => window.__test.hold());
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid="refresh-microsoft"][aria-disabled="true"]');
    assert.equal(await byTestId(page, 'change-microsoft').getAttribute('aria-disabled'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-testid')), 'refresh-microsoft', 'focus survives redraws');
    await page.evaluate(() => window.__test.release());
    await page.waitForSelector('[data-testid="refresh-microsoft"]:not([aria-disabled])');
    const calls = await page.evaluate(() => window.__test.calls);
    assert.deepEqual(calls.filter((c) => c.method === 'reauthorize'), [{ method: 'reauthorize', service: 'microsoft' }]);
  });

  it('a rejected action shows the engine’s message in the aria-live region', async (t) => {
    const { page } = await openDashboard(t, 'connected');
    await page.evaluate(() => window.__test.failNext(window.__test.errors.find((e) => e.service === 'salesforce')));
    await byTestId(page, 'refresh-salesforce').click();
    const live = byTestId(page, 'errors');
    await page.waitForFunction(() => document.querySelector('[data-testid="errors"]').textContent.length > 0);
    assert.equal(await live.getAttribute('aria-live'), 'assertive');
    assert.match(await live.textContent(), /^Salesforce: Your user is deactivated/);
    await byTestId(page, 'errors-dismiss').click();
    assert.equal(await live.textContent(), '');
  });

  it('CRM Change: pick a saved login, or a new username with Sandbox or a My Domain URL', async (t) => {
    const { page } = await openDashboard(t, 'connected');
    const lastConnect = () => page.evaluate(() => window.__test.calls.filter((c) => c.method === 'connect').at(-1));

    await byTestId(page, 'change-salesforce').click();
    assert.equal(await byTestId(page, 'change-salesforce').getAttribute('aria-expanded'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-testid')), 'change-choice-salesforce-saved:0', 'the form takes focus');
    await byTestId(page, 'change-submit-salesforce').click();
    assert.deepEqual((await lastConnect()).options, { loginHint: 'alice@acme.test', loginHost: 'https://login.salesforce.com' });

    await byTestId(page, 'change-salesforce').click();
    await byTestId(page, 'change-choice-salesforce-new').check();
    await byTestId(page, 'change-username-salesforce').fill('bob@acme.test');
    await byTestId(page, 'change-host-salesforce-sandbox').check();
    await byTestId(page, 'change-submit-salesforce').click();
    assert.deepEqual((await lastConnect()).options, { loginHint: 'bob@acme.test', loginHost: 'https://test.salesforce.com' });
    await page.waitForSelector('[data-testid="change-salesforce"]:not([aria-disabled])');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-testid')), 'change-salesforce', 'focus returns to Change');

    await byTestId(page, 'change-salesforce').click();
    await byTestId(page, 'change-choice-salesforce-new').check();
    await byTestId(page, 'change-host-salesforce-custom').check();
    const example = await byTestId(page, 'change-custom-host-salesforce').getAttribute('placeholder');
    assert.equal(example, 'https://yourcompany.my.salesforce.com', 'the example comes from the view');
    await byTestId(page, 'change-custom-host-salesforce').fill('http://acme.my.salesforce.com');
    await byTestId(page, 'change-submit-salesforce').click();
    assert.match(await byTestId(page, 'change-error-salesforce').textContent(), /https:\/\//);
    await byTestId(page, 'change-custom-host-salesforce').fill('https://acme.my.salesforce.com/');
    await byTestId(page, 'change-submit-salesforce').click();
    assert.deepEqual((await lastConnect()).options, { loginHost: 'https://acme.my.salesforce.com' });

    // Escape closes the form and returns focus to Change.
    await page.waitForSelector('[data-testid="change-salesforce"]:not([aria-disabled])');
    await byTestId(page, 'change-salesforce').click();
    await page.keyboard.press('Escape');
    assert.equal(await byTestId(page, 'change-form-salesforce').count(), 0);
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-testid')), 'change-salesforce');
  });

  it('relative times are the engine’s: the dashboard asks for a fresh view every 30 s', async (t) => {
    const { page } = await openDashboard(t, 'connected', {
      beforeGoto: (p) => p.clock.install({ time: new Date('2025-11-25T10:00:00Z') }),
    });
    assert.equal(await byTestId(page, 'signin-needed-microsoft').textContent(), 'Sign-in needed in 24 h');
    // The engine's view 20 hours later: the next refresh picks it up without any event.
    await page.evaluate(() => window.__test.replace('sign_in_soon'));
    await page.clock.fastForward('00:00:31');
    await page.waitForFunction(() => document.querySelector('[data-testid="signin-needed-microsoft"]').textContent === 'Sign-in needed in 4 h');
  });

  it('retrying: the status and the next try in the engine’s words', async (t) => {
    const { page } = await openDashboard(t, 'retrying');
    // The engine's words, as the fixture view has them (the retry time is the engine's draw).
    const card = JSON.parse(await readFile(FIXTURES, 'utf8')).views.retrying.sections[0].connections.find((c) => c.service === 'microsoft');
    assert.match(card.statusText, /^Will retry in \d+ min$/);
    assert.match(card.nextRetryText, /^Next try in \d+ min$/);
    assert.equal(await byTestId(page, 'status-microsoft').getAttribute('data-status'), 'retrying');
    assert.equal((await byTestId(page, 'status-microsoft').textContent()).replace(/^\W+/, ''), card.statusText);
    assert.equal(await byTestId(page, 'next-retry-microsoft').textContent(), card.nextRetryText);
  });

  it('works at 360 px without horizontal scrolling', async (t) => {
    const { page } = await openDashboard(t, 'blocked', { viewport: { width: 360, height: 800 } });
    await byTestId(page, 'change-salesforce').click();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0);
  });

  it('draws the notice banner and “Try again” (canRetry → retryNow)', async (t) => {
    const { page } = await openDashboard(t, 'notice');
    assert.match(await byTestId(page, 'notice').textContent(), /could not be read/);
    await page.evaluate(() => window.__test.show('paused'));
    const retry = byTestId(page, 'retry-salesforce');
    await retry.waitFor();
    assert.equal((await retry.textContent()).trim(), 'Try again');
    assert.match(await retry.getAttribute('class'), /sa-btn--primary/);
    assert.doesNotMatch(await byTestId(page, 'refresh-salesforce').getAttribute('class'), /sa-btn--primary/, 'one suggested action');
    assert.equal(await byTestId(page, 'retry-microsoft').count(), 0);
    await retry.click();
    await page.waitForFunction(() => window.__test.calls.some((c) => c.method === 'retryNow'));
    assert.deepEqual(await page.evaluate(() => window.__test.calls.filter((c) => c.method === 'retryNow')), [{ method: 'retryNow', service: 'salesforce' }]);
  });
});

// ---- pop-up driver and callback page ------------------------------------------------------

describe('on-premises Exchange in the dashboard (credentials, lookup, confirm)', () => {
  const PASSWORD = 'Typed-Secret-9';
  it('"I\'m not sure": look up, see the server, confirm, then the password goes with the confirmed host only', async (t) => {
    const { page } = await openDashboard(t, 'not_sure');
    await byTestId(page, 'lookup-email').fill('alex@contoso.test');
    await byTestId(page, 'lookup-submit').click();
    await byTestId(page, 'lookup-finding-summary').waitFor();
    assert.match(await byTestId(page, 'lookup-finding-summary').textContent(), /autodiscover\.contoso\.test answered/);
    let calls = await page.evaluate(() => window.__test.calls);
    assert.deepEqual(calls.map((c) => c.method), ['discoverMailService'], 'nothing else before the user confirms');
    await byTestId(page, 'lookup-finding-confirm').click();
    await byTestId(page, 'password-password-exchange').waitFor();
    assert.match(await byTestId(page, 'password-server-exchange').textContent(), /autodiscover\.contoso\.test \(you confirmed it\)/);
    assert.equal(await byTestId(page, 'password-login-exchange').inputValue(), 'alex@contoso.test');
    const { violations } = await axeRun(page);
    assert.deepEqual(violations, [], formatViolations(violations));
    await byTestId(page, 'password-password-exchange').fill(PASSWORD);
    await byTestId(page, 'password-submit-exchange').click();
    calls = await page.evaluate(() => window.__test.calls);
    assert.deepEqual(calls.at(-1), {
      method: 'signInWithPassword', service: 'exchange', passwordLength: PASSWORD.length,
      options: { login: 'alex@contoso.test', email: 'alex@contoso.test', autodiscoverUrl: 'https://autodiscover.contoso.test/autodiscover/autodiscover.xml', confirmedHost: 'autodiscover.contoso.test' },
    });
    assert.ok(!(await page.content()).includes(PASSWORD), 'not in the DOM');
    const values = await page.locator('input').evaluateAll((els) => els.map((e) => e.value));
    assert.ok(!values.includes(PASSWORD), 'no field keeps it');
  });

  it('Advanced: a typed EWS URL must be https, and needs no lookup', async (t) => {
    const { page } = await openDashboard(t, 'not_sure');
    await byTestId(page, 'change-exchange').click();
    await byTestId(page, 'password-email-exchange').fill('alex@contoso.test');
    await byTestId(page, 'password-password-exchange').fill(PASSWORD);
    await page.locator('summary', { hasText: 'Advanced' }).click();
    await byTestId(page, 'password-ewsUrl-exchange').fill('http://mail.contoso.test/EWS/Exchange.asmx');
    await byTestId(page, 'password-submit-exchange').click();
    assert.match(await byTestId(page, 'password-error-exchange').textContent(), /https/);
    await byTestId(page, 'password-ewsUrl-exchange').fill('https://mail.contoso.test/EWS/Exchange.asmx');
    await byTestId(page, 'password-submit-exchange').click();
    const calls = await page.evaluate(() => window.__test.calls);
    assert.deepEqual(calls.filter((c) => c.method === 'signInWithPassword'), [{
      method: 'signInWithPassword', service: 'exchange', passwordLength: PASSWORD.length,
      options: { login: 'alex@contoso.test', email: 'alex@contoso.test', ewsUrl: 'https://mail.contoso.test/EWS/Exchange.asmx' },
    }]);
    assert.deepEqual(calls.filter((c) => c.method === 'discoverMailService'), [], 'a typed URL needs no lookup');
  });
});

describe('Change on a mail card: which email service? (issue 10)', () => {
  const PASSWORD = 'Typed-Secret-9';
  const connects = async (page) => (await page.evaluate(() => window.__test.calls)).filter((c) => c.method === 'connect');

  it('starts from the card\'s own service, even after another pill was picked; staying signs in to the card\'s own tenant', async (t) => {
    const { page } = await openDashboard(t, 'connected');
    await page.locator('label', { has: byTestId(page, 'mail-service-gmail') }).click();
    await byTestId(page, 'card-google').waitFor();
    await byTestId(page, 'change-microsoft').click();
    assert.equal(await byTestId(page, 'change-microsoft').getAttribute('aria-expanded'), 'true');
    const radios = await byTestId(page, 'change-service-microsoft').locator('input[type=radio]').evaluateAll((els) => els.map((e) => [e.value, e.checked]));
    assert.deepEqual(radios, [['microsoft365', true], ['outlook_com', false], ['gmail', false], ['exchange', false], ['not_sure', false]]);
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-testid')), 'change-service-microsoft-microsoft365', 'focus on the chosen option');
    await byTestId(page, 'change-service-submit-microsoft').click();
    assert.deepEqual(await connects(page), [{ method: 'connect', service: 'microsoft', options: {} }], 'no tenant named: the engine keeps the card\'s own');
  });

  it('another service is an explicit switch: Outlook.com and Gmail name the choice', async (t) => {
    const { page } = await openDashboard(t, 'connected');
    await byTestId(page, 'change-microsoft').click();
    await byTestId(page, 'change-service-microsoft-outlook_com').check();
    await byTestId(page, 'change-service-submit-microsoft').click();
    await byTestId(page, 'change-microsoft').click();
    await byTestId(page, 'change-service-microsoft-gmail').check();
    assert.match(await byTestId(page, 'change-service-submit-microsoft').textContent(), /Gmail/);
    await byTestId(page, 'change-service-submit-microsoft').click();
    assert.deepEqual(await connects(page), [
      { method: 'connect', service: 'microsoft', options: { mailService: 'outlook_com' } },
      { method: 'connect', service: 'google', options: { mailService: 'gmail' } },
    ]);
  });

  it('a cancelled switch opens the chooser again as it was; Escape closes it and focus returns to Change', async (t) => {
    const { page } = await openDashboard(t, 'connected');
    await page.evaluate(() => window.__test.failNext({ code: 'sign_in_cancelled', message: 'Sign-in was cancelled.' }));
    await byTestId(page, 'change-microsoft').click();
    await byTestId(page, 'change-service-microsoft-gmail').check();
    await byTestId(page, 'change-service-submit-microsoft').click();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'change-service-submit-microsoft');
    assert.equal(await byTestId(page, 'change-service-microsoft-gmail').isChecked(), true);
    await page.keyboard.press('Escape');
    assert.equal(await byTestId(page, 'change-service-microsoft').count(), 0);
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-testid')), 'change-microsoft');
  });

  it('Exchange: the mailbox login is asked inside the chooser; the password goes to signInWithPassword only', async (t) => {
    const { page } = await openDashboard(t, 'connected');
    await byTestId(page, 'change-microsoft').click();
    await byTestId(page, 'change-service-microsoft-exchange').check();
    const form = byTestId(page, 'change-service-microsoft');
    await form.getByTestId('password-email-exchange').fill('alex@contoso.test');
    await form.getByTestId('password-password-exchange').fill(PASSWORD);
    await form.locator('summary', { hasText: 'Advanced' }).click();
    await form.getByTestId('password-ewsUrl-exchange').fill('https://mail.contoso.test/EWS/Exchange.asmx');
    await form.getByTestId('password-submit-exchange').click();
    const calls = await page.evaluate(() => window.__test.calls);
    assert.deepEqual(calls.filter((c) => c.method === 'signInWithPassword'), [{
      method: 'signInWithPassword', service: 'exchange', passwordLength: PASSWORD.length,
      options: { login: 'alex@contoso.test', email: 'alex@contoso.test', ewsUrl: 'https://mail.contoso.test/EWS/Exchange.asmx' },
    }]);
    assert.equal(await byTestId(page, 'change-service-microsoft').count(), 0, 'the chooser closed');
    assert.ok(!(await page.content()).includes(PASSWORD), 'not in the DOM');
  });

  it('"Microsoft Exchange" that is in fact Exchange Online: the user is told and goes on to the Microsoft sign-in with the address', async (t) => {
    const { page } = await openDashboard(t, 'not_sure');
    await page.evaluate(() => {
      window.__test.finding = { mailService: 'microsoft365', assumed: false, ewsUrl: null, host: null, autodiscoverUrl: null,
        summary: 'Your mailbox is in Microsoft 365 (Exchange Online): you sign in with Microsoft.' };
    });
    await byTestId(page, 'change-exchange').click();
    await byTestId(page, 'password-email-exchange').fill('alice@contoso.com');
    await byTestId(page, 'password-password-exchange').fill(PASSWORD);
    await byTestId(page, 'password-submit-exchange').click();
    assert.match(await byTestId(page, 'password-finding-exchange-summary').textContent(), /Microsoft 365/);
    assert.match(await byTestId(page, 'password-finding-exchange-confirm').textContent(), /Continue with Microsoft 365/);
    await byTestId(page, 'password-finding-exchange-confirm').click();
    const calls = await page.evaluate(() => window.__test.calls);
    assert.deepEqual(calls.filter((c) => c.method === 'connect'), [{ method: 'connect', service: 'microsoft', options: { mailService: 'microsoft365', loginHint: 'alice@contoso.com' } }]);
    assert.deepEqual(calls.filter((c) => c.method === 'signInWithPassword'), [], 'the password went nowhere');
    assert.equal(await byTestId(page, 'password-password-exchange').count(), 0, 'the form closed, the typed password dropped');
  });

  it('"I\'m not sure": the lookup runs inside the chooser and a confirmed Exchange server leads to the credentials', async (t) => {
    const { page } = await openDashboard(t, 'connected');
    await byTestId(page, 'change-microsoft').click();
    await byTestId(page, 'change-service-microsoft-not_sure').check();
    await byTestId(page, 'lookup-email').fill('alex@contoso.test');
    await byTestId(page, 'lookup-submit').click();
    await byTestId(page, 'lookup-finding-confirm').click();
    assert.equal(await byTestId(page, 'change-service-microsoft-exchange').isChecked(), true);
    assert.match(await byTestId(page, 'password-server-exchange').textContent(), /autodiscover\.contoso\.test/);
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-testid')), 'password-password-exchange');
    await byTestId(page, 'password-password-exchange').fill(PASSWORD);
    await byTestId(page, 'password-submit-exchange').click();
    const calls = await page.evaluate(() => window.__test.calls);
    assert.deepEqual(calls.filter((c) => c.method === 'signInWithPassword').map((c) => c.options.confirmedHost), ['autodiscover.contoso.test']);
    assert.deepEqual(calls.filter((c) => c.method === 'selectMailService'), [], 'no pill was moved on the way');
  });
});

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
