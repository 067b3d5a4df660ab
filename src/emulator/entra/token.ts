/** The token endpoint: authenticates the client, then hands the request to its grant type. */
import { route, type EmuRequest, type EmuResponse, type EmulatorApi, type Route } from '../http.js';
import { authorizationCodeGrant } from './authorize.js';
import { authenticateClient } from './client-auth.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { deviceCodeGrant } from './device-code.js';
import { entraError } from './errors.js';
import { formOf } from './html.js';
import { resolvesToTenant, TENANT_PATH, unknownTenant } from './metadata.js';
import { refreshTokenGrant } from './refresh-token.js';

function tokenEndpoint(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const tenant = req.params.tenant!;
  if (!resolvesToTenant(emu.world, tenant)) return unknownTenant(req, emu, tenant);
  const form = formOf(req);
  const grantType = form.get('grant_type');
  if (!grantType)
    return entraError(
      req,
      emu,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'grant_type'.",
    );
  const auth = authenticateClient(req, emu, form);
  if (!auth.ok) return auth.response;
  switch (grantType) {
    case 'client_credentials':
      return clientCredentialsGrant(req, emu, form, auth);
    case 'urn:ietf:params:oauth:grant-type:device_code':
    case 'device_code':
      return deviceCodeGrant(req, emu, form, auth);
    case 'refresh_token':
      return refreshTokenGrant(req, emu, form, auth);
    case 'authorization_code':
      return authorizationCodeGrant(req, emu, form, auth);
    default:
      return entraError(
        req,
        emu,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grantType}'.`,
      );
  }
}

export function tokenRoutes(): Route[] {
  return [route('entra', 'POST', new RegExp(`^/${TENANT_PATH}/oauth2/v2\\.0/token$`), tokenEndpoint)];
}
