// oauth4webapi in an MV3 service worker. The library keeps no tokens: the application stores
// the token endpoint's answer (here in chrome.storage.session) and refreshes it with
// refreshTokenGrantRequest when it expired, as an extension built on oauth4webapi would.
import * as oauth from 'oauth4webapi';
import { answerFirstToken } from './extension-common.js';
import { authorizationServer, client } from './oauth4webapi-settings.js';

const startedAt = performance.now();
const SKEW_MS = 60_000;
async function accessToken() {
  const { tokens } = await chrome.storage.session.get('tokens');
  if (!tokens) throw new Error('no tokens stored');
  if (tokens.expiresAt - SKEW_MS > Date.now()) return tokens.access_token;
  const response = await oauth.refreshTokenGrantRequest(authorizationServer, client, oauth.None(), tokens.refresh_token);
  const result = await oauth.processRefreshTokenResponse(authorizationServer, client, response);
  const next = { ...tokens, ...result, expiresAt: Date.now() + (result.expires_in ?? 3600) * 1000 };
  await chrome.storage.session.set({ tokens: next });
  return next.access_token;
}
answerFirstToken(startedAt, accessToken);
