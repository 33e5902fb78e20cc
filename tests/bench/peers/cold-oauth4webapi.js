// oauth4webapi's cold start in a page: look for stored tokens (what an application does
// first), then a PKCE code verifier, its S256 challenge and a state, kept in sessionStorage
// for the callback, and the authorization URL.
import * as oauth from 'oauth4webapi';
import { hostReady, urlBuilt } from './cold-ready.js';
import { authorizationServer, client } from './oauth4webapi-settings.js';
import { SCOPES, redirectUriOf } from './settings.js';

await hostReady();
const stored = sessionStorage.getItem('oauth4webapi.tokens');
if (!stored) {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const codeChallenge = await oauth.calculatePKCECodeChallenge(codeVerifier);
  const state = oauth.generateRandomState();
  sessionStorage.setItem('oauth4webapi.pending', JSON.stringify({ codeVerifier, state }));
  const url = new URL(authorizationServer.authorization_endpoint);
  url.searchParams.set('client_id', client.client_id);
  url.searchParams.set('redirect_uri', redirectUriOf(location.origin));
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', SCOPES.join(' '));
  url.searchParams.set('code_challenge', codeChallenge);
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  urlBuilt(url);
}
