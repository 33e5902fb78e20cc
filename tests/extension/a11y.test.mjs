// Accessibility of the Chrome extension's side panel (issue 14, WCAG 2.2 AA): the dashboard of
// www/ as the real unpacked extension shows it (sidepanel.html, its own stylesheet and CSP),
// over the engine in the service worker, against the local identity providers.
//
// - axe-core, WCAG 2.0/2.1/2.2 A and AA rules (support/axe.mjs), at 1280 and 360 px wide, in
//   five states: empty, one connected, all connected, the Salesforce Change form with a saved
//   username, a card needing attention.
// - 4.1.3: a card that needs attention after a refresh in the worker is announced.
// - 2.4.3 / 2.4.11: a Tab walk at 360 x 640 with the error toast shown.
// - 2.5.3: a card paused after repeated failures, whose "Try again" button axe's
//   label-content-name-mismatch rule checks (switched on in support/axe.mjs).
//
// States are reached through the panel's buttons and the providers' pages; the engine's clock
// is moved with the TEST build's message (as the other extension suites do).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useExtension, byTestId, WAIT_MS } from './helpers.mjs';
import { chooseMailService, submitSalesforceChange } from '../support/browser.mjs';
import { axeRun, axeViolations, formatViolations, inputBorderContrast, tabWalk, orderProblems, coveredStops } from '../support/axe.mjs';

const x = useExtension();
const MINUTE = 60_000;
const VIEWPORTS = [
  { width: 1280, height: 900 },
  { width: 360, height: 640 },
];
const ACCOUNT = { microsoft: 'alice@contoso.com', google: 'alice@gmail.test', salesforce: 'alice@acme.test' };

let panel;

async function auditBothWidths(state, t) {
  const found = {};
  for (const vp of VIEWPORTS) {
    await panel.setViewportSize(vp);
    await panel.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const v = await axeViolations(panel);
    found[vp.width] = v;
    t.diagnostic(`side panel, ${state} @ ${vp.width}px: ${v.length} axe violation(s)${v.length ? ': ' + v.map((y) => y.id).join(', ') : ''}`);
  }
  await panel.setViewportSize(VIEWPORTS[0]);
  for (const [width, v] of Object.entries(found)) assert.deepEqual(v, [], `side panel, ${state} at ${width} px:\n${formatViolations(v)}`);
}

