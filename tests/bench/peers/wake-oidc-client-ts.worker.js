// oidc-client-ts in an MV3 service worker: UserManager.getUser() from its user store (over
// chrome.storage.session: a worker has no Web Storage), renewing with the refresh token when
// the access token expired, as an extension that adopted oidc-client-ts would.
import { UserManager, WebStorageStateStore } from 'oidc-client-ts';
import { answerFirstToken, chromeSessionStorage } from './extension-common.js';
import { oidcSettings } from './oidc-settings.js';

const startedAt = performance.now();
let manager = null;
async function accessToken() {
  manager ??= new UserManager({ ...oidcSettings(location.origin), userStore: new WebStorageStateStore({ store: chromeSessionStorage }) });
  let user = await manager.getUser();
  if (!user) throw new Error('oidc-client-ts has no user in its store');
  if (user.expired) user = await manager.signinSilent();
  return user.access_token;
}
answerFirstToken(startedAt, accessToken);
