// Stores what the token endpoint answered, as the application does with oauth4webapi. Not timed.
import { seededTokenResponse } from './settings.js';

const t = seededTokenResponse('oauth4webapi');
await chrome.storage.session.set({ tokens: { ...t, expiresAt: Date.now() + t.expires_in * 1000 } });
document.body.dataset.ready = 'true';
