/** The client credentials grant: an app-only token for Graph, for a confidential client that proved who it is. */
import { json, type EmuRequest, type EmuResponse, type EmulatorApi } from '../http.js';
import { issueToken } from '../tokens.js';
import type { AuthenticatedClient } from './client-auth.js';
import { entraError } from './errors.js';
import { MULTI_TENANT_ALIASES } from './metadata.js';
import { graphResourcePrefixes } from './scopes.js';

export function clientCredentialsGrant(
  req: EmuRequest,
  emu: EmulatorApi,
  form: URLSearchParams,
  auth: AuthenticatedClient,
): EmuResponse {
  if (MULTI_TENANT_ALIASES.has(req.params.tenant!.toLowerCase())) {
    return entraError(
      req,
      emu,
      'invalid_request',
      9001023,
      'The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.',
    );
  }
  if (!auth.authenticated) {
    return entraError(
      req,
      emu,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      {
        status: 401,
      },
    );
  }
  const scope = form.get('scope');
  if (!scope)
    return entraError(
      req,
      emu,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'scope'.",
    );
  const scopes = scope.split(/\s+/).filter(Boolean);
  const single = scopes[0]!;
  if (scopes.length !== 1 || !single.toLowerCase().endsWith('/.default')) {
    return entraError(
      req,
      emu,
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    );
  }
  const resource = single.slice(0, -'.default'.length).toLowerCase();
  if (!graphResourcePrefixes(emu).includes(resource)) {
    return entraError(
      req,
      emu,
      'invalid_resource',
      500011,
      `The resource principal named ${single.slice(0, -'/.default'.length)} was not found in the tenant named ${emu.world.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    );
  }
  const lifetime = emu.world.entra.settings.accessTokenLifetimeSeconds;
  const token = issueToken(emu.world, {
    principalType: 'app',
    appId: auth.app.appId,
    roles: [...auth.app.applicationPermissions],
    lifetimeSeconds: lifetime,
  });
  req.principal = auth.app.appId;
  return json(
    200,
    { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token.token },
    { 'cache-control': 'no-store', pragma: 'no-cache' },
  );
}
