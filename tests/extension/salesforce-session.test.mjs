// Salesforce gives no expires_in (issue 11, defect 10): the engine estimates a session's end
// from the configured timeout and each use. Once half of that has passed without a sign of
// life, it asks Salesforce's userinfo endpoint before handing the token out, so a session
// an administrator ended is found there, not by the caller's API call meeting a 401.
// The real extension, the real engine, the emulated Salesforce with a realistic 2-hour
// session (tests/idp/salesforce.mjs answers userinfo as Salesforce documents it).
//
//   node --test tests/extension/salesforce-session.test.mjs   (the engine built into pkg/)

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useExtension } from './helpers.mjs';

const x = useExtension({ idpConfig: { salesforce: { sessionTimeout: 7200 } } });
const MINUTE = 60_000;

async function counts() {
  const s = (await x.stats()).salesforce;
  return { userinfo: s.userinfo, refresh: s.token.refresh_token, api: s.api, authorize: s.authorize };
}

async function apiCall() {
  const d = await x.debug('salesforce');
  const r = await x.call('fetch', 'salesforce', `${d.instanceUrl}/services/data/v60.0/sobjects/`);
  assert.equal(r.ok, true, JSON.stringify(r));
  return r.value;
}

describe('Salesforce: an uncertain session is checked with userinfo (real extension)', () => {
  it('session alive: one userinfo check after an idle hour, no refresh, the API call goes out once', async () => {
    const panel = await x.openPanel();
    await x.connect(panel, 'salesforce', 'alice@acme.test');
    await panel.close();
    assert.equal((await x.debug('salesforce')).accessToken.lifetimeMs, 120 * MINUTE, 'the configured 2-hour timeout');
    assert.equal((await apiCall()).status, 200);
    await x.control('/reset-stats', {});
    // Just used: certain; nothing checked.
    assert.equal((await apiCall()).status, 200);
    assert.deepEqual(await counts(), { userinfo: 0, refresh: 0, api: 1, authorize: 0 });

    await x.value('advanceClock', 61 * MINUTE);
    await x.control('/reset-stats', {});
    assert.equal((await apiCall()).status, 200);
    assert.deepEqual(await counts(), { userinfo: 1, refresh: 0, api: 1, authorize: 0 }, 'checked once, then used');
    // The check was a sign of life: the next use is certain again.
    assert.equal((await apiCall()).status, 200);
    assert.equal((await counts()).userinfo, 1);
  });

  it('session ended at Salesforce: found by userinfo, refreshed, the API never sees the dead token', async () => {
    const before = await x.value('accessToken', 'salesforce');
    await x.control('/expire-session', { provider: 'salesforce', account: 'alice@acme.test' });
    await x.value('advanceClock', 61 * MINUTE);
    await x.control('/reset', {}); // stats and the request log
    assert.equal((await apiCall()).status, 200);
    assert.deepEqual(await counts(), { userinfo: 1, refresh: 1, api: 1, authorize: 0 });
    const log = (await x.control('/log?n=20')).filter((e) => e.provider === 'salesforce');
    assert.deepEqual(log.filter((e) => e.endpoint === 'api').map((e) => e.status), [200], 'no API 401');
    assert.deepEqual(log.filter((e) => e.endpoint === 'userinfo').map((e) => e.status), [403]);
    assert.notEqual(await x.value('accessToken', 'salesforce'), before, 'a new session');
    const d = await x.debug('salesforce');
    assert.equal(d.attention, null, 'no sign-in asked');
    assert.equal(d.refreshToken?.present, true);
  });
});
