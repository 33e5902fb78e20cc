// Accessibility of the web host (issue 14, WCAG 2.2 AA), with the REAL engine against the
// local identity providers: every state is reached the way a user reaches it (the
// dashboard's buttons, the providers' login pages) or the way a provider causes it (the
// emulator's /control); no test switch of the page is used.
//
// - axe-core, WCAG 2.0/2.1/2.2 A and AA rules (support/axe.mjs), at 1280 and 360 px wide,
//   in five dashboard states: empty, one connected, all connected, the Salesforce Change form
//   with a saved username, a card needing attention; and the devtools page.
// - 1.4.11: text-field borders at 3:1 (axe does not check non-text contrast).
// - 2.4.3 / 2.4.11: a Tab walk, with the error toast shown: focus order follows the layout,
//   and no focused control is covered (elementFromPoint).
// - 4.1.3: a card settling in another state is announced in the status region, after
//   Connect, Refresh and Disconnect and after a background refresh.
// - Focus after a sign-in and after Disconnect is on the card's next control, not the body.
//
// One browser context walks through the states in order (each test builds on the last).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { startEnvironment } from '../support/e2e-env.mjs';
import { CHROMIUM, CHROMIUM_ARGS, WAIT_MS, byTestId, completeSignIn, chooseMailService, showMailService, submitSalesforceChange, waitForCard } from '../support/browser.mjs';
import { axeViolations, formatViolations, inputBorderContrast, tabWalk, orderProblems, coveredStops } from '../support/axe.mjs';
import { REPO_ROOT } from '../web/static-server.mjs';

/** The widths of the issue: a desktop window, and the narrowest side panel / task pane. */
const VIEWPORTS = [
  { width: 1280, height: 900 },
  { width: 360, height: 640 },
];

const shared = { env: null, browser: null, context: null, page: null, errors: [] };

before(async () => {
  await access(path.join(REPO_ROOT, 'pkg', 'sidebar_auth_bg.wasm')).catch(() => {
    throw new Error('The engine is not built: run `bash build-engine.sh` first.');
  });
  shared.env = await startEnvironment({ port: 0 });
  shared.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  shared.context = await shared.browser.newContext({ viewport: VIEWPORTS[0] });
  shared.page = await openPage('/www/index.html');
});

after(async () => {
  await shared.browser?.close();
  await shared.env?.close();
});

async function openPage(pagePath) {
  const page = await shared.context.newPage();
  page.on('pageerror', (e) => shared.errors.push(`${pagePath}: ${e.message}`));
  await page.goto(`${shared.env.baseUrl}${pagePath}`);
  await waitReady(page);
  return page;
}

async function waitReady(page) {
  await page.waitForSelector('body[data-ready]', { timeout: WAIT_MS });
  assert.equal(await page.getAttribute('body', 'data-ready'), 'true', await page.locator('#app, #boot').first().textContent());
}

/** The text the status region (role=status) holds now. */
const statusMessage = (page) => byTestId(page, 'status-messages').textContent();

const activeTestId = (page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    return el === document.body ? 'body' : el?.getAttribute('data-testid') ?? el?.tagName;
  });

/** axe at both widths; returns {"<width>": violations}. Asserts zero violations. */
async function auditBothWidths(page, state, t) {
  const found = {};
  for (const vp of VIEWPORTS) {
    await page.setViewportSize(vp);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const v = await axeViolations(page);
    found[vp.width] = v;
    t.diagnostic(`${state} @ ${vp.width}px: ${v.length} axe violation(s)${v.length ? ': ' + v.map((x) => x.id).join(', ') : ''}`);
  }
  await page.setViewportSize(VIEWPORTS[0]);
  for (const [width, v] of Object.entries(found)) assert.deepEqual(v, [], `${state} at ${width} px:\n${formatViolations(v)}`);
}

/** Press a dashboard button with the keyboard (focus, Enter), as a keyboard user does. */
async function pressWithKeyboard(page, testId) {
  await byTestId(page, testId).focus();
  await page.keyboard.press('Enter');
}

/** Connect (or Change to) `login` from the keyboard, through the provider's pages. */
async function connectWithKeyboard(page, service, login) {
  await showMailService(page, service);
  const popup = page.waitForEvent('popup', { timeout: WAIT_MS });
  await pressWithKeyboard(page, `change-${service}`);
  await chooseMailService(page, service, null, { keyboard: true });
  if (service === 'salesforce') await submitSalesforceChange(page, login);
  await completeSignIn(await popup, login);
  await waitForCard(page, service, 'connected', login);
}

