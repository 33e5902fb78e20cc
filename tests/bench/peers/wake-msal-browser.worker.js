// msal-browser in an MV3 service worker: acquireTokenSilent from its own cache, as an
// extension that adopted msal-browser would call it when a page asks for a token. The
// account is the one the extension page signed in (kept in chrome.storage.session).
// msal-browser decides it is not in a browser when `window` is undefined (a worker): its
// cache is then a stub (BaseOperatingContext, StandardController in msal-browser 5), so the
// worker cannot read the cache its pages wrote; what it answers is printed by wake.mjs.
import { PublicClientApplication } from '@azure/msal-browser';
import { answerFirstToken } from './extension-common.js';
import { msalConfig } from './msal-config.js';
import { SCOPES, redirectUriOf } from './settings.js';

async function createClient(config) {
  const client = new PublicClientApplication(config);
  await client.initialize();
  return client;
}

const startedAt = performance.now();
let client = null;
async function accessToken() {
  client ??= await createClient(msalConfig(redirectUriOf(location.origin), 'sessionStorage'));
  const account = client.getAllAccounts()[0] ?? (await chrome.storage.session.get('msalAccount')).msalAccount;
  if (!account) throw new Error('no signed-in account');
  return (await client.acquireTokenSilent({ account, scopes: SCOPES })).accessToken;
}
answerFirstToken(startedAt, accessToken);
