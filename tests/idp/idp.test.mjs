// Tests of the local identity-provider emulator (node --test tests/idp/).
// Drives each provider's authorization code + PKCE flow through the real
// oidc-provider devInteractions pages with plain fetch, then checks the
// provider-specific token responses, errors, faults and controls.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startIdp } from './idp.mjs';
import { authorize, tokenRequest, CookieJar } from './flow.mjs';

const RU = 'http://127.0.0.1:8080/www/callback.html';
const EXT_ID = 'abcdefghijklmnopabcdefghijklmnop';
const EXT_RU = `https://${EXT_ID}.chromiumapp.org/`;
const ORIGIN = `chrome-extension://${EXT_ID}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

let idp;
let I;

async function control(path, body) {
  const res = await fetch(`${I.control}${path}`, body === undefined ? {} : {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`control ${path} -> ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const decodeJwt = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

// --- per-provider sign-in helpers ----------------------------------------------
const MS_SCOPE = 'openid profile email offline_access https://graph.microsoft.com/Mail.ReadWrite';

async function msCode({ account = 'alice@contoso.com', jar = new CookieJar(), extra, scope = MS_SCOPE, clientId = I.microsoft.clientId, redirectUri = RU } = {}) {
  const r = await authorize({ authorizeUrl: I.microsoft.authorize, clientId, redirectUri, scope, account, jar, extra });
  assert.ok(r.code, `no code: ${JSON.stringify(r)}`);
  return r;
}

async function msSignIn(opts = {}) {
  const r = await msCode(opts);
  const t = await tokenRequest(I.microsoft.token, {
    client_id: I.microsoft.clientId, grant_type: 'authorization_code', code: r.code, redirect_uri: RU, code_verifier: r.verifier, scope: opts.tokenScope ?? opts.scope ?? MS_SCOPE,
  }, { origin: ORIGIN });
  assert.equal(t.status, 200, t.text);
  return { ...t, auth: r };
}

const msRefresh = (rt, { origin = ORIGIN, scope } = {}) => tokenRequest(I.microsoft.token, {
  client_id: I.microsoft.clientId, grant_type: 'refresh_token', refresh_token: rt, ...(scope ? { scope } : {}),
}, { origin });

const G_SCOPE = 'openid email https://www.googleapis.com/auth/gmail.readonly';

async function gSignIn({ account = 'alice@gmail.test', secret = true, extra = { access_type: 'offline', prompt: 'consent' } } = {}) {
  const r = await authorize({ authorizeUrl: I.google.authorize, clientId: I.google.clientId, redirectUri: RU, scope: G_SCOPE, account, extra });
  assert.ok(r.code, JSON.stringify(r));
  const t = await tokenRequest(I.google.token, {
    client_id: I.google.clientId, ...(secret ? { client_secret: I.google.clientSecret } : {}), grant_type: 'authorization_code', code: r.code, redirect_uri: RU, code_verifier: r.verifier,
  });
  return { ...t, auth: r };
}

const gRefresh = (rt, { secret = true } = {}) => tokenRequest(I.google.token, {
  client_id: I.google.clientId, ...(secret ? { client_secret: I.google.clientSecret } : {}), grant_type: 'refresh_token', refresh_token: rt,
});

async function sfSignIn({ account = 'alice@acme.test', scope = 'api refresh_token openid' } = {}) {
  const r = await authorize({ authorizeUrl: I.salesforce.authorize, clientId: I.salesforce.clientId, redirectUri: RU, scope, account });
  assert.ok(r.code, JSON.stringify(r));
  const t = await tokenRequest(I.salesforce.token, {
    client_id: I.salesforce.clientId, grant_type: 'authorization_code', code: r.code, redirect_uri: RU, code_verifier: r.verifier,
  }, { origin: ORIGIN });
  assert.equal(t.status, 200, t.text);
  return { ...t, auth: r };
}

const sfRefresh = (rt) => tokenRequest(I.salesforce.token, { client_id: I.salesforce.clientId, grant_type: 'refresh_token', refresh_token: rt }, { origin: ORIGIN });
const sfApi = (at, path = '/sobjects/') => fetch(`${I.salesforce.api}${path}`, { headers: { authorization: `Bearer ${at}` } });

