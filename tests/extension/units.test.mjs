// The extension's few pure helpers, in node: match patterns, the sender check, the
// run-time host permissions of a Salesforce sign-in, launchWebAuthFlow's error texts, the
// host permissions a build derives from a configuration.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { matchesAny, originCovered, patternForOrigin } from '../../extension/lib/match.js';
import { senderKind } from '../../extension/lib/senders.js';
import { signInError } from '../../extension/lib/driver.js';
import { needingAttention } from '../../extension/lib/attention.js';
import { ensureOrigins, signInOrigins } from '../../extension/panel-client.js';
import { hostPermissionsFor, emulatorConfig } from '../support/build-extension.mjs';
import { restrictStorageToExtension } from '../../extension/lib/storage-access.js';

const ID = 'diclmnbkbepnmpjcmipcdafbkmfmcbal';
const MATCHES = ['https://mail.google.com/*'];

describe('match patterns', () => {
  it('scheme, host, any port when none is given, path', () => {
    assert.ok(matchesAny('https://mail.google.com/mail/u/0/#inbox', MATCHES));
    assert.ok(!matchesAny('https://mail.google.com.evil.test/', MATCHES));
    assert.ok(!matchesAny('http://mail.google.com/', MATCHES), 'scheme');
    assert.ok(matchesAny('http://127.0.0.1:4321/mail/index.html', ['http://127.0.0.1/mail/*']));
    assert.ok(!matchesAny('http://127.0.0.1:4321/plain/', ['http://127.0.0.1/mail/*']));
    assert.ok(matchesAny('https://acme.my.salesforce.com/x', ['https://*.my.salesforce.com/*']));
    assert.ok(!matchesAny('https://acme.my.salesforce.com.evil.test/x', ['https://*.my.salesforce.com/*']));
    assert.ok(!matchesAny('not a url', MATCHES));
    assert.ok(originCovered('http://127.0.0.1:9000', ['http://127.0.0.1/*']));
    assert.ok(!originCovered('https://acme.my.salesforce.com', ['https://login.salesforce.com/*']));
    assert.equal(patternForOrigin('http://127.0.0.1:9000'), 'http://127.0.0.1/*');
  });
});

describe('who may ask the worker', () => {
  const kind = (sender) => senderKind(sender, { id: ID, matches: MATCHES });
  it('the extension’s own pages', () => {
    assert.equal(kind({ id: ID, url: `chrome-extension://${ID}/sidepanel.html`, origin: `chrome-extension://${ID}` }), 'extension');
  });
  it('its content script on the manifest’s pages, in a tab', () => {
    assert.equal(kind({ id: ID, url: 'https://mail.google.com/mail/u/0/', origin: 'https://mail.google.com', tab: { id: 3 }, frameId: 0 }), 'content');
  });
  it('nobody else', () => {
    assert.equal(kind({ id: 'another-extension', url: `chrome-extension://another-extension/x.html`, origin: 'chrome-extension://another-extension' }), null);
    assert.equal(kind({ id: ID, url: 'https://evil.test/', origin: 'https://evil.test', tab: { id: 3 }, frameId: 0 }), null);
    assert.equal(kind({ id: ID, url: 'https://mail.google.com/', origin: 'https://mail.google.com' }), null, 'not in a tab');
    assert.equal(kind({ id: ID, url: `chrome-extension://${ID}/x.html`, origin: 'https://evil.test' }), null, 'origin and URL disagree');
    assert.equal(kind(undefined), null);
  });
});

