// Shared pieces of the add-in suites: one emulated Outlook (tests/addin/office-double), the
// add-in over https, the emulated identity providers over https, and one headless Chromium
// per test file. The task pane is the real addin-manifest/taskpane.html with the real engine
// (pkg/), framed by the emulated Outlook page on another site; the test server puts the
// engine hook in front of /pkg/sidebar_auth.js (tests/support/test-hooks.mjs).

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { startAddinEnvironment } from './env.mjs';
import { CHROMIUM, CHROMIUM_ARGS, WAIT_MS, byTestId, completeSignIn, chooseMailService, showMailService, submitSalesforceChange, waitForCard } from '../support/browser.mjs';
import { REPO_ROOT } from '../web/static-server.mjs';

export { WAIT_MS, byTestId, completeSignIn, eventually } from '../support/browser.mjs';

/**
 * A Chromium profile that allows third-party cookies and site data. Chromium 156 blocks them
 * by default, and with them every storage API of a third-party iframe (localStorage,
 * IndexedDB: "Access is denied for this document"), which is what the task pane in Outlook
 * on the web is. Outlook on the web's add-ins need them allowed; storage-blocked.test.mjs
 * runs the default and checks that the task pane says so.
 */
export async function profileAllowingThirdPartyStorage() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'addin-profile-'));
  await mkdir(path.join(dir, 'Default'));
  await writeFile(path.join(dir, 'Default', 'Preferences'), JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }));
  return dir;
}

let contexts = 0;

export function useAddin() {
  const shared = { env: null, context: null, dir: null };
  before(async () => {
    await access(path.join(REPO_ROOT, 'pkg', 'sidebar_auth_bg.wasm')).catch(() => {
      throw new Error('The engine is not built: run `bash build-engine.sh` first.');
    });
    shared.env = await startAddinEnvironment({ testHooks: true });
    shared.dir = await profileAllowingThirdPartyStorage();
    // One Chromium per file: a persistent profile (the preference above needs one).
    shared.context = await chromium.launchPersistentContext(shared.dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      ignoreHTTPSErrors: true,
      viewport: { width: 1100, height: 800 },
    });
    for (const p of shared.context.pages()) await p.close();
  });
  after(async () => {
    await shared.context?.close();
    await shared.env?.close();
    if (shared.dir) await rm(shared.dir, { recursive: true, force: true });
  });
  return {
    get env() {
      return shared.env;
    },
    /**
     * What one test uses of the shared profile: its own Office partition key (so its vault,
     * session cache and locks are its own: the driver prefixes them), its own watchers; the
     * providers' sessions (cookies) are cleared after it.
     */
    async context(t) {
      const context = shared.context;
      const tokens = captureTokens(context);
      const console = [];
      const errors = [];
      const onPage = (p) => watch(p, console, errors);
      context.on('page', onPage);
      const pk = `pk-test${++contexts}`;
      t.after(async () => {
        context.off('page', onPage);
        tokens.stop();
        for (const p of context.pages()) await p.close();
        await context.clearCookies();
        assert.deepEqual(errors, [], 'no uncaught errors in any page');
      });
      return { context, tokens, console, errors, pk };
    },
    /** Open the emulated Outlook in `ctx` with the task pane, wait for the engine. */
    open: (ctx, switches, opts) => openOutlook(shared.env, ctx, { partitionKey: ctx.pk, ...switches }, opts),
  };
}

