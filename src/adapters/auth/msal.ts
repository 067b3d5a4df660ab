/**
 * The two MSAL applications ociaccess uses, built from the config:
 * - a public client (the CLI app registration) for people: device code and
 *   browser sign-in, tokens cached through the token store;
 * - a confidential client (the automation app registration) for `sweep`:
 *   client credentials with a certificate or a secret, cached in memory only.
 * Both talk through our CA-aware network client and never run authority
 * discovery (see authority.ts).
 */
import type { HttpFetch } from '../http/tls.js';
import {
  ConfidentialClientApplication,
  LogLevel,
  PublicClientApplication,
  type Configuration,
  type ICachePlugin,
  type NodeSystemOptions,
} from '@azure/msal-node';
import type { Clock } from '../../context.js';
import type { Config } from '../../config/schema.js';
import { ConfigError } from '../../errors.js';
import type { FileHost } from '../../file-safety.js';
import { authorityMetadata, msalAuthorityOptions } from './authority.js';
import { certificateAssertion, loadAutomationCredential } from './credentials.js';
import { caAwareNetworkClient, type NetworkObserver } from './network.js';

export type AuthAdapterConfig = Pick<Config, 'tenantId' | 'clientId' | 'cloud' | 'tls' | 'automation'>;

export type MsalLogLevel = 'error' | 'warning' | 'info' | 'verbose';

export interface MsalClientDeps {
  clock: Clock;
  env: Readonly<Record<string, string | undefined>>;
  /** Who may read the automation's secret or key file (checked before reading it). */
  files?: FileHost;
  /** Persists the public client's cache (the token store's plugin); none keeps it in memory. */
  cachePlugin?: ICachePlugin;
  /** Sees every request MSAL makes (method and URL only). */
  observer?: NetworkObserver;
  /** MSAL's own diagnostics (never with personal data), for --debug. */
  log?: (level: MsalLogLevel, message: string) => void;
  /** Replaces the CA-aware fetch (tests). */
  fetch?: HttpFetch;
}

const LEVELS: Record<number, MsalLogLevel> = {
  [LogLevel.Error]: 'error',
  [LogLevel.Warning]: 'warning',
  [LogLevel.Info]: 'info',
  [LogLevel.Verbose]: 'verbose',
  [LogLevel.Trace]: 'verbose',
};

function systemOptions(config: AuthAdapterConfig, deps: MsalClientDeps): NodeSystemOptions {
  const log = deps.log;
  return {
    networkClient: caAwareNetworkClient(config.tls.caFile, deps.observer, deps.fetch),
    loggerOptions: {
      piiLoggingEnabled: false,
      logLevel: log ? LogLevel.Verbose : LogLevel.Error,
      loggerCallback: (level, message) => log?.(LEVELS[level] ?? 'verbose', message),
    },
  };
}

export function createMsalPublicClient(config: AuthAdapterConfig, deps: MsalClientDeps): PublicClientApplication {
  // The schema requires it for Entra; an Okta config never signs in through MSAL (cli/services.ts).
  if (config.clientId === undefined)
    throw new ConfigError('CONFIG_INVALID', 'Entra sign-in needs the top-level clientId, which this config lacks.', {
      hint: 'Add clientId (the Entra app registration people sign in with); with idp.type "okta" sign-in goes to Okta instead.',
    });
  const configuration: Configuration = {
    auth: { clientId: config.clientId, ...msalAuthorityOptions(config) },
    cache: deps.cachePlugin ? { cachePlugin: deps.cachePlugin } : undefined,
    system: systemOptions(config, deps),
  };
  return new PublicClientApplication(configuration);
}

/**
 * Reads the automation credential (files or environment, as configured) and
 * builds the confidential client. A certificate is used through a client
 * assertion signed with deps.clock, so the assertion's times are right under
 * the emulator's virtual clock too.
 */
export async function createMsalConfidentialClient(
  config: AuthAdapterConfig,
  deps: MsalClientDeps,
): Promise<ConfidentialClientApplication> {
  if (!config.automation) {
    throw new ConfigError(
      'CONFIG_INVALID',
      'The config has no "automation" section, so no app-only token can be requested.',
      {
        hint: 'Add automation.clientId and a credential (certificateFile + certificateKeyFile, clientSecretFile or clientSecretEnv).',
      },
    );
  }
  const credential = await loadAutomationCredential(config.automation, deps.env, deps.files);
  const auth: Configuration['auth'] = { clientId: config.automation.clientId, ...msalAuthorityOptions(config) };
  if (credential.kind === 'secret') auth.clientSecret = credential.secret;
  else auth.clientAssertion = certificateAssertion(credential, deps.clock, authorityMetadata(config).token_endpoint);
  return new ConfidentialClientApplication({ auth, system: systemOptions(config, deps) });
}
