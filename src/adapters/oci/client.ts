/**
 * The one way we build an OCI identity domain client (the sweep's OciDomain
 * and doctor's OciInspector): API-key auth from the OCI config file, our
 * CA-trusting connections (through WholeHttpClient), the domain URL as
 * endpoint, and the SDK settings that keep oci-common 2.139.1 quiet.
 */
import * as common from 'oci-common';
import * as identitydomains from 'oci-identitydomains';
import { ConfigError } from '../../errors.js';
import type { FileHost } from '../../file-safety.js';
import { assertOciFilesPrivate } from './key-file.js';
import type { HttpConnections } from '../http/tls.js';
import { WholeHttpClient, type AnswerObserver } from './http-client.js';

export interface OciClientOptions {
  domainUrl: string;
  configFile: string;
  profile: string;
  connections?: HttpConnections;
  onAnswer?: AnswerObserver;
  /** The machine's platform and uid: the OCI config and its API key must be private to their owner. */
  files?: FileHost;
}

/**
 * The SDK's parse errors quote the offending line of the OCI config, which
 * may be a pass phrase; only the kind of problem is kept. (Its key-file
 * failure is thrown as a bare string.)
 */
function describeOciConfigFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^(Found line with no key-value pair|Found line with no key|Cannot have empty profile name|Config parse error[^:]*):[\s\S]*$/, '$1 (the line is not shown)');
}

export function createOciClient(options: OciClientOptions): identitydomains.IdentityDomainsClient {
  if (options.files) assertOciFilesPrivate(options.configFile, options.profile, options.files);
  let provider: common.ConfigFileAuthenticationDetailsProvider;
  try {
    provider = new common.ConfigFileAuthenticationDetailsProvider(options.configFile, options.profile);
  } catch (error) {
    throw new ConfigError('CONFIG_INVALID', `The OCI config file ${options.configFile} (profile ${options.profile}) cannot be used: ${describeOciConfigFailure(error)}`, {
      hint: 'Check oci.configFile and oci.profile in the config; the profile needs user, fingerprint, tenancy, region and key_file.',
    });
  }
  const client = new identitydomains.IdentityDomainsClient(
    // The client signs with the provider's key through the http client (the SDK takes one or the other).
    { httpClient: new WholeHttpClient(new common.DefaultRequestSigner(provider), options.connections, options.onAnswer) },
    {
      // No client breaker: oci-common 2.139.1's FetchHttpClient (still used for streamed bodies)
      // does not unwrap the breaker's {response} when httpOptions are set ("response.text is not a function").
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
