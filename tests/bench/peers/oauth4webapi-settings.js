// oauth4webapi's authorization server and client in both benchmarks (no discovery call).
import { CLIENT_ID, METADATA } from './settings.js';

export const authorizationServer = { ...METADATA };
export const client = { client_id: CLIENT_ID, token_endpoint_auth_method: 'none' };
