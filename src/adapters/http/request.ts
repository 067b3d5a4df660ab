/**
 * One HTTP call, read whole and shaped as fetch would give it: the Graph
 * SDK's transport (graph/transport.ts) and our own small calls (tls.ts,
 * fetchTextWithCa) all go through it, so they fail and read headers the same
 * way.
 *
 * It goes out on Node's own http/https agents, not on undici. undici 6.29
 * writes a request on a reused keep-alive connection only in the event loop's
 * check phase (its fix for unsolicited bytes on idle sockets, GHSA-35p6-xmwp-9g52),
 * after every answer that arrived in the same turn has been handled. A
 * sweep's four $batch answers arrive together, so each next call waited for
 * the other three answers' work and the calls stayed bunched: about 40 ms of
 * a 1.3 s sweep (issue 4). Node's agent writes the request when it is made.
 * What that fix guards against matters little here: our calls go over TLS to
 * the server they verified, so only that server could send the stray bytes,
 * and Node's agent reads and drops whatever arrives on a connection while it
 * sits idle in the pool.
 */
import http from 'node:http';
import https from 'node:https';
// undici's own Headers: the global one is Node's bundled copy of undici, about 20 ms to load on first use.
import { Headers } from 'undici';

/** Where requestWhole's calls go out: connection pools that share trust and limits (tls.ts makes them). */
export interface RequestConnections {
  /** The agent for this URL's scheme. */
  agentFor(url: URL): http.Agent;
  /** How long a call may go without a byte from the server (headers or body) before it fails. */
  readonly timeoutMs: number;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Default: Node's global agents, with the system CAs and no timeout of our own. */
  connections?: RequestConnections;
  signal?: AbortSignal;
}

export interface WholeAnswer {
  status: number;
  /** The reason phrase of the status line ("Not Found"), as fetch's statusText. */
  statusText: string;
  /** As fetch reads them: repeated headers kept, values as Latin-1 bytes. */
  headers: Headers;
  bytes: Buffer;
}

/** The error a call that heard nothing for too long fails with (as the cause of "fetch failed"). */
export class NoAnswerError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(timeoutMs: number) {
    super(`No data from the server for ${timeoutMs / 1000} s.`);
    this.name = 'NoAnswerError';
  }
}

/**
 * Failures read as fetch's: TypeError "fetch failed" with the network error as
 * its cause (an abort stays an AbortError), whether the answer never came or
 * its body broke off.
 */
export function requestWhole(url: string, options: RequestOptions = {}): Promise<WholeAnswer> {
  const fail = (error: unknown) => ((error as Error)?.name === 'AbortError' ? error : new TypeError('fetch failed', { cause: error }));
  const signal = options.signal;
  const abortReason = (): Error => (signal?.reason as Error | undefined) ?? new DOMException('This operation was aborted', 'AbortError');
  if (signal?.aborted) return Promise.reject(fail(abortReason()));
  let target: URL;
  try {
    target = new URL(url);
    if (target.protocol !== 'https:' && target.protocol !== 'http:') throw new TypeError(`${target.protocol} URLs are not supported: ${url}`);
  } catch (error) {
    return Promise.reject(fail(error));
  }
  const transport = target.protocol === 'https:' ? https : http;
  const agent = options.connections?.agentFor(target) ?? (transport === https ? https.globalAgent : http.globalAgent);
  return new Promise<WholeAnswer>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const onAbort = () => {
      const reason = abortReason();
      settle(() => reject(fail(reason)));
      call.destroy(reason);
    };
    const call = transport.request(target, { method: (options.method ?? 'GET').toUpperCase(), headers: options.headers, agent }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('error', (error) => settle(() => reject(fail(error))));
      const brokeOff = () => settle(() => reject(fail(Object.assign(new Error('The answer broke off before its end.'), { code: 'ECONNRESET' }))));
      answer.on('end', () => (answer.complete ? settle(() => resolve({ status: answer.statusCode ?? 0, statusText: answer.statusMessage ?? '', headers: new Headers(pairsOf(answer.rawHeaders)), bytes: Buffer.concat(chunks) })) : brokeOff()));
      // An answer cut short closes without 'end' (and without 'error' on some Node releases).
      answer.on('close', brokeOff);
    });
    call.on('error', (error) => settle(() => reject(fail(error))));
    const timeoutMs = options.connections?.timeoutMs;
    if (timeoutMs) call.setTimeout(timeoutMs, () => call.destroy(new NoAnswerError(timeoutMs)));
    signal?.addEventListener('abort', onAbort, { once: true });
    call.end(options.body);
  });
}

/** The body as fetch's text() reads it: UTF-8, a leading byte order mark dropped. */
export function textOf(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes);
}

/**
 * Header name/value pairs as fetch reads them. Node's rawHeaders are already
 * the bytes as Latin-1 (as fetch reads them, and no value is refused by
 * Headers), with repeated headers kept as separate pairs.
 */
function pairsOf(raw: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let index = 0; index + 1 < raw.length; index += 2) pairs.push([raw[index]!, raw[index + 1]!]);
  return pairs;
}
