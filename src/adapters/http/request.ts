/**
 * One HTTP call, read whole and shaped as fetch would give it: the one way
 * ociaccess sends. The Graph SDK's transport (graph/transport.ts), the OCI
 * SDK's http client (oci/http-client.ts), MSAL's network client and our own
 * small calls (tls.ts, httpFetch) all go through it, on the agents tls.ts
 * makes, so they share connections, limits and failure shapes.
 */
import http from 'node:http';
import https from 'node:https';
import { DeadlineError, OciAccessError, RefusedAnswerError } from '../../errors.js';

/**
 * How long one request may take, from sending it to the last byte of the
 * answer's body, before it fails with HTTP_DEADLINE_EXCEEDED.
 * OCIACCESS_HTTP_TIMEOUT_SECONDS changes it (tls.ts, httpTimeoutMs). An
 * overall deadline, not an idle one: a server that sends one byte every few
 * seconds would otherwise hold a call (and a sweep) for as long as it likes.
 */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

/**
 * The largest answer body read from one call: 16 MiB. The largest answers
 * ociaccess asks for are far smaller (a page of 999 group members with three
 * fields is about 250 KB, a $batch of 20 records a few KB, an OCI group read
 * a few MB at the domain's 10,000-member limit), so 16 MiB leaves room for
 * growth while bounding memory: a sweep's 7 connections a host at most hold
 * about 112 MiB of answers even if every one of them is hostile.
 */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Where requestWhole's calls go out: connection pools that share trust and limits (tls.ts makes them). */
export interface RequestConnections {
  /** The agent for this URL's scheme. */
  agentFor(url: URL): http.Agent;
  /** The deadline for one call: headers and the whole body (ms). */
  readonly timeoutMs: number;
  /** The most bytes one answer's body may have. */
  readonly maxBodyBytes?: number;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Default: Node's global agents, with the system CAs, DEFAULT_HTTP_TIMEOUT_MS and DEFAULT_MAX_BODY_BYTES. */
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

/** The error of a call to `host` that did not complete within `limitMs`. */
export function deadlineExceeded(host: string, limitMs: number): DeadlineError {
  return new DeadlineError(
    `No complete answer from ${host} within ${limitMs / 1000} s (the deadline for one request).`,
    { details: { host, limitMs } },
  );
}

/** The error of an answer from `host` whose body is longer than `limitBytes`. */
export function bodyTooLarge(host: string, limitBytes: number): RefusedAnswerError {
  return new RefusedAnswerError(
    'HTTP_BODY_TOO_LARGE',
    `The answer from ${host} is larger than ${sizeOf(limitBytes)}, the most ociaccess reads from one answer.`,
    {
      details: { host, limitBytes },
    },
  );
}

/**
 * The typed limit error again, from what an SDK made of it: oci-common's
 * retrier and MSAL keep only the code and the message of what the http
 * client threw.
 */
export function limitErrorOf(error: unknown): OciAccessError | undefined {
  if (error instanceof DeadlineError || (error instanceof RefusedAnswerError && error.code === 'HTTP_BODY_TOO_LARGE'))
    return error;
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof message !== 'string') return undefined;
  if (code === 'HTTP_DEADLINE_EXCEEDED') return new DeadlineError(message, { cause: error });
  if (code === 'HTTP_BODY_TOO_LARGE') return new RefusedAnswerError('HTTP_BODY_TOO_LARGE', message, { cause: error });
  return undefined;
}

/**
 * The SDKs keep only a failed request's message ("fetch failed"), not its
 * cause: the network error's code (ECONNREFUSED, ENOTFOUND, …) is added to the
 * message, so that the adapters can say the host could not be reached.
 */
export function withNetworkCode(error: unknown): unknown {
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (!(error instanceof TypeError) || typeof code !== 'string' || !/^E[A-Z_]+$/.test(code)) return error;
  return new TypeError(`${error.message} (${code})`, { cause: (error as { cause?: unknown }).cause });
}

