// The Outlook add-in end to end: the real task pane, dialog start and callback pages, the
// real engine, real Chromium, the emulated identity providers, all over https on loopback,
// with the task pane framed by an emulated Outlook on the web on another site and the
// Office dialog as a pop-up (tests/addin/office-double).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useAddin, advance, byTestId, completeSignIn, eventually, WAIT_MS } from './helpers.mjs';

const a = useAddin();

/** No token the providers handed out appears in `text`. */
function assertNoSecrets(secrets, text, where) {
  assert.ok(secrets.length > 0, 'the test saw tokens to look for');
  for (const t of secrets) assert.equal(text.includes(t), false, `a token appears in ${where}`);
}

describe('Outlook add-in: task pane and Office dialog', () => {
  it('connects Microsoft 365 (login_hint = the mailbox) and Salesforce; tokens stay out of DOM, console and storage; a reloaded task pane keeps its connections', async (t) => {
    const ctx = await a.context(t);
    const s = await a.open(ctx, { mailbox: 'bob@contoso.com' });
    assert.equal(s.ready, 'true');

    const msPages = await s.connect('microsoft', 'bob@contoso.com');
    // The mailbox address is the default login_hint of the mail section's sign-ins.
    assert.deepEqual(msPages[0], { page: 'login', prefilled: 'bob@contoso.com' });
    const sfPages = await s.connect('salesforce', 'alice@acme.test');
    assert.equal(sfPages[0].prefilled, 'alice@acme.test', 'the CRM card keeps its own username');

    const office = await s.office();
    assert.equal(office.dialogsOpened, 2);
    // Each sign-in came back through messageParent from the add-in's own origin.
    const delivered = office.events.filter((e) => e.what === 'message-delivered');
    assert.equal(delivered.length, 2);
    for (const e of delivered) assert.equal(e.from, a.env.addinBase);
    assert.equal(office.events.filter((e) => e.what === 'dialog-event').length, 0, 'no 12006: the add-in closed its dialogs');

    assert.equal((await s.auth('fetch', 'microsoft', `${a.env.idp.base}/graph/v1.0/me`)).value?.status, 200);
    const secrets = await ctx.tokens.secrets();
    assertNoSecrets(secrets, await s.frame.content(), 'the task pane DOM');
    assertNoSecrets(secrets, await s.host.content(), 'the Outlook page DOM');
    assertNoSecrets(secrets, ctx.console.join('\n'), 'the console');
    const storage = await s.storageDump();
    assertNoSecrets(secrets, storage, 'storage');
    // Keys carry Office.context.partitionKey; the session-cache key cannot leave WebCrypto.
    const dump = JSON.parse(storage);
    const pk = `${ctx.pk}:`;
    const keys = dump.idb['sidebar-auth-addin'].kv.map(([k]) => k).filter((k) => k.startsWith(pk));
    assert.deepEqual(keys.sort(), [`${pk}session`, `${pk}session-key`, `${pk}vault`].sort());
    assert.equal(JSON.stringify(dump.local), '{}', 'nothing in localStorage');
    assert.deepEqual(dump.idb['sidebar-auth-addin'].kv.find(([k]) => k === `${pk}session-key`)[1], { CryptoKey: { extractable: false } });

    // Reload the task pane (Outlook re-creates it): still connected, no sign-in.
    const before = (await ctx.tokens.all()).length;
    await s.frame.goto(s.frame.url());
    await s.frame.waitForSelector('body[data-ready="true"]', { timeout: WAIT_MS });
    await s.waitCard('microsoft', 'connected', 'bob@contoso.com');
    await s.waitCard('salesforce', 'connected', 'alice@acme.test');
    const after = (await ctx.tokens.all()).slice(before);
    assert.equal(after.filter((x) => x.grantType === 'authorization_code').length, 0, 'no sign-in after the reload');
  });

  it('12006: the user closes the dialog; the card goes back to what it was', async (t) => {
    const ctx = await a.context(t);
    const s = await a.open(ctx);
    await s.startChange('microsoft');
    const dialog = await s.allow();
    await dialog.waitForSelector('input[name=login]', { timeout: WAIT_MS });
    await dialog.close();
    await eventually(async () => (await s.toast()).includes('closed'), { message: 'the closed-window message' });
    await s.waitCard('microsoft', 'disconnected');
    const office = await s.office();
    assert.deepEqual(office.events.filter((e) => e.what === 'dialog-event').map((e) => e.code), [12006]);
  });

  it('12007: a second sign-in waits for the open dialog to close, then opens its own once', async (t) => {
    const ctx = await a.context(t);
    const s = await a.open(ctx);
    await s.startChange('salesforce', 'alice@acme.test');
    const first = await s.allow();
    await first.waitForSelector('input[name=login]', { timeout: WAIT_MS });
    // Microsoft while the Salesforce dialog is open: Office answers 12007.
    await s.startChange('microsoft');
    await eventually(async () => (await s.office()).events.some((e) => e.what === 'dialog-refused' && e.code === 12007), { message: '12007' });
    assert.equal(await byTestId(s.host, 'office-prompt').count(), 0, 'no second prompt while the first dialog is open');
    // The user closes the Salesforce dialog; the Microsoft sign-in then opens by itself.
    await first.close();
    const second = await s.allow();
    await completeSignIn(second, 'alice@contoso.com');
    await s.waitCard('microsoft', 'connected', 'alice@contoso.com');
    await s.waitCard('salesforce', 'disconnected');
    const office = await s.office();
    assert.equal(office.dialogsOpened, 2);
    assert.equal(office.events.filter((e) => e.code === 12007).length, 1, 'retried once, successfully');
  });

  it('12011: pop-ups blocked; the task pane says how to allow them', async (t) => {
    const ctx = await a.context(t);
    const s = await a.open(ctx, { popups: 'blocked' });
    await s.startChange('microsoft');
    await byTestId(s.host, 'office-prompt-allow').click();
    const host = new URL(a.env.outlookBase).host;
    await eventually(async () => (await s.toast()).includes(`Allow pop-ups for ${host}`), { message: 'the pop-up advice' });
    assert.match(await s.toast(), /Always allow/);
    await s.waitCard('microsoft', 'disconnected');
    assert.equal((await s.office()).dialogsOpened, 0);
  });

  it('12009: the user ignores the prompt; the task pane says to choose Allow', async (t) => {
    const ctx = await a.context(t);
    const s = await a.open(ctx);
    await s.startChange('microsoft');
    await byTestId(s.host, 'office-prompt-ignore').click();
    await eventually(async () => (await s.toast()).includes('choose Allow'), { message: 'the Ignore advice' });
    await s.waitCard('microsoft', 'disconnected');
    const refused = (await s.office()).events.filter((e) => e.what === 'dialog-refused').map((e) => e.code);
    assert.deepEqual(refused, [12009]);
  });

  it('a refresh failure shows its reason, and Refresh reconnects through the dialog', async (t) => {
    const ctx = await a.context(t);
    const s = await a.open(ctx);
    await s.connect('microsoft', 'alice@contoso.com');
    await a.env.control('/fail-next', { provider: 'microsoft', endpoint: 'token', kind: 'error', code: '50173' });
    // Past the access token's life (Entra: 60-90 minutes, as the emulator now hands out).
    await advance(s, 95);
    const r = await s.auth('accessToken', 'microsoft');
    assert.equal(r.error?.code, 'needs_attention', JSON.stringify(r));
    await s.waitCard('microsoft', 'needs_attention');
    assert.equal(
      (await byTestId(s.frame, 'reason-microsoft').textContent()).trim(),
      'Your password was changed or your sessions were signed out. Sign in again.',
    );
    await byTestId(s.frame, 'refresh-microsoft').click();
    const dialog = await s.allow();
    await completeSignIn(dialog, 'alice@contoso.com');
    await s.waitCard('microsoft', 'connected', 'alice@contoso.com');
  });

  it('two task panes (two Outlook windows) make one token request', async (t) => {
    const ctx = await a.context(t);
    const one = await a.open(ctx);
    await one.connect('microsoft', 'alice@contoso.com');
    const two = await a.open(ctx);
    await two.waitCard('microsoft', 'connected', 'alice@contoso.com');
    // Counted from before the clocks move: a pane's own timer may renew as soon as its clock
    // passes the refresh time, and that renewal is the one refresh the two panes may make.
    const before = (await ctx.tokens.all()).filter((x) => x.grantType === 'refresh_token').length;
    await advance(one, 95);
    await advance(two, 95);
    const [r1, r2] = await Promise.all([one.auth('accessToken', 'microsoft'), two.auth('accessToken', 'microsoft')]);
    assert.equal(r1.ok && r2.ok, true, JSON.stringify([r1, r2]));
    assert.equal(r1.value, r2.value, 'both panes use the one renewed token');
    const refreshes = (await ctx.tokens.all()).filter((x) => x.grantType === 'refresh_token').length - before;
    assert.equal(refreshes, 1, 'one refresh for two task panes');
  });

  it('a webview without WebAssembly says so and what to do', async (t) => {
    const ctx = await a.context(t);
    // As in Trident/EdgeHTML: no WebAssembly in the task pane's webview.
    const s = await a.open(ctx, {}, { initScript: () => delete globalThis.WebAssembly });
    assert.equal(s.ready, 'unsupported');
    const text = await byTestId(s.frame, 'unsupported').textContent();
    assert.match(text, /cannot run in this version of Outlook/);
    assert.match(text, /Outlook on the web/);
  });

  it('the Office double keeps the documented rules: https (12005), the add-in origin (12004), DialogOrigin', async (t) => {
    const ctx = await a.context(t);
    const s = await a.open(ctx);
    const codes = await s.frame.evaluate(async (outlookBase) => {
      const open = (url) => new Promise((r) => Office.context.ui.displayDialogAsync(url, {}, (res) => r(res.status === 'failed' ? res.error.code : 'ok')));
      return {
        http: await open(location.href.replace('https:', 'http:')),
        otherSite: await open(`${outlookBase}/addin-manifest/dialog-start.html`),
        dialogOrigin: Office.context.requirements.isSetSupported('DialogOrigin', '1.1'),
        dialogApi13: Office.context.requirements.isSetSupported('DialogApi', '1.3'),
      };
    }, a.env.outlookBase);
    assert.deepEqual(codes, { http: 12005, otherSite: 12004, dialogOrigin: true, dialogApi13: false });
  });

  it('the Office double routes messageParent by the documented origin rules', async (t) => {
    const ctx = await a.context(t);
    const s = await a.open(ctx);
    // A dialog of the task pane's own, on an add-in page that loads office.js (the callback
    // page without a code: the test only uses its Office).
    const popup = s.host.waitForEvent('popup', { timeout: WAIT_MS });
    const received = s.frame.evaluate(() => new Promise((resolve) => {
      Office.context.ui.displayDialogAsync(`${location.origin}/addin-manifest/callback.html`, {}, (res) => {
        const got = [];
        res.value.addEventHandler(Office.EventType.DialogMessageReceived, (arg) => {
          got.push({ message: arg.message, origin: arg.origin });
          if (arg.message === 'to-the-add-in') resolve(got);
        });
      });
    }));
    await byTestId(s.host, 'office-prompt-allow').click();
    const dialog = await popup;
    await dialog.waitForFunction(() => window.Office?.context?.ui?.messageParent, null, { timeout: WAIT_MS });
    await dialog.evaluate(() => {
      Office.context.ui.messageParent('to-elsewhere', { targetOrigin: 'https://elsewhere.example.test' });
      Office.context.ui.messageParent('to-the-add-in', { targetOrigin: location.origin });
    });
    const got = await received;
    assert.deepEqual(got.map((g) => g.message).filter((m) => m.startsWith('to-')), ['to-the-add-in'], 'the message for another origin is not delivered');
    assert.equal(got.at(-1).origin, a.env.addinBase, 'DialogOrigin 1.1: the event says who sent it');
    assert.equal((await s.office()).messagesDropped, 1);
  });
});
