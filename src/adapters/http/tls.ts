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
import { requestWhole, textOf } from './request.js';
import { ConfigError } from '../../errors.js';

const dispatchers = new Map<string, Dispatcher>();

/**
 * How long a request waits for the answer's headers, and between two chunks
 * of its body, before it fails as "no answer" (undici's own default is 5
 * minutes, per attempt). OCIACCESS_HTTP_TIMEOUT_SECONDS changes it.
 */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

export function httpTimeoutMs(env: Readonly<Record<string, string | undefined>>): number {
  const seconds = Number(env.OCIACCESS_HTTP_TIMEOUT_SECONDS);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_HTTP_TIMEOUT_MS;
}

/** A sweep reads the member list, the group's record and the provisioning job beside its $batch calls. */
export const READS_BESIDE_BATCHES = 3;
/** The default sweep's $batch slots (4) and the reads beside them. */
export const DEFAULT_CONNECTIONS_PER_ORIGIN = 4 + READS_BESIDE_BATCHES;

export interface DispatcherOptions {
  timeoutMs?: number;
  /**
   * At most this many connections to one host (default DEFAULT_CONNECTIONS_PER_ORIGIN).
   * Requests beyond it wait for a free connection instead of opening another:
   * our calls' concurrency is bounded, and each connection more than they can
   * use is only another TLS handshake in their way.
   */
  connectionsPerOrigin?: number;
}

/** A dispatcher with request timeouts, trusting the system roots plus the PEM certificates in caFile (if one is configured). */
export function dispatcherForCaFile(caFile: string | undefined, options: DispatcherOptions = {}): Dispatcher | undefined {
  const timeouts = { headersTimeout: options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS, bodyTimeout: options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS };
  const connections = options.connectionsPerOrigin ?? DEFAULT_CONNECTIONS_PER_ORIGIN;
  const pool = { keepAliveTimeout: 4_000, ...timeouts, connections };
  const key = `${caFile ?? ''}|${timeouts.headersTimeout}|${connections}`;
  const cached = dispatchers.get(key);
  if (cached) return cached;
  if (!caFile) {
    const plain = new Agent(pool);
    dispatchers.set(key, plain);
    return plain;
  }
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
  // One secure context for every connection, built once.
  const secureContext = secureContextTrusting(pem);
  const dispatcher = new Agent({ connect: { secureContext }, ...pool });
  dispatchers.set(key, dispatcher);
  return dispatcher;
}

/**
 * A secure context trusting the default roots plus the certificates in `pem`.
 * The default context shares Node's root store (already parsed); adding the
 * extra CA copies that store natively. Passing `ca: [...tls.rootCertificates,
 * pem]` instead parses ~140 PEM certificates in JavaScript first: ~50 ms of
 * CPU at the start of every command. `context.addCACert` is what Node itself
 * calls for `ca`; should a Node release drop it, the slow way still works.
 * The default roots include NODE_EXTRA_CA_CERTS, as a user would expect.
 */
function secureContextTrusting(pem: string): tls.SecureContext {
  const secureContext = tls.createSecureContext();
  const native = (secureContext as unknown as { context?: { addCACert?: (pem: string) => void } }).context;
  if (typeof native?.addCACert === 'function') {
    native.addCACert(pem);
    return secureContext;
  }
  return tls.createSecureContext({ ca: [...tls.rootCertificates, pem] });
}

/** fetch() bound to the dispatcher, for code that calls fetch itself. */
export function fetchWithCa(caFile: string | undefined): typeof fetch {
  const dispatcher = dispatcherForCaFile(caFile);
  if (!dispatcher) return fetch;
  return ((input: any, init: any = {}) => fetch(input, { ...init, dispatcher } as RequestInit)) as typeof fetch;
}

/** The part of a fetch Response our own small calls read. */
export interface TextResponse {
  status: number;
  headers: Headers;
  text(): Promise<string>;
}

export type FetchText = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<TextResponse>;

/**
 * fetch's shape over requestWhole on our dispatcher, for the few calls
 * we make ourselves (MSAL's requests to Entra, the emulator's clock). Node's
 * fetch costs ~20 ms to load and ~1 ms a call at the start of every command;
 * this costs neither. Failures read as fetch's: TypeError "fetch failed" with
 * the network error as its cause.
 */
export function fetchTextWithCa(caFile: string | undefined): FetchText {
  const dispatcher = dispatcherForCaFile(caFile);
  return async (url, init = {}) => {
    const answer = await requestWhole(url, { ...init, dispatcher });
    const text = textOf(answer.bytes);
    return { status: answer.status, headers: answer.headers, text: async () => text };
  };
}