/** The network code in a failure's message that means the host was not reached at all, if there is one. */
export function unreachableCodeIn(message: string): string | undefined {
  return /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b/.exec(message)?.[1];
}

/** "connection refused", or "ENOTFOUND: no such host or no route". */
export function describeUnreachable(code: string): string {
  return code === 'ECONNREFUSED' ? 'connection refused' : `${code}: no such host or no route`;
}

function sizeOf(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

/**
 * Failures read as fetch's: TypeError "fetch failed" with the network error as
 * its cause (an abort stays an AbortError), whether the answer never came or
 * its body broke off. The two limits fail with their own typed errors, named
 * by host and limit: HTTP_DEADLINE_EXCEEDED (DeadlineError) when the answer
 * is not complete within the deadline, HTTP_BODY_TOO_LARGE (RefusedAnswerError)
 * as soon as the body (declared or received) passes the cap; the connection is
 * dropped then, so the rest is never read.
 */
export function requestWhole(url: string, options: RequestOptions = {}): Promise<WholeAnswer> {
  const fail = (error: unknown) =>
    (error as Error)?.name === 'AbortError' || error instanceof OciAccessError
      ? error
      : new TypeError('fetch failed', { cause: error });
  const signal = options.signal;
  const abortReason = (): Error =>
    (signal?.reason as Error | undefined) ?? new DOMException('This operation was aborted', 'AbortError');
  if (signal?.aborted) return Promise.reject(fail(abortReason()));
  let target: URL;
  try {
    target = new URL(url);
    if (target.protocol !== 'https:' && target.protocol !== 'http:')
      throw new TypeError(
        `${target.protocol} URLs are not supported (host ${target.host || 'none'}); only https: and http:.`,
      ); // not the whole URL: webhook URLs are secrets
  } catch (error) {
    return Promise.reject(fail(error));
  }
  const transport = target.protocol === 'https:' ? https : http;
  const agent = options.connections?.agentFor(target) ?? (transport === https ? https.globalAgent : http.globalAgent);
  const deadlineMs = options.connections?.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const maxBodyBytes = options.connections?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return new Promise<WholeAnswer>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    /** Fails the call with `error` and drops its connection (the rest of the answer is never read). */
    const abandon = (error: Error) => {
      settle(() => reject(fail(error)));
      call.destroy(error);
    };
    const onAbort = () => abandon(abortReason());
    const call = transport.request(
      target,
      { method: (options.method ?? 'GET').toUpperCase(), headers: options.headers, agent },
      (answer) => {
        const declared = Number(answer.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBodyBytes) {
          abandon(bodyTooLarge(target.host, maxBodyBytes));
          return;
        }
        const chunks: Buffer[] = [];
        let received = 0;
        answer.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > maxBodyBytes) abandon(bodyTooLarge(target.host, maxBodyBytes));
          else chunks.push(chunk);
        });
        answer.on('error', (error) => settle(() => reject(fail(error))));
        const brokeOff = () =>
          settle(() =>
            reject(fail(Object.assign(new Error('The answer broke off before its end.'), { code: 'ECONNRESET' }))),
          );
        answer.on('end', () =>
          answer.complete
            ? settle(() =>
                resolve({
                  status: answer.statusCode ?? 0,
                  statusText: answer.statusMessage ?? '',
                  headers: new Headers(pairsOf(answer.rawHeaders)),
                  bytes: Buffer.concat(chunks),
                }),
              )
            : brokeOff(),
        );
        // An answer cut short closes without 'end' (and without 'error' on some Node releases).
        answer.on('close', brokeOff);
      },
    );
    call.on('error', (error) => settle(() => reject(fail(error))));
    // One timer for the whole call: sending, waiting, and reading the body to its end.
    const deadline = setTimeout(() => abandon(deadlineExceeded(target.host, deadlineMs)), deadlineMs);
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
