// AADSTS700084 (a Microsoft `spa` refresh token at its 24-hour limit) in the extension:
// with the provider's login session alive the engine renews with a non-interactive
// launchWebAuthFlow (no window); with the session gone it says so on the toolbar badge, in
// a notification and in the side panel, and Refresh reconnects through the login page.
//
//   node --test tests/extension/        (the engine must be built into pkg/ first)

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useExtension, byTestId, completeSignIn, eventually, WAIT_MS } from './helpers.mjs';

const x = useExtension();
const MINUTE = 60_000;
const ACCOUNT = 'alice@contoso.com';

/** Pages (windows, tabs) opened while `fn` runs. */
async function pagesOpenedDuring(fn) {
  const opened = [];
  const onPage = (p) => opened.push(p.url() || 'about:blank');
  x.context.on('page', onPage);
  try {
    const value = await fn();
    return { value, opened };
  } finally {
    x.context.off('page', onPage);
  }
}

async function refreshFailsWith700084() {
  await x.control('/fail-next', { provider: 'microsoft', endpoint: 'token', kind: 'error', code: '700084', grantType: 'refresh_token' });
  // Past the access token's expiry on the engine's clock (the emulator's Entra tokens live
  // 60-90 minutes, as Entra's do).
  await x.value('advanceClock', 120 * MINUTE);
  return x.call('accessToken', 'microsoft');
}

let panel;

describe('the 24-hour spa limit (AADSTS700084) in the extension', () => {
  it('provider session alive: a silent launchWebAuthFlow renews the grant, with no window', async () => {
    panel = await x.openPanel();
    await x.connect(panel, 'microsoft', ACCOUNT);
    const before = await x.debug('microsoft');
    await x.control('/reset-stats', {});

    const { value: result, opened } = await pagesOpenedDuring(refreshFailsWith700084);
    assert.equal(result.ok, true, `a token after the silent renewal: ${JSON.stringify(result)}`);
    assert.deepEqual(opened, [], 'no window or tab was opened');

    const stats = await x.stats();
    assert.equal(stats.microsoft.token.refresh_token, 1, 'the refresh that got AADSTS700084');
    assert.equal(stats.microsoft.authorize, 1, 'one authorization request (prompt=none)');
    assert.equal(stats.microsoft.token.authorization_code, 1, 'one new grant');
    const log = await x.control('/log?n=50');
    const authorize = log.findLast((e) => e.provider === 'microsoft' && e.endpoint === 'authorize');
    assert.match(authorize.path, /[?&]prompt=none(&|$)/, authorize.path);

    const after = await x.debug('microsoft');
    assert.equal(after.attention, null);
    assert.equal(after.refreshToken?.present, true, 'a new refresh token');
    assert.ok(after.refreshToken.signedInAt > before.refreshToken.signedInAt, 'a new 24 h horizon');
    const events = await x.value('eventLog');
    assert.ok(events.some((e) => e.kind === 'sign_in_opened' && e.detail === 'silent'), JSON.stringify(events.slice(-8)));
    await x.waitCard(panel, 'microsoft', 'connected', ACCOUNT);
    assert.deepEqual(await x.harness.evaluate(() => window.harness.badge()), { text: '', title: 'Sync Settings' });
  });

  it('provider session gone: badge, notification and the reason in the side panel; Refresh reconnects', async () => {
    panel ??= await x.openPanel();
    if (!(await x.debug('microsoft'))?.refreshToken?.present) await x.connect(panel, 'microsoft', ACCOUNT);
    await x.control('/end-sessions', { provider: 'microsoft' });
    await x.control('/reset-stats', {});

    const { value: result, opened } = await pagesOpenedDuring(refreshFailsWith700084);
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'needs_attention', JSON.stringify(result));
    assert.deepEqual(opened, [], 'the silent attempt showed nothing');
    const stats = await x.stats();
    assert.equal(stats.microsoft.authorize, 1, 'the silent attempt was made');
    assert.equal(stats.microsoft.token.authorization_code, 0, 'and got no code (login_required)');

    // Toolbar badge and title.
    const badge = await eventually(async () => {
      const b = await x.harness.evaluate(() => window.harness.badge());
      return b.text === '!' ? b : null;
    }, { message: 'the badge' });
    assert.match(badge.title, /Microsoft 365 needs you/);

    // A notification naming the service and the reason in plain words.
    const card = await x.card('microsoft');
    assert.equal(card.status, 'needs_attention');
    assert.ok(card.reasonText, JSON.stringify(card));
    const notifications = await eventually(async () => {
      const all = await x.harness.evaluate(() => window.harness.notifications());
      return 'sidebar-auth:microsoft' in all ? all : null;
    }, { message: 'the notification' });
    assert.deepEqual(Object.keys(notifications), ['sidebar-auth:microsoft']);

    // The side panel shows the reason and offers Refresh.
    await x.waitCard(panel, 'microsoft', 'needs_attention');
    assert.equal((await byTestId(panel, 'reason-microsoft').textContent()).trim(), card.reasonText);
    assert.equal(await byTestId(panel, 'refresh-microsoft').count(), 1, 'Refresh is offered');

    // Clicking the notification opens Sync Settings (the side panel, or a tab where no
    // panel can open, as in headless Chromium) and clears it.
    const clicked = await x.send({ type: 'sidebar-auth-test:notification-click', id: 'sidebar-auth:microsoft' });
    const how = clicked.result?.opened;
    assert.ok(how === 'side_panel' || how === 'tab', JSON.stringify(clicked));
    if (how === 'tab') {
      const tab = await eventually(
        () => x.context.pages().find((p) => p !== panel && p.url() === `${x.origin}/sidepanel.html`),
        { message: 'Sync Settings in a tab' },
      );
      await tab.close();
    }
    assert.deepEqual(await x.harness.evaluate(() => window.harness.notifications()), {});

    // Refresh: the provider's login page in the launchWebAuthFlow window, the account pre-filled.
    const windowPromise = x.context.waitForEvent('page', { timeout: WAIT_MS });
    await byTestId(panel, 'refresh-microsoft').click();
    const pages = await completeSignIn(await windowPromise, ACCOUNT);
    assert.deepEqual(pages[0], { page: 'login', prefilled: ACCOUNT });
    await x.waitCard(panel, 'microsoft', 'connected', ACCOUNT);
    assert.equal((await x.stats()).microsoft.token.authorization_code, 1);

    await eventually(async () => (await x.harness.evaluate(() => window.harness.badge())).text === '', { message: 'the badge cleared' });
    assert.deepEqual(await x.harness.evaluate(() => window.harness.notifications()), {});
    assert.deepEqual(x.pageErrors, [], 'no uncaught errors in extension pages');
  });
});
