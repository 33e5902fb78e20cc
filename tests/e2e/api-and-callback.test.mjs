// End-to-end: an authorized Salesforce API call whose session expired (401
// INVALID_SESSION_ID → one refresh → the call succeeds), and the sign-in pop-up's callback
// refusing answers that are not the provider's redirect for this request (another origin,
// a wrong `state`), with the real engine.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useEnvironment, byTestId, completeSignIn, WAIT_MS } from './helpers.mjs';
import { chooseMailService } from '../support/browser.mjs';

const h = useEnvironment();

describe('Salesforce authorized fetch (real engine)', () => {
  it('after /control/expire-session: 401 INVALID_SESSION_ID, one refresh, the retried call answers 200', async (t) => {
    const s = await h.session(t);
    const { env } = s;
    await s.connect('salesforce', 'alice@acme.test');
    const { instanceUrl } = await s.debug('salesforce');
    assert.equal(instanceUrl, env.idp.info.salesforce.instanceUrl, 'instance_url from the token response');
    const url = `${instanceUrl}/services/data/v60.0/sobjects/`;
    const before = (await s.auth('accessToken', 'salesforce')).value;

    // Works as it is.
    assert.equal((await s.auth('fetch', 'salesforce', url)).value?.status, 200);
    await env.control('/reset', {}); // stats and request log
    await env.control('/expire-session', { provider: 'salesforce' });

    const r = await s.auth('fetch', 'salesforce', url);
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.equal(r.value.status, 200);
    assert.match(r.value.body, /"sobjects"/);
    const stats = await env.stats();
    assert.equal(stats.salesforce.token.refresh_token, 1, 'exactly one refresh');
    assert.equal(stats.salesforce.token.authorization_code, 0, 'no sign-in');
    assert.equal(stats.salesforce.api, 2, 'the 401, then the retried call');
    const log = await env.control('/log?n=50');
    assert.deepEqual(
      log
        .filter((e) => e.provider === 'salesforce' && e.method !== 'OPTIONS' && (e.endpoint === 'api' || e.endpoint === 'token'))
        .map((e) => [e.endpoint, e.status]),
      [['api', 401], ['token', 200], ['api', 200]],
    );
    const after = (await s.auth('accessToken', 'salesforce')).value;
    assert.notEqual(after, before, 'a new session');
    assert.ok((await s.auth('eventLog')).value.some((e) => e.service === 'salesforce' && e.kind === 'api_401'));
    await s.waitStatus('salesforce', 'connected');

    // The token goes only to the connection's instance_url.
    const foreign = await s.auth('fetch', 'salesforce', `${env.baseUrl}/www/config.json`);
    assert.equal(foreign.ok, false);
    assert.equal(foreign.error.code, 'foreign_origin');
  });
});

