/**
 * The one way we build an OCI identity domain client (the sweep's OciDomain
 * and doctor's OciInspector): API-key auth from the OCI config file, our
 * CA-trusting connections (through WholeHttpClient), the domain URL as
 * endpoint, and the SDK settings that keep oci-common 2.139.1 quiet.
 */
import * as common from 'oci-common';
import * as identitydomains from 'oci-identitydomains';
import { ConfigError, PolicyError } from '../../errors.js';
import type { FileHost } from '../../file-safety.js';
import { assertOciFilesPrivate } from './key-file.js';
import type { HttpConnections } from '../http/tls.js';
import { WholeHttpClient, type AnswerObserver } from './http-client.js';

export type OciAccess = 'read' | 'write';

export interface OciClientOptions {
  domainUrl: string;
  configFile: string;
  profile: string;
  /** "read" (the default) refuses every request that could change the domain, before it is signed or sent. */
  access?: OciAccess;
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
  return message.replace(
    /^(Found line with no key-value pair|Found line with no key|Cannot have empty profile name|Config parse error[^:]*):[\s\S]*$/,
    '$1 (the line is not shown)',
  );
}

/**
 * The typed refusal of a write with a read-only OCI config (oci.access "read"):
 * exit 3, as any other refusal by policy. The key itself may well be able to
 * write; ociaccess does not try.
 */
export function ociReadOnlyError(operation: string): PolicyError {
  return new PolicyError(
    'OCI_READ_ONLY',
    `Refused to ${operation}: this config's OCI key is declared read-only (oci.access is "read"), so ociaccess sends no change to OCI.`,
    {
      hint: 'Only the sweep host changes OCI. There, set "access": "write" in the "oci" section (docs/setup-oci.md); people\'s machines keep "read" or no "oci" section at all.',
    },
  );
}

/**
 * Whether an SDK call failed on that refusal. The SDK's retrier hands back a
 * non-service error as a plain {code, message}: the class is lost, the code is not.
 */
export function isOciReadOnlyRefusal(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'OCI_READ_ONLY';
}

/** Requests that only read: GET/HEAD, and SCIM searches (POST …/.search). */
export function isOciRead(method: string, uri: string): boolean {
  const verb = method.toUpperCase();
  if (verb === 'GET' || verb === 'HEAD') return true;
  return verb === 'POST' && /\/\.search$/.test(uri.split('?')[0]!);
}

export function createOciClient(options: OciClientOptions): identitydomains.IdentityDomainsClient {
  if (options.files) assertOciFilesPrivate(options.configFile, options.profile, options.files);
  let provider: common.ConfigFileAuthenticationDetailsProvider;
  try {
    provider = new common.ConfigFileAuthenticationDetailsProvider(options.configFile, options.profile);
  } catch (error) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `The OCI config file ${options.configFile} (profile ${options.profile}) cannot be used: ${describeOciConfigFailure(error)}`,
      {
        hint: 'Check oci.configFile and oci.profile in the config; the profile needs user, fingerprint, tenancy, region and key_file.',
      },
    );
  }
  const client = new identitydomains.IdentityDomainsClient(
    // The client signs with the provider's key through the http client (the SDK takes one or the other).
    // A read-only config's client refuses writes below the SDK, so no operation (ours or a future one) can send one.
    {
      httpClient: new WholeHttpClient(
        new common.DefaultRequestSigner(provider),
        options.connections,
        options.onAnswer,
        (options.access ?? 'read') === 'read' ? refuseWrites : undefined,
      ),
    },
    {
      // No client breaker: our callers retry (OciDomain.call), and the breaker would count
      // their attempts as its own.
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

function refuseWrites(method: string, uri: string): void {
  if (isOciRead(method, uri)) return;
  // shouldBeRetried: read by the SDK's retrier, which would otherwise count this as a network failure.
  throw Object.assign(
    ociReadOnlyError(`send ${method.toUpperCase()} ${new URL(uri).pathname} to the OCI identity domain`),
    { shouldBeRetried: false },
  );
}
