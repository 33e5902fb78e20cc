// Issue 12, the wake: a stopped service worker answers its first `accessToken` from the
// session cache (chrome.storage.session) before it opens the vault (IndexedDB key, AES-GCM),
// and only when that cache names the vault now stored (src/web/executor.rs, `open`).
// The REAL extension against the local identity providers; no timing is asserted.
//
//   node --test tests/extension/wake.test.mjs      (the engine must be built into pkg/)

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useExtension, eventually } from './helpers.mjs';

const x = useExtension();
const VAULT_KEY = 'sidebar-auth:vault';

/** The TEST build's first-token message (what the wake benchmark sends). */
const firstToken = (service) => x.send({ type: 'sidebar-auth-test:first-token', service });
const storedVault = async () => (await x.harness.evaluate((k) => chrome.storage.local.get(k), VAULT_KEY))[VAULT_KEY];
const putVault = (text) => x.harness.evaluate(([k, v]) => chrome.storage.local.set({ [k]: v }), [VAULT_KEY, text]);
const eventKinds = async () => (await x.value('eventLog')).map((e) => e.kind);

/** In the harness page: the engine's IndexedDB key store, `op` 'hide' (the vault key kept
 * in a page variable, deleted from the store) or 'restore' (put back). */
function vaultKey(op) {
  return x.harness.evaluate(async (op) => {
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open('sidebar-auth', 1);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
    const store = (mode) => db.transaction('keys', mode).objectStore('keys');
    if (op === 'hide') {
      window.hiddenVaultKey = await req(store('readonly').get('vault-key-v1'));
      await req(store('readwrite').delete('vault-key-v1'));
      return window.hiddenVaultKey instanceof CryptoKey;
    }
    await req(store('readwrite').put(window.hiddenVaultKey, 'vault-key-v1'));
    db.close();
    return true;
  }, op);
}

describe('service-worker wake: the session cache first', () => {
  it('answers the first token without the vault, and reports the vault fault when it opens it', async () => {
    const panel = await x.openPanel();
    await x.connect(panel, 'microsoft', 'alice@contoso.com');
    await panel.close();
    assert.equal((await x.call('accessToken', 'microsoft')).ok, true);
    const before = await storedVault();
    await x.stopWorker();
    // The vault's key gone from IndexedDB: the vault cannot be opened. Its bytes are the
    // ones the session cache names, so the token is served from the cache...
    assert.equal(await vaultKey('hide'), true);
    try {
      const r = await firstToken('microsoft');
      assert.equal(r?.hasToken, true, `served from the session cache before the vault was opened: ${JSON.stringify(r)}`);
      // ...and the vault is opened right after: the fault is reported, nothing overwritten.
      const kinds = await eventKinds();
      assert.ok(kinds.includes('vault_unreadable'), JSON.stringify(kinds));
      assert.equal(await storedVault(), before, 'the unreadable vault is kept as it was');
    } finally {
      await x.stopWorker();
      await vaultKey('restore');
    }
    const r = await firstToken('microsoft');
    assert.equal(r?.hasToken, true, JSON.stringify(r));
    assert.equal((await x.debug('microsoft')).refreshToken?.present, true, 'the vault reads again');
  });

  it('does not answer from the session cache when the stored vault is not the one it names', async () => {
    const original = await storedVault();
    await x.stopWorker();
    // Another vault in storage (here: one byte changed; the same holds for an older copy put
    // back or a save by another context): the vault is opened first, and its answer counts.
    const sealed = JSON.parse(original);
    const bytes = Buffer.from(sealed.data, 'base64');
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    await putVault(JSON.stringify({ ...sealed, data: bytes.toString('base64') }));
    try {
      const r = await firstToken('microsoft');
      assert.notEqual(r?.hasToken, true, `no token from a vault that cannot be read: ${JSON.stringify(r)}`);
      assert.equal(r?.error?.code, 'not_connected', JSON.stringify(r));
      assert.ok((await eventKinds()).includes('vault_unreadable'));
    } finally {
      await x.stopWorker();
      await putVault(original);
    }
    assert.equal((await firstToken('microsoft'))?.hasToken, true);
  });

  it('after Disconnect a new worker has no token to answer with', async () => {
    assert.equal((await firstToken('microsoft'))?.hasToken, true);
    assert.equal((await x.call('disconnect', 'microsoft')).ok, true);
    await x.stopWorker();
    const r = await firstToken('microsoft');
    assert.equal(r?.error?.code, 'not_connected', JSON.stringify(r));
    await eventually(async () => (await x.debug('microsoft'))?.refreshToken == null, { message: 'disconnected' });
  });
});
