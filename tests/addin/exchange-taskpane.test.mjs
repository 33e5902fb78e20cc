// On-premises Exchange in the Outlook add-in: the task pane uses the mailbox Outlook is
// signed into (makeEwsRequestAsync through the Office double, answered by the emulated
// Exchange) and asks for no password; for an Exchange Online mailbox it says why Microsoft
// 365 is the way (legacy Exchange tokens are off, error 9017). addin-manifest/outlook-mailbox.js.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useAddin, byTestId, eventually, WAIT_MS } from './helpers.mjs';

const a = useAddin();

async function mailboxNote(frame) {
  const note = byTestId(frame, 'outlook-mailbox');
  await eventually(async () => (await note.getAttribute('data-kind')) !== null, { message: 'the mailbox check' });
  return { kind: await note.getAttribute('data-kind'), text: (await note.textContent()).trim() };
}

describe('Exchange in the Outlook add-in', () => {
  it('an on-premises mailbox is used through Outlook: one GetFolder through makeEwsRequestAsync, no password asked', async (t) => {
    a.env.idp.exchange.reset();
    const ctx = await a.context(t);
    const s = await a.open(ctx, { mailbox: 'alex@contoso.test' });
    const note = await mailboxNote(s.frame);
    assert.equal(note.kind, 'on_premises', note.text);
    assert.match(note.text, /alex@contoso\.test.*No password is needed/);
    const log = a.env.idp.exchange.requests;
    assert.deepEqual(log.map((e) => [e.operation, e.ewsOperation, e.login, e.authorization]), [['outlook-ExecuteEwsProxy', 'GetFolder', 'alex@contoso.test', null]]);
    // The Exchange card's Change says where the mailbox comes from; no password field.
    await byTestId(s.frame, 'mail-service-exchange').check();
    await byTestId(s.frame, 'change-exchange').click({ timeout: WAIT_MS });
    assert.match(await byTestId(s.frame, 'password-unavailable-exchange').textContent(), /no password is asked/);
    assert.equal(await s.frame.locator('input[type=password]').count(), 0);
  });

  it('an Exchange Online mailbox: Outlook gives no Exchange token (9017), the pane points to Microsoft 365', async (t) => {
    const ctx = await a.context(t);
    const s = await a.open(ctx, { mailbox: 'alice@contoso.com' });
    const note = await mailboxNote(s.frame);
    assert.equal(note.kind, 'exchange_online', note.text);
    assert.match(note.text, /Microsoft 365/);
  });
});
