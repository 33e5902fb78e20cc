// msal-browser's configuration in both benchmarks: the metadata inline (no discovery call).
import { AUTHORITY, CLIENT_ID, CLOUD_DISCOVERY, METADATA, AUTHORITY_HOST } from './settings.js';

export function msalConfig(redirectUri, cacheLocation = 'localStorage') {
  return {
    auth: {
      clientId: CLIENT_ID,
      authority: AUTHORITY,
      redirectUri,
      knownAuthorities: [AUTHORITY_HOST],
      authorityMetadata: JSON.stringify(METADATA),
      cloudDiscoveryMetadata: JSON.stringify(CLOUD_DISCOVERY),
    },
    cache: { cacheLocation },
  };
}
