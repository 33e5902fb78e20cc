// Shared pieces of the extension tests: the REAL unpacked extension (a TEST build of
// extension/, tests/support/build-extension.mjs --test), the engine it carries (pkg/), the
// local identity providers (tests/idp) and headless Chromium through Playwright.
//
//   const x = useExtension();            // before/after: emulator, build, browser per file
//   x.harness                             the test harness page (chrome-extension://<id>/test/harness.html)
//   await x.call('accessToken', 'microsoft')   an engine method in the worker (TEST build message)
//   const panel = await x.openPanel();    sidepanel.html in a tab (the side panel's page)
//   await x.connect(panel, 'microsoft', 'alice@contoso.com')   Connect → launchWebAuthFlow window → login
//   await x.stopWorker()                  ServiceWorker.stopAllWorkers over CDP
//   const cs = await x.contentScript(page)   evaluate in the content script's isolated world
//
// Waits are on conditions (DOM state, engine state, provider stats), never fixed sleeps.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { startIdp } from '../idp/idp.mjs';
import { buildExtension, extensionIdFromKey, redirectUriFor, REPO_ROOT } from '../support/build-extension.mjs';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  WAIT_MS,
  byTestId,
  completeSignIn,
  eventually,
  exchangeChromiumArgs,
  showMailService,
  chooseMailService,
  submitSalesforceChange,
  waitForCard,
  withTimeout,
} from '../support/browser.mjs';
import { controlClient } from '../support/e2e-env.mjs';

export { CHROMIUM, WAIT_MS, byTestId, eventually, withTimeout, completeSignIn } from '../support/browser.mjs';

export function chromiumArgs(extensionDir) {
  return [`--disable-extensions-except=${extensionDir}`, `--load-extension=${extensionDir}`, ...CHROMIUM_ARGS];
}

/** The extension's id, from the key in extension/manifest.json. */
export async function extensionId() {
  const manifest = JSON.parse(await readFile(path.join(REPO_ROOT, 'extension', 'manifest.json'), 'utf8'));
  return extensionIdFromKey(manifest.key);
}

/**
 * A loopback stand-in for Gmail (the test build's content script also runs on
 * http://127.0.0.1/mail/*), and a page it does not run on (/plain/). Records every request's
 * path and Authorization header, so a test can see that no token ever arrived here.
 */
