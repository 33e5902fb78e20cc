// End-to-end: Change to a second account. The first account's refresh token is revoked at
// the provider (its revocation endpoint; the token no longer refreshes) and is gone from
// the engine and from storage.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useEnvironment, byTestId, completeSignIn, eventually, refreshDirectly, WAIT_MS } from './helpers.mjs';
import { chooseMailService, submitSalesforceChange, waitForCard } from '../support/browser.mjs';

const h = useEnvironment();

/** The refresh token the provider issued last for `provider` in this browser context. */
async function lastRefreshToken(s, provider) {
  const base = new URL(s.env.idp.info[provider].token).href;
  const records = (await s.tokens.all()).filter((r) => r.url === base && r.refreshToken);
  return records.at(-1)?.refreshToken ?? null;
}

async function revocationsLogged(env, provider) {
  const log = await env.control(`/log?n=500`);
  return log.filter((e) => e.provider === provider && e.endpoint === 'revoke');
}

/** Storage and DOM hold none of the tokens issued in this context. */
async function assertNoTokenText(s) {
  const secrets = await s.tokens.secrets();
  assert.ok(secrets.length >= 4);
  const storage = await s.storageText();
  const dom = await s.page.evaluate(() => document.documentElement.outerHTML);
  for (const v of secrets) {
    assert.equal(storage.includes(v) || storage.includes(v.slice(0, 16)), false, 'a token of either account is in web storage');
    assert.equal(dom.includes(v), false, 'a token is in the DOM');
  }
}