// Asserts the exact Entra error body shape for AADSTS `code`.
function assertEntraError(t, code, { error = 'invalid_grant', status = 400, suberror } = {}) {
  assert.equal(t.status, status, t.text);
  const b = t.body;
  const keys = ['error', 'error_description', 'error_codes', 'timestamp', 'trace_id', 'correlation_id', 'error_uri'];
  if (suberror) keys.push('suberror');
  assert.deepEqual(Object.keys(b).filter((k) => k !== 'claims'), keys);
  assert.equal(b.error, error);
  assert.deepEqual(b.error_codes, [code]);
  assert.match(b.timestamp, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  assert.match(b.trace_id, UUID);
  assert.match(b.correlation_id, UUID);
  assert.equal(b.error_uri, `${I.microsoft.authority}/error?code=${code}`);
  assert.ok(b.error_description.startsWith(`AADSTS${code}: `), b.error_description);
  assert.ok(b.error_description.endsWith(`\r\nTrace ID: ${b.trace_id}\r\nCorrelation ID: ${b.correlation_id}\r\nTimestamp: ${b.timestamp}`), b.error_description);
  if (suberror) assert.equal(b.suberror, suberror);
}

before(async () => {
  idp = await startIdp({ port: 0, redirectUris: [RU, 'https://*.chromiumapp.org/'] });
  I = idp.info;
});

after(async () => { await idp?.close(); });

beforeEach(async () => {
  await control('/reset', {});
  await control('/config', {
    microsoft: { accessTokenTtl: 120, spaRefreshLifetime: 86400, strictRefreshRotation: false },
    google: { requireSecretForRefresh: true, requireSecretForCode: true, rotateRefreshTokens: false, strictRefreshRotation: false },
    salesforce: { sessionTimeout: 120, rotateRefreshTokens: false, strictRefreshRotation: false, corsOnOAuthEndpoints: true },
  });
});

// ---------------------------------------------------------------------------
describe('microsoft (Entra v2)', () => {
  it('code flow: login + consent pages, iss, Entra token response shape', async () => {
    const t = await msSignIn();
    assert.deepEqual(t.auth.pages, ['login', 'consent']);
    assert.equal(t.auth.iss, I.microsoft.issuer);
    assert.deepEqual(Object.keys(t.body), ['token_type', 'scope', 'expires_in', 'ext_expires_in', 'access_token', 'refresh_token', 'refresh_token_expires_in', 'id_token']);
    assert.equal(t.body.token_type, 'Bearer');
    assert.equal(t.body.expires_in, 120);
    assert.equal(t.body.ext_expires_in, 120);
    // The 24 h spa horizon counted in whole seconds from the refresh token's issue, in this
    // same request: 86400, or 86399 when the request crosses a second boundary (seen once
    // on a loaded CI machine).
    assert.ok([86399, 86400].includes(t.body.refresh_token_expires_in), String(t.body.refresh_token_expires_in));
    assert.equal(t.body.scope, 'openid profile email https://graph.microsoft.com/Mail.ReadWrite', 'offline_access is not listed');
    assert.equal(t.headers.get('access-control-allow-origin'), ORIGIN);
    assert.ok(t.headers.get('date'));
    const id = decodeJwt(t.body.id_token);
    assert.equal(id.preferred_username, 'alice@contoso.com');
    assert.equal(id.tid, I.microsoft.tenantId);
    assert.equal(id.iss, I.microsoft.issuer);
    assert.equal(id.aud, 'sidebar-ms-spa');
  });

  it('works under every tenant form and rejects an unknown tenant (AADSTS90002)', async () => {
    for (const tenant of ['organizations', 'consumers', I.microsoft.tenantId, 'contoso.onmicrosoft.com']) {
      const r = await authorize({
        authorizeUrl: I.microsoft.authorize.replace('/common/', `/${tenant}/`), clientId: I.microsoft.clientId, redirectUri: RU, scope: MS_SCOPE, account: 'bob@contoso.com',
      });
      const t = await tokenRequest(I.microsoft.token.replace('/common/', `/${tenant}/`), {
        client_id: I.microsoft.clientId, grant_type: 'authorization_code', code: r.code, redirect_uri: RU, code_verifier: r.verifier,
      }, { origin: ORIGIN });
      assert.equal(t.status, 200, `${tenant}: ${t.text}`);
    }
    const bad = await tokenRequest(I.microsoft.token.replace('/common/', '/nope/'), { client_id: I.microsoft.clientId, grant_type: 'refresh_token', refresh_token: 'x' }, { origin: ORIGIN });
    assertEntraError(bad, 90002, { error: 'invalid_request' });
    assert.match(bad.body.error_description, /^AADSTS90002: Tenant 'nope' not found\./);
  });

  it('discovery under /{tenant}/v2.0 points at the tenant endpoints', async () => {
    const d = await (await fetch(I.microsoft.discovery)).json();
    assert.equal(d.authorization_endpoint, I.microsoft.authorize);
    assert.equal(d.token_endpoint, I.microsoft.token);
    assert.equal(d.issuer, I.microsoft.issuer);
    assert.ok(!d.scopes_supported.includes('entra_offline_access'));
  });

  it('refresh rotates, and the used refresh token is not revoked (Entra default)', async () => {
    const t = await msSignIn();
    const r1 = await msRefresh(t.body.refresh_token);
    assert.equal(r1.status, 200, r1.text);
    assert.notEqual(r1.body.refresh_token, t.body.refresh_token);
    assert.ok(r1.body.refresh_token_expires_in <= 86400 && r1.body.refresh_token_expires_in > 86390);
    // "doesn't revoke old refresh tokens when used to fetch new access tokens"
    const again = await msRefresh(t.body.refresh_token);
    assert.equal(again.status, 200, again.text);
    assert.notEqual(again.body.refresh_token, r1.body.refresh_token);
    const newest = await msRefresh(r1.body.refresh_token);
    assert.equal(newest.status, 200, newest.text);
    // Both share the spa deadline of the first sign-in.
    assert.ok(again.body.refresh_token_expires_in <= r1.body.refresh_token_expires_in);
  });

  it('strict rotation (switched on): replaying the old refresh token revokes the grant (AADSTS50173)', async () => {
    await control('/config', { 'microsoft.strictRefreshRotation': true });
    const t = await msSignIn();
    const r1 = await msRefresh(t.body.refresh_token);
    assert.equal(r1.status, 200, r1.text);
    assert.notEqual(r1.body.refresh_token, t.body.refresh_token);
    const replay = await msRefresh(t.body.refresh_token);
    assertEntraError(replay, 50173);
    assert.match(replay.body.error_description, /^AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed\. The user might have changed or reset their password\. The grant was issued on '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z' and the TokensValidFrom date \(before which tokens are not valid\) for this user is '[^']+'\.\r\n/);
    const newest = await msRefresh(r1.body.refresh_token);
    assertEntraError(newest, 50173);
  });

  it('an unknown refresh token answers AADSTS9002313 with suberror bad_token', async () => {
    const t = await msRefresh('not-a-real-token');
    assertEntraError(t, 9002313, { suberror: 'bad_token' });
  });

  it('spa Origin rule: redemption without Origin fails with AADSTS9002327 and does not consume the code', async () => {
    const r = await msCode();
    const form = { client_id: I.microsoft.clientId, grant_type: 'authorization_code', code: r.code, redirect_uri: RU, code_verifier: r.verifier };
    const noOrigin = await tokenRequest(I.microsoft.token, form);
    assertEntraError(noOrigin, 9002327, { error: 'invalid_request' });
    assert.match(noOrigin.body.error_description, /^AADSTS9002327: Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests\.\r\n/);
    const ok = await tokenRequest(I.microsoft.token, form, { origin: ORIGIN });
    assert.equal(ok.status, 200, ok.text);
    const refreshNoOrigin = await msRefresh(ok.body.refresh_token, { origin: null });
    assertEntraError(refreshNoOrigin, 9002327, { error: 'invalid_request' });
    const again = await msRefresh(ok.body.refresh_token);
    assert.equal(again.status, 200, again.text);
  });

  it('a non-spa registration redeemed with Origin fails with AADSTS9002326', async () => {
    const r = await msCode({ clientId: I.microsoft.nativeClientId });
    const t = await tokenRequest(I.microsoft.token, {
      client_id: I.microsoft.nativeClientId, grant_type: 'authorization_code', code: r.code, redirect_uri: RU, code_verifier: r.verifier,
    }, { origin: ORIGIN });
    assertEntraError(t, 9002326, { error: 'invalid_request' });
    const ok = await tokenRequest(I.microsoft.token, {
      client_id: I.microsoft.nativeClientId, grant_type: 'authorization_code', code: r.code, redirect_uri: RU, code_verifier: r.verifier,
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.refresh_token_expires_in, undefined);
  });

  it('spa refresh tokens have an absolute lifetime that refreshes do not extend (AADSTS700084)', async () => {
    await control('/config', { 'microsoft.spaRefreshLifetime': 3 });
    const t = await msSignIn();
    assert.equal(t.body.refresh_token_expires_in, 3);
    await sleep(1100);
    const r1 = await msRefresh(t.body.refresh_token);
    assert.equal(r1.status, 200, r1.text);
    assert.ok(r1.body.refresh_token_expires_in <= 2, `deadline moved: ${r1.body.refresh_token_expires_in}`);
    await sleep(2100);
    const dead = await msRefresh(r1.body.refresh_token);
    assertEntraError(dead, 700084);
    assert.match(dead.body.error_description, /^AADSTS700084: The refresh token was issued to a single page app \(SPA\), and therefore has a fixed, limited lifetime of 0\.00:00:03, which cannot be extended\. It is now expired and a new sign in request must be sent by the SPA to the sign in page\. The token was issued on \d{4}-\d\d-\d\dT[\d:.]+Z\.\r\n/);
  });

  it('password change (control revoke) -> AADSTS50173 and Graph rejects the old access token', async () => {
    const t = await msSignIn({ account: 'carol@contoso.com' });
    const me = await fetch(`${I.microsoft.api}/me`, { headers: { authorization: `Bearer ${t.body.access_token}` } });
    assert.equal(me.status, 200);
    const out = await control('/revoke', { provider: 'microsoft', account: 'carol@contoso.com' });
    assert.equal(out.grantsRevoked, 1);
    const r = await msRefresh(t.body.refresh_token);
    assertEntraError(r, 50173);
    const me2 = await fetch(`${I.microsoft.api}/me`, { headers: { authorization: `Bearer ${t.body.access_token}` } });
    assert.equal(me2.status, 401);
  });

  it('Graph /me validates the token; 401 with WWW-Authenticate otherwise', async () => {
    const t = await msSignIn();
    const me = await fetch(`${I.microsoft.api}/me`, { headers: { authorization: `Bearer ${t.body.access_token}` } });
    assert.equal(me.status, 200);
    const body = await me.json();
    assert.equal(body.userPrincipalName, 'alice@contoso.com');
    assert.equal(body.displayName, 'Alice Contoso');
    const none = await fetch(`${I.microsoft.api}/me`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate'), /^Bearer realm="", authorization_uri="[^"]+", client_id="00000003-0000-0000-c000-000000000000"$/);
    assert.equal((await none.json()).error.code, 'InvalidAuthenticationToken');
    const bad = await fetch(`${I.microsoft.api}/me`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(bad.status, 401);
  });

  it('Graph rejects an access token of another resource (one resource per token)', async () => {
    const scope = 'openid offline_access https://graph.microsoft.com/Mail.Read https://outlook.office365.com/EWS.AccessAsUser.All';
    const r = await msCode({ scope });
    const redeemMixed = await tokenRequest(I.microsoft.token, {
      client_id: I.microsoft.clientId, grant_type: 'authorization_code', code: r.code, redirect_uri: RU, code_verifier: r.verifier, scope,
    }, { origin: ORIGIN });
    assertEntraError(redeemMixed, 700022, { error: 'invalid_scope' });
    const t = await msSignIn({ scope, tokenScope: 'openid offline_access https://graph.microsoft.com/Mail.Read' });
    assert.equal(t.body.scope, 'openid https://graph.microsoft.com/Mail.Read');
    const graphOk = await fetch(`${I.microsoft.api}/me`, { headers: { authorization: `Bearer ${t.body.access_token}` } });
    assert.equal(graphOk.status, 200);
    const mixed = await msRefresh(t.body.refresh_token, { scope: 'https://graph.microsoft.com/Mail.Read https://outlook.office365.com/EWS.AccessAsUser.All' });
    assertEntraError(mixed, 700022, { error: 'invalid_scope' });
    const ews = await msRefresh(t.body.refresh_token, { scope: 'https://outlook.office365.com/EWS.AccessAsUser.All offline_access' });
    assert.equal(ews.status, 200, ews.text);
    assert.equal(ews.body.scope, 'https://outlook.office365.com/EWS.AccessAsUser.All');
    const me = await fetch(`${I.microsoft.api}/me`, { headers: { authorization: `Bearer ${ews.body.access_token}` } });
    assert.equal(me.status, 401);
    assert.equal((await me.json()).error.message, 'Access token validation failure. Invalid audience.');
  });

  it('claims challenge: bound to the token; the same token keeps getting it, a newer token satisfies it', async () => {
    const t = await msSignIn();
    await control('/claims-challenge', { count: 1 });
    const res = await fetch(`${I.microsoft.api}/me`, { headers: { authorization: `Bearer ${t.body.access_token}` } });
    assert.equal(res.status, 401);
    const h = res.headers.get('www-authenticate');
    assert.match(h, /^Bearer realm="", authorization_uri="[^"]+", client_id="[^"]+", error="insufficient_claims", claims="([A-Za-z0-9+/=]+)"$/);
    const claims = JSON.parse(Buffer.from(/claims="([^"]+)"/.exec(h)[1], 'base64').toString());
    assert.deepEqual(Object.keys(claims), ['access_token']);
    assert.equal(claims.access_token.nbf.essential, true);
    assert.match(claims.access_token.nbf.value, /^\d{10}$/);
    // A client that retries with the same token loops (the CAE doc's warning).
    for (let i = 0; i < 2; i += 1) {
      const again = await fetch(`${I.microsoft.api}/me`, { headers: { authorization: `Bearer ${t.body.access_token}` } });
      assert.equal(again.status, 401);
      assert.match(again.headers.get('www-authenticate'), /error="insufficient_claims"/);
      assert.equal(JSON.parse(Buffer.from(/claims="([^"]+)"/.exec(again.headers.get('www-authenticate'))[1], 'base64').toString()).access_token.nbf.value, claims.access_token.nbf.value);
    }
    // Another user's token is not affected.
    const bob = await msSignIn({ account: 'bob@contoso.com' });
    assert.equal((await fetch(`${I.microsoft.api}/me`, { headers: { authorization: `Bearer ${bob.body.access_token}` } })).status, 200);
    // A token issued after the challenge (here by a refresh carrying the claims) satisfies it.
    const fresh = await tokenRequest(I.microsoft.token, {
      client_id: I.microsoft.clientId, grant_type: 'refresh_token', refresh_token: t.body.refresh_token, claims: JSON.stringify(claims),
    }, { origin: ORIGIN });
    assert.equal(fresh.status, 200, fresh.text);
    assert.equal((await fetch(`${I.microsoft.api}/me`, { headers: { authorization: `Bearer ${fresh.body.access_token}` } })).status, 200);
    assert.equal((await fetch(`${I.microsoft.api}/me`, { headers: { authorization: `Bearer ${t.body.access_token}` } })).status, 401, 'the old token stays refused');
    // The interactive sign-in a client may run instead passes claims=...; it is accepted and counted.
    const r = await msCode({ extra: { claims: JSON.stringify(claims), prompt: 'login' } });
    assert.ok(r.code);
    assert.equal((await control('/stats')).microsoft.authorizeWithClaims, 1);
  });

  it('the insufficient_claims Graph fault binds to the presented token too', async () => {
    const t = await msSignIn({ account: 'carol@contoso.com' });
    await control('/fail-next', { provider: 'microsoft', endpoint: 'api', kind: 'error', code: 'insufficient_claims' });
    const me = () => fetch(`${I.microsoft.api}/me`, { headers: { authorization: `Bearer ${t.body.access_token}` } });
    assert.equal((await me()).status, 401);
    assert.equal((await me()).status, 401, 'no fault is queued any more: the binding answers');
    const r = await msRefresh(t.body.refresh_token);
    assert.equal((await fetch(`${I.microsoft.api}/me`, { headers: { authorization: `Bearer ${r.body.access_token}` } })).status, 200);
  });

  it('access tokens live 60-90 minutes, random per token, unless a lifetime is configured', async () => {
    await control('/config', { 'microsoft.accessTokenTtl': 'random' });
    const seen = new Set();
    const t = await msSignIn();
    seen.add(t.body.expires_in);
    for (let i = 0; i < 6; i += 1) {
      const r = await msRefresh(t.body.refresh_token);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.expires_in >= 3600 && r.body.expires_in <= 5400, `expires_in ${r.body.expires_in}`);
      assert.equal(r.body.ext_expires_in, r.body.expires_in);
      seen.add(r.body.expires_in);
    }
    assert.ok(seen.size > 1, 'the lifetime varies');
  });

  it('AADSTS texts name the client and tenant that asked (faults included)', async () => {
    await control('/fail-next', { provider: 'microsoft', kind: 'error', code: '65001' });
    const native = await tokenRequest(I.microsoft.token.replace('/common/', '/organizations/'), {
      client_id: I.microsoft.nativeClientId, grant_type: 'refresh_token', refresh_token: 'x',
    });
    assertEntraError(native, 65001, { suberror: 'consent_required' });
    assert.match(native.body.error_description, /application with ID 'sidebar-ms-native'/);
    await control('/fail-next', { provider: 'microsoft', kind: 'error', code: '90002' });
    const tenant = await tokenRequest(I.microsoft.token.replace('/common/', '/contoso.onmicrosoft.com/'), {
      client_id: I.microsoft.nativeClientId, grant_type: 'refresh_token', refresh_token: 'x',
    });
    assert.match(tenant.body.error_description, /^AADSTS90002: Tenant 'contoso\.onmicrosoft\.com' not found/);
    await control('/fail-next', { provider: 'microsoft', endpoint: 'authorize', kind: 'error', code: 'consent_required' });
    const r = await authorize({ authorizeUrl: I.microsoft.authorize, clientId: I.microsoft.nativeClientId, redirectUri: RU, scope: MS_SCOPE, account: 'alice@contoso.com' });
    assert.equal(r.error, 'consent_required');
    assert.match(r.error_description, /application with ID 'sidebar-ms-native'/);
  });

  it('prompt=none is silent with a session and answers login_required after end-sessions', async () => {
    const jar = new CookieJar();
    await msCode({ account: 'bob@contoso.com', jar });
    const silent = await authorize({ authorizeUrl: I.microsoft.authorize, clientId: I.microsoft.clientId, redirectUri: RU, scope: MS_SCOPE, jar, extra: { prompt: 'none' } });
    assert.ok(silent.code);
    assert.deepEqual(silent.pages, []);
    const out = await control('/end-sessions', { provider: 'microsoft', account: 'bob@contoso.com' });
    assert.ok(out.sessionsEnded >= 1);
    const silentAfterEnd = await authorize({ authorizeUrl: I.microsoft.authorize, clientId: I.microsoft.clientId, redirectUri: RU, scope: MS_SCOPE, jar, extra: { prompt: 'none' } });
    assert.equal(silentAfterEnd.error, 'login_required');
    assert.match(silentAfterEnd.error_description, /^AADSTS50058: /);
    assert.equal(silentAfterEnd.state, silentAfterEnd.sentState);
  });

  it('offline_access gives a refresh token without prompt=consent (unlike plain oidc-provider)', async () => {
    const t = await msSignIn({ account: 'bob@contoso.com' });
    assert.ok(t.body.refresh_token);
    assert.ok(!t.auth.callbackUrl.includes('prompt'));
  });

  it('fault kind "error" covers every row of the Entra error table', async () => {
    const rows = {
      50173: 'invalid_grant', 700082: 'invalid_grant', 70008: 'invalid_grant', 700084: 'invalid_grant', 70043: 'invalid_grant',
      50076: 'invalid_grant', 50078: 'invalid_grant', 50079: 'invalid_grant', 50072: 'invalid_grant',
      53003: 'invalid_grant', 530032: 'invalid_grant', 50131: 'invalid_grant',
      53000: 'invalid_grant', 53001: 'invalid_grant', 53002: 'invalid_grant', 530003: 'invalid_grant',
      65001: 'invalid_grant', 65004: 'invalid_grant', 90094: 'invalid_grant',
      50126: 'invalid_grant', 50055: 'invalid_grant', 50144: 'invalid_grant', 50053: 'invalid_grant', 50057: 'invalid_grant',
      50034: 'invalid_grant', 50020: 'invalid_request', 500208: 'invalid_request',
      700016: 'unauthorized_client', 90002: 'invalid_request', 50058: 'interaction_required', 50196: 'invalid_request',
      50033: 'temporarily_unavailable', 90024: 'temporarily_unavailable', 50087: 'temporarily_unavailable',
    };
    const suberrors = {
      70043: 'token_expired', 50076: 'basic_action', 50078: 'basic_action', 50079: 'additional_action', 50072: 'additional_action',
      53003: 'message_only', 530032: 'message_only', 50131: 'message_only', 53000: 'additional_action', 53001: 'additional_action',
      53002: 'additional_action', 530003: 'additional_action', 65001: 'consent_required', 65004: 'consent_required',
      50055: 'user_password_expired', 50144: 'user_password_expired',
    };
    for (const [code, error] of Object.entries(rows)) {
      await control('/fail-next', { provider: 'microsoft', kind: 'error', code: `AADSTS${code}` });
      const t = await msRefresh('whatever');
      const status = error === 'temporarily_unavailable' ? 503 : 400;
      assertEntraError(t, Number(code), { error, status, suberror: suberrors[code] });
      assert.equal(t.headers.get('access-control-allow-origin'), ORIGIN);
    }
    await control('/fail-next', { provider: 'microsoft', kind: 'error', code: 'temporarily_unavailable' });
    assertEntraError(await msRefresh('x'), 50033, { error: 'temporarily_unavailable', status: 503 });
    // Overrides: a suberror on any code.
    await control('/fail-next', { provider: 'microsoft', kind: 'error', code: '50173', suberror: 'bad_token' });
    assertEntraError(await msRefresh('x'), 50173, { suberror: 'bad_token' });
  });

  it('rejects an unknown fault code at the control endpoint', async () => {
    const res = await fetch(`${I.control}/fail-next`, { method: 'POST', body: JSON.stringify({ provider: 'microsoft', kind: 'error', code: '12345' }) });
    assert.equal(res.status, 400);
    assert.match((await res.json()).error_description, /unknown Entra error code 12345/);
  });
});

// ---------------------------------------------------------------------------
describe('google', () => {
  it('code redemption needs client_secret by default (exact Google bodies)', async () => {
    const noSecret = await gSignIn({ secret: false });
    assert.equal(noSecret.status, 400);
    assert.equal(noSecret.text.trim().startsWith('{'), true);
    assert.deepEqual(noSecret.body, { error: 'invalid_request', error_description: 'client_secret is missing.' });
    const r = await authorize({ authorizeUrl: I.google.authorize, clientId: I.google.clientId, redirectUri: RU, scope: G_SCOPE, account: 'alice@gmail.test' });
    const wrong = await tokenRequest(I.google.token, { client_id: I.google.clientId, client_secret: 'nope', grant_type: 'authorization_code', code: r.code, redirect_uri: RU, code_verifier: r.verifier });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, { error: 'invalid_client', error_description: 'Unauthorized' });
    const unknown = await tokenRequest(I.google.token, { client_id: 'other.apps.googleusercontent.test', grant_type: 'refresh_token', refresh_token: 'x' });
    assert.equal(unknown.status, 401);
    assert.deepEqual(unknown.body, { error: 'invalid_client', error_description: 'The OAuth client was not found.' });
  });

  it('access_type=offline + prompt=consent gives a refresh token; Google token response shape', async () => {
    const t = await gSignIn();
    assert.equal(t.status, 200, t.text);
    assert.deepEqual(Object.keys(t.body), ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type', 'id_token']);
    assert.equal(t.body.expires_in, 3599);
    assert.equal(t.body.token_type, 'Bearer');
    assert.equal(t.body.scope, 'openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/gmail.readonly');
    const id = decodeJwt(t.body.id_token);
    assert.equal(id.sub, '109876543210987654321');
    assert.equal(id.email, 'alice@gmail.test');
    // Without prompt=consent (second sign-in) there is no refresh token.
    const t2 = await gSignIn({ extra: { access_type: 'offline' } });
    assert.equal(t2.status, 200, t2.text);
    assert.equal(t2.body.refresh_token, undefined);
  });

  it('refresh requires client_secret ("client_secret is missing."), unless configured off', async () => {
    const t = await gSignIn();
    const r = await gRefresh(t.body.refresh_token, { secret: false });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { error: 'invalid_request', error_description: 'client_secret is missing.' });
    await control('/config', { 'google.requireSecretForRefresh': false });
    const ok = await gRefresh(t.body.refresh_token, { secret: false });
    assert.equal(ok.status, 200, ok.text);
    await control('/config', { 'google.requireSecretForCode': false });
    const noSecretCode = await gSignIn({ secret: false });
    assert.equal(noSecretCode.status, 200, noSecretCode.text);
  });

  it('refresh does not rotate: no refresh_token in the response, the old one keeps working', async () => {
    const t = await gSignIn();
    const r1 = await gRefresh(t.body.refresh_token);
    assert.equal(r1.status, 200, r1.text);
    assert.deepEqual(Object.keys(r1.body), ['access_token', 'expires_in', 'scope', 'token_type', 'id_token']);
    const r2 = await gRefresh(t.body.refresh_token);
    assert.equal(r2.status, 200, r2.text);
  });

  it('an empty client_secret counts as missing: 400 "client_secret is missing." (not 401)', async () => {
    const t = await gSignIn();
    const empty = await tokenRequest(I.google.token, { client_id: I.google.clientId, client_secret: '', grant_type: 'refresh_token', refresh_token: t.body.refresh_token });
    assert.equal(empty.status, 400);
    assert.deepEqual(empty.body, { error: 'invalid_request', error_description: 'client_secret is missing.' });
    const basic = await tokenRequest(I.google.token, { grant_type: 'refresh_token', refresh_token: t.body.refresh_token }, {
      headers: { authorization: `Basic ${Buffer.from(`${I.google.clientId}:`).toString('base64')}` },
    });
    assert.equal(basic.status, 400);
    assert.deepEqual(basic.body, { error: 'invalid_request', error_description: 'client_secret is missing.' });
  });

  it('with rotation configured on, the used refresh token is refused and the newest lives on', async () => {
    await control('/config', { google: { rotateRefreshTokens: true } });
    const t = await gSignIn();
    const r1 = await gRefresh(t.body.refresh_token);
    assert.ok(r1.body.refresh_token);
    const replay = await gRefresh(t.body.refresh_token);
    assert.equal(replay.status, 400);
    assert.deepEqual(replay.body, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
    assert.equal((await gRefresh(r1.body.refresh_token)).status, 200);
  });

  it('strict rotation (switched on): replaying an old refresh token kills the grant', async () => {
    await control('/config', { google: { strictRefreshRotation: true } });
    const t = await gSignIn();
    const r1 = await gRefresh(t.body.refresh_token);
    assert.ok(r1.body.refresh_token);
    const replay = await gRefresh(t.body.refresh_token);
    assert.equal(replay.status, 400);
    assert.deepEqual(replay.body, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
    assert.deepEqual((await gRefresh(r1.body.refresh_token)).body, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
  });

  it('revoke endpoint (form and query) revokes the grant; dead token -> invalid_grant', async () => {
    const t = await gSignIn();
    const rv = await fetch(I.google.revoke, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN }, body: `token=${t.body.refresh_token}` });
    assert.equal(rv.status, 200);
    assert.deepEqual(await rv.json(), {});
    assert.equal(rv.headers.get('access-control-allow-origin'), ORIGIN);
    const r = await gRefresh(t.body.refresh_token);
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
    const again = await fetch(`${I.google.revoke}?token=${encodeURIComponent(t.body.refresh_token)}`, { method: 'POST' });
    assert.equal(again.status, 400);
    assert.deepEqual(await again.json(), { error: 'invalid_token', error_description: 'Token expired or revoked' });
    // Revoking the access token revokes the grant too.
    const t2 = await gSignIn();
    const rv2 = await fetch(`${I.google.revoke}?token=${encodeURIComponent(t2.body.access_token)}`, { method: 'POST' });
    assert.equal(rv2.status, 200);
    assert.equal((await gRefresh(t2.body.refresh_token)).status, 400);
  });

  it('password change (control revoke) -> "Token has been expired or revoked."', async () => {
    const t = await gSignIn({ account: 'bob@gmail.test' });
    assert.equal((await control('/revoke', { provider: 'google', account: 'bob@gmail.test' })).grantsRevoked >= 1, true);
    const r = await gRefresh(t.body.refresh_token);
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
  });

  it('userinfo and Gmail profile accept the access token; Gmail answers 401 otherwise', async () => {
    const t = await gSignIn();
    const ui = await fetch(I.google.userinfo, { headers: { authorization: `Bearer ${t.body.access_token}` } });
    assert.equal(ui.status, 200);
    assert.equal((await ui.json()).email, 'alice@gmail.test');
    const p = await fetch(`${I.google.api}/users/me/profile`, { headers: { authorization: `Bearer ${t.body.access_token}` } });
    assert.equal(p.status, 200);
    assert.equal((await p.json()).emailAddress, 'alice@gmail.test');
    const bad = await fetch(`${I.google.api}/users/me/profile`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(bad.status, 401);
    const b = await bad.json();
    assert.equal(b.error.status, 'UNAUTHENTICATED');
    assert.equal(b.error.errors[0].reason, 'authError');
    const uiBad = await fetch(I.google.userinfo, { headers: { authorization: 'Bearer nope' } });
    assert.equal(uiBad.status, 401);
    assert.deepEqual(await uiBad.json(), { error: 'invalid_request', error_description: 'Invalid Credentials' });
  });

  it('fault kind "error" covers every row of the Google error table', async () => {
    const cases = [
      ['invalid_grant:Token has been expired or revoked.', 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }],
      ['invalid_rapt', 400, { error: 'invalid_grant', error_description: 'reauth related error (invalid_rapt)', error_uri: 'https://support.google.com/a/answer/9368756', error_subtype: 'invalid_rapt' }],
      ['admin_policy_enforced', 400, { error: 'admin_policy_enforced', error_description: 'Access to your account data is restricted by policies within your organization. Please contact administrator for more information.' }],
      ['invalid_client', 401, { error: 'invalid_client', error_description: 'The OAuth client was not found.' }],
      ['unauthorized_client', 401, { error: 'unauthorized_client', error_description: 'Unauthorized' }],
      ['rate_limit_exceeded', 429, { error: 'rate_limit_exceeded', error_description: 'Rate Limit Exceeded' }],
      ['internal_failure', 503, { error: 'internal_failure', error_description: 'Backend Error' }],
      ['invalid_request:client_secret is missing.', 400, { error: 'invalid_request', error_description: 'client_secret is missing.' }],
    ];
    for (const [code, status, body] of cases) {
      await control('/fail-next', { provider: 'google', kind: 'error', code });
      const r = await gRefresh('anything');
      assert.equal(r.status, status, code);
      assert.deepEqual(r.body, body, code);
    }
  });
});

// ---------------------------------------------------------------------------
describe('salesforce', () => {
  it('token response: no expires_in, issued_at ms string, instance_url, id, signature', async () => {
    const t = await sfSignIn();
    assert.deepEqual(Object.keys(t.body), ['access_token', 'refresh_token', 'signature', 'scope', 'id_token', 'instance_url', 'id', 'token_type', 'issued_at']);
    assert.equal(t.body.expires_in, undefined);
    assert.equal(typeof t.body.issued_at, 'string');
    assert.match(t.body.issued_at, /^\d{13}$/);
    assert.ok(Math.abs(Number(t.body.issued_at) - Date.now()) < 10_000);
    // instance_url is an origin of its own, as https://yourorg.my.salesforce.com is.
    assert.equal(t.body.instance_url, I.salesforce.instanceUrl);
    assert.equal(new URL(t.body.instance_url).origin, t.body.instance_url);
    assert.notEqual(t.body.instance_url, I.base);
    // Access tokens are session ids carrying the org id.
    assert.match(t.body.access_token, new RegExp(`^${I.salesforce.orgId}![A-Za-z0-9_-]+$`));
    assert.equal(t.body.id, `${I.base}/salesforce/id/${I.salesforce.orgId}/0055g00000ALICEAAA`);
    assert.equal(t.body.token_type, 'Bearer');
    assert.equal(t.body.scope, 'api refresh_token openid');
    const sig = crypto.createHmac('sha256', 'salesforce-local-signature-key').update(t.body.id + t.body.issued_at).digest('base64');
    assert.equal(t.body.signature, sig);
    assert.equal(decodeJwt(t.body.id_token).sub, t.body.id);
  });

  it('REST API: valid session -> 200; the query honours FROM, WHERE and LIMIT', async () => {
    const t = await sfSignIn();
    const s = await sfApi(t.body.access_token);
    assert.equal(s.status, 200);
    assert.ok((await s.json()).sobjects.some((o) => o.name === 'Account'));
    const query = async (soql) => {
      const r = await sfApi(t.body.access_token, `/query?q=${encodeURIComponent(soql)}`);
      return { status: r.status, body: await r.json() };
    };
    const accounts = await query('SELECT Id, Name FROM Account');
    assert.equal(accounts.status, 200);
    assert.equal(accounts.body.totalSize, 2);
    assert.deepEqual(accounts.body.records.map((r) => r.Name), ['Acme Corporation', 'Globex']);
    assert.deepEqual(Object.keys(accounts.body.records[0]), ['attributes', 'Id', 'Name']);
    const contacts = await query('SELECT Id, Email FROM Contact LIMIT 2');
    assert.equal(contacts.body.totalSize, 2);
    assert.deepEqual(contacts.body.records.map((r) => r.attributes.type), ['Contact', 'Contact']);
    assert.equal(contacts.body.records[0].Email, 'wile@acme.test');
    assert.match(contacts.body.records[0].attributes.url, /^\/services\/data\/v60\.0\/sobjects\/Contact\/003/);
    const one = await query("SELECT Name FROM Contact WHERE Email = 'hank@globex.test'");
    assert.deepEqual(one.body.records.map((r) => r.Name), ['Hank Scorpio']);
    const bad = await query('SELECT Id FROM Nope__x');
    assert.equal(bad.status, 400);
    assert.equal(bad.body[0].errorCode, 'INVALID_TYPE');
    assert.equal((await query('SELECT Shoe FROM Account')).body[0].errorCode, 'INVALID_FIELD');
    assert.equal((await query('DELETE everything')).body[0].errorCode, 'MALFORMED_QUERY');
  });

  it('a code_verifier longer than 128 characters (jsforce\'s 171) is checked, not refused', async () => {
    const long = crypto.randomBytes(128).toString('base64url');
    const challenge = crypto.createHash('sha256').update(long).digest('base64url');
    const redeem = async (verifier) => {
      const r = await authorize({ authorizeUrl: I.salesforce.authorize, clientId: I.salesforce.clientId, redirectUri: RU, scope: 'api', account: 'alice@acme.test', extra: { code_challenge: challenge } });
      return tokenRequest(I.salesforce.token, { client_id: I.salesforce.clientId, grant_type: 'authorization_code', code: r.code, redirect_uri: RU, code_verifier: verifier });
    };
    assert.equal(long.length, 171);
    const ok = await redeem(long);
    assert.equal(ok.status, 200, ok.text);
    const wrong = await redeem(crypto.randomBytes(128).toString('base64url'));
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.body, { error: 'invalid_grant', error_description: 'invalid code verifier' });
  });

  it('REST versions: /services/data/ lists 31.0-67.0 without authentication; other versions 404', async () => {
    const list = await fetch(`${I.salesforce.instanceUrl}/services/data/`);
    assert.equal(list.status, 200);
    const versions = await list.json();
    assert.deepEqual(versions[0], { label: "Summer '14", url: '/services/data/v31.0', version: '31.0' });
    assert.deepEqual(versions.find((v) => v.version === '60.0'), { label: "Spring '24", url: '/services/data/v60.0', version: '60.0' });
    assert.deepEqual(versions.at(-1), { label: "Summer '26", url: '/services/data/v67.0', version: '67.0' });
    assert.equal(versions.length, 37);
    const t = await sfSignIn();
    const auth = { headers: { authorization: `Bearer ${t.body.access_token}` } };
    for (const v of ['v50.0', 'v62.0', 'latest']) {
      const r = await fetch(`${I.salesforce.instanceUrl}/services/data/${v}/sobjects/`, auth);
      assert.equal(r.status, 200, v);
    }
    const old = await fetch(`${I.salesforce.instanceUrl}/services/data/v20.0/sobjects/`, auth);
    assert.equal(old.status, 404);
    assert.deepEqual(await old.json(), [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    // The instance is not on the login host's origin, and the login host serves no API.
    assert.equal((await fetch(`${I.base}/services/data/`)).status, 404);
  });

  it('session timeout is extended by each use, then 401 INVALID_SESSION_ID', async () => {
    await control('/config', { 'salesforce.sessionTimeout': 1 });
    const t = await sfSignIn();
    await sleep(700);
    assert.equal((await sfApi(t.body.access_token)).status, 200);
    await sleep(700); // 1.4 s after issue, 0.7 s after last use
    assert.equal((await sfApi(t.body.access_token)).status, 200);
    await sleep(1200);
    const dead = await sfApi(t.body.access_token);
    assert.equal(dead.status, 401);
    assert.deepEqual(await dead.json(), [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
    // Refresh once and retry.
    const r = await sfRefresh(t.body.refresh_token);
    assert.equal(r.status, 200, r.text);
    assert.equal((await sfApi(r.body.access_token)).status, 200);
  });

  it('expire-session control makes current sessions invalid', async () => {
    const t = await sfSignIn({ account: 'bob@acme.test' });
    assert.equal((await sfApi(t.body.access_token)).status, 200);
    const out = await control('/expire-session', { provider: 'salesforce', account: 'bob@acme.test' });
    assert.equal(out.sessionsExpired, 1);
    const dead = await sfApi(t.body.access_token);
    assert.equal(dead.status, 401);
    assert.deepEqual(await dead.json(), [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
    const ui = await fetch(I.salesforce.userinfo, { headers: { authorization: `Bearer ${t.body.access_token}` } });
    assert.equal(ui.status, 403);
    assert.equal(await ui.text(), 'Bad_OAuth_Token');
  });

  it('refresh: no expires_in; no rotation by default (the same refresh token keeps working)', async () => {
    const t = await sfSignIn();
    const r = await sfRefresh(t.body.refresh_token);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.body), ['access_token', 'signature', 'scope', 'id_token', 'instance_url', 'id', 'token_type', 'issued_at']);
    const r2 = await sfRefresh(t.body.refresh_token);
    assert.equal(r2.status, 200, r2.text);
  });

  it('rotation enabled: a new refresh token each time; the used one -> "expired access/refresh token", the newest lives on', async () => {
    await control('/config', { 'salesforce.rotateRefreshTokens': true });
    const t = await sfSignIn();
    const r = await sfRefresh(t.body.refresh_token);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.body), ['access_token', 'refresh_token', 'signature', 'scope', 'id_token', 'instance_url', 'id', 'token_type', 'issued_at']);
    const replay = await sfRefresh(t.body.refresh_token);
    assert.equal(replay.status, 400);
    assert.deepEqual(replay.body, { error: 'invalid_grant', error_description: 'expired access/refresh token' });
    const newest = await sfRefresh(r.body.refresh_token);
    assert.equal(newest.status, 200, newest.text);
    assert.equal((await sfApi(r.body.access_token)).status, 200, 'the grant lives on');
  });

  it('strict rotation (switched on): replaying the used refresh token revokes the grant', async () => {
    await control('/config', { 'salesforce.strictRefreshRotation': true });
    const t = await sfSignIn();
    const r = await sfRefresh(t.body.refresh_token);
    assert.ok(r.body.refresh_token);
    assert.deepEqual((await sfRefresh(t.body.refresh_token)).body, { error: 'invalid_grant', error_description: 'expired access/refresh token' });
    assert.deepEqual((await sfRefresh(r.body.refresh_token)).body, { error: 'invalid_grant', error_description: 'expired access/refresh token' });
  });

  it('revoke: 200 for a refresh token (grant dies), 400 unsupported_token_type for unknown', async () => {
    const t = await sfSignIn();
    const rv = await fetch(I.salesforce.revoke, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(t.body.refresh_token)}` });
    assert.equal(rv.status, 200);
    assert.deepEqual((await sfRefresh(t.body.refresh_token)).body, { error: 'invalid_grant', error_description: 'expired access/refresh token' });
    assert.equal((await sfApi(t.body.access_token)).status, 401);
    const unknown = await fetch(I.salesforce.revoke, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=nope' });
    assert.equal(unknown.status, 400);
    assert.deepEqual(await unknown.json(), { error: 'unsupported_token_type', error_description: 'this token type is not supported' });
  });

  it('password change (control revoke) -> "expired access/refresh token"', async () => {
    const t = await sfSignIn();
    await control('/revoke', { provider: 'salesforce', account: 'alice@acme.test' });
    assert.deepEqual((await sfRefresh(t.body.refresh_token)).body, { error: 'invalid_grant', error_description: 'expired access/refresh token' });
  });

  it('userinfo answers with the identity URL as subject', async () => {
    const t = await sfSignIn();
    const ui = await fetch(I.salesforce.userinfo, { headers: { authorization: `Bearer ${t.body.access_token}` } });
    assert.equal(ui.status, 200);
    const b = await ui.json();
    assert.equal(b.sub, t.body.id);
    assert.equal(b.preferred_username, 'alice@acme.test');
    // The documented fields ("Query for User Information"), Salesforce's own among them.
    for (const k of ['user_id', 'organization_id', 'nickname', 'name', 'email', 'email_verified', 'given_name', 'family_name', 'zoneinfo', 'photos', 'profile', 'picture', 'urls', 'active', 'user_type', 'language', 'locale', 'utcOffset', 'updated_at', 'is_app_installed']) {
      assert.ok(k in b, k);
    }
    assert.equal(b.organization_id, t.body.id.split('/').at(-2));
    assert.equal(b.user_id, t.body.id.split('/').at(-1));
    assert.match(b.urls.sobjects, /\/services\/data\/v\{version\}\/sobjects\/$/);
    // The oauth_token parameter works as the header does.
    const byParam = await fetch(`${I.salesforce.userinfo}?oauth_token=${encodeURIComponent(t.body.access_token)}`);
    assert.equal(byParam.status, 200);
    // An unknown token: 403 "Bad_OAuth_Token".
    assert.equal((await fetch(I.salesforce.userinfo, { headers: { authorization: 'Bearer nope' } })).status, 403);
    const idres = await fetch(t.body.id, { headers: { authorization: `Bearer ${t.body.access_token}` } });
    assert.equal(idres.status, 200);
    assert.equal((await idres.json()).username, 'alice@acme.test');
  });

  it('fault kind "error" covers every row of the Salesforce error table', async () => {
    const cases = [
      ['expired access/refresh token', { error: 'invalid_grant', error_description: 'expired access/refresh token' }],
      ['authentication failure', { error: 'invalid_grant', error_description: 'authentication failure' }],
      ['invalid_grant:ip restricted or invalid login hours', { error: 'invalid_grant', error_description: 'ip restricted or invalid login hours' }],
      ['inactive_user', { error: 'inactive_user', error_description: 'user is inactive' }],
      ['inactive_org', { error: 'inactive_org', error_description: 'organization is locked, closed, or suspended' }],
      ['rate_limit_exceeded', { error: 'rate_limit_exceeded', error_description: 'rate limit exceeded' }],
    ];
    for (const [code, body] of cases) {
      await control('/fail-next', { provider: 'salesforce', kind: 'error', code });
      const r = await sfRefresh('x');
      assert.equal(r.status, 400, code);
      assert.deepEqual(r.body, body, code);
    }
    await control('/fail-next', { provider: 'salesforce', endpoint: 'api', kind: 'error', code: 'REQUEST_LIMIT_EXCEEDED' });
    const api = await sfApi('x');
    assert.equal(api.status, 403);
    assert.deepEqual(await api.json(), [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
  });
});

// ---------------------------------------------------------------------------
describe('faults, stats, log, control', () => {
  it('kind "status" answers the status with a body and Retry-After', async () => {
    await control('/fail-next', { provider: 'google', kind: 'status', status: 503, retryAfter: 7 });
    const r = await gRefresh('x');
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '7');
    assert.match(r.headers.get('content-type'), /text\/html/);
    assert.match(r.text, /503/);
    await control('/fail-next', { provider: 'salesforce', endpoint: 'api', kind: 'status', status: 503 });
    const api = await sfApi('x');
    assert.equal(api.status, 503);
    assert.equal(api.headers.get('retry-after'), null);
  });

  it('the response faults of the fault suite: HTML 200, no access_token, wrong token_type, huge, redirect, hang', async () => {
    const post = (body) => fetch(I.google.token, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body), redirect: 'manual' });
    const form = { grant_type: 'refresh_token', refresh_token: 'x', client_id: I.google.clientId };
    await control('/fail-next', { provider: 'google', kind: 'html' });
    let r = await post(form);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /text\/html/);
    await control('/fail-next', { provider: 'google', kind: 'no-access-token' });
    r = await post(form);
    assert.equal(r.status, 200);
    assert.equal((await r.json()).access_token, undefined);
    await control('/fail-next', { provider: 'google', kind: 'wrong-token-type' });
    assert.equal((await (await post(form)).json()).token_type, 'mac');
    await control('/fail-next', { provider: 'google', kind: 'huge', bytes: 2_000_000 });
    const huge = await (await post(form)).text();
    assert.ok(huge.length > 2_000_000);
    assert.throws(() => JSON.parse(huge), 'cut off: not JSON');
    await control('/fail-next', { provider: 'google', kind: 'redirect', status: 308 });
    r = await post(form);
    assert.equal(r.status, 308);
    assert.equal(new URL(r.headers.get('location')).pathname, new URL(I.google.token).pathname, 'to the same endpoint');
    await control('/fail-next', { provider: 'google', kind: 'hang', ms: 300 });
    const start = Date.now();
    await assert.rejects(post(form), 'the connection is dropped without an answer');
    assert.ok(Date.now() - start >= 290);
    await assert.rejects(control('/fail-next', { provider: 'google', kind: 'redirect', status: 200 }), /redirect status/);
    await assert.rejects(control('/fail-next', { provider: 'google', kind: 'teapot' }), /kind must be one of/);
    assert.equal((await control('/faults')).length, 0);
  });

  it('RFC 9207 in the discovery documents as the providers publish them: Google advertises iss, Entra and Salesforce do not', async () => {
    const doc = async (url) => (await fetch(url)).json();
    assert.equal((await doc(I.google.discovery)).authorization_response_iss_parameter_supported, true);
    assert.equal('authorization_response_iss_parameter_supported' in (await doc(I.microsoft.discovery)), false);
    assert.equal('authorization_response_iss_parameter_supported' in (await doc(I.salesforce.discovery)), false);
  });

  it('kind "delay" delays the next response, which is otherwise normal', async () => {
    const t = await msSignIn();
    await control('/fail-next', { provider: 'microsoft', kind: 'delay', ms: 400 });
    const start = Date.now();
    const r = await msRefresh(t.body.refresh_token);
    assert.ok(Date.now() - start >= 390, 'not delayed');
    assert.equal(r.status, 200, r.text);
  });

  it('kind "malformed" answers 200 with a cut-off JSON body', async () => {
    await control('/fail-next', { provider: 'microsoft', kind: 'malformed' });
    const r = await msRefresh('x');
    assert.equal(r.status, 200);
    assert.equal(r.body, undefined);
    assert.throws(() => JSON.parse(r.text));
    assert.match(r.text, /^\{"token_type":"Bearer"/);
  });

  it('kind "reset" drops the connection', async () => {
    await control('/fail-next', { provider: 'salesforce', kind: 'reset' });
    await assert.rejects(sfRefresh('x'));
    const next = await sfRefresh('x');
    assert.equal(next.status, 400);
  });

  it('count repeats a fault; faults queue per provider+endpoint; grantType filters', async () => {
    await control('/fail-next', { provider: 'google', kind: 'error', code: 'invalid_rapt', count: 2 });
    await control('/fail-next', { provider: 'google', endpoint: 'api', kind: 'error', code: 'rateLimitExceeded' });
    assert.equal((await gRefresh('x')).body.error_subtype, 'invalid_rapt');
    assert.equal((await gRefresh('x')).body.error_subtype, 'invalid_rapt');
    assert.deepEqual((await gRefresh('x')).body, { error: 'invalid_grant', error_description: 'Bad Request' });
    const api = await fetch(`${I.google.api}/users/me/profile`);
    assert.equal(api.status, 429);
    await control('/fail-next', { provider: 'microsoft', kind: 'error', code: '70043', grantType: 'refresh_token' });
    const r = await msCode();
    const code = await tokenRequest(I.microsoft.token, { client_id: I.microsoft.clientId, grant_type: 'authorization_code', code: r.code, redirect_uri: RU, code_verifier: r.verifier }, { origin: ORIGIN });
    assert.equal(code.status, 200, 'code grant must not take a refresh_token fault');
    assertEntraError(await msRefresh(code.body.refresh_token), 70043, { suberror: 'token_expired' });
  });

  it('authorize faults redirect back with the error', async () => {
    await control('/fail-next', { provider: 'google', endpoint: 'authorize', kind: 'error', code: 'access_denied' });
    const r = await authorize({ authorizeUrl: I.google.authorize, clientId: I.google.clientId, redirectUri: RU, scope: G_SCOPE, account: 'alice@gmail.test' });
    assert.equal(r.error, 'access_denied');
    assert.equal(r.state, r.sentState);
  });

  it('stats count exactly one refresh; reset-stats zeroes', async () => {
    const t = await msSignIn();
    await control('/reset-stats', {});
    await msRefresh(t.body.refresh_token);
    const s = await control('/stats');
    assert.deepEqual(s.microsoft.token, { authorization_code: 0, refresh_token: 1, other: 0 });
    assert.deepEqual(s.google.token, { authorization_code: 0, refresh_token: 0, other: 0 });
    assert.deepEqual(s.revocations, { microsoft: 0, google: 0, salesforce: 0 });
    assert.deepEqual(s.api, { microsoft: 0, google: 0, salesforce: 0 });
  });

  it('log lists requests with grant_type, status and Origin presence, never token values', async () => {
    const t = await gSignIn();
    await gRefresh(t.body.refresh_token);
    await fetch(`${I.google.revoke}?token=${encodeURIComponent(t.body.access_token)}`, { method: 'POST' });
    const res = await fetch(`${I.control}/log?n=50`);
    const text = await res.text();
    const log = JSON.parse(text);
    for (const secret of [t.body.refresh_token, t.body.access_token, t.auth.code, t.auth.verifier, I.google.clientSecret]) {
      assert.ok(!text.includes(secret), 'a secret leaked into the log');
    }
    const refresh = log.find((e) => e.grant_type === 'refresh_token');
    assert.equal(refresh.provider, 'google');
    assert.equal(refresh.endpoint, 'token');
    assert.equal(refresh.status, 200);
    assert.equal(refresh.hasOrigin, false);
    const revoke = log.find((e) => e.endpoint === 'revoke');
    assert.match(revoke.path, /token=\[REDACTED\]/);
  });

  it('config rejects unknown keys and bad values', async () => {
    for (const body of [{ 'google.nope': 1 }, { microsoft: { accessTokenTtl: -1 } }, { google: { requireSecretForRefresh: 'maybe' } }]) {
      const res = await fetch(`${I.control}/config`, { method: 'POST', body: JSON.stringify(body) });
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    const cfg = await control('/config', { 'microsoft.accessTokenTtl': 30 });
    assert.equal(cfg.microsoft.accessTokenTtl, 30);
    const t = await msSignIn();
    assert.equal(t.body.expires_in, 30);
    assert.equal(t.body.ext_expires_in, 30);
  });

  it('CORS: loopback and extension origins are allowed, others are not', async () => {
    const pre = await fetch(`${I.control}/stats`, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), ORIGIN);
    const lo = await fetch(`${I.control}/stats`, { headers: { origin: 'http://localhost:5173' } });
    assert.equal(lo.headers.get('access-control-allow-origin'), 'http://localhost:5173');
    const evil = await fetch(`${I.control}/stats`, { headers: { origin: 'https://evil.example' } });
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
    const tok = await msRefresh('x', { origin: 'https://evil.example' });
    assert.equal(tok.headers.get('access-control-allow-origin'), null);
  });

  it('redirect URIs: chromiumapp.org wildcard and loopback on any port accepted, others refused', async () => {
    const r = await msCode({ redirectUri: EXT_RU });
    assert.ok(r.callbackUrl.startsWith(EXT_RU));
    const r2 = await msCode({ redirectUri: 'http://127.0.0.1:9123/www/callback.html' });
    assert.ok(r2.code);
    await assert.rejects(
      authorize({ authorizeUrl: I.microsoft.authorize, clientId: I.microsoft.clientId, redirectUri: 'https://evil.example/cb', scope: MS_SCOPE, account: 'alice@contoso.com' }),
      /unexpected 400/,
    );
  });

  it('the login and consent pages reference no external host', async () => {
    const u = new URL(I.google.authorize);
    for (const [k, v] of Object.entries({ client_id: I.google.clientId, response_type: 'code', redirect_uri: RU, scope: G_SCOPE, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })) u.searchParams.set(k, v);
    const jar = new CookieJar();
    const first = await fetch(u, { redirect: 'manual' });
    jar.store(first);
    const page = await fetch(new URL(first.headers.get('location'), u), { headers: { cookie: jar.header() } });
    const html = await page.text();
    assert.match(html, /name="login"/);
    assert.match(html, /name="password"/);
    // Nothing the browser would fetch (fonts, styles, scripts, images) may point off 127.0.0.1.
    assert.ok(!/(@import|src=|<link)[^>;]*https?:\/\/(?!127\.0\.0\.1)/i.test(html), 'external resource in the login page');
    assert.ok(!html.includes('fonts.googleapis.com'));
  });

  it('unknown test accounts are refused on the login page', async () => {
    await assert.rejects(
      authorize({ authorizeUrl: I.microsoft.authorize, clientId: I.microsoft.clientId, redirectUri: RU, scope: MS_SCOPE, account: 'mallory@contoso.com' }),
      /Unknown test account/,
    );
  });
});

// ---------------------------------------------------------------------------
describe('CLI', () => {
  it('prints one JSON ready line, serves, exits cleanly on SIGTERM', async () => {
    const server = fileURLToPath(new URL('./server.mjs', import.meta.url));
    const child = spawn(process.execPath, [server, '--port', '0', '--redirect-uri', RU, '--redirect-uri', EXT_RU], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.resume();
    const exited = new Promise((resolve) => { child.on('exit', (code, signal) => resolve({ code, signal })); });
    try {
      const deadline = Date.now() + 10_000;
      while (!out.includes('\n') && Date.now() < deadline) await sleep(50);
      const line = JSON.parse(out.split('\n')[0]);
      assert.equal(line.ready, true);
      assert.match(line.base, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(line.control, `${line.base}/control`);
      for (const p of ['microsoft', 'google', 'salesforce']) {
        for (const k of ['issuer', 'authorize', 'token', 'userinfo', 'api']) assert.ok(line[p][k], `${p}.${k}`);
      }
      // Entra's login host and the Salesforce instance are origins of their own.
      assert.equal(line.microsoft.authority, `http://127.0.0.1:${line.ports.microsoft}`);
      assert.equal(line.salesforce.instanceUrl, `http://127.0.0.1:${line.ports.instance}`);
      assert.equal(new Set([line.ports.main, line.ports.microsoft, line.ports.instance]).size, 3);
      assert.equal((await fetch(`${line.salesforce.instanceUrl}/services/data/`)).status, 200);
      assert.deepEqual(line.redirectUris, [RU, EXT_RU]);
      const d = await fetch(`${line.base}/google/.well-known/openid-configuration`);
      assert.equal(d.status, 200);
    } finally {
      child.kill('SIGTERM');
    }
    const { code } = await exited;
    assert.equal(code, 0);
    assert.equal(out.trim().split('\n').length, 1, 'stdout must hold exactly one line');
  });
});
