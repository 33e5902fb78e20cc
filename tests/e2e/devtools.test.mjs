// The devtools page (www/devtools.html) on the real engine and the local identity
// providers: its fault menus are faults the provider accepts; it moves the engine's clock,
// arms a documented error, shows the redacted state and exports the redacted event log.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { useEnvironment, byTestId, WAIT_MS } from './helpers.mjs';

const h = useEnvironment();

describe('devtools page (real engine, local identity provider)', () => {
  it('every fault in the menus is one the provider accepts; revoke and end-sessions reach it', async (t) => {
    const s = await h.session(t, { path: '/www/devtools.html' });
    const { page, env } = s;
    // The provider's extra codes arrive from GET /control.
    await page.waitForSelector('optgroup[label="Other codes of the local provider"]', { state: 'attached', timeout: WAIT_MS });
    const status = byTestId(page, 'dt-fault-status');
    let armed = 0;
    for (const provider of ['microsoft', 'google', 'salesforce']) {
      await byTestId(page, 'dt-fault-provider').selectOption(provider);
      const values = await byTestId(page, 'dt-fault-kind').locator('option').evaluateAll((os) => os.map((o) => o.value));
      for (const value of values) {
        await page.evaluate(() => (document.querySelector('[data-testid="dt-fault-status"]').textContent = ''));
        await byTestId(page, 'dt-fault-kind').selectOption(value);
        await byTestId(page, 'dt-fault-arm').click();
        await page.waitForFunction(() => document.querySelector('[data-testid="dt-fault-status"]').textContent !== '');
        const text = await status.textContent();
        const label = await byTestId(page, 'dt-fault-kind').locator(`option[value="${value}"]`).textContent();
        assert.match(text, /^Armed/, `${provider} / ${label}: ${text}`);
        armed += 1;
      }
    }
    const pending = await env.control('/faults');
    assert.equal(pending.length, armed);
    assert.ok(pending.every((f) => f.endpoint === 'token'));
    // The armed faults are shown, the network failure and the no-answer among them.
    for (const kind of ['reset', 'hang', 'redirect']) assert.ok(pending.some((f) => f.kind === kind), kind);
    await page.waitForFunction(() => /^Armed: .*microsoft token → hang/.test(document.querySelector('[data-testid="dt-fault-armed"]').textContent), null, { timeout: WAIT_MS });
    await env.control('/clear-faults', {});
    await page.waitForFunction(() => document.querySelector('[data-testid="dt-fault-armed"]').textContent === 'No fault armed.', null, { timeout: WAIT_MS });

    await byTestId(page, 'dt-fault-provider').selectOption('microsoft');
    await page.fill('#dt-account', 'alice@contoso.com');
    await byTestId(page, 'dt-revoke').click();
    await page.waitForFunction(() => /^Revoked/.test(document.querySelector('[data-testid="dt-fault-status"]').textContent));
    await byTestId(page, 'dt-end-sessions').click();
    await page.waitForFunction(() => /^Ended/.test(document.querySelector('[data-testid="dt-fault-status"]').textContent));
  });

  it('moves the clock, arms a provider error, shows redacted state and exports the log', async (t) => {
    const s = await h.session(t, { path: '/www/devtools.html' });
    const { page } = s;
    await s.connect('salesforce', 'alice@acme.test');
    await page.waitForFunction(() => document.querySelector('[data-testid="dt-state-salesforce"]')?.textContent.includes('[redacted]') ||
      document.querySelector('[data-testid="dt-state-salesforce"]')?.textContent.includes('"present": true'), null, { timeout: WAIT_MS });

    // Every documented error of the provider is offered, plus the transient faults.
    await byTestId(page, 'dt-fault-provider').selectOption('microsoft');
    const labels = await byTestId(page, 'dt-fault-kind').locator('option').allTextContents();
    for (const code of ['AADSTS50173', 'AADSTS700084', 'AADSTS53003', 'AADSTS50196', 'temporarily_unavailable']) {
      assert.ok(labels.some((l) => l.includes(code)), code);
    }
    assert.ok(labels.some((l) => l.includes('503')) && labels.some((l) => l.includes('429')) && labels.some((l) => /malformed/i.test(l)));

    // Salesforce's next refresh fails with inactive_user; time passes until it refreshes.
    await byTestId(page, 'dt-fault-provider').selectOption('salesforce');
    await byTestId(page, 'dt-fault-kind').selectOption({ label: 'inactive_user' });
    await byTestId(page, 'dt-fault-arm').click();
    await page.waitForFunction(() => /Armed/.test(document.querySelector('[data-testid="dt-fault-status"]').textContent));
    // Past the 2 h Salesforce session (the environment runs real lifetimes).
    await byTestId(page, 'dt-advance-1h').click();
    await byTestId(page, 'dt-advance-1h').click();
    await byTestId(page, 'dt-advance-1h').click();
    await page.waitForSelector('[data-testid="status-salesforce"][data-status="needs_attention"]', { timeout: WAIT_MS });
    assert.match(await byTestId(page, 'reason-salesforce').textContent(), /deactivated/);
    assert.match(await byTestId(page, 'dt-clock').textContent(), /ahead/);

    await page.waitForFunction(() => document.querySelectorAll('[data-testid="dt-log"] tbody tr').length >= 3, null, { timeout: WAIT_MS });
    const rows = await byTestId(page, 'dt-log').locator('tbody tr').count();
    const downloadSeen = page.waitForEvent('download');
    await byTestId(page, 'dt-export').click();
    const download = await downloadSeen;
    assert.match(download.suggestedFilename(), /^sidebar-auth-events-.*\.json$/);
    const report = JSON.parse(await readFile(await download.path(), 'utf8'));
    assert.ok(Array.isArray(report.events) && report.events.length >= rows, `${report.events?.length} events, ${rows} rows`);
    const exported = JSON.stringify(report);
    for (const secret of await s.tokens.secrets()) assert.equal(exported.includes(secret), false, 'no token in the export');
  });
});
