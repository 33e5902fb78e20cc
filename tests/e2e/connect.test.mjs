// End-to-end: connecting the three OAuth services from the Sync Settings dashboard through
// the providers' real login pages, one silent refresh after the clock passes expiry, and no
// token text in the page or its storage.
//
//   node --test tests/e2e/        (the engine must be built into pkg/ first)

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useEnvironment, byTestId, advancePastExpiry, WAIT_MS } from './helpers.mjs';

const h = useEnvironment();

describe('connect through the providers’ login pages (real engine)', () => {
  it('Microsoft 365, Gmail and Salesforce: Change → login page → consent → Connected with the account', async (t) => {
    const s = await h.session(t);
    const { page, env } = s;

    // Microsoft 365 (the default mail service).
    assert.equal(await byTestId(page, 'status-microsoft').getAttribute('data-status'), 'disconnected');
    const ms = await s.connect('microsoft', 'alice@contoso.com');
    assert.equal(ms[0]?.page, 'login', 'the pop-up showed the provider’s login page');
    assert.match(await byTestId(page, 'status-microsoft').textContent(), /Connected/);
    assert.equal((await byTestId(page, 'account-microsoft').textContent()).trim(), 'alice@contoso.com');
    // A `spa` refresh token lives 24 h from the sign-in: the card says so ahead of time.
    assert.match(await byTestId(page, 'signin-needed-microsoft').textContent(), /^Sign-in needed in 2[34] h$/);

    // Gmail: choose it as the mail service, then connect.
    const g = await s.connect('google', 'alice@gmail.test');
    assert.equal(g[0]?.page, 'login');
    assert.ok(g.some((p) => p.page === 'consent'), 'Google asks for consent (prompt=consent, for a refresh token)');
    assert.match(await byTestId(page, 'status-google').textContent(), /Connected/);

    // Salesforce (CRM): the Change form, a new username on the local login host.
    const sf = await s.connect('salesforce', 'alice@acme.test');
    assert.deepEqual(sf[0], { page: 'login', prefilled: 'alice@acme.test' }, 'login_hint pre-fills the username');
    assert.match(await byTestId(page, 'status-salesforce').textContent(), /Connected/);
    assert.equal((await byTestId(page, 'account-salesforce').textContent()).trim(), 'alice@acme.test');

    // Each provider saw exactly one code redemption, and the engine holds a refresh token.
    const stats = await env.stats();
    for (const p of ['microsoft', 'google', 'salesforce']) {
      assert.equal(stats[p].token.authorization_code, 1, `${p}: one code redemption`);
      const d = await s.debug(p);
      assert.equal(d.refreshToken?.present, true, `${p}: refresh token kept`);
      assert.equal(d.accessToken?.present, true, `${p}: access token`);
    }
    assert.equal((await s.debug('salesforce')).accessToken.expirySource, 'session_timeout', 'Salesforce sends no expires_in');
    assert.equal((await s.debug('microsoft')).accessToken.expirySource, 'expires_in');
    // Salesforce remembers the login for the next Change.
    const crm = (await s.auth('view')).value.sections.find((x) => x.id === 'crm');
    assert.deepEqual(crm.savedLogins.map((l) => l.username), ['alice@acme.test']);
  });

  it('past expiry: exactly one refresh per service at the provider, shared by concurrent callers', async (t) => {
    const s = await h.session(t);
    const { env } = s;
    await s.connect('microsoft', 'alice@contoso.com');
    await s.connect('google', 'alice@gmail.test');
    const services = ['microsoft', 'google'];
    const before = {};
    for (const p of services) before[p] = (await s.auth('accessToken', p)).value;
    await env.control('/reset-stats', {});

    // Tokens live 2 minutes here; move the engine clock 5 minutes on. The clock change also
    // wakes the host's timer (a tick), so the tick and the callers race for the same refresh.
    await advancePastExpiry(s);
    const calls = await s.page.evaluate(async (svcs) => {
      const auth = window.__sidebarAuth.auth;
      const all = await Promise.all(svcs.flatMap((svc) => [auth.accessToken(svc), auth.accessToken(svc), auth.accessToken(svc)]));
      return svcs.map((svc, i) => ({ svc, tokens: all.slice(i * 3, i * 3 + 3) }));
    }, services);
    await s.page.evaluate(() => window.__sidebarAuth.tick());

    const stats = await env.stats();
    for (const { svc, tokens } of calls) {
      assert.equal(new Set(tokens).size, 1, `${svc}: concurrent callers got the same token`);
      assert.notEqual(tokens[0], before[svc], `${svc}: a new access token`);
      assert.equal(stats[svc].token.refresh_token, 1, `${svc}: exactly one refresh_token grant at the provider`);
      assert.equal(stats[svc].token.authorization_code, 0, `${svc}: no sign-in`);
      const d = await s.debug(svc); // (the view shows only the chosen mail service's card)
      assert.equal(d.attention, null, `${svc}: nothing needs the user`);
      assert.equal(d.accessToken?.fresh, true, `${svc}: a fresh access token`);
    }
    // The refreshed tokens are good at the providers' APIs.
    const graph = await s.auth('fetch', 'microsoft', `${env.idp.base}/graph/v1.0/me`);
    assert.equal(graph.value?.status, 200, JSON.stringify(graph));
    const gmail = await s.auth('fetch', 'google', `${env.idp.base}/google-api/gmail/v1/users/me/profile`);
    assert.equal(gmail.value?.status, 200, JSON.stringify(gmail));
  });

  it('past expiry: Salesforce refreshes once and its new session is usable', async (t) => {
    const s = await h.session(t);
    const { env } = s;
    await s.connect('salesforce', 'alice@acme.test');
    await env.control('/reset-stats', {});
    await advancePastExpiry(s);
    const r = await s.auth('accessToken', 'salesforce');
    assert.equal(r.ok, true, `accessToken: ${JSON.stringify(r.error)}`);
    await s.page.evaluate(() => window.__sidebarAuth.tick());
    const d = await s.debug('salesforce');
    assert.equal(d.accessToken?.fresh, true, `the refreshed session counts as fresh: ${JSON.stringify(d.accessToken)}`);
    assert.equal((await env.stats()).salesforce.token.refresh_token, 1, 'exactly one refresh');
  });

  it('no token text in the page DOM, localStorage or sessionStorage; devtools shows them redacted', async (t) => {
    const s = await h.session(t);
    const { page, context, env } = s;
    await s.connect('microsoft', 'alice@contoso.com');
    await s.connect('salesforce', 'alice@acme.test');
    await s.connect('google', 'alice@gmail.test');
    // One refresh each, without moving the clock: the API rejects the current token once
    // (Graph/Gmail 401, Salesforce INVALID_SESSION_ID), the engine refreshes and retries.
    const apis = {
      microsoft: `${env.idp.base}/graph/v1.0/me`,
      google: `${env.idp.base}/google-api/gmail/v1/users/me/profile`,
      salesforce: `${(await s.debug('salesforce')).instanceUrl}/services/data/v60.0/sobjects/`,
    };
    await env.control('/fail-next', { provider: 'microsoft', endpoint: 'api', kind: 'error', code: 'InvalidAuthenticationToken' });
    await env.control('/fail-next', { provider: 'google', endpoint: 'api', kind: 'error', code: 'authError' });
    await env.control('/expire-session', { provider: 'salesforce' });
    for (const [p, url] of Object.entries(apis)) {
      const r = await s.auth('fetch', p, url);
      assert.equal(r.value?.status, 200, `${p}: ${JSON.stringify(r)}`);
    }
    const records = await s.tokens.all();
    assert.equal(records.filter((r) => r.grantType === 'refresh_token').length, 3, 'one refresh per service');
    const secrets = await s.tokens.secrets();
    assert.ok(secrets.length >= 9, `captured the tokens the providers issued (${secrets.length})`);
    // Tokens are long random strings; the page must not hold them as text, nor a prefix.
    // A Salesforce session id starts with the org id ("00D...!"), which is public (it is in
    // the identity URL the dashboard shows): the prefix that must not leak is its random part's.
    const secretPrefix = (v) => v.replace(/^00D\w{12,15}!/, '').slice(0, 16);
    const probes = secrets.flatMap((v) => [v, secretPrefix(v)]);

    const dom = await page.evaluate(() => document.documentElement.outerHTML + [...document.querySelectorAll('input, textarea')].map((e) => e.value).join('\n'));
    const storage = await s.storageText();
    assert.match(storage, /sidebar-auth\.vault/, 'the vault is in localStorage');
    assert.match(storage, /\\"sealed\\":2/, 'and it is sealed (AES-GCM, version 2 with its copy counter)');
    for (const v of probes) {
      assert.equal(dom.includes(v), false, 'a token is in the dashboard DOM');
      assert.equal(storage.includes(v), false, 'a token is in web storage');
    }
    const cookies = JSON.stringify(await context.cookies(env.baseUrl));
    for (const v of probes) assert.equal(cookies.includes(v), false, 'a token is in a cookie of the page');

    // The devtools page (redacted state and event log) of the same profile.
    await page.close();
    const dt = await context.newPage();
    dt.on('pageerror', (e) => s.errors.push(e.message));
    await dt.goto(`${env.baseUrl}/www/devtools.html`);
    await dt.waitForSelector('body[data-ready="true"]', { timeout: WAIT_MS });
    await dt.waitForFunction(() => document.querySelector('[data-testid="dt-state-salesforce"]')?.textContent.includes('"present": true'), null, { timeout: WAIT_MS });
    await dt.waitForFunction(() => document.querySelectorAll('#dt-log-body tr').length > 0, null, { timeout: WAIT_MS });
    const dtText = await dt.evaluate(() => document.documentElement.outerHTML);
    for (const v of (await s.tokens.secrets()).flatMap((x) => [x, secretPrefix(x)])) {
      assert.equal(dtText.includes(v), false, 'a token is on the devtools page');
    }
  });
});

