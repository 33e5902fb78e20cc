// The Chrome extension, loaded unpacked into headless Chromium, against the local identity
// providers: connecting the three services through chrome.identity.launchWebAuthFlow and
// the providers' login pages; what a content script and a web page can (not) obtain; and
// no token text in chrome.storage.local.
//
//   node --test tests/extension/        (the engine must be built into pkg/ first)

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useExtension, byTestId, eventually } from './helpers.mjs';

const x = useExtension();
const SERVICES = ['microsoft', 'google', 'salesforce'];
const ACCOUNT = { microsoft: 'alice@contoso.com', google: 'alice@gmail.test', salesforce: 'alice@acme.test' };

/** The three services connected (the first test does it through the panel; later tests
 *  connect whatever is missing, so each can also run alone). */
async function ensureConnected() {
  let panel = null;
  for (const s of SERVICES) {
    if ((await x.card(s))?.status === 'connected' || (await x.debug(s))?.refreshToken?.present) continue;
    panel ??= await x.openPanel();
    await x.connect(panel, s, ACCOUNT[s]);
  }
  await panel?.close();
}

function graphMe() {
  return `${x.idp.info.microsoft.api}/me`;
}

describe('connect through launchWebAuthFlow (real extension, real engine)', () => {
  it('Microsoft 365, Gmail and Salesforce: Connect in the side panel → the provider’s login page in the auth window → Connected', async () => {
    const panel = await x.openPanel();
    assert.equal(await byTestId(panel, 'status-microsoft').getAttribute('data-status'), 'disconnected');
    const pages = {};

    pages.microsoft = await x.connect(panel, 'microsoft', ACCOUNT.microsoft);
    assert.equal(pages.microsoft[0]?.page, 'login', 'the auth window showed the provider’s login page');
    assert.match(await byTestId(panel, 'signin-needed-microsoft').textContent(), /^Sign-in needed in 2[34] h$/, 'spa: 24 h ahead of time');

    pages.google = await x.connect(panel, 'google', ACCOUNT.google);
    assert.ok(pages.google.some((p) => p.page === 'consent'), 'Google asks for consent (prompt=consent, for a refresh token)');

    pages.salesforce = await x.connect(panel, 'salesforce', ACCOUNT.salesforce);
    assert.deepEqual(pages.salesforce[0], { page: 'login', prefilled: ACCOUNT.salesforce }, 'login_hint pre-fills the username');

    const stats = await x.stats();
    for (const s of SERVICES) {
      assert.equal(stats[s].token.authorization_code, 1, `${s}: one code redemption`);
      const d = await x.debug(s);
      assert.equal(d.account.username, ACCOUNT[s]);
      assert.equal(d.refreshToken?.present, true, `${s}: refresh token kept`);
      assert.equal(d.accessToken?.present, true, `${s}: access token`);
    }

    // The flows used the extension's redirect URI, and the token requests came from the
    // extension's origin (the Microsoft `spa` client refuses a redemption without Origin).
    const entries = await x.control('/log?n=500');
    const authorizes = entries.filter((e) => e.endpoint === 'authorize');
    assert.ok(authorizes.length >= 3, JSON.stringify(entries.slice(0, 3)));
    for (const e of authorizes) assert.ok(e.path.includes(encodeURIComponent(x.redirectUri)), `redirect_uri is ${x.redirectUri}: ${e.path}`);
    for (const e of entries.filter((e) => e.endpoint === 'token')) assert.equal(e.origin, x.origin, `token request Origin: ${JSON.stringify(e)}`);

    // The panel gets API data through the worker, never a token.
    const me = await panel.evaluate(async (url) => {
      const { auth } = await import('/panel-client.js');
      return auth.fetch('microsoft', url);
    }, graphMe());
    assert.equal(me.status, 200, JSON.stringify(me));
    assert.equal(JSON.parse(me.body).mail ?? JSON.parse(me.body).userPrincipalName, ACCOUNT.microsoft);
    assert.deepEqual(x.pageErrors, [], 'no uncaught errors in extension pages');
  });

  it('chrome.storage.local holds the vault encrypted, with no token text; access tokens only in storage.session', async () => {
    await ensureConnected();
    const current = {};
    for (const s of SERVICES) current[s] = await x.value('accessToken', s);
    const seen = await x.secrets();
    const kinds = new Set(seen.map((t) => t.kind));
    assert.deepEqual([...kinds].sort(), ['access_token', 'id_token', 'refresh_token'], 'the providers issued all three kinds');
    const secrets = [...new Set([...seen.map((t) => t.value), ...Object.values(current)])];
    assert.ok(secrets.length >= 9, `tokens recorded: ${secrets.length}`);

    const local = await x.harness.evaluate(() => window.harness.local());
    assert.deepEqual(Object.keys(local), ['sidebar-auth:vault'], 'the vault is the only thing in chrome.storage.local');
    const vault = JSON.parse(local['sidebar-auth:vault']);
    assert.equal(vault.sealed, 2, 'version 2: the copy counter in the authenticated data');
    // `data` = the copy number (8 bytes, big-endian), then the ciphertext.
    const copy = Number(Buffer.from(vault.data, 'base64').readBigUInt64BE(0));
    assert.ok(copy >= 3, `each save a higher copy (three sign-ins): ${copy}`);
    assert.equal(vault.alg, 'A256GCM');
    const localText = JSON.stringify(local);
    for (const secret of secrets) {
      assert.ok(!localText.includes(secret), 'a token is in chrome.storage.local');
      assert.ok(!localText.includes(secret.slice(0, 24)), 'a token prefix is in chrome.storage.local');
    }
    for (const who of Object.values(ACCOUNT)) assert.ok(!localText.includes(who), 'the vault is encrypted at rest (no account names in clear)');

    // The refresh and ID tokens are nowhere but in the encrypted vault.
    const sessionText = JSON.stringify(await x.harness.evaluate(() => window.harness.session()));
    for (const t of seen.filter((t) => t.kind !== 'access_token')) assert.ok(!sessionText.includes(t.value), `${t.kind} in chrome.storage.session`);
    for (const s of SERVICES) assert.ok(sessionText.includes(current[s]), `${s}: the current access token is cached in chrome.storage.session`);
  });

  it('a content script and a web page get no token and no vault', async () => {
    await ensureConnected();
    const token = await x.value('accessToken', 'microsoft');
    const mail = await x.openMail();
    const cs = await x.contentScript(mail);
    try {
      // The content script's legitimate way: the worker makes the call.
      const apiBefore = (await x.stats()).microsoft.api;
      const me = await cs.evaluate(`return await sidebarAuth.fetch('microsoft', ${JSON.stringify(graphMe())});`);
      assert.equal(me.status, 200, JSON.stringify(me));
      assert.ok(!JSON.stringify(me).includes(token), 'no token in the reply');
      assert.equal((await x.stats()).microsoft.api, apiBefore + 1);

      // The Gmail example (API roots from the worker, then the profile) and the CRM.
      const example = await cs.evaluate(`
        const { apiBases, services } = await sidebarAuth.info();
        const profile = await sidebarAuth.fetch('google', apiBases.google + '/users/me/profile');
        return { apiBases, services, profile };`);
      assert.equal(example.apiBases.google, x.idp.info.google.api);
      assert.ok(example.services.every((s) => typeof s.status === 'string' && Object.keys(s).length === 3), JSON.stringify(example.services));
      assert.equal(example.profile.status, 200, JSON.stringify(example.profile));
      assert.equal(JSON.parse(example.profile.body).emailAddress, ACCOUNT.google);
      const instance = (await x.debug('salesforce')).instanceUrl;
      const crm = await cs.evaluate(`return await sidebarAuth.fetch('salesforce', ${JSON.stringify(`${instance}/services/data/v60.0/sobjects/`)});`);
      assert.equal(crm.status, 200, JSON.stringify(crm));

      // Asking for a token, or for anything only extension pages may ask, is refused.
      const asks = await cs.evaluate(`
        const send = (m) => chrome.runtime.sendMessage(m).catch((e) => ({ thrown: String(e.message ?? e) }));
        return {
          accessToken: await send({ type: 'sidebar-auth:call', method: 'accessToken', args: ['microsoft'] }),
          view: await send({ type: 'sidebar-auth:call', method: 'view', args: [] }),
          plain: await send({ type: 'accessToken', service: 'microsoft' }),
          testHook: await send({ type: 'sidebar-auth-test:call', method: 'accessToken', args: ['microsoft'] }),
          secrets: await send({ type: 'sidebar-auth-test:secrets' }),
          debug: await send({ type: 'sidebar-auth-test:call', method: 'debugState', args: [] }),
        };`);
      for (const [what, reply] of Object.entries(asks)) {
        assert.equal(reply?.error?.code, 'forbidden', `${what}: ${JSON.stringify(reply)}`);
        assert.ok(!JSON.stringify(reply).includes(token), `${what}: no token`);
      }

      // A URL off the service's API origins, or an operation the sidebar does not declare
      // (a POST to Graph): a content script may not ask for it (lib/content-policy.js), and
      // the engine would never attach the token off the service's origins anyway.
      const steal = await cs.evaluate(`return await sidebarAuth.fetch('microsoft', ${JSON.stringify(`${x.mail.url}/steal`)}).catch((e) => ({ rejected: e }));`);
      assert.equal(steal.rejected?.code, 'forbidden', JSON.stringify(steal));
      const send = await cs.evaluate(`return await sidebarAuth.fetch('microsoft', ${JSON.stringify(graphMe())}, { method: 'POST', body: '{}' }).catch((e) => ({ rejected: e }));`);
      assert.equal(send.rejected?.code, 'forbidden', JSON.stringify(send));
      assert.ok(!x.mail.requests.some((r) => r.authorization), 'no Authorization header reached the mail page’s server');

      // chrome.storage is closed to content scripts; the views port too.
      const storage = await cs.evaluate(`
        const read = (area) => chrome.storage[area].get(null).then((v) => ({ value: JSON.stringify(v) }), (e) => ({ error: String(e.message ?? e) }));
        const port = await new Promise((resolve) => {
          const got = [];
          const p = chrome.runtime.connect({ name: 'sidebar-auth:view' });
          p.onMessage.addListener((m) => got.push(m));
          p.onDisconnect.addListener(() => resolve({ disconnected: true, messages: got.length }));
        });
        return { local: await read('local'), session: await read('session'), port };`);
      assert.ok(storage.local.error || !/sealed|vault/.test(storage.local.value), `content script read chrome.storage.local: ${JSON.stringify(storage.local)}`);
      assert.ok(storage.local.error, `chrome.storage.local is closed to content scripts (TRUSTED_CONTEXTS): ${JSON.stringify(storage.local)}`);
      assert.ok(storage.session.error, `chrome.storage.session is closed to content scripts: ${JSON.stringify(storage.session)}`);
      assert.deepEqual(storage.port, { disconnected: true, messages: 0 });

      // The web page itself: no extension messaging at all, no extension files, no storage.
      const pageView = await mail.evaluate(async (id) => {
        const out = {
          chrome: typeof chrome,
          runtimeSendMessage: typeof globalThis.chrome?.runtime?.sendMessage,
          storage: typeof globalThis.chrome?.storage,
          sidebarAuth: typeof globalThis.sidebarAuth,
        };
        try {
          chrome.runtime.sendMessage(id, { type: 'sidebar-auth:call', method: 'accessToken', args: ['microsoft'] });
          out.sendExternal = 'sent';
        } catch (e) {
          out.sendExternal = `threw: ${e.message}`;
        }
        for (const f of ['config.json', 'manifest.json', 'pkg/sidebar_auth.js']) {
          out[f] = await fetch(`chrome-extension://${id}/${f}`).then((r) => `HTTP ${r.status}`, (e) => `failed: ${e.message}`);
        }
        // Talking to the content script through the page: it does not listen.
        window.postMessage({ type: 'sidebar-auth:fetch', service: 'microsoft', url: location.origin + '/steal-via-postmessage' }, '*');
        document.querySelector('[data-sidebar-auth="entry"]')?.click();
        out.shadow = document.querySelector('[data-sidebar-auth="entry"]')?.shadowRoot === null ? 'closed' : 'open';
        return out;
      }, x.id);
      assert.equal(pageView.runtimeSendMessage, 'undefined', JSON.stringify(pageView));
      assert.equal(pageView.storage, 'undefined');
      assert.equal(pageView.sidebarAuth, 'undefined', 'the content script’s API is not visible to the page');
      assert.match(pageView.sendExternal, /^threw/);
      for (const f of ['config.json', 'manifest.json', 'pkg/sidebar_auth.js']) assert.match(pageView[f], /^failed/, `${f}: ${pageView[f]}`);
      assert.equal(pageView.shadow, 'closed');

      // A round trip the content script makes after the page's attempts: by then anything
      // the page set off would have reached the API or the mail server. Nothing did.
      const apiMid = (await x.stats()).microsoft.api;
      const again = await cs.evaluate(`return await sidebarAuth.fetch('microsoft', ${JSON.stringify(graphMe())});`);
      assert.equal(again.status, 200);
      assert.equal((await x.stats()).microsoft.api, apiMid + 1, 'only the content script’s own call reached the API');
      assert.ok(!x.mail.requests.some((r) => r.path.includes('steal')), 'nothing was fetched for the page');
      const html = await mail.content();
      assert.ok(!html.includes(token), 'no token in the page’s DOM');

      // A page the content script is not injected into is as empty-handed.
      const plain = await x.context.newPage();
      await plain.goto(`http://localhost:${x.mail.port}/plain/`);
      assert.deepEqual(
        await plain.evaluate(() => [typeof globalThis.chrome?.runtime?.sendMessage, typeof globalThis.chrome?.storage, !!document.querySelector('[data-sidebar-auth]')]),
        ['undefined', 'undefined', false],
      );
      await plain.close();
    } finally {
      await cs.detach();
      await mail.close();
    }
  });

  it('no token anywhere it could leak: the panel DOM, the console of the worker and every page, the event log and the support export, the view, replies to a content script, any URL the browser requested', async () => {
    await ensureConnected();
    const consoleLines = [];
    const urls = [];
    const onPage = (p) => p.on('console', (m) => consoleLines.push(m.text()));
    x.context.on('page', onPage);
    for (const p of x.context.pages()) onPage(p);
    x.worker?.on('console', (m) => consoleLines.push(m.text()));
    // Every request of every page and of the service worker: a token in a query string
    // would be in the history, server logs and Referer (RFC 9700 §4.3.2, RFC 6750 §5.3).
    x.context.on('request', (r) => urls.push(r.url()));
    const panel = await x.openPanel();
    const mail = await x.openMail();
    const cs = await x.contentScript(mail);
    try {
      // Activity that handles every kind of token: a renewal of each service past its
      // expiry (refresh tokens sent, new ones stored), API calls from the panel and from a
      // content script (access tokens sent).
      const refreshesBefore = {};
      for (const s of SERVICES) refreshesBefore[s] = (await x.tokenCounts(s)).refresh_token ?? 0;
      await x.value('advanceClock', 125 * 60 * 1000);
      await x.value('tick');
      for (const s of SERVICES) {
        await eventually(async () => ((await x.tokenCounts(s)).refresh_token ?? 0) > refreshesBefore[s], { message: `${s}: renewed with its refresh token` });
      }
      const fromPanel = await panel.evaluate(async (url) => {
        const { auth } = await import('/panel-client.js');
        return auth.fetch('microsoft', url);
      }, graphMe());
      assert.equal(fromPanel.status, 200, JSON.stringify(fromPanel));
      const fromContent = await cs.evaluate(`return await sidebarAuth.fetch('google', (await sidebarAuth.info()).apiBases.google + '/users/me/profile');`);
      assert.equal(fromContent.status, 200, JSON.stringify(fromContent));

      const seen = await x.secrets();
      const current = await Promise.all(SERVICES.map((s) => x.value('accessToken', s)));
      const secrets = [...new Set([...seen.map((t) => t.value), ...current])];
      assert.ok(seen.some((t) => t.kind === 'refresh_token') && secrets.length >= 9, `tokens recorded: ${secrets.length}`);
      const places = {
        'panel DOM': await panel.content(),
        'mail page DOM': await mail.content(),
        console: consoleLines.join('\n'),
        'event log': JSON.stringify(await x.value('eventLog')),
        'support export (debugState)': JSON.stringify(await x.value('debugState')),
        view: JSON.stringify(await x.value('view')),
        'replies to the content script': JSON.stringify([fromContent]),
        'requested URLs': urls.join('\n'),
      };
      assert.ok(urls.length > 0, 'requests were seen');
      for (const [place, text] of Object.entries(places)) {
        for (const secret of secrets) {
          assert.ok(!text.includes(secret), `a token is in the ${place}`);
          assert.ok(!text.includes(secret.slice(0, 24)), `a token prefix is in the ${place}`);
        }
      }
    } finally {
      x.context.off('page', onPage);
      await cs.detach();
      await mail.close();
      await panel.close();
    }
  });
});