describe('accessibility of the web host (real engine, axe-core, WCAG 2.2 AA)', () => {
  it('empty: no axe violation at 1280 and 360 px', async (t) => {
    await auditBothWidths(shared.page, 'empty', t);
  });

  it('Connect from the keyboard: focus lands on the card’s Change button and "Connected" is announced', async () => {
    const { page } = shared;
    await connectWithKeyboard(page, 'microsoft', 'alice@contoso.com');
    // WCAG 2.4.3: the Connect button goes away while signing in; focus waited on the card
    // and then moved to the button that took its place, never to the body.
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'change-microsoft', null, { timeout: WAIT_MS })
      .catch(async () => assert.fail(`focus after the sign-in is on ${await activeTestId(page)}`));
    assert.equal((await byTestId(page, 'change-microsoft').textContent()).trim(), 'Change');
    // WCAG 4.1.3
    assert.equal(await statusMessage(page), 'Microsoft 365: Connected (alice@contoso.com).');
  });

  it('one connected: no axe violation at 1280 and 360 px', async (t) => {
    await auditBothWidths(shared.page, 'one connected', t);
  });

  it('all connected: no axe violation at 1280 and 360 px', async (t) => {
    const { page } = shared;
    await connectWithKeyboard(page, 'google', 'alice@gmail.test');
    await connectWithKeyboard(page, 'salesforce', 'alice@acme.test');
    for (const s of ['microsoft', 'google', 'salesforce']) await waitForCard(page, s, 'connected');
    await auditBothWidths(page, 'all connected', t);
    assert.equal(await statusMessage(page), 'Salesforce: Connected (alice@acme.test).');
  });

  it('the Salesforce Change form with a saved username: no axe violation; text fields at 3:1 (1.4.11)', async (t) => {
    const { page } = shared;
    await pressWithKeyboard(page, 'change-salesforce');
    await byTestId(page, 'change-form-salesforce').waitFor({ timeout: WAIT_MS });
    assert.equal(await byTestId(page, 'change-choice-salesforce-saved:0').isChecked(), true, 'the saved username is offered first');
    await auditBothWidths(page, 'Change form (saved username)', t);

    // "Another username" on "My Domain": both text fields of the form are shown.
    await byTestId(page, 'change-choice-salesforce-new').check();
    await byTestId(page, 'change-host-salesforce-custom').check();
    await byTestId(page, 'change-custom-host-salesforce').waitFor({ timeout: WAIT_MS });
    await auditBothWidths(page, 'Change form (another username, My Domain)', t);
    const contrast = await inputBorderContrast(page);
    t.diagnostic(`Change form: ${contrast.failures.length} of ${contrast.checked} text fields under 3:1 ${JSON.stringify(contrast.failures)}`);
    await page.keyboard.press('Escape');
    await byTestId(page, 'change-form-salesforce').waitFor({ state: 'detached', timeout: WAIT_MS });
    assert.equal(await activeTestId(page), 'change-salesforce', 'Escape returns focus to Change');
    assert.equal(contrast.checked, 2, 'the username and My Domain fields were measured');
    assert.deepEqual(contrast.failures, [], 'text-field borders reach 3:1');
  });

  it('Change on a mail card, "Which email service do you use?": no axe violation with each next step shown; Escape returns focus to Change', async (t) => {
    const { page } = shared;
    await pressWithKeyboard(page, 'change-microsoft');
    await byTestId(page, 'change-service-microsoft').waitFor({ timeout: WAIT_MS });
    assert.equal(await activeTestId(page), 'change-service-microsoft-microsoft365', 'focus on the card\'s own service');
    await auditBothWidths(page, 'mail chooser', t);
    // Arrow keys move through a radio group (2.1.1): to Outlook.com.
    await page.keyboard.press('ArrowDown');
    assert.equal(await byTestId(page, 'change-service-microsoft-outlook_com').isChecked(), true);
    await byTestId(page, 'change-service-microsoft-not_sure').check();
    await byTestId(page, 'lookup-email').waitFor({ timeout: WAIT_MS });
    await auditBothWidths(page, 'mail chooser, "I\'m not sure"', t);
    await byTestId(page, 'change-service-microsoft-exchange').check();
    // The web host cannot reach an Exchange server: the chooser says so instead of a form.
    await byTestId(page, 'password-unavailable-exchange').waitFor({ timeout: WAIT_MS });
    await auditBothWidths(page, 'mail chooser, Exchange on the web host', t);
    await page.keyboard.press('Escape');
    await byTestId(page, 'change-service-microsoft').waitFor({ state: 'detached', timeout: WAIT_MS });
    assert.equal(await activeTestId(page), 'change-microsoft', 'Escape returns focus to Change');
  });

  it('Tab walk with the error toast shown, at 1280 and 360 px: order follows the layout, nothing covers the focused control', async (t) => {
    const { page } = shared;
    // An error toast: a Change whose sign-in window is closed before signing in.
    const popup = page.waitForEvent('popup', { timeout: WAIT_MS });
    await pressWithKeyboard(page, 'change-microsoft');
    await chooseMailService(page, 'microsoft', null, { keyboard: true });
    await (await popup).close();
    await page.waitForSelector('.sa-toast[data-empty="false"]', { timeout: WAIT_MS });
    await waitForCard(page, 'microsoft', 'connected');
    assert.match(await byTestId(page, 'errors').textContent(), /^Microsoft 365: /);

    const walks = [];
    for (const vp of VIEWPORTS) {
      await page.setViewportSize(vp);
      const stops = await tabWalk(page);
      t.diagnostic(`${vp.width}px: ${stops.length} tab stops; covered: ${coveredStops(stops).join(' | ') || 'none'}; out of order: ${orderProblems(stops).length}`);
      walks.push([vp, stops]);
    }
    for (const [vp, stops] of walks) {
      const keys = stops.map((s) => s.key);
      for (const id of ['change-microsoft', 'disconnect-microsoft', 'change-google', 'disconnect-google', 'change-salesforce', 'disconnect-salesforce', 'errors-dismiss']) {
        assert.ok(keys.includes(id), `${id} is a tab stop at ${vp.width} px: ${keys.join(', ')}`);
      }
      assert.deepEqual(coveredStops(stops), [], `at ${vp.width} px no focused control is covered (2.4.11)`);
      assert.deepEqual(orderProblems(stops), [], `at ${vp.width} px focus order follows the layout (2.4.3)`);
    }
    await page.setViewportSize(VIEWPORTS[0]);
    await byTestId(page, 'errors-dismiss').click();
  });

  it('a card needing attention after a background refresh: announced (4.1.3); no axe violation at 1280 and 360 px', async (t) => {
    const { page, env } = shared;
    // A password change at Microsoft: the next refresh answers AADSTS50173. The web host keeps
    // access tokens in memory only, so the reloaded page refreshes in the background at once.
    await env.control('/fail-next', { provider: 'microsoft', endpoint: 'token', kind: 'error', code: '50173' });
    await page.reload();
    await waitReady(page);
    await waitForCard(page, 'microsoft', 'needs_attention');
    for (const s of ['google', 'salesforce']) await waitForCard(page, s, 'connected');
    await auditBothWidths(page, 'needs attention', t);
    await page.waitForFunction(() => document.querySelector('[data-testid="status-messages"]')?.textContent.startsWith('Microsoft 365: Sign-in needed.'), null, { timeout: WAIT_MS })
      .catch(async () => assert.fail(`status region: ${JSON.stringify(await statusMessage(page))}`));
    assert.match(await statusMessage(page), /^Microsoft 365: Sign-in needed\. .+/, 'with the reason');
    assert.doesNotMatch(await statusMessage(page), /Google|Salesforce/, 'refreshes that changed nothing are not announced');
  });

  it('Refresh from the keyboard: focus stays on Refresh, "Connected" is announced', async () => {
    const { page } = shared;
    const popup = page.waitForEvent('popup', { timeout: WAIT_MS });
    await pressWithKeyboard(page, 'refresh-microsoft');
    await completeSignIn(await popup, 'alice@contoso.com');
    await waitForCard(page, 'microsoft', 'connected', 'alice@contoso.com');
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'refresh-microsoft', null, { timeout: WAIT_MS })
      .catch(async () => assert.fail(`focus after Refresh is on ${await activeTestId(page)}`));
    assert.equal(await statusMessage(page), 'Microsoft 365: Connected (alice@contoso.com).');
  });

  it('devtools page: no axe violation at 1280 and 360 px; its scrolling boxes are tab stops; text fields at 3:1', async (t) => {
    // The devtools page takes the engine over from the dashboard (one engine per profile).
    await shared.page.close();
    const page = await openPage('/www/devtools.html');
    await page.waitForSelector('[data-testid="dt-state-google"] pre', { timeout: WAIT_MS });
    await page.waitForSelector('#dt-log-body tr', { timeout: WAIT_MS });
    // The boxes scroll (the case axe's scrollable-region-focusable is about). The page fills
    // them as the engine's state and log arrive: wait for that before measuring.
    const overflowing = () => [...document.querySelectorAll('.dt-json, .dt-log-wrap')].filter((e) => e.scrollHeight > e.clientHeight).length;
    await page.waitForFunction(`(${overflowing})() >= 2`, null, { timeout: WAIT_MS }).catch(() => {});
    const scrolling = await page.evaluate(overflowing);
    assert.ok(scrolling >= 2, `the state and log boxes overflow (${scrolling})`);
    const checks = [];
    for (const vp of VIEWPORTS) {
      await page.setViewportSize(vp);
      const contrast = await inputBorderContrast(page);
      const stops = await tabWalk(page, { max: 120 });
      t.diagnostic(`devtools ${vp.width}px: ${contrast.failures.length} of ${contrast.checked} fields under 3:1; ${stops.length} tab stops; covered: ${coveredStops(stops).length}; out of order: ${orderProblems(stops).length}`);
      checks.push([vp, contrast, stops]);
    }
    await auditBothWidths(page, 'devtools', t);
    for (const [vp, contrast, stops] of checks) {
      assert.ok(contrast.checked >= 5, `fields measured: ${contrast.checked}`);
      assert.deepEqual(contrast.failures, [], `text-field borders reach 3:1 at ${vp.width} px`);
      const keys = stops.map((s) => s.key);
      for (const id of ['pre:"microsoft state"', 'pre:"google state"', 'pre:"salesforce state"', 'div:"Event log entries"']) {
        assert.ok(keys.some((k) => k === id), `${id} is a tab stop at ${vp.width} px (2.1.1): ${keys.join(', ')}`);
      }
      assert.deepEqual(coveredStops(stops), [], `at ${vp.width} px no focused control is covered`);
      // One column at 360 px: the order follows it. (At 1280 px the page has two columns.)
      if (vp.width === 360) assert.deepEqual(orderProblems(stops), [], 'focus order follows the layout at 360 px');
    }
    await page.setViewportSize(VIEWPORTS[0]);
    await page.close();
  });
  it('Disconnect from the keyboard: focus moves to the card’s Connect button, "Not connected" is announced', async () => {
    // The devtools page took the engine over: the dashboard takes it back.
    shared.page = await openPage('/www/index.html');
    const { page } = shared;
    await showMailService(page, 'microsoft'); // the chosen mail service keeps its card when disconnected
    await waitForCard(page, 'microsoft', 'connected');
    await pressWithKeyboard(page, 'disconnect-microsoft');
    await waitForCard(page, 'microsoft', 'disconnected');
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'change-microsoft', null, { timeout: WAIT_MS })
      .catch(async () => assert.fail(`focus after Disconnect is on ${await activeTestId(page)}`));
    assert.equal((await byTestId(page, 'change-microsoft').textContent()).trim(), 'Connect');
    assert.equal(await statusMessage(page), 'Microsoft 365: Not connected.');
  });

  it('Disconnect of a mail account that is not the chosen service: its card goes, focus moves to the card left, "Not connected" is announced', async () => {
    const { page } = shared;
    await waitForCard(page, 'google', 'connected'); // still signed in, so still shown
    await pressWithKeyboard(page, 'disconnect-google');
    await byTestId(page, 'card-google').waitFor({ state: 'detached', timeout: WAIT_MS });
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'change-microsoft', null, { timeout: WAIT_MS })
      .catch(async () => assert.fail(`focus after Disconnect is on ${await activeTestId(page)}`));
    assert.equal(await statusMessage(page), 'Gmail: Not connected.');
    assert.deepEqual(shared.errors, [], 'no uncaught errors in the pages');
  });
});
