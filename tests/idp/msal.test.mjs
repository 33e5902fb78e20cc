// Conformance of the emulated Entra ID with Microsoft's own client library,
// @azure/msal-node (node --test tests/idp/). MSAL is pointed at the emulator's
// login host exactly as at https://login.microsoftonline.com: authority
// `<login host>/<tenant>`, discovery through /v2.0/.well-known/openid-configuration,
// its own token requests, cache, expiry margin and error classification.
//
// Two things MSAL needs to talk to a local server, done here and nowhere else:
// - MSAL refuses an authority that is not https, so the emulator runs over https
//   on 127.0.0.1 with a certificate generated for this run (tls.mjs).
// - MSAL's default network client is the global fetch, which cannot be told to
//   trust that certificate; `system.networkClient` (MSAL's INetworkModule
//   extension point) gets a small node:https client with `ca` set to it.
// - `knownAuthorities` names the emulator's host so MSAL skips its cloud instance
//   discovery (a call to login.microsoftonline.com).
//
// The `spa` client must redeem with an Origin header (AADSTS9002327), which a
// node client does not send: these tests use the "mobile and desktop" client,
// sidebar-ms-native, as a native MSAL application would.

import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, beforeEach, describe, it, mock } from 'node:test';

import {
  PublicClientApplication, InteractionRequiredAuthError, ServerError,
} from '@azure/msal-node';

import { startIdp } from './idp.mjs';
import { authorize, CookieJar } from './flow.mjs';
import { selfSignedCert, trustingFetch } from './tls.mjs';

const RU = 'http://127.0.0.1:8080/www/callback.html';
const GRAPH_SCOPE = 'https://graph.microsoft.com/Mail.Read';
const MINUTE = 60_000;

let idp;
let I;
let tls;

/** MSAL's INetworkModule over node:https, trusting the run's certificate. */
function networkClient(ca) {
  const send = (url, method, options = {}) => new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca, headers: options.headers || {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let body;
        try { body = JSON.parse(text); } catch { body = text; }
        resolve({ headers: res.headers, body, status: res.statusCode });
      });
    });
    req.on('error', reject);
    if (options.body) req.write(options.body);
    req.end();
  });
  return {
    sendGetRequestAsync: (url, options) => send(url, 'GET', options),
    sendPostRequestAsync: (url, options) => send(url, 'POST', options),
  };
}

