/**
 * Extra trusted CAs for every SDK we use. Node 20 reads NODE_EXTRA_CA_CERTS
 * only at process start and has no API to add a CA later, and the SDKs call
 * the global fetch or Node's global agents. So when the config names a CA file
 * (a TLS-inspecting proxy, a private cloud, the emulator) every call goes out
 * on connections that trust the system roots plus that CA
 * (connectionsForCaFile), through requestWhole:
 *  - msal-node: through a network client (see auth adapter),
 *  - graph client: its transport (graph/transport.ts),
 *  - oci-common: its http client (oci/http-client.ts).
 * The undici dispatcher beside them serves what still calls fetch: the
 * SDKs' fallbacks for streamed bodies, fetchWithCa, tests.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import { DEFAULT_HTTP_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES, bodyTooLarge, deadlineExceeded, requestWhole, textOf, type RequestConnections } from './request.js';
import { ConfigError } from '../../errors.js';

const pools = new Map<string, HttpConnections>();

export { DEFAULT_HTTP_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES };

/** The deadline for one request (request.ts): OCIACCESS_HTTP_TIMEOUT_SECONDS, or DEFAULT_HTTP_TIMEOUT_MS. */
export function httpTimeoutMs(env: Readonly<Record<string, string | undefined>>): number {
  const seconds = Number(env.OCIACCESS_HTTP_TIMEOUT_SECONDS);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_HTTP_TIMEOUT_MS;
}

/**
 * A sweep's reads beside its $batch calls: the member list (phase 1), then the
 * provisioning job and the OCI group's reads (phase 2; OCI is another host
 * except on the emulator).
 */
export const READS_BESIDE_BATCHES = 3;
/** The default sweep's $batch slots (4) and the reads beside them. */
export const DEFAULT_CONNECTIONS_PER_ORIGIN = 4 + READS_BESIDE_BATCHES;

export interface ConnectionOptions {
  /** The deadline for one request, headers and whole body (default DEFAULT_HTTP_TIMEOUT_MS). */
  timeoutMs?: number;
  /** The most bytes one answer's body may have (default DEFAULT_MAX_BODY_BYTES; tests set less). */
  maxBodyBytes?: number;
  /**
   * At most this many connections to one host (default DEFAULT_CONNECTIONS_PER_ORIGIN).
   * Requests beyond it wait for a free connection instead of opening another:
   * our calls' concurrency is bounded, and each connection more than they can
   * use is only another TLS handshake in their way.
   */
  connectionsPerOrigin?: number;
}

/** How long an idle connection stays open for the next call. */
const KEEP_ALIVE_MS = 4_000;

/**
 * The connections a command's HTTP goes out on, all with one trust (the
 * system roots plus tls.caFile), one timeout and one cap per host: Node's
 * agents for requestWhole (Graph, OCI, sign-in, the emulator clock; request.ts
 * says why not undici there), and an undici dispatcher for what calls fetch
 * itself (fetchWithCa, the SDKs' fallbacks for streamed bodies).
 */
export interface HttpConnections extends RequestConnections {
  readonly dispatcher: Dispatcher;
  readonly maxBodyBytes: number;
}

/** Connections with request timeouts, trusting the system roots plus the PEM certificates in caFile (if one is configured). */
export function connectionsForCaFile(caFile: string | undefined, options: ConnectionOptions = {}): HttpConnections {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const perHost = options.connectionsPerOrigin ?? DEFAULT_CONNECTIONS_PER_ORIGIN;
  const key = `${caFile ?? ''}|${timeoutMs}|${maxBodyBytes}|${perHost}`;
  const cached = pools.get(key);
  if (cached) return cached;
  // One secure context for every connection, built once.
  const secureContext = caFile ? secureContextTrusting(readCaFile(caFile)) : undefined;
  // undici's own timeouts are idle ones; fetchWithCa adds the overall deadline and the body cap.
  const dispatcher = new Agent({
    ...(secureContext ? { connect: { secureContext } } : {}),
    keepAliveTimeout: KEEP_ALIVE_MS,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connections: perHost,
  });
  // `timeout` is the idle connections' here: a call's own is set per call (requestWhole).
  const agentOptions = { keepAlive: true, maxSockets: perHost, timeout: KEEP_ALIVE_MS, scheduling: 'lifo' as const };
  const httpsAgent = new https.Agent({ ...agentOptions, ...(secureContext ? { secureContext } : {}) });
  const httpAgent = new http.Agent(agentOptions);
  const made: HttpConnections = { dispatcher, timeoutMs, maxBodyBytes, agentFor: (url) => (url.protocol === 'http:' ? httpAgent : httpsAgent) };
  pools.set(key, made);
  return made;
}

