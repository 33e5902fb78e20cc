// Conformance of the emulated Salesforce with jsforce, the Node client most
// Salesforce integrations use (node --test tests/idp/). jsforce is given the
// emulator's login host as `loginUrl` (its documented option for My Domain and
// sandbox hosts) and otherwise runs unmodified: PKCE (`useVerifier`), the token
// response's instance_url as the API base, its default API version (50.0), its
// own session-expiry detection and refresh. It accepts http, so no certificate.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import jsforce from 'jsforce';

import { startIdp } from './idp.mjs';
import { authorize } from './flow.mjs';

const RU = 'http://127.0.0.1:8080/www/callback.html';

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

const oauth2 = () => new jsforce.OAuth2({ loginUrl: I.salesforce.loginHost, clientId: I.salesforce.clientId, redirectUri: RU, useVerifier: true });

/** A Connection signed in through the login page with jsforce's own PKCE challenge. */
async function connect(account = 'alice@acme.test', options = {}) {
  const o = oauth2();
  const libUrl = new URL(o.getAuthorizationUrl({ scope: 'api refresh_token openid' }));
  assert.equal(libUrl.origin + libUrl.pathname, I.salesforce.authorize);
  const r = await authorize({
    authorizeUrl: I.salesforce.authorize, clientId: I.salesforce.clientId, redirectUri: RU, scope: 'api refresh_token openid', account,
    extra: { code_challenge: libUrl.searchParams.get('code_challenge') },
  });
  assert.ok(r.code, JSON.stringify(r));
  const conn = new jsforce.Connection({ oauth2: o, ...options });
  await conn.authorize(r.code);
  return conn;
}

const rejection = (p) => p.then(() => assert.fail('expected a rejection'), (e) => e);

before(async () => {
  idp = await startIdp({ redirectUris: [RU] });
  I = idp.info;
});

after(async () => { await idp?.close(); });

beforeEach(async () => {
  await control('/reset', {});
  await control('/config', { salesforce: { sessionTimeout: 7200, rotateRefreshTokens: false, strictRefreshRotation: false } });
});

describe('jsforce against the emulated Salesforce', () => {
  it('authorize: the instance is an origin of its own, the session id carries the org id, the user comes from the id URL', async () => {
    const conn = await connect();
    assert.equal(conn.instanceUrl, I.salesforce.instanceUrl);
    assert.equal(new URL(conn.instanceUrl).origin, conn.instanceUrl);
    assert.ok(conn.accessToken.startsWith(`${I.salesforce.orgId}!`), 'access token = session id "00D...!..."');
    assert.ok(conn.refreshToken);
    assert.equal(conn.userInfo.organizationId, I.salesforce.orgId);
    assert.equal(conn.userInfo.id, '0055g00000ALICEAAA');
  });

  it('a query on the instance with jsforce\'s default API version answers the object and limit asked for', async () => {
    const conn = await connect();
    assert.equal(conn.version, '50.0', 'jsforce\'s default, not the v60.0 of the ready line');
    const contacts = await conn.query('SELECT Id, Name, Email FROM Contact LIMIT 2');
    assert.equal(contacts.totalSize, 2);
    assert.deepEqual(contacts.records.map((r) => r.attributes.type), ['Contact', 'Contact']);
    assert.deepEqual(contacts.records.map((r) => r.Name), ['Wile Coyote', 'Hank Scorpio']);
    const accounts = await conn.query("SELECT Id, Name FROM Account WHERE Name = 'Globex'");
    assert.deepEqual(accounts.records.map((r) => r.Name), ['Globex']);
    const bad = await rejection(conn.query('SELECT Id FROM Nope__x'));
    assert.equal(bad.errorCode, 'INVALID_TYPE');
    // The versions list jsforce (and Salesforce's own tools) read to pick a version.
    const versions = await conn.request('/services/data/');
    assert.ok(versions.some((v) => v.version === '50.0'));
    assert.equal(versions.at(-1).version, '67.0');
    const latest = new jsforce.Connection({ instanceUrl: conn.instanceUrl, accessToken: conn.accessToken, version: versions.at(-1).version });
    assert.equal((await latest.query('SELECT Id FROM Case')).totalSize, 1);
    const retired = new jsforce.Connection({ instanceUrl: conn.instanceUrl, accessToken: conn.accessToken, version: '20.0' });
    assert.equal((await rejection(retired.query('SELECT Id FROM Case'))).errorCode, 'NOT_FOUND');
  });

  it('an expired session raises jsforce\'s session error when it cannot refresh', async () => {
    const signedIn = await connect('bob@acme.test');
    // The same session, without a refresh token or OAuth client: nothing to refresh with.
    const conn = new jsforce.Connection({ instanceUrl: signedIn.instanceUrl, accessToken: signedIn.accessToken });
    assert.equal((await conn.query('SELECT Id FROM Account')).totalSize, 2);
    await control('/expire-session', { provider: 'salesforce', account: 'bob@acme.test' });
    const err = await rejection(conn.query('SELECT Id FROM Account'));
    assert.equal(err.errorCode, 'INVALID_SESSION_ID');
    assert.equal(err.message, 'Session expired or invalid');
  });

  it('an expired session with a refresh token: jsforce refreshes once and retries (no rotation: the same refresh token)', async () => {
    const conn = await connect();
    const refreshes = [];
    conn.on('refresh', (accessToken, res) => refreshes.push({ accessToken, res }));
    const firstRefreshToken = conn.refreshToken;
    await control('/expire-session', { provider: 'salesforce' });
    await control('/reset-stats', {});
    const res = await conn.query('SELECT Id FROM Opportunity');
    assert.equal(res.totalSize, 1);
    assert.equal(refreshes.length, 1);
    assert.equal(refreshes[0].res.refresh_token, undefined, 'no rotation unless the app enables it');
    assert.equal(refreshes[0].res.instance_url, I.salesforce.instanceUrl);
    const stats = await control('/stats');
    assert.equal(stats.salesforce.token.refresh_token, 1);
    assert.equal(stats.salesforce.api, 2, 'the 401, then the retried query');
    // Again later: the same refresh token still works.
    await control('/expire-session', { provider: 'salesforce' });
    assert.equal((await conn.query('SELECT Id FROM Case')).totalSize, 1);
    assert.equal(conn.refreshToken, firstRefreshToken);
  });

  it('with rotation enabled the used refresh token is refused: jsforce keeps it unless the app stores the new one from "refresh"', async () => {
    await control('/config', { 'salesforce.rotateRefreshTokens': true });
    const careless = await connect('bob@acme.test');
    await control('/expire-session', { provider: 'salesforce' });
    assert.equal((await careless.query('SELECT Id FROM Case')).totalSize, 1, 'the first refresh works');
    await control('/expire-session', { provider: 'salesforce' });
    const err = await rejection(careless.query('SELECT Id FROM Case'));
    // jsforce's session-refresh failure, carrying Salesforce's invalid_grant description.
    assert.equal(err.message, 'Unable to refresh session due to: expired access/refresh token');

    const careful = await connect('alice@acme.test');
    careful.on('refresh', (_at, res) => { if (res.refresh_token) careful.refreshToken = res.refresh_token; });
    for (let i = 0; i < 3; i += 1) {
      await control('/expire-session', { provider: 'salesforce', account: 'alice@acme.test' });
      assert.equal((await careful.query('SELECT Id FROM Case')).totalSize, 1, `refresh ${i + 1} with the newest token`);
    }
  });
});
