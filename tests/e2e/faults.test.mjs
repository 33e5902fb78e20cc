// End-to-end: refresh failures injected at the local identity provider (/control/fail-next)
// and what the dashboard makes of them, with the real engine.
//
// - AADSTS50173 (password changed / sessions revoked): "needs attention" with the reason in
//   plain words and Refresh; Refresh goes through the login page and reconnects.
// - Transient faults (503, a cut-off JSON body): the connection and its refresh token stay,
//   the card says "Will retry", and the retry works with the same refresh token.
// - Six failures in a row: the engine pauses and the card offers "Try again".

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useEnvironment, byTestId, advancePastExpiry, completeSignIn, eventually, WAIT_MS } from './helpers.mjs';

const h = useEnvironment();

describe('refresh failures (real engine, local identity provider)', () => {
  it('AADSTS50173: the card explains it and offers Refresh; Refresh signs in again and reconnects', async (t) => {
    const s = await h.session(t);
    const { page, env } = s;
    await s.connect('microsoft', 'alice@contoso.com');
    await env.control('/reset-stats', {});
    await env.control('/fail-next', { provider: 'microsoft', endpoint: 'token', kind: 'error', code: '50173' });

    await advancePastExpiry(s);
    const r = await s.auth('accessToken', 'microsoft');
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'needs_attention', JSON.stringify(r.error));
    assert.equal(r.error.providerCode, 'AADSTS50173');

    await s.waitStatus('microsoft', 'needs_attention');
    assert.match(await byTestId(page, 'status-microsoft').textContent(), /Sign-in needed/);
    assert.equal(
      (await byTestId(page, 'reason-microsoft').textContent()).trim(),
      'Your password was changed or your sessions were signed out. Sign in again.',
    );
    assert.equal((await byTestId(page, 'provider-code-microsoft').locator('code').textContent()).trim(), 'AADSTS50173');
    const refresh = byTestId(page, 'refresh-microsoft');
    assert.equal(await refresh.isVisible(), true, 'Refresh is offered');
    assert.match(await refresh.getAttribute('class'), /sa-btn--primary/, 'Refresh is the suggested action');
    assert.equal(await byTestId(page, 'retry-microsoft').count(), 0, 'not a "Try again" case');
    // The dead refresh token is gone (the provider said so), the account is remembered.
    const d = await s.debug('microsoft');
    assert.equal(d.refreshToken, null);
    assert.equal(d.account.username, 'alice@contoso.com');
    assert.equal((await env.stats()).microsoft.token.refresh_token, 1, 'one refresh attempt, no retry loop');

    // A password change also ends the browser sessions: Refresh shows the login page.
    await env.control('/end-sessions', { provider: 'microsoft' });
    const popupPromise = page.waitForEvent('popup', { timeout: WAIT_MS });
    await refresh.click();
    const pages = await completeSignIn(await popupPromise, 'alice@contoso.com');
    assert.deepEqual(pages[0], { page: 'login', prefilled: 'alice@contoso.com' }, 'the login page, for the same account');
    await s.waitStatus('microsoft', 'connected');
    assert.equal((await byTestId(page, 'account-microsoft').textContent()).trim(), 'alice@contoso.com');
    assert.equal(await byTestId(page, 'reason-microsoft').count(), 0);
    assert.equal(await byTestId(page, 'provider-code-microsoft').count(), 0);
    assert.equal((await s.debug('microsoft')).refreshToken?.present, true);
    assert.equal((await env.stats()).microsoft.token.authorization_code, 1);
    // And the connection works again.
    assert.equal((await s.auth('fetch', 'microsoft', `${env.idp.base}/graph/v1.0/me`)).value?.status, 200);
  });

  for (const fault of [
    { name: 'HTTP 503', body: { kind: 'status', status: 503 }, reason: 'provider_unavailable', text: /temporarily unavailable/ },
    { name: 'a cut-off JSON body', body: { kind: 'malformed' }, reason: 'malformed_response', text: /could not be read/ },
  ]) {
    it(`transient fault (${fault.name}): keeps the connection and its refresh token, says “Will retry”, then the retry works`, async (t) => {
      const s = await h.session(t);
      const { page, env } = s;
      await s.connect('microsoft', 'alice@contoso.com');
      const refreshToken = (await s.tokens.all()).at(-1).refreshToken;
      assert.ok(refreshToken, 'captured the refresh token of the sign-in');
      await env.control('/reset-stats', {});
      await env.control('/fail-next', { provider: 'microsoft', endpoint: 'token', ...fault.body });

      await advancePastExpiry(s);
      const r = await s.auth('accessToken', 'microsoft');
      assert.equal(r.ok, false);
      assert.equal(r.error.code, 'retry_scheduled', JSON.stringify(r.error));
      assert.equal(r.error.reason, fault.reason);
      assert.equal(r.error.action, 'retry_later');

      // The card: retrying, "Will retry …", the reason, no sign-in asked for.
      await page.waitForSelector('[data-testid="status-microsoft"][data-status="retrying"]', { timeout: WAIT_MS });
      assert.match(await byTestId(page, 'status-microsoft').textContent(), /Will retry/);
      assert.match(await byTestId(page, 'reason-microsoft').textContent(), fault.text);
      assert.match(await byTestId(page, 'next-retry-microsoft').textContent(), /Next try in|Trying again now/);
      assert.doesNotMatch(await byTestId(page, 'refresh-microsoft').getAttribute('class'), /sa-btn--primary/, 'no sign-in suggested');
      const during = await s.debug('microsoft');
      assert.equal(during.refreshToken?.present, true, 'the refresh token is kept');
      assert.equal(during.attention, null, 'nothing needs the user');
      assert.equal(during.account.username, 'alice@contoso.com');

      // The engine retries by itself with the same refresh token, at a random time within
      // the hour (issue 12, fleet scale: a fleet must not come back all at once): the engine
      // clock is moved to it, and the host's wake-up timer makes the attempt.
      assert.ok(during.nextAttemptAt > (await s.auth('now')).value, 'a retry is scheduled');
      await s.auth('advanceClock', during.nextAttemptAt - (await s.auth('now')).value + 1000);
      await s.waitStatus('microsoft', 'connected');
      const stats = await env.stats();
      assert.equal(stats.microsoft.token.refresh_token, 2, 'the faulted refresh and one retry');
      assert.equal(stats.microsoft.token.authorization_code, 0, 'no sign-in');
      const refreshes = (await s.tokens.all()).filter((x) => x.grantType === 'refresh_token');
      assert.deepEqual(refreshes.map((x) => x.status), [fault.body.status ?? 200, 200], 'the faulted answer, then the retry');
      assert.equal(refreshes[0].accessToken, null, 'the faulted answer carried no usable token');
      assert.equal(refreshes[1].usedRefreshToken, refreshToken, 'the retry used the kept refresh token');
      assert.ok(refreshes[1].accessToken, 'and got new tokens');
      assert.equal((await s.auth('fetch', 'microsoft', `${env.idp.base}/graph/v1.0/me`)).value?.status, 200);
    });
  }

  // Issue 11, defect 4: six transient failures used to pause the connection ("Paused after
  // repeated failures") until a click, while its text said "Sync will retry by itself".
  it('six transient failures in a row never pause; the card says it will retry, and `online` retries at once', async (t) => {
    const s = await h.session(t);
    const { page, env } = s;
    await s.connect('microsoft', 'alice@contoso.com');
    await env.control('/reset-stats', {});
    await env.control('/fail-next', { provider: 'microsoft', endpoint: 'token', kind: 'status', status: 503, count: 6 });

    // Each step moves the engine clock past the scheduled retry; the clock change wakes the
    // host timer, whose tick makes the next attempt.
    await advancePastExpiry(s);
    await s.auth('accessToken', 'microsoft');
    let d;
    for (let failures = 1; failures <= 6; failures++) {
      d = await s.waitDebug('microsoft', (x) => x.consecutiveFailures === failures && !x.busy);
      assert.ok(d.nextAttemptAt, `attempt ${failures}: a retry is scheduled`);
      assert.equal(d.attention, null, `attempt ${failures}: not paused`);
      if (failures < 6) await s.auth('advanceClock', d.nextAttemptAt - (await s.auth('now')).value + 1000);
    }
    assert.equal(d.refreshToken?.present, true, 'the refresh token is kept');
    assert.equal((await env.stats()).microsoft.token.refresh_token, 6);
    await s.waitStatus('microsoft', 'retrying');
    assert.match(await byTestId(page, 'status-microsoft').textContent(), /Will retry in/);

    // The network comes back before the backoff ends: the page's `online` handler retries now.
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await s.waitStatus('microsoft', 'connected');
    const stats = await eventually(async () => {
      const st = await env.stats();
      return st.microsoft.token.refresh_token === 7 ? st : null;
    }, { message: 'the seventh refresh' });
    assert.equal(stats.microsoft.token.authorization_code, 0, 'no sign-in was needed');
    assert.equal((await s.debug('microsoft')).consecutiveFailures, 0);
  });
  it('a second tab takes over the engine; the first stops, so no rotated refresh token is used twice', async (t) => {
    const s = await h.session(t);
    const { page, context, env } = s;
    // Entra does not refuse a used refresh token; only strict rotation (RFC 9700
    // §4.14.2, an emulator switch) makes a reuse visible, which is what this test is about.
    await env.control('/config', { 'microsoft.strictRefreshRotation': true });
    t.after(() => env.control('/config', { 'microsoft.strictRefreshRotation': false }));
    await s.connect('microsoft', 'alice@contoso.com');
    await env.control('/reset', {});

    const tab2 = await context.newPage();
    tab2.on('pageerror', (e) => s.errors.push(e.message));
    await tab2.goto(`${env.baseUrl}/www/index.html`);
    await tab2.waitForSelector('body[data-ready="true"]', { timeout: WAIT_MS });
    // The first tab let go of the engine and says so.
    await byTestId(page, 'superseded').waitFor({ timeout: WAIT_MS });
    assert.equal(await byTestId(page, 'card-microsoft').count(), 0, 'the first tab no longer shows (stale) cards');
    await tab2.waitForSelector('[data-testid="card-microsoft"]:not([aria-busy]) [data-testid="status-microsoft"][data-status="connected"]', { timeout: WAIT_MS });

    // Time passes in both tabs; only the second one refreshes, each time with the newest token.
    for (let i = 0; i < 2; i++) {
      await page.evaluate(() => { window.__sidebarAuth.auth.advanceClock(125 * 60_000); return window.__sidebarAuth.tick(); });
      await tab2.evaluate(() => window.__sidebarAuth.auth.advanceClock(125 * 60_000));
      const r = await tab2.evaluate(() => window.__sidebarAuth.auth.accessToken('microsoft').then(() => 'ok', (e) => JSON.stringify(e)));
      assert.equal(r, 'ok', `refresh ${i + 1} in the second tab`);
    }
    const log = (await env.control('/log?n=100')).filter((e) => e.provider === 'microsoft' && e.endpoint === 'token' && e.method === 'POST');
    assert.ok(log.length >= 2, `refreshes seen (${log.length})`);
    assert.deepEqual(log.map((e) => e.status), log.map(() => 200), 'no refresh was refused (a reused rotated token revokes the grant)');
    await tab2.close();
  });
  it('a second tab that cannot start (a configuration from another site) leaves the engine with the first', async (t) => {
    const s = await h.session(t);
    const { page, context, env } = s;
    await s.connect('microsoft', 'alice@contoso.com');
    const tab2 = await context.newPage();
    await tab2.goto(`${env.baseUrl}/www/index.html?config=${encodeURIComponent('https://config.example/config.json')}`);
    await tab2.waitForSelector('body[data-ready="error"]', { timeout: WAIT_MS });
    assert.match(await byTestId(tab2, 'boot-error').innerText(), /must come from this site/);
    // The engine lock is taken only by a page that has its configuration and engine.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await byTestId(page, 'superseded').count(), 0, 'the first tab keeps the engine');
    const r = await page.evaluate(() => window.__sidebarAuth.auth.accessToken('microsoft').then(() => 'ok', (e) => JSON.stringify(e)));
    assert.equal(r, 'ok');
    await tab2.close();
  });
  it('two engine instances (hosts without page takeover, e.g. the extension): a renewal in one never revives a token the other rotated', async (t) => {
    const s = await h.session(t);
    const { context, env } = s;
    // About rotation safety: strict rotation makes a reused refresh token fail (see above).
    await env.control('/config', { 'microsoft.strictRefreshRotation': true });
    t.after(() => env.control('/config', { 'microsoft.strictRefreshRotation': false }));
    // Two bare engine instances over the same vault, each with the web host driver (which
    // has withLock), the way the extension's service worker and side panel share one.
    async function instance() {
      const p = await context.newPage();
      p.on('pageerror', (e) => s.errors.push(e.message));
      await p.goto(`${env.baseUrl}/www/dashboard.css`); // any page of the origin, without the dashboard app
      await p.evaluate(async () => {
        const m = await import('/pkg/sidebar_auth.js');
        await m.default();
        const { webHostDriver } = await import('/www/host-web.js');
        const config = await (await fetch('/www/config.json')).json();
        window.auth = await m.SidebarAuth.create(config, webHostDriver({ log: () => {} }));
      });
      return p;
    }
    const a = await instance();
    for (const [svc, login] of [['microsoft', 'alice@contoso.com'], ['google', 'alice@gmail.test']]) {
      const popup = a.waitForEvent('popup', { timeout: WAIT_MS });
      const done = a.evaluate((x) => window.auth.connect(x, {}).then(() => 'ok', (e) => JSON.stringify(e)), svc);
      await completeSignIn(await popup, login);
      assert.equal(await done, 'ok');
    }
    const b = await instance();
    const renew = (p, svc) => p.evaluate((x) => {
      window.auth.advanceClock(125 * 60_000);
      return window.auth.accessToken(x).then(() => 'ok', (e) => `${e.code} ${e.providerCode ?? ''}`);
    }, svc);
    assert.equal(await renew(a, 'microsoft'), 'ok', 'A rotates the Microsoft refresh token');
    assert.equal(await renew(b, 'google'), 'ok', 'B renews Google (and persists)');
    assert.equal(await renew(a, 'microsoft'), 'ok', 'A renews Microsoft again with the newest token');
  });
});
