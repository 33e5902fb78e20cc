// On-premises Exchange in the REAL extension against the emulated Exchange
// (tests/idp/exchange.mjs, EXCHANGE.md): the worker verifies a login and password with EWS
// GetFolder and keeps them in the sealed vault; "I'm not sure" looks the address up; a
// password changed on the server is said on the card and never tried again by itself.
// The emulator's request log (idp.exchange.requests: scheme, host, Authorization scheme and
// login, never the password) is what proves where credentials went and how often.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { useExtension, eventually, completeSignIn, byTestId, WAIT_MS } from './helpers.mjs';
import { chooseMailService } from '../support/browser.mjs';

const x = useExtension();
const CONTOSO_EWS = 'https://mail.contoso.test/EWS/Exchange.asmx';
const PASSWORD = 'Exchange-Pass-1';

const FIND_INBOX = `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
<soap:Body><m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>
<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem></soap:Body></soap:Envelope>`;

const log = () => x.idp.exchange.requests;
const withCredentials = (entries) => entries.filter((e) => e.authorization);

/** Everything a password could leak into, as text. */
async function everywhere() {
  const [local, session, events, debug, view] = await Promise.all([
    x.harness.evaluate(() => window.harness.local()),
    x.harness.evaluate(() => window.harness.session()),
    x.value('eventLog'),
    x.value('debugState'),
    x.value('view'),
  ]);
  return JSON.stringify({ local, session, events, debug, view });
}