export async function startMailServer() {
  const requests = [];
  const page = (title) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1></body></html>`;
  const server = http.createServer((req, res) => {
    requests.push({ path: req.url, method: req.method, authorization: req.headers.authorization ?? null, origin: req.headers.origin ?? null });
    const headers = { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' };
    if (req.url.startsWith('/mail/')) return res.writeHead(200, headers).end(page('Mail (test stand-in for Gmail)'));
    if (req.url.startsWith('/plain/')) return res.writeHead(200, headers).end(page('A web page'));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' }).end('{"ok":true}');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}




/**
 * One emulator, one TEST build of the extension and one browser (persistent profile) for a
 * test file. `idpConfig` goes to the emulator (control.mjs settings).
 */
export function useExtension({ idpConfig = {} } = {}) {
  const x = {};
  before(async () => {
    await setUp(x, idpConfig);
  });
  after(async () => {
    await tearDown(x);
  });
  return x;
}

/** The same outside node:test (the wake benchmark): returns the handle; `stopExtension(x)`. */
export async function startExtension({ idpConfig = {}, profileDir } = {}) {
  const x = {};
  try {
    await setUp(x, idpConfig, profileDir);
  } catch (err) {
    await tearDown(x);
    throw err;
  }
  return x;
}

export async function stopExtension(x, { browserOnly = false } = {}) {
  if (browserOnly) {
    await x.context?.close().catch(() => {});
    x.context = null;
    return;
  }
  await tearDown(x);
}

async function tearDown(x) {
  await x.context?.close().catch(() => {});
  await Promise.allSettled([x.idp?.close(), x.mail?.close()]);
  if (x.tmp) await rm(x.tmp, { recursive: true, force: true }).catch(() => {});
}

async function setUp(x, idpConfig, profileDir) {
  x.id = await extensionId();
  x.redirectUri = redirectUriFor(x.id);
  x.origin = `chrome-extension://${x.id}`;
  x.tmp = await mkdtemp(path.join(os.tmpdir(), 'sidebar-auth-ext-'));
  x.idp = await startIdp({ port: 0, redirectUris: [x.redirectUri], config: idpConfig });
  x.mail = await startMailServer();
  x.build = await buildExtension({ outDir: path.join(x.tmp, 'extension'), idp: x.idp, test: true });
  assert.equal(x.build.id, x.id);

  x.profileDir = profileDir ?? path.join(x.tmp, 'profile');
  x.context = await chromium.launchPersistentContext(x.profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    // The emulated Exchange's host names reach the emulator (tests/idp/EXCHANGE.md); every
    // other *.test name resolves nowhere.
    args: [...chromiumArgs(x.build.dir), ...exchangeChromiumArgs(x.idp.info.exchange)],
  });
  x.pageErrors = [];
  x.context.on('page', (p) => p.on('pageerror', (e) => x.pageErrors.push(`${p.url()}: ${e.message}`)));
  x.worker = await currentWorker(x); // Playwright's handle of the first worker instance

  x.harness = await x.context.newPage();
  await x.harness.goto(`${x.origin}/test/harness.html`);
  await x.harness.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: WAIT_MS });

  // ---- the emulator ----
  x.control = controlClient(x.idp.info.control);
  x.stats = () => x.control('/stats');
  x.tokenCounts = async (provider) => {
    const s = await x.stats();
    return { ...s[provider].token, authorize: s[provider].authorize, api: s[provider].api };
  };

  // ---- the extension, as its own page sees it ----
  x.send = (msg) => x.harness.evaluate((m) => window.harness.send(m), msg);
  /** An engine method in the worker (TEST build message): {ok, value} or {ok: false, error}. */
  x.call = (method, ...args) => x.send({ type: 'sidebar-auth-test:call', method, args });
  x.value = async (method, ...args) => {
    const r = await x.call(method, ...args);
    assert.equal(r?.ok, true, `${method}(${args.join(', ')}): ${JSON.stringify(r)}`);
    return r.value;
  };
  x.debug = async (service) => {
    const d = await x.value('debugState');
    return service ? d.connections[service] : d;
  };
  x.card = async (service) => {
    const v = await x.value('view');
    for (const sec of v.sections) for (const c of sec.connections) if (c.service === service) return c;
    return null;
  };
  x.waitDebug = async (service, predicate, message) => {
    let last;
    try {
      return await eventually(async () => {
        last = await x.debug(service);
        return predicate(last) ? last : null;
      }, { message: message ?? `${service}: ${predicate}` });
    } catch (e) {
      e.message += `\nlast state: ${JSON.stringify(last)}`;
      throw e;
    }
  };
  x.workerInfo = () => x.send({ type: 'sidebar-auth-test:worker' });
  x.secrets = async () => (await x.send({ type: 'sidebar-auth-test:secrets' })).tokens;

  /**
   * Stop the extension's service worker (DevTools protocol: ServiceWorker.stopAllWorkers on
   * an extension page's session) and wait until Chromium reports it stopped. (Playwright's
   * Worker 'close' event comes much later, when the target is finally destroyed.)
   */
  x.stopWorker = async () => {
    const cdp = await x.context.newCDPSession(x.harness);
    try {
      const scope = `${x.origin}/`;
      const registrations = new Map();
      let stopped = false;
      let resolveStopped;
      const done = new Promise((r) => { resolveStopped = r; });
      cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: regs }) => {
        for (const r of regs) registrations.set(r.registrationId, r.scopeURL);
      });
      cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
        for (const v of versions) {
          const ours = registrations.get(v.registrationId) === scope || v.scriptURL?.startsWith(scope);
          if (ours && v.runningStatus === 'stopped' && stopped) resolveStopped();
        }
      });
      await cdp.send('ServiceWorker.enable');
      stopped = true;
      await cdp.send('ServiceWorker.stopAllWorkers');
      await withTimeout(done, WAIT_MS, 'the service worker to stop');
    } finally {
      await cdp.detach().catch(() => {});
    }
  };

  /** Sync Settings, the side panel's page, in a tab. */
  x.openPanel = async () => {
    const panel = await x.context.newPage();
    await panel.goto(`${x.origin}/sidepanel.html`);
    await panel.waitForFunction(() => document.body.dataset.ready, null, { timeout: WAIT_MS });
    assert.equal(await panel.evaluate(() => document.body.dataset.ready), 'true', await panel.textContent('#app'));
    return panel;
  };

  /** Make sure the mail-service card for `service` is the one the panel shows. */
  x.showMailService = showMailService;
  x.waitCard = waitForCard;

  /**
   * Connect `login` from the panel: Connect/Change (for Salesforce the Change form with a
   * new username on the local login host), then the provider's login and consent pages in
   * the window chrome.identity.launchWebAuthFlow opens. Returns the pages seen.
   */
  x.connect = async (panel, service, login, { button = 'change' } = {}) => {
    await showMailService(panel, service);
    const windowPromise = x.context.waitForEvent('page', { timeout: WAIT_MS });
    await byTestId(panel, `${button}-${service}`).click();
    // Change on a connected mail card asks which email service first: the card's own.
    if (button === 'change') await chooseMailService(panel, service);
    if (service === 'salesforce' && button === 'change') await submitSalesforceChange(panel, login);
    const authWindow = await windowPromise;
    // Entra's login host is an origin of its own in the emulator (x.idp.origins).
    const providerOrigins = Object.values(x.idp.origins ?? { main: x.idp.base });
    assert.ok(providerOrigins.some((o) => authWindow.url().startsWith(o)) || authWindow.url() === 'about:blank', `the sign-in window shows the provider: ${authWindow.url()}`);
    const pages = await completeSignIn(authWindow, login);
    await waitForCard(panel, service, 'connected', login);
    return pages;
  };

  /** The content script's isolated world in `page`: `evaluate(expression)` runs there. */
  x.contentScript = async (page) => {
    const cdp = await x.context.newCDPSession(page);
    const contexts = new Map();
    cdp.on('Runtime.executionContextCreated', ({ context }) => contexts.set(context.id, context));
    cdp.on('Runtime.executionContextDestroyed', ({ executionContextId }) => contexts.delete(executionContextId));
    await cdp.send('Runtime.enable');
    const evaluateIn = async (contextId, expression) => {
      const r = await cdp.send('Runtime.evaluate', { expression, contextId, awaitPromise: true, returnByValue: true });
      if (r.exceptionDetails) throw new Error(`content script: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
      return r.result.value;
    };
    const contextId = await eventually(async () => {
      for (const c of contexts.values()) {
        if (c.auxData?.isDefault) continue;
        if (c.origin !== x.origin && c.name !== x.build.manifest.name) continue;
        if (await evaluateIn(c.id, 'typeof globalThis.sidebarAuth === "object"').catch(() => false)) return c.id;
      }
      return null;
    }, { message: 'the content script’s isolated world' });
    return {
      evaluate: (expression) => evaluateIn(contextId, `(async () => { ${expression} })()`),
      detach: () => cdp.detach().catch(() => {}),
    };
  };

  /** The stand-in mail page (content script injected), waiting for the entry point. */
  x.openMail = async () => {
    const page = await x.context.newPage();
    await page.goto(`${x.mail.url}/mail/index.html`);
    await page.waitForSelector('[data-sidebar-auth="entry"]', { state: 'attached', timeout: WAIT_MS });
    return page;
  };
}

async function currentWorker(x) {
  const match = (w) => w.url().startsWith(`chrome-extension://${x.id}/`);
  return x.context.serviceWorkers().find(match) ?? (await x.context.waitForEvent('serviceworker', { predicate: match, timeout: WAIT_MS }));
}