// The control API and Graph are on the same https server: the same client.
async function control(path, body) {
  const net = networkClient(tls.cert);
  const res = body === undefined
    ? await net.sendGetRequestAsync(`${I.control}${path}`)
    : await net.sendPostRequestAsync(`${I.control}${path}`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`control ${path} -> ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

function pca(tenant = 'organizations') {
  return new PublicClientApplication({
    auth: {
      clientId: I.microsoft.nativeClientId,
      authority: `${I.microsoft.authority}/${tenant}`,
      knownAuthorities: [new URL(I.microsoft.authority).host],
    },
    system: { networkClient: networkClient(tls.cert) },
  });
}

/** Signs in through the login pages (flow.mjs) and redeems the code with MSAL. */
async function signIn(app, { account = 'alice@contoso.com', tenant = 'organizations' } = {}) {
  const scopes = [GRAPH_SCOPE];
  const r = await authorize({
    authorizeUrl: `${I.microsoft.authority}/${tenant}/oauth2/v2.0/authorize`,
    clientId: I.microsoft.nativeClientId,
    redirectUri: RU,
    scope: `openid profile offline_access ${GRAPH_SCOPE}`,
    account,
    jar: new CookieJar(),
    fetch: trustingFetch(tls.cert),
  });
  assert.ok(r.code, JSON.stringify(r));
  return app.acquireTokenByCode({ code: r.code, scopes, redirectUri: RU, codeVerifier: r.verifier });
}

const graphMe = (accessToken) => networkClient(tls.cert).sendGetRequestAsync(`${I.microsoft.api}/me`, { headers: { authorization: `Bearer ${accessToken}` } });

/** The refresh token MSAL keeps in its cache (the newest it was given). */
function cachedRefreshToken(app) {
  const cache = JSON.parse(app.getTokenCache().serialize());
  const rts = Object.values(cache.RefreshToken);
  assert.equal(rts.length, 1);
  return rts[0].secret;
}

before(async () => {
  tls = selfSignedCert();
  idp = await startIdp({ tls, redirectUris: [RU] });
  I = idp.info;
});

after(async () => { await idp?.close(); });

beforeEach(async () => {
  await control('/reset', {});
  // Entra's own defaults: 60-90 min access tokens, rotation without revocation.
  await control('/config', { microsoft: { accessTokenTtl: 'random', strictRefreshRotation: false } });
});

describe('MSAL (msal-node) against the emulated Entra ID', () => {
  it('discovery, code redemption and the result MSAL builds: account, tenant, lifetime', async () => {
    const app = pca('organizations');
    const res = await signIn(app);
    assert.equal(res.account.username, 'alice@contoso.com');
    // The tenant MSAL reports is the user's, from the tokens: not a path segment of the emulator.
    assert.equal(res.tenantId, I.microsoft.tenantId);
    assert.equal(res.account.tenantId, I.microsoft.tenantId);
    assert.equal(res.account.homeAccountId, `0b7e1f5c-3a6d-4f2e-8c1b-a11ce0000001.${I.microsoft.tenantId}`);
    assert.equal(res.idTokenClaims.iss, I.microsoft.issuer);
    // Entra lists the granted scopes, never offline_access.
    assert.deepEqual(res.scopes, ['openid', 'profile', GRAPH_SCOPE]);
    const lifetimeMin = (res.expiresOn.getTime() - Date.now()) / MINUTE;
    assert.ok(lifetimeMin > 59 && lifetimeMin <= 90, `access token lifetime ${lifetimeMin} min (Entra: 60-90)`);
    assert.equal((await graphMe(res.accessToken)).status, 200);
    // MSAL redeemed the code with the PKCE verifier and client_info=1, as against Entra.
    const log = (await control('/log?n=50')).filter((e) => e.provider === 'microsoft' && e.endpoint === 'token');
    assert.deepEqual(log.map((e) => [e.grant_type, e.status]), [['authorization_code', 200]]);
  });

  it('silent acquisition answers from its cache while the token lives, and refreshes once it is within 5 minutes of expiry', async () => {
    const app = pca();
    const first = await signIn(app);
    await control('/reset-stats', {});
    const again = await app.acquireTokenSilent({ account: first.account, scopes: [GRAPH_SCOPE] });
    assert.equal(again.fromCache, true);
    assert.equal(again.accessToken, first.accessToken);
    assert.equal((await control('/stats')).microsoft.token.refresh_token, 0, 'no token request while the token lives');

    // Move the clock (MSAL's and the emulator's: one process) to 4 minutes before
    // expiry: inside MSAL's 5-minute renewal margin.
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      mock.timers.tick(first.expiresOn.getTime() - Date.now() - 4 * MINUTE);
      const renewed = await app.acquireTokenSilent({ account: first.account, scopes: [GRAPH_SCOPE] });
      assert.equal(renewed.fromCache, false);
      assert.notEqual(renewed.accessToken, first.accessToken);
      assert.equal((await control('/stats')).microsoft.token.refresh_token, 1, 'exactly one refresh');
      const cached = await app.acquireTokenSilent({ account: first.account, scopes: [GRAPH_SCOPE] });
      assert.equal(cached.fromCache, true, 'the renewed token is served from the cache');
      assert.equal((await control('/stats')).microsoft.token.refresh_token, 1);
    } finally {
      mock.timers.reset();
    }
  });

  it('with the demo\'s 120 s tokens MSAL refreshes on every call (why realistic lifetimes are the default)', async () => {
    await control('/config', { 'microsoft.accessTokenTtl': 120 });
    const app = pca();
    const first = await signIn(app);
    await control('/reset-stats', {});
    const a = await app.acquireTokenSilent({ account: first.account, scopes: [GRAPH_SCOPE] });
    const b = await app.acquireTokenSilent({ account: first.account, scopes: [GRAPH_SCOPE] });
    assert.equal(a.fromCache, false);
    assert.equal(b.fromCache, false);
    assert.equal((await control('/stats')).microsoft.token.refresh_token, 2);
  });

  it('refresh-token grant: a new refresh token each time, and the used one is not revoked (Entra), unless strict rotation is on', async () => {
    const app = pca();
    const first = await signIn(app);
    const rt0 = cachedRefreshToken(app);
    const r1 = await app.acquireTokenByRefreshToken({ refreshToken: rt0, scopes: [GRAPH_SCOPE] });
    assert.equal(r1.fromCache, false);
    const rt1 = cachedRefreshToken(app);
    assert.notEqual(rt1, rt0, 'MSAL keeps the newest refresh token it was given');
    const replay = await app.acquireTokenByRefreshToken({ refreshToken: rt0, scopes: [GRAPH_SCOPE] });
    assert.equal((await graphMe(replay.accessToken)).status, 200, 'the used refresh token still works at Entra');
    assert.equal(replay.account.homeAccountId, first.account.homeAccountId);

    await control('/config', { 'microsoft.strictRefreshRotation': true });
    const strict = pca();
    await signIn(strict, { account: 'bob@contoso.com' });
    const s0 = cachedRefreshToken(strict);
    await strict.acquireTokenByRefreshToken({ refreshToken: s0, scopes: [GRAPH_SCOPE] });
    const err = await strict.acquireTokenByRefreshToken({ refreshToken: s0, scopes: [GRAPH_SCOPE] }).then(() => null, (e) => e);
    assert.ok(err instanceof ServerError, String(err));
    assert.equal(err.errorCode, 'invalid_grant');
    assert.equal(String(err.errorNo), '50173');
  });

  it('AADSTS errors come out of MSAL with its classification: error, suberror, error number, claims', async () => {
    const app = pca();
    const first = await signIn(app, { account: 'carol@contoso.com' });
    const rt = cachedRefreshToken(app);
    const refresh = () => app.acquireTokenByRefreshToken({ refreshToken: rt, scopes: [GRAPH_SCOPE] }).then(() => null, (e) => e);
    const cases = [
      // [code, MSAL class, errorCode, subError]
      ['50076', InteractionRequiredAuthError, 'invalid_grant', 'basic_action'],
      ['53003', InteractionRequiredAuthError, 'invalid_grant', 'message_only'],
      ['50079', InteractionRequiredAuthError, 'invalid_grant', 'additional_action'],
      ['65001', InteractionRequiredAuthError, 'invalid_grant', 'consent_required'],
      ['50055', InteractionRequiredAuthError, 'invalid_grant', 'user_password_expired'],
      ['9002313', InteractionRequiredAuthError, 'invalid_grant', 'bad_token'],
      ['50058', InteractionRequiredAuthError, 'interaction_required', ''],
      ['50173', ServerError, 'invalid_grant', ''],
      ['700082', ServerError, 'invalid_grant', ''],
      ['700016', ServerError, 'unauthorized_client', ''],
    ];
    for (const [code, cls, errorCode, subError] of cases) {
      await control('/fail-next', { provider: 'microsoft', kind: 'error', code });
      const err = await refresh();
      assert.ok(err instanceof cls, `${code}: ${err?.name} ${err?.message}`);
      if (cls === ServerError) assert.ok(!(err instanceof InteractionRequiredAuthError), code);
      assert.equal(err.errorCode, errorCode, code);
      assert.equal(err.subError, subError, code);
      assert.equal(String(err.errorNo), code, code);
      // The description names the client that asked, not the spa one.
      if (code === '65001') assert.match(err.errorMessage, /sidebar-ms-native/);
      if (code === '50076') assert.ok(JSON.parse(err.claims).access_token, 'the claims of an MFA challenge');
    }
    // A real revocation (password change) after the faults: the same classification.
    await control('/revoke', { provider: 'microsoft', account: 'carol@contoso.com' });
    const revoked = await app.acquireTokenSilent({ account: first.account, scopes: [GRAPH_SCOPE], forceRefresh: true }).then(() => null, (e) => e);
    assert.ok(revoked instanceof ServerError, String(revoked));
    assert.equal(revoked.errorCode, 'invalid_grant');
    assert.equal(String(revoked.errorNo), '50173');
  });

  it('a claims challenge holds until MSAL gets a token for those claims', async () => {
    const app = pca();
    const first = await signIn(app);
    await control('/claims-challenge', { count: 1 });
    const challenged = await graphMe(first.accessToken);
    assert.equal(challenged.status, 401);
    const header = challenged.headers['www-authenticate'];
    const claims = Buffer.from(/claims="([^"]+)"/.exec(header)[1], 'base64').toString();

    // Silent acquisition without the claims answers from the cache: the same token,
    // which the API keeps refusing (a client that just retries would loop).
    const same = await app.acquireTokenSilent({ account: first.account, scopes: [GRAPH_SCOPE] });
    assert.equal(same.fromCache, true);
    assert.equal(same.accessToken, first.accessToken);
    assert.equal((await graphMe(same.accessToken)).status, 401);

    // With the claims, MSAL bypasses its cache and redeems the refresh token with them.
    await control('/reset-stats', {});
    const satisfied = await app.acquireTokenSilent({ account: first.account, scopes: [GRAPH_SCOPE], claims });
    assert.equal(satisfied.fromCache, false);
    assert.equal((await control('/stats')).microsoft.token.refresh_token, 1);
    assert.equal((await graphMe(satisfied.accessToken)).status, 200);
  });
});
