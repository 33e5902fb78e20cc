// Seeds oidc-client-ts's user store (UserManager.storeUser) over chrome.storage.session. Not timed.
import { User, UserManager, WebStorageStateStore } from 'oidc-client-ts';
import { chromeSessionStorage } from './extension-common.js';
import { oidcSettings } from './oidc-settings.js';
import { seededTokenResponse } from './settings.js';

const manager = new UserManager({ ...oidcSettings(location.origin), userStore: new WebStorageStateStore({ store: chromeSessionStorage }) });
const t = seededTokenResponse('oidc-client-ts');
const profile = JSON.parse(atob(t.id_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
await manager.storeUser(new User({ ...t, profile, expires_at: Math.floor(Date.now() / 1000) + t.expires_in }));
if (!(await manager.getUser())?.access_token) throw new Error('oidc-client-ts: the seeded user is not in its store');
document.body.dataset.ready = 'true';
