// Seeds msal-browser's own cache in the extension's origin with loadExternalTokens (the
// library's API for tokens obtained elsewhere), and keeps the signed-in AccountInfo in
// chrome.storage.session for the worker (msal's getAllAccounts() finds nothing there: see the
// worker). Not timed. sessionStorage: msal-browser 5 encrypts a localStorage cache with a key
// kept in a cookie, and an extension page (chrome-extension://) keeps no cookie, so a
// localStorage cache written here reads back empty (seen: getAllAccounts() 0 after a reload).
import { PublicClientApplication, loadExternalTokens } from '@azure/msal-browser';
import { msalConfig } from './msal-config.js';
import { SCOPES, redirectUriOf, seededTokenResponse } from './settings.js';

async function createClient(config) {
  const client = new PublicClientApplication(config);
  await client.initialize();
  return client;
}

const config = msalConfig(redirectUriOf(location.origin), 'sessionStorage');
await createClient(config);
const loaded = await loadExternalTokens(config, { scopes: SCOPES }, seededTokenResponse('msal-browser'), {});
const [account] = (await createClient(config)).getAllAccounts();
if (!account || account.homeAccountId !== loaded.account.homeAccountId) throw new Error('msal-browser: the seeded account is not in its cache');
const silent = await (await createClient(config)).acquireTokenSilent({ account, scopes: SCOPES });
if (silent.accessToken !== loaded.accessToken) throw new Error('msal-browser: acquireTokenSilent in the page did not answer the seeded token');
await chrome.storage.session.set({ msalAccount: account });
document.body.dataset.ready = 'true';
