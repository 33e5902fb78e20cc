// Shared pieces of the end-to-end tests: the REAL engine (pkg/, built by wasm-pack), the
// web host (www/), the local identity providers (tests/idp) and headless Chromium.
//
//   const h = useEnvironment();             // before/after: environment + browser per file
//   const s = await h.session(t);           // fresh browser context + dashboard page
//   await s.connect('microsoft', 'alice@contoso.com');
//   await s.auth('accessToken', 'microsoft'); // window.__sidebarAuth.auth.<method>(...args)
//
// The test server puts the real engine on window.__sidebarAuth (tests/support/test-hooks.mjs:
// it wraps the engine module); the product pages have no test switch.
//
// Waits are on conditions (DOM state, engine state, provider stats), never on fixed sleeps.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { startEnvironment } from '../support/e2e-env.mjs';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  WAIT_MS,
  byTestId,
  chooseMailService,
  completeSignIn,
  eventually,
  showMailService,
  submitSalesforceChange,
  waitForCard,
} from '../support/browser.mjs';
import { REPO_ROOT } from '../web/static-server.mjs';

export { CHROMIUM, WAIT_MS, byTestId, eventually, withTimeout, completeSignIn } from '../support/browser.mjs';

/** Past every emulated access token's life (Entra 60-90 min, Google 1 h, Salesforce 2 h). */
export const PAST_EXPIRY_MINUTES = 125;

export const LAUNCH = { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS };

/** Start one environment and one browser for the test file; close them after it. */
export function useEnvironment(options = {}) {
  const shared = { env: null, browser: null };
  before(async () => {
    await access(path.join(REPO_ROOT, 'pkg', 'sidebar_auth_bg.wasm')).catch(() => {
      throw new Error('The engine is not built: run `bash build-engine.sh` first.');
    });
    shared.env = await startEnvironment({ port: 0, testHooks: true, ...options });
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
  await page.goto(`${env.baseUrl}${pagePath}`);
  await page.waitForSelector('body[data-ready]', { timeout: WAIT_MS });
  assert.equal(await page.getAttribute('body', 'data-ready'), 'true', await page.locator('#app, #boot').first().textContent());
  assert.equal(await page.evaluate(() => window.__sidebarAuth?.engine), 'real', 'the real engine (pkg/) is loaded, with the test hook');

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
    showMailService: (service) => showMailService(page, service),
    /**
     * Connect (or Change to) `login` through the dashboard: Change/Connect button, for
     * Salesforce the Change form (a new username on the local login host), then the
     * provider's real login page (and consent page) in the pop-up.
     */
    async connect(service, login, { newUsername = true } = {}) {
      await showMailService(page, service);
      const popupPromise = page.waitForEvent('popup', { timeout: WAIT_MS });
      await byTestId(page, `change-${service}`).click();
      await chooseMailService(page, service);
      if (service === 'salesforce') await submitSalesforceChange(page, login, { newUsername });
      const pages = await completeSignIn(await popupPromise, login);
      await waitForCard(page, service, 'connected', login);
      return pages;
    },
    /** localStorage and sessionStorage of the page, as one string. */
    storageText: () => page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } })),
  };
  return s;
}



/** Advance the engine clock past the access token's expiry: the environment runs the
 * providers' real lifetimes (Entra up to 90 min, Google 1 h, Salesforce 2 h). */
export async function advancePastExpiry(s, minutes = PAST_EXPIRY_MINUTES) {
  const r = await s.auth('advanceClock', minutes * 60_000);
  assert.equal(r.ok, true, JSON.stringify(r));
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
