// msal-browser's cold start in a page: construct and initialize the client, handle a possible
// redirect answer (what an application does first), then build the PKCE authorization URL.
// loginRedirect builds it and hands it to `auth.onRedirectNavigate` (msal-browser 5: in the
// configuration, no longer in the request); returning false means no navigation.
// In the add-in task pane (an iframe) msal-browser refuses a redirect (redirect_in_iframe)
// unless `system.allowRedirectInIframe`; the URL it builds is the same, so that is set there.
import { PublicClientApplication } from '@azure/msal-browser';
import { hostReady, urlBuilt } from './cold-ready.js';
import { msalConfig } from './msal-config.js';
import { SCOPES, redirectUriOf } from './settings.js';

async function createClient(config) {
  const client = new PublicClientApplication(config);
  await client.initialize();
  return client;
}

await hostReady();
const config = msalConfig(redirectUriOf(location.origin), 'sessionStorage');
config.auth.onRedirectNavigate = (url) => {
  urlBuilt(url);
  return false;
};
if (window.parent !== window) config.system = { allowRedirectInIframe: true };
const client = await createClient(config);
await client.handleRedirectPromise();
await client.loginRedirect({ scopes: SCOPES });
