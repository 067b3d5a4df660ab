/**
 * Read-only OCI identity domain calls for `doctor`: can the OCI config
 * profile be used at all, and how the domain's SAML identity providers do
 * JIT provisioning. Group and user look-ups go through OciDomain (the port the
 * core uses), so doctor checks exactly what the sweep will do.
 */
import * as common from 'oci-common';
import * as identitydomains from 'oci-identitydomains';
import type { Dispatcher } from 'undici';
import { AuthError, ConfigError, UpstreamError } from '../../errors.js';
import type { JitSettings } from '../../core/doctor.js';

export interface OciInspectOptions {
  domainUrl: string;
  configFile: string;
  profile: string;
  dispatcher?: Dispatcher;
}

/** Builds the provider from the config file; a bad file or profile is a config error naming both. */
export function ociAuthProvider(configFile: string, profile: string): common.ConfigFileAuthenticationDetailsProvider {
  try {
    return new common.ConfigFileAuthenticationDetailsProvider(configFile, profile);
  } catch (error) {
    throw new ConfigError('CONFIG_INVALID', `The OCI config file ${configFile} (profile ${profile}) cannot be used: ${(error as Error).message}`, {
      hint: 'Check oci.configFile and oci.profile in the config; the profile needs user, fingerprint, tenancy, region and key_file.',
    });
  }
}

export class OciInspector {
  private readonly client: identitydomains.IdentityDomainsClient;

  constructor(options: OciInspectOptions) {
    const provider = ociAuthProvider(options.configFile, options.profile);
    this.client = new identitydomains.IdentityDomainsClient(
      { authenticationDetailsProvider: provider },
      {
        httpOptions: options.dispatcher ? { dispatcher: options.dispatcher } : undefined,
        // Same settings as OciDomain: no client circuit breaker (broken with httpOptions in 2.139.1), no SDK retries (noisy).
        circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }),
        retryConfiguration: {
          terminationStrategy: new common.MaxAttemptsTerminationStrategy(1),
          delayStrategy: new common.ExponentialBackoffDelayStrategy(0),
        },
      },
    );
    this.client.endpoint = options.domainUrl.replace(/\/+$/, '');
  }

  async identityProviders(): Promise<JitSettings[]> {
    let response: identitydomains.responses.ListIdentityProvidersResponse;
    try {
      response = await this.client.listIdentityProviders({ count: 100 });
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode ?? 0;
      const message = (error as Error).message ?? String(error);
      if (status === 401 || status === 403) {
        throw new AuthError('OCI_AUTH_FAILED', `The OCI identity domain refused to list identity providers (${status}): ${message}`, {
          hint: 'The OCI API key user needs to read the identity domain (e.g. Security Administrator or Identity Domain Administrator).',
        });
      }
      throw new UpstreamError('OCI_ERROR', `The OCI identity domain failed to list identity providers (${status || 'no answer'}): ${message}`, { details: { status } });
    }
    return (response.identityProviders?.resources ?? []).map((idp) => ({
      id: idp.id ?? '',
      name: idp.partnerName ?? idp.id ?? '(unnamed)',
      enabled: idp.enabled !== false,
      jitEnabled: idp.jitUserProvEnabled === true,
      createUsers: idp.jitUserProvCreateUserEnabled === true,
      groupAssignmentMethod: idp.jitUserProvGroupAssignmentMethod ? String(idp.jitUserProvGroupAssignmentMethod) : null,
      mappingMode: idp.jitUserProvGroupMappingMode ? String(idp.jitUserProvGroupMappingMode) : null,
      mappedOciGroupIds: (idp.jitUserProvGroupMappings ?? []).map((mapping) => mapping.value),
    }));
  }
}
