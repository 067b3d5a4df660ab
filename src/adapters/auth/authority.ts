/**
 * Where MSAL signs in, without asking the public cloud first.
 *
 * Given only an authority, MSAL calls login.microsoftonline.com's instance
 * discovery and then the authority's OpenID configuration before the first
 * token request. A sovereign cloud, an air-gapped network or the emulator
 * must not depend on the first, and neither needs the second: the Microsoft
 * identity platform lays out every cloud the same way, so the metadata is
 * built from `cloud.authorityHost` and `tenantId`. That saves a round trip on
 * every command, and `knownAuthorities` tells MSAL to trust the host without
 * discovery. `fetchOpenIdConfiguration` exists for `doctor`, which checks the
 * built layout against what the authority really publishes.
 */
import type { Config } from '../../config/schema.js';
import { UpstreamError } from '../../errors.js';
import { fetchWithCa, type HttpFetch } from '../http/tls.js';

export type AuthorityConfig = Pick<Config, 'tenantId' | 'cloud' | 'tls'>;

export interface AuthorityMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  device_authorization_endpoint: string;
  end_session_endpoint: string;
  jwks_uri: string;
}

function hostBase(config: AuthorityConfig): string {
  return config.cloud.authorityHost.replace(/\/+$/, '');
}

/** `${authorityHost}/${tenantId}`: a single-tenant authority, so tokens come from the configured directory only. */
export function authorityUrl(config: AuthorityConfig): string {
  return `${hostBase(config)}/${config.tenantId}`;
}

/** The authority's host[:port], the form MSAL compares knownAuthorities with. */
export function authorityHostName(config: AuthorityConfig): string {
  return new URL(hostBase(config)).host;
}

export function authorityMetadata(config: AuthorityConfig): AuthorityMetadata {
  const authority = authorityUrl(config);
  return {
    issuer: `${authority}/v2.0`,
    authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
    token_endpoint: `${authority}/oauth2/v2.0/token`,
    device_authorization_endpoint: `${authority}/oauth2/v2.0/devicecode`,
    end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
    jwks_uri: `${authority}/discovery/v2.0/keys`,
  };
}

/** The part of an MSAL configuration's `auth` section that pins the authority. */
export function msalAuthorityOptions(config: AuthorityConfig): {
  authority: string;
  knownAuthorities: string[];
  authorityMetadata: string;
} {
  return {
    authority: authorityUrl(config),
    knownAuthorities: [authorityHostName(config)],
    authorityMetadata: JSON.stringify(authorityMetadata(config)),
  };
}

/** Reads the authority's published OpenID configuration (for `doctor`). */
export async function fetchOpenIdConfiguration(
  config: AuthorityConfig,
  fetchImpl: HttpFetch = fetchWithCa(config.tls.caFile),
): Promise<Record<string, unknown>> {
  const url = `${authorityUrl(config)}/v2.0/.well-known/openid-configuration`;
  let response: Response;
  try {
    response = await fetchImpl(url, { headers: { accept: 'application/json' } });
  } catch (error) {
    throw new UpstreamError(
      'ENTRA_UNREACHABLE',
      `Cannot reach the sign-in service at ${hostBase(config)}: ${(error as Error).message}.`,
      {
        hint: 'Check cloud.authorityHost, your network or proxy, and tls.caFile if a proxy inspects TLS.',
        cause: error,
      },
    );
  }
  const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (!response.ok || !body) {
    const description =
      typeof body?.error_description === 'string'
        ? body.error_description.split(/\r?\n/)[0]
        : `HTTP ${response.status}`;
    throw new UpstreamError(
      'ENTRA_METADATA_UNAVAILABLE',
      `The sign-in service did not publish an OpenID configuration for tenant ${config.tenantId}: ${description}`,
      {
        hint: 'Check tenantId and cloud.authorityHost in the config.',
      },
    );
  }
  return body;
}