let panel;
const consoleLines = [];
describe('on-premises Exchange in the extension', () => {
  before(async () => {
    panel = await x.openPanel();
    // Everything the worker and the panel print, to check no password is among it.
    x.worker?.on('console', (m) => consoleLines.push(m.text()));
    panel.on('console', (m) => consoleLines.push(m.text()));
    // The hosts the side panel would ask for at run time are granted by the test build
    // (build-extension.mjs; the prompt cannot be answered headless, extension/README.md).
    const granted = await panel.evaluate(() => chrome.permissions.getAll());
    assert.ok(granted.origins.includes('https://*.contoso.test/*'), JSON.stringify(granted.origins));
    assert.ok(!granted.origins.some((o) => o.includes('elsewhere.test')), 'a redirect target off the domain is not granted');
  });

  it('connects with a typed EWS URL: one GetFolder with Basic over https, then the sidebar reads the inbox', async () => {
    x.idp.exchange.reset();
    const view = await x.value('signInWithPassword', 'exchange', { login: 'CONTOSO\\alex', password: PASSWORD, ewsUrl: CONTOSO_EWS });
    const card = view.sections[0].connections.find((c) => c.service === 'exchange');
    assert.equal(card.status, 'connected');
    assert.equal(card.account, 'CONTOSO\\alex');
    assert.equal(card.loginHost, CONTOSO_EWS);
    const sent = withCredentials(log());
    assert.deepEqual(sent.map((e) => [e.scheme, e.host, e.authorization, e.login, e.ewsOperation, e.auth]), [
      ['https', 'mail.contoso.test', 'Basic', 'CONTOSO\\alex', 'GetFolder', 'accepted'],
    ]);
    const r = await x.call('fetch', 'exchange', CONTOSO_EWS, { method: 'POST', headers: { 'Content-Type': 'text/xml; charset=utf-8' }, body: FIND_INBOX });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.value.status, 200);
    assert.match(r.value.body, /NoError/);
    // The password is never handed out, not even to the extension's own pages.
    const token = await x.call('accessToken', 'exchange');
    assert.equal(token.ok, false);
    assert.equal(token.error.code, 'not_available');
  });

  it('a password changed on the server: the card says so, no second attempt, Refresh with the new one reconnects', async () => {
    x.idp.exchange.setPassword('alex@contoso.test', 'Exchange-Pass-1b');
    const before = log().length;
    const r = await x.call('fetch', 'exchange', CONTOSO_EWS, { method: 'POST', headers: { 'Content-Type': 'text/xml; charset=utf-8' }, body: FIND_INBOX });
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'needs_attention');
    assert.equal(r.error.reason, 'credentials_rejected');
    const card = await x.card('exchange');
    assert.equal(card.status, 'needs_attention');
    assert.equal(card.statusText, 'Password rejected');
    assert.equal(card.action, 'refresh');
    // Nothing sends the old password again by itself: more calls, a tick, the network back.
    await x.call('fetch', 'exchange', CONTOSO_EWS, { method: 'POST', body: FIND_INBOX });
    await x.call('tick');
    await x.call('online');
    const after = log().slice(before);
    assert.deepEqual(after.map((e) => [e.authorization, e.auth]), [['Basic', 'rejected']], 'exactly one attempt with the old password');
    // Refresh: the new password only.
    const view = await x.value('signInWithPassword', 'exchange', { password: 'Exchange-Pass-1b' });
    assert.equal(view.sections[0].connections.find((c) => c.service === 'exchange').status, 'connected');
    const ok = await x.call('fetch', 'exchange', CONTOSO_EWS, { method: 'POST', headers: { 'Content-Type': 'text/xml; charset=utf-8' }, body: FIND_INBOX });
    assert.equal(ok.value?.status, 200);
    x.idp.exchange.setPassword('alex@contoso.test', PASSWORD);
  });

  it('"I\'m not sure": a Microsoft 365 address goes to Microsoft, an on-premises one to its server after confirmation', async () => {
    x.idp.exchange.reset();
    const m365 = await x.value('discoverMailService', 'megan@m365.test');
    assert.equal(m365.mailService, 'microsoft365');
    assert.equal(m365.email, 'megan@m365.test');
    const contoso = await x.value('discoverMailService', 'alex@contoso.test');
    assert.equal(contoso.mailService, 'exchange');
    assert.equal(contoso.host, 'autodiscover.contoso.test');
    assert.equal(contoso.autodiscoverUrl, 'https://autodiscover.contoso.test/autodiscover/autodiscover.xml');
    const gmail = await x.value('discoverMailService', 'kim@gmail.com');
    assert.deepEqual([gmail.mailService, gmail.assumed], ['gmail', true]);
    assert.deepEqual(withCredentials(log()), [], 'the lookup sends no credentials');
    // The user confirmed autodiscover.contoso.test: autodiscover with credentials, then EWS.
    const view = await x.value('signInWithPassword', 'exchange', {
      login: 'alex@contoso.test', password: PASSWORD, email: 'alex@contoso.test',
      autodiscoverUrl: contoso.autodiscoverUrl, confirmedHost: contoso.host,
    });
    assert.equal(view.sections[0].connections.find((c) => c.service === 'exchange').loginHost, CONTOSO_EWS);
    assert.deepEqual(withCredentials(log()).map((e) => [e.scheme, e.host, e.operation]), [
      ['https', 'autodiscover.contoso.test', 'autodiscover'],
      ['https', 'mail.contoso.test', 'ews'],
    ]);
  });

  it('fabrikam: the http step\'s redirect to https is found, shown, and used only once confirmed', async () => {
    x.idp.exchange.reset();
    const f = await x.value('discoverMailService', 'sam@fabrikam.test');
    assert.equal(f.mailService, 'exchange');
    assert.equal(f.host, 'mail.fabrikam.test');
    assert.match(f.summary, /redirected to mail\.fabrikam\.test/);
    assert.deepEqual(withCredentials(log()), []);
    await x.value('signInWithPassword', 'exchange', { login: 'FABRIKAM\\sam', password: 'Exchange-Pass-2', email: 'sam@fabrikam.test', autodiscoverUrl: f.autodiscoverUrl, confirmedHost: f.host });
    assert.equal((await x.card('exchange')).loginHost, 'https://mail.fabrikam.test/EWS/Exchange.asmx');
    assert.ok(withCredentials(log()).every((e) => e.scheme === 'https' && e.host === 'mail.fabrikam.test'), JSON.stringify(withCredentials(log())));
  });

  it('autodiscover that redirects to http or to another domain is refused with a clear answer, no credentials sent', async () => {
    x.idp.exchange.reset();
    const toHttp = await x.value('discoverMailService', 'pat@redirect-http.test');
    assert.equal(toHttp.mailService, 'not_sure');
    // The redirect's http target is not a host the extension may reach, so the browser does
    // not follow it either; where it could, the engine says "not https: it was not followed"
    // (src/provider/discover.rs tests).
    assert.match(toHttp.summary, /Redirects to http or to a server outside the domain are not followed/);
    const away = await x.value('discoverMailService', 'robin@redirect-away.test');
    assert.equal(away.mailService, 'not_sure');
    assert.match(away.summary, /outside the domain are not followed/);
    assert.deepEqual(withCredentials(log()), []);
    assert.ok(!log().some((e) => e.host?.endsWith('elsewhere.test') && e.authorization), 'nothing with credentials to elsewhere.test');
    // Credentials to an http autodiscover URL are refused before anything is sent.
    const r = await x.call('signInWithPassword', 'exchange', { login: 'pat', password: 'Exchange-Pass-3', autodiscoverUrl: 'http://mail.redirect-http.test/autodiscover/autodiscover.xml', confirmedHost: 'mail.redirect-http.test' });
    assert.equal(r.ok, false);
    assert.deepEqual(withCredentials(log()), []);
  });

  it('NTLM-only and Bearer-only servers are explained, not retried', async () => {
    x.idp.exchange.reset();
    const ntlm = await x.call('signInWithPassword', 'exchange', { login: 'kim@ntlm.test', password: 'Exchange-Pass-5', ewsUrl: 'https://mail.ntlm.test/EWS/Exchange.asmx' });
    assert.deepEqual([ntlm.ok, ntlm.error.reason, ntlm.error.action], [false, 'password_scheme_unsupported', 'contact_admin']);
    assert.match(ntlm.error.message, /NTLM|Windows sign-in/);
    const hybrid = await x.call('signInWithPassword', 'exchange', { login: 'lee@hybrid.test', password: 'Exchange-Pass-6', ewsUrl: 'https://mail.hybrid.test/EWS/Exchange.asmx' });
    assert.deepEqual([hybrid.ok, hybrid.error.reason], [false, 'modern_auth_required']);
    assert.equal(log().filter((e) => e.authorization === 'Basic').length, 2, 'one attempt each');
    // A failed Change left the connection as it was.
    assert.equal((await x.card('exchange')).status, 'connected');
  });

  it('no password in storage (plaintext), the event log and debugState (the support export), the view, the console or the panel\'s DOM', async () => {
    const text = (await everywhere()) + consoleLines.join('\n');
    for (const secret of ['Exchange-Pass-1', 'Exchange-Pass-1b', 'Exchange-Pass-2', Buffer.from('FABRIKAM\\sam:Exchange-Pass-2').toString('base64')]) {
      assert.ok(!text.includes(secret), `${secret} leaked`);
    }
    const dom = await panel.content();
    assert.ok(!dom.includes('Exchange-Pass'), 'not in the panel DOM');
    assert.deepEqual(x.pageErrors, []);
  });

  it('switching Exchange → Microsoft 365 → Exchange in Change leaves one mail connection; the old one is ended', async () => {
    const mail = async () => (await x.value('view')).sections[0].connections.filter((c) => c.account).map((c) => c.service);
    assert.deepEqual(await mail(), ['exchange']);
    // Change → "Microsoft 365 (work or school)": the chooser's choice (connect with mailService).
    const signInWindow = x.context.waitForEvent('page', { timeout: WAIT_MS });
    const switched = x.call('connect', 'microsoft', { mailService: 'microsoft365', loginHint: 'alice@contoso.com' });
    await completeSignIn(await signInWindow, 'alice@contoso.com');
    assert.equal((await switched).ok, true, JSON.stringify(await switched));
    assert.deepEqual(await mail(), ['microsoft']);
    assert.equal((await x.debug('exchange'))?.account ?? null, null, 'the Exchange password is forgotten');
    // Back to Exchange by its server: Microsoft's connection is ended once Exchange is stored.
    await x.value('signInWithPassword', 'exchange', { login: 'alex@contoso.test', password: PASSWORD, ewsUrl: CONTOSO_EWS });
    assert.deepEqual(await mail(), ['exchange']);
    const events = await x.value('eventLog');
    assert.ok(events.some((e) => e.service === 'microsoft' && e.kind === 'disconnect_requested'), JSON.stringify(events.slice(-8)));
    await eventually(async () => (await x.value('view')).sections[0].mailService === 'exchange');
  });

  it('in the side panel, Change asks which service: Exchange → Microsoft 365 → Exchange → Gmail → Microsoft 365, one mail connection each time, the old grants ended', async () => {
    const mail = async () => (await x.value('view')).sections[0].connections.filter((c) => c.account).map((c) => c.service);
    const onlyMail = (service) => eventually(async () => JSON.stringify(await mail()) === JSON.stringify([service]), { message: `only ${service} left` });
    assert.deepEqual(await mail(), ['exchange'], 'where the previous test left it');
    const revokedAtGoogle = (await x.stats()).google.revoke;
    /** Change on `card`, pick `choice`, Sign in, and the provider's pages in the window. */
    const switchBySignIn = async (card, choice, login) => {
      const signInWindow = x.context.waitForEvent('page', { timeout: WAIT_MS });
      await byTestId(panel, `change-${card}`).click();
      assert.equal(await chooseMailService(panel, card, choice), true, 'Change opened the chooser');
      await completeSignIn(await signInWindow, login);
    };

    await switchBySignIn('exchange', 'microsoft365', 'alice@contoso.com');
    await x.waitCard(panel, 'microsoft', 'connected', 'alice@contoso.com');
    await onlyMail('microsoft');
    assert.equal((await x.debug('exchange'))?.account ?? null, null, 'the Exchange password is forgotten');

    // Microsoft 365 → Exchange: the mailbox login typed inside the chooser.
    x.idp.exchange.reset();
    await byTestId(panel, 'change-microsoft').click();
    await byTestId(panel, 'change-service-microsoft-exchange').check();
    const chooser = byTestId(panel, 'change-service-microsoft');
    await chooser.getByTestId('password-email-exchange').fill('alex@contoso.test');
    await chooser.getByTestId('password-password-exchange').fill(PASSWORD);
    await chooser.locator('summary', { hasText: 'Advanced' }).click();
    await chooser.getByTestId('password-ewsUrl-exchange').fill(CONTOSO_EWS);
    await chooser.getByTestId('password-submit-exchange').click();
    await x.waitCard(panel, 'exchange', 'connected');
    await onlyMail('exchange');
    assert.deepEqual(withCredentials(log()).map((e) => [e.scheme, e.ewsOperation]), [['https', 'GetFolder']], 'one verify, over https');
    assert.equal((await x.debug('microsoft'))?.refreshToken?.present ?? false, false, 'Microsoft\'s grant is gone from the vault');
    const events = await x.value('eventLog');
    assert.ok(events.some((e) => e.service === 'microsoft' && e.kind === 'disconnect_requested'), JSON.stringify(events.slice(-8)));

    await switchBySignIn('exchange', 'gmail', 'alice@gmail.test');
    await x.waitCard(panel, 'google', 'connected', 'alice@gmail.test');
    await onlyMail('google');

    // Gmail → Microsoft 365: Google's grant is revoked at Google (RFC 7009), after the new one is stored.
    await switchBySignIn('google', 'microsoft365', 'alice@contoso.com');
    await x.waitCard(panel, 'microsoft', 'connected', 'alice@contoso.com');
    await onlyMail('microsoft');
    await eventually(async () => (await x.stats()).google.revoke === revokedAtGoogle + 1, { message: 'one revocation at Google' });
    assert.equal((await x.value('view')).sections[0].mailService, 'microsoft365', 'the pill follows the connection');
  });

  it('"Microsoft Exchange" chosen for an Exchange Online address: the lookup says so and Continue signs in with Microsoft, the address filled in; no password sent', async () => {
    x.idp.exchange.reset();
    await byTestId(panel, 'change-microsoft').click();
    await byTestId(panel, 'change-service-microsoft-exchange').check();
    const chooser = byTestId(panel, 'change-service-microsoft');
    await chooser.getByTestId('password-email-exchange').fill('bob@contoso.com');
    await chooser.getByTestId('password-password-exchange').fill('Not-Sent-7');
    await chooser.getByTestId('password-submit-exchange').click();
    const confirm = chooser.getByTestId('password-finding-exchange-confirm');
    await confirm.waitFor({ timeout: WAIT_MS });
    assert.match(await chooser.getByTestId('password-finding-exchange-summary').textContent(), /Microsoft 365/);
    const signInWindow = x.context.waitForEvent('page', { timeout: WAIT_MS });
    await confirm.click();
    await completeSignIn(await signInWindow, 'bob@contoso.com');
    await x.waitCard(panel, 'microsoft', 'connected', 'bob@contoso.com');
    // The emulator's request log: the authorization request carried the address.
    const authorizations = (await x.control('/log?n=300')).filter((e) => e.provider === 'microsoft' && e.endpoint === 'authorize' && e.path.includes('client_id='));
    const hint = new URL(authorizations.at(-1)?.path ?? '/', 'http://x').searchParams.get('login_hint');
    assert.equal(hint, 'bob@contoso.com', JSON.stringify(authorizations.at(-1)));
    assert.deepEqual(withCredentials(log()), [], 'the password was sent nowhere');
    assert.ok(!(await everywhere()).includes('Not-Sent-7'));
  });
});