describe('run-time host permissions of a sign-in with a typed login host', () => {
  const granted = ['https://login.salesforce.com/*', 'https://test.salesforce.com/*'];
  it('a login host the manifest covers: nothing to ask', () => {
    assert.deepEqual(signInOrigins('https://login.salesforce.com', granted), []);
  });
  it('a typed My Domain: that origin', () => {
    assert.deepEqual(signInOrigins('https://acme.my.salesforce.com', granted), ['https://acme.my.salesforce.com/*']);
  });
  it('already granted, or a local emulator: nothing to ask', () => {
    assert.deepEqual(signInOrigins('https://acme.my.salesforce.com', [...granted, 'https://*.my.salesforce.com/*']), []);
    assert.deepEqual(signInOrigins('http://127.0.0.1:9000/salesforce', ['http://127.0.0.1/*']), []);
    assert.deepEqual(signInOrigins(undefined, granted), []);
  });
});

describe('run-time host permissions for Exchange (panel-client ensureOrigins)', () => {
  // A stand-in for chrome.permissions: the real prompt cannot be answered in headless
  // Chromium (extension/README.md, "Testing run-time host permissions").
  const fakeChrome = (granted, answer) => {
    const asked = [];
    globalThis.chrome = {
      permissions: {
        contains: async ({ origins }) => origins.every((o) => granted.includes(o)),
        request: async ({ origins }) => {
          asked.push(origins);
          return answer;
        },
      },
    };
    return asked;
  };
  it('asks for the engine\'s origins as patterns, only what is not granted yet', async () => {
    let asked = fakeChrome([], true);
    await ensureOrigins(['https://outlook.office365.com', 'https://*.contoso.test', 'http://autodiscover.contoso.test']);
    assert.deepEqual(asked, [['https://outlook.office365.com/*', 'https://*.contoso.test/*', 'http://autodiscover.contoso.test/*']]);
    asked = fakeChrome(['https://mail.contoso.test/*'], true);
    await ensureOrigins(['https://mail.contoso.test']);
    assert.deepEqual(asked, []);
  });
  it('a refusal rejects with permission_denied and nothing is sent', async () => {
    fakeChrome([], false);
    await assert.rejects(ensureOrigins(['https://mail.contoso.test']), (e) => e.code === 'permission_denied' && /mail\.contoso\.test/.test(e.message));
    delete globalThis.chrome;
  });
});

describe('launchWebAuthFlow errors → the engine’s codes', () => {
  it('closed window, interaction needed, anything else (without URLs)', () => {
    assert.equal(signInError(new Error('The user did not approve access.')).code, 'sign_in_cancelled');
    assert.equal(signInError(new Error('User interaction required.')).code, 'interaction_required');
    const other = signInError(new Error('Authorization page could not be loaded: https://x.test/?code=secret'));
    assert.equal(other.code, 'host_error');
    assert.ok(!other.message.includes('secret'));
  });
});

describe('attention from the view', () => {
  it('the connections that need the user', () => {
    const view = { sections: [{ connections: [{ service: 'microsoft', status: 'needs_attention' }] }, { connections: [{ service: 'salesforce', status: 'connected' }] }] };
    assert.deepEqual(needingAttention(view).map((c) => c.service), ['microsoft']);
    assert.deepEqual(needingAttention(undefined), []);
  });
});

describe('host permissions from a configuration', () => {
  it('the real providers’ defaults, as the engine says', async () => {
    assert.deepEqual((await hostPermissionsFor({ microsoft: { clientId: 'x' }, google: { clientId: 'y' }, salesforce: { clientId: 'z' } })).sort(), [
      'https://*.my.salesforce.com/*', 'https://gmail.googleapis.com/*', 'https://graph.microsoft.com/*', 'https://login.microsoftonline.com/*',
      'https://login.salesforce.com/*', 'https://oauth2.googleapis.com/*', 'https://test.salesforce.com/*', 'https://www.googleapis.com/*',
    ]);
  });
  it('the local emulator: its loopback origin only', async () => {
    const base = 'http://127.0.0.1:9000';
    const info = {
      microsoft: { clientId: 'sidebar-ms-spa', issuer: `${base}/microsoft/t/v2.0`, api: `${base}/graph/v1.0` },
      google: { clientId: 'g', clientSecret: 's', authorize: `${base}/google/o/oauth2/v2/auth`, token: `${base}/google/token`, revoke: `${base}/google/revoke`, issuer: `${base}/google`, api: `${base}/google-api/gmail/v1` },
      salesforce: { clientId: 'sf', loginHost: `${base}/salesforce`, issuer: `${base}/salesforce` },
      control: `${base}/control`,
    };
    const config = emulatorConfig({ base, info });
    assert.equal(config.engine.redirectUri, undefined, 'the extension’s redirect URI comes from chrome.identity');
    assert.deepEqual(await hostPermissionsFor(config.engine), ['http://127.0.0.1/*']);
  });
});