describe('Change to a second account (real engine)', () => {
  it('Salesforce alice → bob: alice’s refresh token is revoked at the provider and gone from storage', async (t) => {
    const s = await h.session(t);
    const { page, env } = s;
    await s.connect('salesforce', 'alice@acme.test');
    const aliceToken = await lastRefreshToken(s, 'salesforce');
    assert.ok(aliceToken);
    await env.control('/reset-stats', {});

    // Change: the form offers alice (saved) or another username; pick a new one.
    await byTestId(page, 'change-salesforce').click();
    assert.equal(await byTestId(page, 'change-choice-salesforce-saved:0').isChecked(), true, 'the saved login is offered first');
    await byTestId(page, 'change-cancel-salesforce').click();
    const pages = await s.connect('salesforce', 'bob@acme.test');
    assert.deepEqual(pages[0], { page: 'login', prefilled: 'bob@acme.test' }, 'prompt=login: the login page, with bob');
    assert.equal((await byTestId(page, 'account-salesforce').textContent()).trim(), 'bob@acme.test');

    // Revoked at the provider: one revocation request, answered 200, and the token is dead.
    const stats = await eventually(async () => {
      const st = await env.stats();
      return st.revocations.salesforce >= 1 ? st : null;
    }, { message: 'a Salesforce revocation' });
    assert.equal(stats.revocations.salesforce, 1);
    const logged = await revocationsLogged(env, 'salesforce');
    assert.equal(logged.length, 1);
    assert.equal(logged[0].status, 200);
    assert.equal(logged[0].method, 'POST');
    const replay = await refreshDirectly(env, 'salesforce', aliceToken);
    assert.equal(replay.status, 400, 'alice’s refresh token no longer works');
    assert.deepEqual(replay.body, { error: 'invalid_grant', error_description: 'expired access/refresh token' });

    // Gone from the engine: the connection is bob's, with bob's refresh token.
    const d = await s.debug('salesforce');
    assert.equal(d.account.username, 'bob@acme.test');
    assert.equal(d.refreshToken?.present, true);
    await assertNoTokenText(s);
    // Both logins are remembered for the next Change (usernames only).
    const crm = (await s.auth('view')).value.sections.find((x) => x.id === 'crm');
    assert.deepEqual(crm.savedLogins.map((l) => l.username), ['bob@acme.test', 'alice@acme.test']);
    // bob's connection works.
    const api = await s.auth('fetch', 'salesforce', `${d.instanceUrl}/services/data/v60.0/sobjects/`);
    assert.equal(api.value?.status, 200);
  });

  it('a cancelled Change keeps what the user typed: the form opens again as it was, focused', async (t) => {
    const s = await h.session(t);
    const { page } = s;
    await s.connect('salesforce', 'alice@acme.test');
    const popupPromise = page.waitForEvent('popup', { timeout: WAIT_MS });
    await byTestId(page, 'change-salesforce').click();
    await submitSalesforceChange(page, 'bob@acme.test');
    const popup = await popupPromise;
    await popup.close(); // the user closes the sign-in window: sign_in_cancelled
    await byTestId(page, 'change-form-salesforce').waitFor({ timeout: WAIT_MS });
    assert.equal(await byTestId(page, 'change-choice-salesforce-new').isChecked(), true);
    assert.equal(await byTestId(page, 'change-username-salesforce').inputValue(), 'bob@acme.test');
    assert.equal(await byTestId(page, 'change-host-salesforce-local').isChecked(), true);
    assert.ok(await page.evaluate(() => document.querySelector('[data-testid="change-form-salesforce"]').contains(document.activeElement)), 'focus is in the reopened form');
    // The connection is still alice's.
    assert.equal((await byTestId(page, 'account-salesforce').textContent()).trim(), 'alice@acme.test');
    // Submitting again from the kept form signs bob in; the next Change starts fresh.
    const again = page.waitForEvent('popup', { timeout: WAIT_MS });
    await byTestId(page, 'change-submit-salesforce').click();
    await completeSignIn(await again, 'bob@acme.test');
    await waitForCard(page, 'salesforce', 'connected', 'bob@acme.test');
    await byTestId(page, 'change-salesforce').click();
    assert.equal(await byTestId(page, 'change-choice-salesforce-saved:0').isChecked(), true, 'a fresh form after a success');
  });

  it('Gmail alice → bob: alice’s grant is revoked at Google and gone from storage', async (t) => {
    const s = await h.session(t);
    const { page, env } = s;
    await s.connect('google', 'alice@gmail.test');
    const aliceToken = await lastRefreshToken(s, 'google');
    assert.ok(aliceToken);
    await env.control('/reset-stats', {});

    // With the Google session ended, Change shows the login page (the case with a live
    // session and the account picker is the next test).
    await env.control('/end-sessions', { provider: 'google' });
    const pages = await s.connect('google', 'bob@gmail.test');
    assert.equal(pages[0]?.page, 'login');
    assert.equal((await byTestId(page, 'account-google').textContent()).trim(), 'bob@gmail.test');

    const stats = await eventually(async () => {
      const st = await env.stats();
      return st.revocations.google >= 1 ? st : null;
    }, { message: 'a Google revocation' });
    assert.equal(stats.revocations.google, 1);
    const logged = await revocationsLogged(env, 'google');
    assert.equal(logged.length, 1);
    assert.equal(logged[0].status, 200);
    const replay = await refreshDirectly(env, 'google', aliceToken);
    assert.equal(replay.status, 400, 'alice’s refresh token no longer works');
    assert.deepEqual(replay.body, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });

    const d = await s.debug('google');
    assert.equal(d.account.username, 'bob@gmail.test');
    assert.equal(d.refreshToken?.present, true);
    await assertNoTokenText(s);
    const api = await s.auth('fetch', 'google', `${env.idp.base}/google-api/gmail/v1/users/me/profile`);
    assert.equal(api.value?.status, 200);
    assert.match(api.value.body, /bob@gmail\.test/);
  });

  it('Gmail Change while signed in to Google lets the user pick another account', async (t) => {
    const s = await h.session(t);
    const { page } = s;
    await s.connect('google', 'alice@gmail.test');
    let authorizeUrl = null;
    s.context.on('request', (r) => {
      if (r.url().includes('/google/o/oauth2/v2/auth')) authorizeUrl ??= new URL(r.url());
    });
    const popupPromise = page.waitForEvent('popup', { timeout: WAIT_MS });
    await byTestId(page, 'change-google').click();
    await chooseMailService(page, 'google');
    const pages = await completeSignIn(await popupPromise, 'bob@gmail.test');
    assert.match(authorizeUrl?.searchParams.get('prompt') ?? '', /select_account/, `prompt sent: ${authorizeUrl?.searchParams.get('prompt')}`);
    assert.equal(pages[0]?.page, 'login', `the provider showed ${JSON.stringify(pages)}`);
  });

  it('Change on the Microsoft 365 card asks which service, starts from its own, and signs in to its own tenant whatever pill was picked since (issue 10)', async (t) => {
    const s = await h.session(t);
    const { page, context } = s;
    await s.connect('microsoft', 'alice@contoso.com');
    await byTestId(page, 'mail-service-outlook_com').check(); // the bug: this used to send Change to `consumers`
    const authorizeUrls = [];
    context.on('request', (r) => {
      if (r.url().includes('/oauth2/v2.0/authorize')) authorizeUrls.push(new URL(r.url()));
    });
    await byTestId(page, 'change-microsoft').click();
    assert.equal(await byTestId(page, 'change-service-microsoft-microsoft365').isChecked(), true, 'the card\'s own service, not the pill');
    const popup = page.waitForEvent('popup', { timeout: WAIT_MS });
    await chooseMailService(page, 'microsoft');
    await completeSignIn(await popup, 'bob@contoso.com');
    await waitForCard(page, 'microsoft', 'connected', 'bob@contoso.com');
    assert.ok(authorizeUrls.length > 0, 'saw the authorization request');
    assert.equal(authorizeUrls[0].pathname.split('/').at(-4), 'common', `the card's own tenant: ${authorizeUrls[0].pathname}`);
  });
});
