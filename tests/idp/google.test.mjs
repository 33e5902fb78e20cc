// Conformance of the emulated Google OAuth with Google's own Node client,
// google-auth-library's OAuth2Client (node --test tests/idp/). The client is
// given the emulator's endpoints through its `endpoints` option (token, revoke,
// authorization), the documented way to point it elsewhere; it accepts http, so
// no certificate is needed.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';

import { OAuth2Client } from 'google-auth-library';
import { GaxiosError } from 'gaxios';

import { startIdp } from './idp.mjs';
import { authorize } from './flow.mjs';

const RU = 'http://127.0.0.1:8080/www/callback.html';
const GMAIL = 'https://www.googleapis.com/auth/gmail.readonly';

let idp;
let I;

async function control(path, body) {
  const res = await fetch(`${I.control}${path}`, body === undefined ? {} : {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`control ${path} -> ${res.status} ${JSON.stringify(json)}`);
  return json;
}

function client({ secret = true } = {}) {
  return new OAuth2Client({
    clientId: I.google.clientId,
    ...(secret ? { clientSecret: I.google.clientSecret } : {}),
    redirectUri: RU,
    endpoints: { oauth2TokenUrl: I.google.token, oauth2RevokeUrl: I.google.revoke, oauth2AuthBaseUrl: I.google.authorize },
  });
}

/** Consent through the emulator's pages, code redeemed by the library (PKCE + secret). */
async function signIn(c, account = 'alice@gmail.test') {
  const r = await authorize({
    authorizeUrl: I.google.authorize, clientId: I.google.clientId, redirectUri: RU, scope: `openid email ${GMAIL}`, account,
    extra: { access_type: 'offline', prompt: 'consent' },
  });
  assert.ok(r.code, JSON.stringify(r));
  const { tokens } = await c.getToken({ code: r.code, codeVerifier: r.verifier });
  return tokens;
}

const rejection = (p) => p.then(() => assert.fail('expected a rejection'), (e) => e);

before(async () => {
  idp = await startIdp({ redirectUris: [RU] });
  I = idp.info;
});

after(async () => { await idp?.close(); });

beforeEach(async () => {
  await control('/reset', {});
  await control('/config', { google: { requireSecretForRefresh: true, requireSecretForCode: true, rotateRefreshTokens: false, strictRefreshRotation: false } });
});

describe('google-auth-library (OAuth2Client) against the emulated Google', () => {
  it('getToken: code + verifier + secret give Google\'s token set (refresh token, expiry from expires_in)', async () => {
    const c = client();
    const before = Date.now();
    const tokens = await signIn(c);
    assert.ok(tokens.access_token);
    assert.ok(tokens.refresh_token);
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.scope, `openid https://www.googleapis.com/auth/userinfo.email ${GMAIL}`);
    // The library turns expires_in (3599) into expiry_date.
    assert.ok(tokens.expiry_date >= before + 3599_000 && tokens.expiry_date <= Date.now() + 3599_000);
    assert.ok(tokens.id_token);
  });

  it('refresh: getAccessToken() refreshes once, keeps the refresh token (Google does not rotate), and authorizes API calls', async () => {
    const tokens = await signIn(client());
    await control('/reset-stats', {});
    const c = client();
    c.setCredentials({ refresh_token: tokens.refresh_token });
    const seen = [];
    c.on('tokens', (t) => seen.push({ ...t })); // a copy: the library adds its refresh token to the object afterwards
    const { token } = await c.getAccessToken();
    assert.ok(token);
    assert.notEqual(token, tokens.access_token);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].refresh_token, undefined, 'the refresh response has no refresh_token');
    assert.equal(c.credentials.refresh_token, tokens.refresh_token, 'the library keeps the one it had');
    assert.equal((await c.getAccessToken()).token, token, 'served from the credentials while valid');
    assert.equal((await control('/stats')).google.token.refresh_token, 1);
    const profile = await c.request({ url: `${I.google.api}/users/me/profile` });
    assert.equal(profile.status, 200);
    assert.equal(profile.data.emailAddress, 'alice@gmail.test');
    // The same refresh token works again, from another client instance.
    const other = client();
    other.setCredentials({ refresh_token: tokens.refresh_token });
    assert.ok((await other.getAccessToken()).token);
  });

  it('a revoked grant raises the library\'s invalid_grant error ("Token has been expired or revoked.")', async () => {
    const tokens = await signIn(client(), 'bob@gmail.test');
    // Revoked by the user through the library's own revokeToken().
    const revoker = client();
    const rv = await revoker.revokeToken(tokens.refresh_token);
    assert.equal(rv.status, 200);
    const c = client();
    c.setCredentials({ refresh_token: tokens.refresh_token });
    const err = await rejection(c.getAccessToken());
    assert.ok(err instanceof GaxiosError, String(err));
    assert.equal(err.message, 'invalid_grant');
    assert.equal(err.status, 400);
    assert.deepEqual(err.response.data, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });

    // A password change (control revoke) after a successful refresh: the same error.
    const t2 = await signIn(client(), 'alice@gmail.test');
    const c2 = client();
    c2.setCredentials({ refresh_token: t2.refresh_token });
    await c2.getAccessToken();
    await control('/revoke', { provider: 'google', account: 'alice@gmail.test' });
    const err2 = await rejection(c2.refreshAccessToken());
    assert.equal(err2.message, 'invalid_grant');
    assert.equal(err2.response.data.error_description, 'Token has been expired or revoked.');
  });

  it('without a client secret the refresh answers 400 invalid_request "client_secret is missing."', async () => {
    const tokens = await signIn(client());
    const c = client({ secret: false });
    c.setCredentials({ refresh_token: tokens.refresh_token });
    const err = await rejection(c.getAccessToken());
    assert.ok(err instanceof GaxiosError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.message, 'invalid_request');
    assert.deepEqual(err.response.data, { error: 'invalid_request', error_description: 'client_secret is missing.' });
  });

  it('the ID token verifies with the library, except for its issuer (a known local difference)', async () => {
    const tokens = await signIn(client());
    // The emulator serves its keys as a JWKS (oauth2/v3/certs); the library's PEM
    // form (oauth2/v1/certs) is not emulated, so the keys are converted here.
    const jwks = await (await fetch(I.google.jwks)).json();
    const certs = Object.fromEntries(jwks.keys.map((k) => [k.kid, crypto.createPublicKey({ key: k, format: 'jwk' }).export({ type: 'spki', format: 'pem' })]));
    const c = client();
    // Google's issuers are accounts.google.com and https://accounts.google.com: the emulator's is its own URL.
    const wrongIssuer = await rejection(c.verifySignedJwtWithCertsAsync(tokens.id_token, certs, I.google.clientId, c.issuers));
    assert.match(wrongIssuer.message, /Invalid issuer/);
    const ticket = await c.verifySignedJwtWithCertsAsync(tokens.id_token, certs, I.google.clientId, [I.google.issuer]);
    const payload = ticket.getPayload();
    assert.equal(payload.iss, I.google.issuer);
    assert.equal(payload.sub, '109876543210987654321');
    assert.equal(payload.email, 'alice@gmail.test');
    // Signature, audience and expiry are checked for real: another audience fails.
    const wrongAudience = await rejection(c.verifySignedJwtWithCertsAsync(tokens.id_token, certs, 'someone-else', [I.google.issuer]));
    assert.match(wrongAudience.message, /Wrong recipient/);
  });
});
