// oidc-client-ts's cold start in a page: construct the UserManager, look for a stored user
// (what an application does first), then signinRedirect, whose navigator is given the URL
// (UserManager's redirectNavigator parameter) and does not navigate.
import { UserManager } from 'oidc-client-ts';
import { hostReady, urlBuilt } from './cold-ready.js';
import { oidcSettings } from './oidc-settings.js';

await hostReady();
const notNavigating = {
  prepare: async () => ({
    navigate: async ({ url }) => {
      urlBuilt(url);
      return new Promise(() => {}); // a real navigation never returns either
    },
    close() {},
  }),
  callback: async () => {},
};
const manager = new UserManager(oidcSettings(location.origin), notNavigating);
await manager.getUser();
void manager.signinRedirect();
