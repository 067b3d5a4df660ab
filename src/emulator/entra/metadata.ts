/**
 * Tenants and discovery: which tenant segments name this world, the OpenID
 * configuration, the signing keys (JWKS) and instance discovery.
 */
import { json, route, type EmuRequest, type EmuResponse, type EmulatorApi, type Route } from '../http.js';
import type { World } from '../state.js';
import { entraError } from './errors.js';

export const MULTI_TENANT_ALIASES: ReadonlySet<string> = new Set(['common', 'organizations']);

/** The tenant segment names this world: its id, one of its verified domains, or a multi-tenant alias. */
export function resolvesToTenant(world: World, tenant: string): boolean {
  const wanted = tenant.toLowerCase();
  if (wanted === world.tenantId.toLowerCase() || MULTI_TENANT_ALIASES.has(wanted)) return true;
  for (const user of world.users.values()) {
    if (user.userPrincipalName.toLowerCase().endsWith(`@${wanted}`)) return true;
  }
  return false;
}

export function unknownTenant(
  req: EmuRequest,
  emu: EmulatorApi,
  tenant: string,
  error = 'invalid_request',
): EmuResponse {
  return entraError(
    req,
    emu,
    error,
    90002,
    `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  );
}

export function issuerOf(emu: EmulatorApi): string {
  return `${emu.baseUrl}/${emu.world.tenantId}/v2.0`;
}

function openIdConfiguration(emu: EmulatorApi, tenant: string): Record<string, unknown> {
  const base = emu.baseUrl;
  const host = new URL(base).host;
  // As Entra does, the multi-tenant documents carry a templated issuer and the tenant one the tenant id.
  const issuerTenant = MULTI_TENANT_ALIASES.has(tenant.toLowerCase()) ? '{tenantid}' : emu.world.tenantId;
  return {
    token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base}/${issuerTenant}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${base}/oidc/userinfo`,
    authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
    claims_supported: [
      'sub',
      'iss',
      'cloud_instance_name',
      'cloud_instance_host_name',
      'cloud_graph_host_name',
      'msgraph_host',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'nonce',
      'preferred_username',
      'name',
      'tid',
      'ver',
      'at_hash',
      'c_hash',
      'email',
    ],
    kerberos_endpoint: `${base}/${tenant}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: host,
    cloud_graph_host_name: host,
    msgraph_host: host,
    rbac_url: `${base}/rbac`,
  };
}

function instanceDiscovery(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const authorizationEndpoint = req.query.get('authorization_endpoint');
  const host = new URL(emu.baseUrl).host;
  let tenant = 'common';
  if (authorizationEndpoint) {
    let url: URL | undefined;
    try {
      url = new URL(authorizationEndpoint);
    } catch {
      url = undefined;
    }
    // Entra matches the instance by host name: MSAL Python sends the authority's host without
    // its port (authorization_endpoint=https://{hostname}/{tenant}/oauth2/v2.0/authorize), and
    // Entra accepts it. A port, when one is given, must still be the emulator's.
    const own = new URL(emu.baseUrl);
    const samePort = url !== undefined && (url.port === '' || url.port === own.port);
    if (!url || url.hostname.toLowerCase() !== own.hostname.toLowerCase() || !samePort) {
      return entraError(req, emu, 'invalid_instance', 50049, 'Unknown or invalid instance.');
    }
    tenant = url.pathname.split('/').filter(Boolean)[0] ?? 'common';
  }
  return json(200, {
    tenant_discovery_endpoint: `${emu.baseUrl}/${tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    // The host name alone is an alias too, as a client that dropped the port keys its cache by it.
    metadata: [
      {
        preferred_network: host,
        preferred_cache: host,
        aliases: host === new URL(emu.baseUrl).hostname ? [host] : [host, new URL(emu.baseUrl).hostname],
      },
    ],
  });
}

export const TENANT_PATH = '(?<tenant>[^/]+)';

export function metadataRoutes(): Route[] {
  return [
    route('entra', 'GET', new RegExp(`^/${TENANT_PATH}/v2\\.0/\\.well-known/openid-configuration$`), (req, emu) => {
      const tenant = req.params.tenant!;
      if (!resolvesToTenant(emu.world, tenant)) return unknownTenant(req, emu, tenant, 'invalid_tenant');
      return json(200, openIdConfiguration(emu, tenant));
    }),
    route('entra', 'GET', new RegExp(`^/${TENANT_PATH}/discovery/v2\\.0/keys$`), (req, emu) => {
      const tenant = req.params.tenant!;
      if (!resolvesToTenant(emu.world, tenant)) return unknownTenant(req, emu, tenant, 'invalid_tenant');
      return json(200, { keys: [emu.world.entra.signingKey().publicJwk] });
    }),
    route('entra', 'GET', /^\/common\/discovery\/instance$/, instanceDiscovery),
  ];
}