describe('sign-in pop-up callback (real engine)', () => {
  it('ignores a message from another origin and one with a wrong state; the real redirect still signs in', async (t) => {
    const s = await h.session(t);
    const { page, context, env } = s;
    let authorize = null;
    context.on('request', (r) => {
      if (r.url().startsWith(env.idp.info.microsoft.authorize)) authorize ??= r.url();
    });
    const popupPromise = page.waitForEvent('popup', { timeout: WAIT_MS });
    await byTestId(page, 'change-microsoft').click();
    await chooseMailService(page, 'microsoft');
    const popup = await popupPromise;
    await popup.waitForSelector('input[name=login]', { timeout: WAIT_MS });
    assert.ok(authorize, 'saw the authorization request');
    const state = new URL(authorize).searchParams.get('state');
    const redirectUri = env.config.redirectUri;

    // 1. The provider's page (another origin) answers for the callback page, state and all.
    assert.notEqual(new URL(popup.url()).origin, env.baseUrl);
    await popup.evaluate(
      ([cb, st]) => window.opener.postMessage({ type: 'sidebar-auth:redirect', url: `${cb}?code=forged-1&state=${st}` }, '*'),
      [redirectUri, state],
    );
    // 2. A page of our origin in the pop-up answers with a wrong state.
    await popup.goto(`${env.baseUrl}/www/dashboard.css`);
    await popup.evaluate(
      (cb) => window.opener.postMessage({ type: 'sidebar-auth:redirect', url: `${cb}?code=forged-2&state=WRONG` }, location.origin),
      redirectUri,
    );
    await page.waitForFunction(() => window.__sidebarAuth.driver.ignoredMessages().length >= 2, null, { timeout: WAIT_MS });
    const ignored = await page.evaluate(() => window.__sidebarAuth.driver.ignoredMessages());
    // The pop-up showed Entra's login page, on the emulated login host's origin.
    assert.deepEqual(ignored.map((e) => [e.reason, e.origin]), [['origin', new URL(env.idp.info.microsoft.authorize).origin], ['state', env.baseUrl]]);
    assert.equal(JSON.stringify(ignored).includes('forged'), false, 'no code text is kept');
    assert.equal(await byTestId(page, 'status-microsoft').getAttribute('data-status'), 'signing_in', 'still waiting');
    assert.equal((await env.stats()).microsoft.token.authorization_code, 0, 'no forged code was redeemed');

    // 3. Back to the provider: the real redirect (right origin, right state) signs in.
    await popup.goto(authorize);
    await completeSignIn(popup, 'alice@contoso.com');
    await s.waitStatus('microsoft', 'connected');
    assert.equal((await byTestId(page, 'account-microsoft').textContent()).trim(), 'alice@contoso.com');
    assert.equal((await env.stats()).microsoft.token.authorization_code, 1, 'only the real code was redeemed');
  });

  it('the engine itself refuses a redirect with a wrong state, from another origin, or with a wrong issuer', async (t) => {
    // A second engine instance in the page with a host driver that hands back crafted
    // redirects, as a broken or hostile host would: the engine's own checks must hold.
    const s = await h.session(t);
    const { page, env } = s;
    await env.control('/reset-stats', {});
    const results = await page.evaluate(async (config) => {
      const { SidebarAuth } = await import('/pkg/sidebar_auth.js');
      const make = (craft) => ({
        openSignIn: async (url, redirectUri) => craft(new URL(url), redirectUri),
        load: async () => null,
        save: async () => {},
      });
      const cases = {
        wrongState: (u, cb) => `${cb}?code=c1&state=WRONG&iss=${encodeURIComponent(config.salesforce.issuer)}`,
        otherOrigin: (u, cb) => `http://127.0.0.2:9/www/callback.html?code=c2&state=${u.searchParams.get('state')}`,
        wrongIssuer: (u, cb) => `${cb}?code=c3&state=${u.searchParams.get('state')}&iss=${encodeURIComponent('http://127.0.0.1:9/evil')}`,
        rightOne: (u, cb) => `${cb}?code=not-a-real-code&state=${u.searchParams.get('state')}&iss=${encodeURIComponent(config.salesforce.issuer)}`,
      };
      const out = {};
      for (const [name, craft] of Object.entries(cases)) {
        const auth = await SidebarAuth.create(config, make(craft));
        try {
          await auth.connect('salesforce', {});
          out[name] = { ok: true };
        } catch (e) {
          out[name] = { ok: false, code: e.code, status: auth.view().sections[1].connections[0].status };
        }
        auth.free();
      }
      return out;
    }, env.config);
    assert.deepEqual(results.wrongState, { ok: false, code: 'state_mismatch', status: 'disconnected' });
    assert.deepEqual(results.otherOrigin, { ok: false, code: 'unexpected_redirect', status: 'disconnected' });
    assert.deepEqual(results.wrongIssuer, { ok: false, code: 'issuer_mismatch', status: 'disconnected' });
    // Control: a redirect that passes the checks is redeemed (and the provider refuses the code).
    assert.equal(results.rightOne.ok, false);
    assert.equal(results.rightOne.code, 'token_request_failed');
    const stats = await env.stats();
    assert.equal(stats.salesforce.token.authorization_code, 1, 'only the well-formed redirect reached the token endpoint');
  });
});