function watch(page, consoleLines, errors) {
  page.on('console', (m) => consoleLines.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
}

/** Token values the providers handed out in this context (Chromium's view of the network). */
function captureTokens(context) {
  const seen = [];
  const pending = new Set();
  const onResponse = (response) => {
    const req = response.request();
    if (req.method() !== 'POST' || !/\/token$/.test(new URL(response.url()).pathname)) return;
    const p = (async () => {
      let body = {};
      try {
        body = JSON.parse(await response.text());
      } catch {
        /* an error page */
      }
      const form = new URLSearchParams(req.postData() ?? '');
      seen.push({ grantType: form.get('grant_type'), accessToken: body.access_token ?? null, refreshToken: body.refresh_token ?? null, idToken: body.id_token ?? null });
    })();
    pending.add(p);
    p.finally(() => pending.delete(p));
  };
  context.on('response', onResponse);
  return {
    stop: () => context.off('response', onResponse),
    async all() {
      await Promise.all([...pending]);
      return seen.slice();
    },
    async secrets() {
      const out = [];
      for (const r of await this.all()) for (const v of [r.accessToken, r.refreshToken, r.idToken]) if (v) out.push(v);
      return out;
    },
  };
}

async function openOutlook(env, ctx, switches = {}, { initScript, allowError = false } = {}) {
  const host = await ctx.context.newPage();
  if (initScript) await host.addInitScript(initScript);
  await host.goto(env.outlookUrl(switches));
  await byTestId(host, 'open-taskpane').click();
  const frame = await taskpaneFrame(host);
  await frame.waitForSelector('body[data-ready]', { timeout: WAIT_MS });
  const ready = await frame.getAttribute('body', 'data-ready');
  if (ready === 'error' && !allowError) throw new Error(`the task pane did not start: ${await frame.locator('#app').textContent()}`);
  if (ready === 'true') {
    assert.equal(await frame.evaluate(() => window.__sidebarAuth?.engine), 'real', 'the real engine (pkg/) runs in the task pane');
  }
  const s = {
    host,
    frame,
    ready,
    auth(method, ...args) {
      return frame.evaluate(
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
      return (await s.auth('debugState')).value.connections[service];
    },
    /** The emulated Office's record (dialogs opened, codes answered, messages). */
    office: () => host.evaluate(() => JSON.parse(JSON.stringify(window.__officeDouble))),
    /** Press the card's Change (or Connect) and, for Salesforce, fill the Change form. */
    async startChange(service, login) {
      await showMailService(frame, service);
      await byTestId(frame, `change-${service}`).click();
      await chooseMailService(frame, service);
      if (service === 'salesforce') await submitSalesforceChange(frame, login);
    },
    /** Answer Office's Allow/Ignore prompt with Allow; resolves with the dialog window. */
    async allow() {
      const popup = host.waitForEvent('popup', { timeout: WAIT_MS });
      await byTestId(host, 'office-prompt-allow').click();
      return popup;
    },
    /** Connect (or Change to) `login`: Change, Allow, the provider's pages in the dialog. */
    async connect(service, login) {
      await s.startChange(service, login);
      const dialog = await s.allow();
      const pages = await completeSignIn(dialog, login);
      await waitForCard(frame, service, 'connected', login);
      return pages;
    },
    waitCard: (service, status, account = null) => waitForCard(frame, service, status, account),
    /** The dashboard's error toast. */
    toast: () => byTestId(frame, 'errors').textContent(),
    /** Every value in the add-in origin's IndexedDB (this partition) and its localStorage. */
    storageDump: () =>
      frame.evaluate(async () => {
        const out = { local: { ...localStorage }, session: { ...sessionStorage }, idb: {} };
        for (const info of await indexedDB.databases()) {
          const db = await new Promise((r, j) => {
            const q = indexedDB.open(info.name);
            q.onsuccess = () => r(q.result);
            q.onerror = () => j(q.error);
          });
          const stores = {};
          for (const name of db.objectStoreNames) {
            const tx = db.transaction(name);
            const st = tx.objectStore(name);
            const [keys, values] = await Promise.all([
              new Promise((r) => (st.getAllKeys().onsuccess = (e) => r(e.target.result))),
              new Promise((r) => (st.getAll().onsuccess = (e) => r(e.target.result))),
            ]);
            const show = (v) => {
              if (v instanceof CryptoKey) return { CryptoKey: { extractable: v.extractable } };
              if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return { bytes: new TextDecoder('latin1').decode(v) };
              if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, show(x)]));
              return v;
            };
            stores[name] = keys.map((k, i) => [String(k), show(values[i])]);
          }
          db.close();
          out.idb[info.name] = stores;
        }
        return JSON.stringify(out);
      }),
  };
  return s;
}

export async function taskpaneFrame(host) {
  const handle = await host.waitForSelector('iframe[data-testid="taskpane-frame"]', { timeout: WAIT_MS });
  const frame = await handle.contentFrame();
  await frame.waitForLoadState('domcontentloaded');
  return frame;
}

/** Advance the task pane's engine clock. */
export async function advance(s, minutes) {
  const r = await s.auth('advanceClock', minutes * 60_000);
  assert.equal(r.ok, true, JSON.stringify(r));
}