describe('dashboard fields of the real engine', () => {
  it('an unreadable vault: the engine’s notice is shown as a banner; “Not sure” shows the engine’s hint', async (t) => {
    const s = await h.session(t);
    const { page } = s;
    assert.equal(await byTestId(page, 'notice').count(), 0);
    // A sealed vault this browser's key cannot open (e.g. the key store was cleared).
    await page.evaluate(() => localStorage.setItem('sidebar-auth.vault', JSON.stringify({ sealed: 1, alg: 'A256GCM', iv: 'AAAAAAAAAAAAAAAA', data: 'AAAAAAAAAAAAAAAAAAAAAAAA' })));
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: WAIT_MS });
    const notice = byTestId(page, 'notice');
    await notice.waitFor({ timeout: WAIT_MS });
    assert.match(await notice.textContent(), /could not be read/);
    assert.equal(await notice.getAttribute('role'), 'status');

    await byTestId(page, 'mail-service-not_sure').check();
    const hint = byTestId(page, 'hint-email');
    await hint.waitFor({ timeout: WAIT_MS });
    assert.match(await hint.textContent(), /look up which service holds your mailbox/);
    // Not sure: every mail connection is offered, and the lookup form (the web host says it
    // cannot reach a company mail server itself).
    assert.equal(await byTestId(page, 'lookup-form').isVisible(), true);
    assert.match(await byTestId(page, 'lookup-unavailable').textContent(), /browser extension or the Outlook add-in/);
    assert.equal(await byTestId(page, 'card-microsoft').isVisible(), true);
    assert.equal(await byTestId(page, 'card-google').isVisible(), true);
  });
});
