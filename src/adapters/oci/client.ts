/**
 * The one way we build an OCI identity domain client (the sweep's OciDomain
 * and doctor's OciInspector): API-key auth from the OCI config file, our CA
 * dispatcher, the domain URL as endpoint, and the SDK settings oci-common
 * 2.139.1 needs to work with a dispatcher and stay quiet.
 */
import * as common from 'oci-common';
import * as identitydomains from 'oci-identitydomains';
import type { Dispatcher } from 'undici';
import { ConfigError } from '../../errors.js';

export interface OciClientOptions {
  domainUrl: string;
  configFile: string;
  profile: string;
  dispatcher?: Dispatcher;
}

export function createOciClient(options: OciClientOptions): identitydomains.IdentityDomainsClient {
  let provider: common.ConfigFileAuthenticationDetailsProvider;
  try {
    provider = new common.ConfigFileAuthenticationDetailsProvider(options.configFile, options.profile);
  } catch (error) {
    throw new ConfigError('CONFIG_INVALID', `The OCI config file ${options.configFile} (profile ${options.profile}) cannot be used: ${(error as Error).message}`, {
      hint: 'Check oci.configFile and oci.profile in the config; the profile needs user, fingerprint, tenancy, region and key_file.',
    });
  }
  const client = new identitydomains.IdentityDomainsClient(
    { authenticationDetailsProvider: provider },
    {
      httpOptions: options.dispatcher ? { dispatcher: options.dispatcher } : undefined,
      // oci-common 2.139.1 does not unwrap its circuit breaker's {response} when
      // httpOptions are set ("response.text is not a function"): no client breaker.
      circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }),
      // The SDK's retrier prints to stderr by itself; callers retry (OciDomain.call) or report.
      retryConfiguration: {
        terminationStrategy: new common.MaxAttemptsTerminationStrategy(1),
        delayStrategy: new common.ExponentialBackoffDelayStrategy(0),
      },
    },
  );
  client.endpoint = options.domainUrl.replace(/\/+$/, '');
  return client;
}
