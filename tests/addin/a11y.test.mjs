// The add-in task pane to WCAG 2.2 AA (issue 14 "in every host that exists"): axe-core in
// the real task pane, framed by the emulated Outlook on the web (the pane's own width), in
// the states a user meets: nothing connected, a card connected, a card needing attention,
// the Salesforce Change form open. The same rules and
// injection as the web host and side panel suites (tests/support/axe.mjs).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useAddin, advance, byTestId, WAIT_MS } from './helpers.mjs';
import { axeRun, formatViolations, inputBorderContrast } from '../support/axe.mjs';

const a = useAddin();

async function audit(frame, what, t) {
  const { violations, ran } = await axeRun(frame);
  t.diagnostic(`task pane, ${what}: ${violations.length} axe violation(s)`);
  assert.ok(ran.length > 20, `axe ran its rules (${ran.length})`);
  assert.deepEqual(violations, [], `${what}:\n${formatViolations(violations)}`);
  const contrast = await inputBorderContrast(frame);
  assert.deepEqual(contrast.failures, [], `${what}: text-field borders at 3:1 (1.4.11)`);
  return contrast.checked;
}

describe('accessibility of the Outlook add-in task pane (real engine, axe-core, WCAG 2.2 AA)', () => {
  it('nothing connected, connected, needing attention, the Change form: no axe violation', async (t) => {
    const ctx = await a.context(t);
    const s = await a.open(ctx, { mailbox: 'bob@contoso.com' });
    assert.equal(s.ready, 'true');
    await audit(s.frame, 'nothing connected', t);

    await s.connect('microsoft', 'bob@contoso.com');
    await audit(s.frame, 'Microsoft 365 connected', t);

    // A password change at Microsoft: the next refresh answers AADSTS50173.
    await a.env.control('/fail-next', { provider: 'microsoft', endpoint: 'token', kind: 'error', code: '50173' });
    await advance(s, 95);
    await s.auth('accessToken', 'microsoft');
    await s.waitCard('microsoft', 'needs_attention');
    await audit(s.frame, 'a card needing attention', t);

    await byTestId(s.frame, 'change-salesforce').click();
    await byTestId(s.frame, 'change-form-salesforce').waitFor({ timeout: WAIT_MS });
    // The form's fields are there to be measured (1.4.11 is not checked on nothing).
    await byTestId(s.frame, 'change-choice-salesforce-new').check().catch(() => {});
    assert.ok((await audit(s.frame, 'the Salesforce Change form', t)) > 0, 'text fields were measured');
  });
});
