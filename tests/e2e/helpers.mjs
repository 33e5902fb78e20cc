// Shared pieces of the end-to-end tests: the REAL engine (pkg/, built by wasm-pack), the
// web host (www/), the local identity providers (tests/idp) and headless Chromium.
//
//   const h = useEnvironment();             // before/after: environment + browser per file
//   const s = await h.session(t);           // fresh browser context + dashboard page
//   await s.connect('microsoft', 'alice@contoso.com');
//   await s.auth('accessToken', 'microsoft'); // window.__sidebarAuth.auth.<method>(...args)
//
// The dashboard is opened with `?e2e=1`, the test-only switch that puts the real engine on
// window.__sidebarAuth (www/app.js, exposeForTests). Nothing else in the page is changed.
//
// Waits are on conditions (DOM state, engine state, provider stats), never on fixed sleeps.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { startEnvironment } from '../support/e2e-env.mjs';
import { REPO_ROOT } from '../web/static-server.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const LAUNCH = {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ],
};

/** How long a single condition may take (a sign-in is ~1 s; CI machines are slow). */
export const WAIT_MS = 15_000;

export const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/** Start one environment and one browser for the test file; close them after it. */
export function useEnvironment(options = {}) {
  const shared = { env: null, browser: null };
  before(async () => {
    await access(path.join(REPO_ROOT, 'pkg', 'sidebar_auth_bg.wasm')).catch(() => {
      throw new Error('The engine is not built: run `wasm-pack build --target web --out-dir pkg --release` first.');
    });
    shared.env = await startEnvironment({ port: 0, ...options });
    shared.browser = await chromium.launch(LAUNCH);
  });
  after(async () => {
    await shared.browser?.close();
    await shared.env?.close();
  });
  return {
    get env() {
      return shared.env;
    },
    get browser() {
      return shared.browser;
    },
    /** A fresh browser context (own storage) with the dashboard open and the engine ready. */
    session: (t, opts) => openSession(t, shared, opts),
  };
}

/**
 * Token values the identity providers handed to this browser context, read from the
 * token endpoint responses (Chromium's view of the network, not the engine's).
 */
function captureTokens(context) {
  const seen = [];
  const pending = new Set();
  context.on('response', (response) => {
    const req = response.request();
    if (req.method() !== 'POST' || !/\/token$/.test(new URL(response.url()).pathname)) return;
    const p = (async () => {
      let body = {};
      try {
        body = JSON.parse(await response.text());
      } catch {
        // a cut-off body (fault injection) or an error page: recorded without tokens
      }
      const form = new URLSearchParams(req.postData() ?? '');
      seen.push({
        url: response.url(),
        status: response.status(),
        grantType: form.get('grant_type'),
        usedRefreshToken: form.get('refresh_token'),
        accessToken: body.access_token ?? null,
        refreshToken: body.refresh_token ?? null,
        idToken: body.id_token ?? null,
      });
    })();
    pending.add(p);
    p.finally(() => pending.delete(p));
  });
  return {
    async all() {
      await Promise.all([...pending]);
      return seen.slice();
    },
    /** Every token string seen so far (access, refresh, ID). */
    async secrets() {
      const out = [];
      for (const r of await this.all()) for (const v of [r.accessToken, r.refreshToken, r.idToken]) if (v) out.push(v);
      return out;
    },
  };
}

