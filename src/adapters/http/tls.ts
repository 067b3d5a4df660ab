/**
 * Extra trusted CAs for every SDK we use. Node 20 reads NODE_EXTRA_CA_CERTS
 * only at process start and has no API to add a CA later, and the three SDKs
 * all call the global fetch. So when the config names a CA file (a
 * TLS-inspecting proxy, a private cloud, the emulator) each SDK gets an undici
 * dispatcher that trusts the system roots plus that CA:
 *  - msal-node: through a network client (see auth adapter),
 *  - graph client: fetchOptions.dispatcher,
 *  - oci-common: clientConfiguration.httpOptions.dispatcher.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import { ConfigError } from '../../errors.js';

const dispatchers = new Map<string, Dispatcher>();

/** A dispatcher trusting the system roots plus the PEM certificates in caFile; undefined when no file is configured. */
export function dispatcherForCaFile(caFile: string | undefined): Dispatcher | undefined {
  if (!caFile) return undefined;
  const cached = dispatchers.get(caFile);
  if (cached) return cached;
  let pem: string;
  try {
    pem = readFileSync(caFile, 'utf8');
  } catch (error) {
    throw new ConfigError('CONFIG_INVALID', `tls.caFile "${caFile}" cannot be read: ${(error as Error).message}.`, {
      hint: 'Point tls.caFile at a readable PEM file, or remove it to use the system CAs only.',
    });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError('CONFIG_INVALID', `tls.caFile "${caFile}" holds no PEM certificate.`, {
      hint: 'The file must contain one or more "-----BEGIN CERTIFICATE-----" blocks.',
    });
  }
  // One secure context for every connection: building one from ~140 root
  // certificates costs milliseconds of CPU, which a sweep opening many
  // connections would otherwise pay each time.
  const secureContext = tls.createSecureContext({ ca: [...tls.rootCertificates, pem] });
  const dispatcher = new Agent({ connect: { secureContext }, keepAliveTimeout: 4_000 });
  dispatchers.set(caFile, dispatcher);
  return dispatcher;
}

/** fetch() bound to the dispatcher, for code that calls fetch itself. */
export function fetchWithCa(caFile: string | undefined): typeof fetch {
  const dispatcher = dispatcherForCaFile(caFile);
  if (!dispatcher) return fetch;
  return ((input: any, init: any = {}) => fetch(input, { ...init, dispatcher } as RequestInit)) as typeof fetch;
}
