// What every peer of the benchmarks is configured with: one public client of a Microsoft-like
// authority, PKCE, its metadata given inline so that no variant touches the network to build
// an authorization URL (msal-browser: `authorityMetadata` + `cloudDiscoveryMetadata`;
// oidc-client-ts: `metadata`; oauth4webapi: the AuthorizationServer object). The URLs only
// have to be well formed: nothing is fetched from them.
export const AUTHORITY_HOST = 'login.microsoftonline.com';
export const TENANT = 'common';
export const AUTHORITY = `https://${AUTHORITY_HOST}/${TENANT}`;
export const CLIENT_ID = '00000000-0000-4000-8000-00000000b3c4';
export const SCOPES = ['openid', 'profile', 'offline_access', 'https://graph.microsoft.com/Mail.Read'];
export const METADATA = {
  issuer: `https://${AUTHORITY_HOST}/{tenantid}/v2.0`,
  authorization_endpoint: `${AUTHORITY}/oauth2/v2.0/authorize`,
  token_endpoint: `${AUTHORITY}/oauth2/v2.0/token`,
  end_session_endpoint: `${AUTHORITY}/oauth2/v2.0/logout`,
  jwks_uri: `${AUTHORITY}/discovery/v2.0/keys`,
  response_types_supported: ['code'],
  code_challenge_methods_supported: ['S256'],
};
/** msal-browser's cloud discovery answer (the instance discovery endpoint's JSON). */
export const CLOUD_DISCOVERY = {
  tenant_discovery_endpoint: `${AUTHORITY}/v2.0/.well-known/openid-configuration`,
  'api-version': '1.1',
  metadata: [{ preferred_network: AUTHORITY_HOST, preferred_cache: AUTHORITY_HOST, aliases: [AUTHORITY_HOST] }],
};

/** The redirect URI of a page: its own origin's callback (never navigated to). */
export const redirectUriOf = (origin) => `${origin}/callback.html`;

/** An unsigned JWT (the libraries decode an ID token's claims; none checks a signature in the cache path). */
export function unsignedJwt(claims) {
  const b64url = (obj) => btoa(JSON.stringify(obj)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
}

/** A token endpoint's answer for one signed-in user, as each library stores it (seeded, not timed). */
export function seededTokenResponse(label) {
  const now = Math.floor(Date.now() / 1000);
  const tid = '9188040d-6c67-4c5b-b112-36a304b66dad';
  const oid = '00000000-0000-0000-66f3-3332eca7ea81';
  return {
    token_type: 'Bearer',
    scope: SCOPES.join(' '),
    expires_in: 3600,
    ext_expires_in: 3600,
    access_token: `bench-${label}-access-token-${now}`,
    refresh_token: `bench-${label}-refresh-token`,
    id_token: unsignedJwt({
      aud: CLIENT_ID,
      iss: `https://${AUTHORITY_HOST}/${tid}/v2.0`,
      iat: now,
      nbf: now,
      exp: now + 3600,
      name: 'Alice',
      oid,
      preferred_username: 'alice@contoso.com',
      sub: 'bench-subject',
      tid,
      ver: '2.0',
    }),
    client_info: btoa(JSON.stringify({ uid: oid, utid: tid })).replace(/=+$/, ''),
  };
}