describe('accessibility of the side panel (real extension, axe-core, WCAG 2.2 AA)', () => {
  it('empty: no axe violation at 1280 and 360 px', async (t) => {
    panel = await x.openPanel();
    await auditBothWidths('empty', t);
  });

  it('one connected: no axe violation at 1280 and 360 px', async (t) => {
    await x.connect(panel, 'microsoft', ACCOUNT.microsoft);
    await auditBothWidths('one connected', t);
    assert.equal(await byTestId(panel, 'status-messages').textContent(), 'Microsoft 365: Connected (alice@contoso.com).', 'announced (4.1.3)');
  });

  it('all connected: no axe violation at 1280 and 360 px', async (t) => {
    await x.connect(panel, 'google', ACCOUNT.google);
    await x.connect(panel, 'salesforce', ACCOUNT.salesforce);
    await auditBothWidths('all connected', t);
  });

  it('the Salesforce Change form with a saved username: no axe violation; text fields at 3:1', async (t) => {
    await byTestId(panel, 'change-salesforce').click();
    await byTestId(panel, 'change-form-salesforce').waitFor({ timeout: WAIT_MS });
    assert.equal(await byTestId(panel, 'change-choice-salesforce-saved:0').isChecked(), true, 'the saved username is offered first');
    await auditBothWidths('Change form (saved username)', t);
    await byTestId(panel, 'change-choice-salesforce-new').check();
    await byTestId(panel, 'change-host-salesforce-custom').check();
    await byTestId(panel, 'change-custom-host-salesforce').waitFor({ timeout: WAIT_MS });
    const contrast = await inputBorderContrast(panel);
    assert.equal(contrast.checked, 2);
    assert.deepEqual(contrast.failures, [], 'text-field borders reach 3:1');
    await byTestId(panel, 'change-cancel-salesforce').click();
    await byTestId(panel, 'change-form-salesforce').waitFor({ state: 'detached', timeout: WAIT_MS });
  });

  it('Tab walk at 360 x 640 with the error toast shown: order follows the layout, nothing covers the focused control', async (t) => {
    // An error toast: a Change whose sign-in window is closed before signing in.
    const authWindow = x.context.waitForEvent('page', { timeout: WAIT_MS });
    await byTestId(panel, 'change-google').click();
    await chooseMailService(panel, 'google');
    await (await authWindow).close();
    await panel.waitForSelector('.sa-toast[data-empty="false"]', { timeout: WAIT_MS });
    await x.waitCard(panel, 'google', 'connected');

    await panel.setViewportSize(VIEWPORTS[1]);
    const stops = await tabWalk(panel);
    t.diagnostic(`side panel 360px: ${stops.length} tab stops; covered: ${coveredStops(stops).join(' | ') || 'none'}; out of order: ${orderProblems(stops).length}`);
    const keys = stops.map((s) => s.key);
    for (const id of ['disconnect-microsoft', 'disconnect-google', 'disconnect-salesforce', 'errors-dismiss']) assert.ok(keys.includes(id), `${id}: ${keys.join(', ')}`);
    assert.deepEqual(coveredStops(stops), [], 'no focused control is covered (2.4.11)');
    assert.deepEqual(orderProblems(stops), [], 'focus order follows the layout (2.4.3)');
    await panel.setViewportSize(VIEWPORTS[0]);
    await byTestId(panel, 'errors-dismiss').click();
  });

  it('a card needing attention after a refresh in the worker: announced (4.1.3); no axe violation at 1280 and 360 px', async (t) => {
    // A password change at Microsoft: refresh token revoked, browser sessions ended.
    await x.control('/end-sessions', { provider: 'microsoft' });
    await x.control('/fail-next', { provider: 'microsoft', endpoint: 'token', kind: 'error', code: '50173' });
    // Past the access token's life: Entra's are 60-90 minutes (the emulator's default).
    await x.value('advanceClock', 120 * MINUTE);
    const r = await x.call('accessToken', 'microsoft');
    assert.equal(r.ok, false, JSON.stringify(r));
    await x.waitCard(panel, 'microsoft', 'needs_attention');
    await auditBothWidths('needs attention', t);
    await panel.waitForFunction(() => document.querySelector('[data-testid="status-messages"]')?.textContent.startsWith('Microsoft 365: Sign-in needed.'), null, { timeout: WAIT_MS })
      .catch(async () => assert.fail(`status region: ${JSON.stringify(await byTestId(panel, 'status-messages').textContent())}`));
    assert.deepEqual(x.pageErrors, [], 'no uncaught errors in extension pages');
  });

  it('six failures in a row: "Try again" is named so that it can be said (2.5.3); no axe violation at 1280 and 360 px', async (t) => {
    // Six transient failures in a row at Google: the engine keeps retrying with a long
    // backoff (issue 11: it no longer pauses) and offers "Try again" to retry now.
    await x.control('/fail-next', { provider: 'google', endpoint: 'token', kind: 'status', status: 503, count: 6 });
    await x.value('advanceClock', 120 * MINUTE); // past the access token's hour
    await x.call('accessToken', 'google');
    for (let failures = 1; failures < 6; failures++) {
      const d = await x.waitDebug('google', (g) => g.consecutiveFailures === failures && !g.busy);
      await x.value('advanceClock', d.nextAttemptAt - (await x.value('now')) + 1000);
      await x.call('tick');
    }
    await x.waitDebug('google', (g) => g.consecutiveFailures === 6 && g.attention === null && g.nextAttemptAt !== null && !g.busy);
    await x.waitCard(panel, 'google', 'retrying');
    const retry = byTestId(panel, 'retry-google');
    assert.equal((await retry.textContent()).trim(), 'Try again');
    const { ran } = await axeRun(panel);
    assert.ok(ran.includes('label-content-name-mismatch'), 'the 2.5.3 rule ran');
    await auditBothWidths('retrying, Try again', t);
    assert.match(await retry.getAttribute('aria-label'), /^Try again\b/, 'the name starts with the visible words');
    assert.deepEqual(x.pageErrors, [], 'no uncaught errors in extension pages');
  });
});