async function openSession(t, shared, { path: pagePath = '/www/index.html' } = {}) {
  const { env, browser } = shared;
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const tokens = captureTokens(context);
  const errors = [];
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  t.after(async () => {
    await context.close();
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  });
  await page.goto(`${env.baseUrl}${pagePath}?e2e=1`);
  await page.waitForSelector('body[data-ready]', { timeout: WAIT_MS });
  assert.equal(await page.getAttribute('body', 'data-ready'), 'true', await page.locator('#app, #boot').first().textContent());
  assert.equal(await page.evaluate(() => window.__sidebarAuth?.engine), 'real', 'the real engine (pkg/) is loaded');

  const s = {
    env,
    context,
    page,
    tokens,
    errors,
    /** Call a method of the real engine in the page: `auth('accessToken', 'google')`. */
    auth(method, ...args) {
      return page.evaluate(
        async ([m, a]) => {
          try {
            return { ok: true, value: await window.__sidebarAuth.auth[m](...a) };
          } catch (e) {
            return { ok: false, error: e && typeof e === 'object' ? { ...e, message: e.message } : String(e) };
          }
        },
        [method, args],
      );
    },
    async debug(service) {
      const d = (await s.auth('debugState')).value;
      return service ? d.connections[service] : d;
    },
    async card(service) {
      const v = (await s.auth('view')).value;
      for (const sec of v.sections) for (const c of sec.connections) if (c.service === service) return c;
      return null;
    },
    /** Wait until the card of `service` has `status` (and is not busy). */
    async waitStatus(service, status, { timeout = WAIT_MS } = {}) {
      await page.waitForSelector(
        `[data-testid="card-${service}"]:not([aria-busy]) [data-testid="status-${service}"][data-status="${status}"]`,
        { timeout },
      );
    },
    /** Wait until `predicate(debugState of service)` holds; returns that state. */
    async waitDebug(service, predicate, { timeout = WAIT_MS, message } = {}) {
      let last;
      try {
        return await eventually(async () => {
          last = await s.debug(service);
          return predicate(last) ? last : null;
        }, { timeout, message: message ?? `${service} debug state: ${predicate}` });
      } catch (e) {
        e.message += `\nlast state: ${JSON.stringify(last)}`;
        throw e;
      }
    },
    /** Make sure the mail-service card for `service` is the one shown. */
    async showMailService(service) {
      const choice = { microsoft: 'microsoft365', google: 'gmail' }[service];
      if (!choice) return;
      const radio = byTestId(page, `mail-service-${choice}`);
      if (!(await radio.isChecked())) {
        await radio.check();
        await byTestId(page, `card-${service}`).waitFor({ timeout: WAIT_MS });
      }
    },
    /**
     * Connect (or Change to) `login` through the dashboard: Change/Connect button, for
     * Salesforce the Change form (a new username on the local login host), then the
     * provider's real login page (and consent page) in the pop-up.
     */
    async connect(service, login, { newUsername = true } = {}) {
      await s.showMailService(service);
      const popupPromise = page.waitForEvent('popup', { timeout: WAIT_MS });
      await byTestId(page, `change-${service}`).click();
      if (service === 'salesforce') {
        const form = byTestId(page, 'change-form-salesforce');
        await form.waitFor({ timeout: WAIT_MS });
        if (newUsername) {
          const fresh = byTestId(page, 'change-choice-salesforce-new');
          if (await fresh.count()) await fresh.check();
          await byTestId(page, 'change-username-salesforce').fill(login);
          await byTestId(page, 'change-host-salesforce-local').check();
        }
        await byTestId(page, 'change-submit-salesforce').click();
      }
      const popup = await popupPromise;
      const pages = await completeSignIn(popup, login);
      await page.waitForFunction(
        ([svc, who]) => {
          const card = document.querySelector(`[data-testid="card-${svc}"]`);
          return card && !card.hasAttribute('aria-busy')
            && card.querySelector(`[data-testid="status-${svc}"]`)?.dataset.status === 'connected'
            && card.querySelector(`[data-testid="account-${svc}"]`)?.textContent.trim() === who;
        },
        [service, login],
        { timeout: WAIT_MS },
      );
      return pages;
    },
    /** localStorage and sessionStorage of the page, as one string. */
    storageText: () => page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } })),
  };
  return s;
}

/** `promise`, or a rejection after `ms` (the timer is cleared either way). */
export function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * Drive the provider's pages in the sign-in pop-up until it closes itself (the callback
 * page posts the result to the dashboard and closes). Returns the pages seen, in order:
 * {page: 'login', prefilled} (the login field's value as the provider pre-filled it from
 * login_hint), {page: 'consent'}.
 *
 * Plain event listeners, not Playwright's waitForEvent: a waitForEvent that loses a race
 * keeps its timeout timer, and the test process then lingers until it fires.
 */
export async function completeSignIn(popup, login, { password = 'x' } = {}) {
  const seen = [];
  const closed = new Promise((resolve) => popup.once('close', () => resolve('closed')));
  const nextDocument = () => new Promise((resolve) => popup.once('domcontentloaded', () => resolve('loaded')));
  // Which provider page is showing: the devInteractions forms carry a hidden `prompt`.
  const whichPage = () =>
    popup
      .waitForSelector('input[name=prompt]', { state: 'attached', timeout: WAIT_MS })
      .then((el) => el.getAttribute('value'))
      .catch((e) => (popup.isClosed() ? 'closed' : Promise.reject(e)));
  for (let step = 0; step < 6; step++) {
    const which = await withTimeout(Promise.race([closed, whichPage()]), WAIT_MS, 'a provider page in the pop-up');
    if (which === 'closed') return seen;
    if (which === 'login') {
      seen.push({ page: 'login', prefilled: await popup.inputValue('input[name=login]') });
      await popup.fill('input[name=login]', login);
      await popup.fill('input[name=password]', password);
    } else if (which === 'consent') {
      seen.push({ page: 'consent' });
    } else {
      throw new Error(`unexpected page in the pop-up (${which}): ${popup.url()}`);
    }
    // The form posts and the provider redirects: wait for the next document (or the close).
    const next = nextDocument();
    await popup.click('button[type=submit]');
    await withTimeout(Promise.race([closed, next]), WAIT_MS, 'the pop-up to move on');
  }
  throw new Error(`the sign-in pop-up did not finish: ${JSON.stringify(seen)}`);
}

/** Advance the engine clock past the access token's expiry. */
export async function advancePastExpiry(s, minutes = 5) {
  const r = await s.auth('advanceClock', minutes * 60_000);
  assert.equal(r.ok, true, JSON.stringify(r));
}

/** Wait until `fn()` (async) returns a truthy value; returns it. */
export async function eventually(fn, { timeout = WAIT_MS, interval = 50, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${message}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** A token request with a refresh token straight to the provider (not through the engine). */
export async function refreshDirectly(env, provider, refreshToken) {
  const info = env.idp.info[provider];
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: info.clientId });
  if (provider === 'google') form.set('client_secret', info.clientSecret);
  const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
  // The Microsoft `spa` client must be redeemed cross-origin (AADSTS9002327 otherwise).
  if (provider === 'microsoft') headers.Origin = env.baseUrl;
  const res = await fetch(info.token, { method: 'POST', headers, body: form });
  return { status: res.status, body: await res.json().catch(() => null) };
}