describe('what a content script may fetch (lib/content-policy.js)', async () => {
  const { contentFetchAllowed, contentOperations } = await import('../../extension/lib/content-policy.js');
  const file = JSON.parse(await (await import('node:fs/promises')).readFile(new URL('../../extension/config.json', import.meta.url), 'utf8'));
  const ops = contentOperations(file);
  const bases = file.apiBases;
  const allowed = (service, url, init) => contentFetchAllowed(ops, bases, { service, url, init }).ok;
  it('the declared operations, below their API base', () => {
    assert.ok(ops.length >= 3);
    assert.ok(allowed('microsoft', 'https://graph.microsoft.com/v1.0/me'));
    assert.ok(allowed('microsoft', 'https://graph.microsoft.com/v1.0/me/messages?$top=5'));
    assert.ok(allowed('google', 'https://gmail.googleapis.com/gmail/v1/users/me/profile'));
    assert.ok(allowed('salesforce', 'https://acme.my.salesforce.com/services/data/v60.0/sobjects/'));
  });
  it('anything else is refused: another method, path, origin or service', () => {
    assert.ok(!allowed('microsoft', 'https://graph.microsoft.com/v1.0/me/sendMail', { method: 'POST' }));
    assert.ok(!allowed('microsoft', 'https://graph.microsoft.com/v1.0/users'));
    assert.ok(!allowed('microsoft', 'https://graph.microsoft.com/beta/me'));
    assert.ok(!allowed('microsoft', 'https://evil.example/v1.0/me'));
    assert.ok(!allowed('google', 'https://graph.microsoft.com/v1.0/me'), 'the operation is per service');
    assert.ok(!allowed('salesforce', 'https://acme.my.salesforce.com/services/oauth2/userinfo'));
    assert.ok(!allowed('google', 'not a url'));
    assert.equal(contentFetchAllowed([], bases, { service: 'google', url: 'https://gmail.googleapis.com/gmail/v1/users/me/profile' }).ok, false, 'no list, nothing');
  });
});

describe('storage for trusted contexts only, or no start (issue 11, defect 7)', () => {
  const area = (impl) => ({ calls: [], setAccessLevel: impl });
  it('both areas narrowed to TRUSTED_CONTEXTS', async () => {
    const calls = [];
    const ok = (name) => ({ setAccessLevel: async (o) => { calls.push([name, o.accessLevel]); } });
    await restrictStorageToExtension({ local: ok('local'), session: ok('session') });
    assert.deepEqual(calls, [['local', 'TRUSTED_CONTEXTS'], ['session', 'TRUSTED_CONTEXTS']]);
  });
  it('a browser without setAccessLevel on local storage: refused with a clear error, not silently', async () => {
    await assert.rejects(
      restrictStorageToExtension({ local: {}, session: area(async () => {}) }),
      (e) => e.code === 'storage_not_private' && /storage \(local\)/.test(e.message) && /update the browser/.test(e.message),
    );
  });
  it('a rejected call: refused too', async () => {
    await assert.rejects(
      restrictStorageToExtension({ local: area(async () => { throw new Error('Access level not supported'); }), session: area(async () => {}) }),
      (e) => e.code === 'storage_not_private' && /Access level not supported/.test(e.message),
    );
  });
});
