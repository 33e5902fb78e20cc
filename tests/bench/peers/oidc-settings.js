// oidc-client-ts's settings in both benchmarks: the metadata inline (no discovery call).
import { AUTHORITY, CLIENT_ID, METADATA, SCOPES, redirectUriOf } from './settings.js';

export function oidcSettings(origin) {
  return {
    authority: AUTHORITY,
    client_id: CLIENT_ID,
    redirect_uri: redirectUriOf(origin),
    response_type: 'code',
    scope: SCOPES.join(' '),
    metadata: METADATA,
    automaticSilentRenew: false,
  };
}
