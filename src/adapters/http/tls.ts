/**
 * The connections every call goes out on: one pool per origin (Node's
 * http/https agents), trusting the default roots plus the CA in tls.caFile,
 * with one cap on connections per origin. MSAL (auth/network.ts), the Graph
 * client (graph/transport.ts), the OCI SDK (oci/http-client.ts) and our own
 * small calls (httpFetch: authority metadata, the emulator's clock) all send
 * through requestWhole (request.ts) on these agents; docs/architecture.md
 * says why node:http(s) and not undici.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { DEFAULT_HTTP_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES, requestWhole, type RequestConnections } from './request.js';
import { bufferedResponseOf, headerRecord } from './response.js';
import { ConfigError } from '../../errors.js';
import { TunnelAgent, proxyFor, type ProxySettings } from './proxy.js';

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
   * At most this many connections to one origin (default DEFAULT_CONNECTIONS_PER_ORIGIN).
   * Requests beyond it wait for a free connection instead of opening another:
   * our calls' concurrency is bounded, and each connection more than they can
   * use is only another TLS handshake in their way.
   */
  connectionsPerOrigin?: number;
  /** The outbound proxy (proxy.ts: network.proxy, HTTPS_PROXY, NO_PROXY); none by default. */
  proxy?: ProxySettings;
}

/**
 * Connections and the limits of the calls sent on them. The pool belongs to
 * the trust (tls.caFile) and the per-origin cap: every HttpConnections with
 * the same two shares the same sockets, whatever its limits.
 */
export interface HttpConnections extends RequestConnections {
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
}

/** How long an idle connection stays open for the next call. */
const KEEP_ALIVE_MS = 4_000;

/** The agents of one trust and cap. Node's agent keeps a pool per origin (host and port) and caps each at maxSockets. */
interface Pool {
  agentFor(url: URL): http.Agent;
}

const pools = new Map<string, Pool>();

/** Connections trusting the default roots plus the PEM certificates in caFile (if one is configured). */
export function connectionsForCaFile(caFile: string | undefined, options: ConnectionOptions = {}): HttpConnections {
  const perOrigin = options.connectionsPerOrigin ?? DEFAULT_CONNECTIONS_PER_ORIGIN;
  const proxy = options.proxy;
  const key = `${caFile ?? ''}|${perOrigin}|${proxy ? `${proxy.url.href}|${proxy.noProxy.join(',')}` : ''}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = poolFor(caFile === undefined ? undefined : readCaFile(caFile), perOrigin, proxy);
    pools.set(key, pool);
  }
  return {
    agentFor: pool.agentFor,
    timeoutMs: options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  };
}

function poolFor(extraCaPem: string | undefined, perOrigin: number, proxy: ProxySettings | undefined): Pool {
  // `timeout` is the idle connections' here: a call's own deadline is set per call (requestWhole).
  const agentOptions = { keepAlive: true, maxSockets: perOrigin, timeout: KEEP_ALIVE_MS, scheduling: 'lifo' as const };
  const httpAgent = new http.Agent(agentOptions);
  let httpsAgent: https.Agent | undefined;
  let tunnelAgent: https.Agent | undefined;
  const tlsOptions = () => (extraCaPem === undefined ? {} : { secureContext: trustedContext(extraCaPem) });
  return {
    /**
     * The one place that decides how a connection to an origin is made:
     * directly, or (https origins that NO_PROXY does not exclude, when a proxy
     * is configured) through a CONNECT tunnel with TLS to the origin inside it.
     */
    agentFor(url: URL): http.Agent {
      if (url.protocol === 'http:') return httpAgent;
      // Made on first use: building the context is the costly part (see trustedContext), and plain-http calls never need it.
      if (proxyFor(url, proxy)) return (tunnelAgent ??= new TunnelAgent(proxy!, { ...agentOptions, ...tlsOptions() }));
      httpsAgent ??= new https.Agent({ ...agentOptions, ...tlsOptions() });
      return httpsAgent;
    },
  };
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
 * The certificates a default TLS connection trusts, through public APIs
 * only: on Node releases that have tls.getCACertificates, its "default" set
 * (the bundled roots plus NODE_EXTRA_CA_CERTS, and the system store when
 * Node is told to use it); on Node 20, tls.rootCertificates, the bundled roots.
 */
export function defaultTrustedCertificates(): readonly string[] {
  const getCACertificates = (tls as { getCACertificates?: (type?: string) => string[] }).getCACertificates;
  return typeof getCACertificates === 'function' ? getCACertificates('default') : tls.rootCertificates;
}

/**
 * One secure context trusting the default roots plus `pem`, built once per
 * process and shared by every connection (giving `ca` to the agent instead
 * would build it again for each connection).
 */
function trustedContext(pem: string): tls.SecureContext {
  return tls.createSecureContext({ ca: [...defaultTrustedCertificates(), pem] });
}

export type HttpFetch = typeof fetch;

/**
 * fetch over requestWhole on `connections`, for the calls we make ourselves
 * (MSAL's requests to Entra, the authority metadata, the emulator's clock
 * and control calls): the answer read whole, as a Response (status, ok,
 * headers, text(), json(), …); failures as requestWhole's. A Request object
 * or a body other than a string or bytes is read whole first.
 */
export function httpFetch(connections: HttpConnections): HttpFetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const plain = typeof input === 'string' || input instanceof URL;
    const body = init.body ?? undefined;
    const simple = plain && (body === undefined || typeof body === 'string' || body instanceof Uint8Array);
    const request = simple ? undefined : new Request(input, { ...init, duplex: 'half' } as RequestInit);
    const url = request?.url ?? String(input);
    const answer = await requestWhole(url, {
      method: request?.method ?? init.method,
      headers: headerRecord(request?.headers ?? init.headers),
      body: request
        ? request.body
          ? Buffer.from(await request.arrayBuffer())
          : undefined
        : (body as string | Uint8Array | undefined),
      connections,
      signal: request?.signal ?? init.signal ?? undefined,
    });
    return bufferedResponseOf(answer, url) as unknown as Response;
  }) as HttpFetch;
}

/** httpFetch on the connections for `caFile`. */
export function fetchWithCa(caFile: string | undefined, options: ConnectionOptions = {}): HttpFetch {
  return httpFetch(connectionsForCaFile(caFile, options));
}