/** The undici side of connectionsForCaFile alone. */
export function dispatcherForCaFile(caFile: string | undefined, options: ConnectionOptions = {}): Dispatcher {
  return connectionsForCaFile(caFile, options).dispatcher;
}

function readCaFile(caFile: string): string {
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
  return pem;
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

/**
 * fetch() bound to the dispatcher, for code that calls fetch itself, with the
 * same limits as requestWhole: the whole call (headers and body, read by
 * whoever reads the Response) within the connections' deadline, failing with
 * HTTP_DEADLINE_EXCEEDED, and a body of at most maxBodyBytes, failing with
 * HTTP_BODY_TOO_LARGE as soon as it is passed (declared or received).
 */
export function fetchWithCa(caFile: string | undefined, options: ConnectionOptions = {}): typeof fetch {
  const { dispatcher, timeoutMs, maxBodyBytes } = connectionsForCaFile(caFile, options);
  return (async (input: any, init: any = {}) => {
    const host = hostOf(input);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(deadlineExceeded(host, timeoutMs)), timeoutMs);
    const given = init.signal as AbortSignal | undefined | null;
    const signal = given ? AbortSignal.any([given, deadline.signal]) : deadline.signal;
    const failure = (error: unknown) => (deadline.signal.aborted && !given?.aborted ? deadline.signal.reason : error);
    let response: Response;
    try {
      response = await fetch(input, { ...init, signal, dispatcher } as RequestInit);
    } catch (error) {
      clearTimeout(timer);
      throw failure(error);
    }
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      clearTimeout(timer);
      deadline.abort();
      throw bodyTooLarge(host, maxBodyBytes);
    }
    if (!response.body) {
      clearTimeout(timer);
      return response;
    }
    const source = response.body.getReader();
    let received = 0;
    const capped = new ReadableStream<Uint8Array>({
      async pull(controller) {
        let chunk: Awaited<ReturnType<typeof source.read>>;
        try {
          chunk = await source.read();
        } catch (error) {
          clearTimeout(timer);
          throw failure(error);
        }
        if (chunk.done) {
          clearTimeout(timer);
          controller.close();
          return;
        }
        received += chunk.value.byteLength;
        if (received > maxBodyBytes) {
          clearTimeout(timer);
          const error = bodyTooLarge(host, maxBodyBytes);
          controller.error(error);
          await source.cancel(error).catch(() => undefined);
          return;
        }
        controller.enqueue(chunk.value);
      },
      async cancel(reason) {
        clearTimeout(timer);
        await source.cancel(reason);
      },
    });
    return new Response(capped, { status: response.status, statusText: response.statusText, headers: response.headers });
  }) as typeof fetch;
}

function hostOf(input: unknown): string {
  try {
    return new URL(typeof input === 'string' || input instanceof URL ? input : (input as { url: string }).url).host;
  } catch {
    return String(input);
  }
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
 * fetch's shape over requestWhole on our connections, for the few calls
 * we make ourselves (MSAL's requests to Entra, the emulator's clock). Node's
 * fetch costs ~20 ms to load and ~1 ms a call at the start of every command;
 * this costs neither. Failures read as fetch's: TypeError "fetch failed" with
 * the network error as its cause; the limits fail as requestWhole's do.
 */
export function fetchTextWithCa(caFile: string | undefined, options: ConnectionOptions = {}): FetchText {
  const connections = connectionsForCaFile(caFile, options);
  return async (url, init = {}) => {
    const answer = await requestWhole(url, { ...init, connections });
    const text = textOf(answer.bytes);
    return { status: answer.status, headers: answer.headers, text: async () => text };
  };
}
