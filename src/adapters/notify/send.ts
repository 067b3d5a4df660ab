/**
 * Sending one notification: a POST, retried while the service asks for it
 * (429 and 5xx, honouring Retry-After) within a total time budget, then given
 * up with a reason that names no secret. It never throws: the caller reports
 * a failure (stderr, audit log) and the action that caused it stands.
 */
import { connectionsForCaFile } from '../http/tls.js';
import type { ProxySettings } from '../http/proxy.js';
import { requestWhole, textOf } from '../http/request.js';
import { NOTIFY_BACKOFF, backoffDelayMs, retryAfterMs } from '../http/retry.js';
import { OciAccessError } from '../../errors.js';
import { stripControls } from '../../core/text.js';

export interface PostAnswer {
  status: number;
  /** The wait the answer asked for (Retry-After), in ms. */
  retryAfterMs?: number;
  /** The start of the answer's body (for the reason of a refusal). */
  text: string;
}

/** One POST of a JSON body; rejects on a network failure or when `signal` fires. */
export type PostJson = (
  url: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
) => Promise<PostAnswer>;

/**
 * The one function through which notifications reach the HTTP layer: the
 * project's connections (system roots plus tls.caFile) and requestWhole.
 */
export function httpPost(
  caFile: string | undefined,
  timeoutMs: number,
  nowMs: () => number,
  proxy?: ProxySettings,
): PostJson {
  return async (url, body, headers, signal) => {
    const connections = connectionsForCaFile(caFile, { timeoutMs, proxy });
    const answer = await requestWhole(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
      body,
      connections,
      signal,
    });
    return {
      status: answer.status,
      retryAfterMs: retryAfterMs(answer.headers.get('retry-after') ?? undefined, nowMs()),
      text: textOf(answer.bytes.subarray(0, 300)),
    };
  };
}

export interface DeliveryResult {
  delivered: boolean;
  /** The last HTTP status received (undefined when none came). */
  status?: number;
  attempts: number;
  /** Why it was not delivered, naming no secret. */
  error?: string;
}

export interface DeliveryOptions {
  post: PostJson;
  /** The most time every attempt and wait together may take. */
  budgetMs: number;
  /** Milliseconds, for the budget. */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** The command is being stopped (Ctrl-C): no more attempts. */
  signal?: AbortSignal;
  maxAttempts?: number;
}

export const DEFAULT_MAX_ATTEMPTS = NOTIFY_BACKOFF.maxAttempts;

/** Statuses worth another attempt: the service is busy or broken for now. */
export function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Delivers `prepare()`'s body (prepared again for each attempt, so a
 * signature carries the time it is sent) to `url`.
 */
export async function deliver(
  url: string,
  prepare: () => { body: string; headers: Record<string, string> },
  options: DeliveryOptions,
): Promise<DeliveryResult> {
  const deadline = options.now() + options.budgetMs;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const budgetText = `${Math.round(options.budgetMs / 100) / 10} s`;
  let attempts = 0;
  let status: number | undefined;
  let error = `no answer within the time budget (${budgetText})`;
  for (;;) {
    if (options.signal?.aborted)
      return { delivered: false, status, attempts, error: 'stopped before it was delivered' };
    const remaining = deadline - options.now();
    if (remaining <= 0) return { delivered: false, status, attempts, error };
    attempts += 1;
    let waitMs: number;
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), remaining);
    const signal = options.signal ? AbortSignal.any([options.signal, timer.signal]) : timer.signal;
    try {
      const { body, headers } = prepare();
      const answer = await options.post(url, body, headers, signal);
      status = answer.status;
      if (answer.status >= 200 && answer.status < 300) return { delivered: true, status, attempts };
      const said = stripControls(answer.text).trim().slice(0, 120);
      error = `answered ${answer.status}${said ? ` (${said})` : ''}`;
      if (!retryable(answer.status)) return { delivered: false, status, attempts, error };
      waitMs = answer.retryAfterMs ?? backoff(attempts);
      if (answer.retryAfterMs !== undefined && options.now() + waitMs >= deadline) {
        return {
          delivered: false,
          status,
          attempts,
          error: `${error}; it asked to wait ${Math.ceil(waitMs / 1000)} s (Retry-After), beyond the time budget (${budgetText})`,
        };
      }
    } catch (failure) {
      error =
        timer.signal.aborted && !options.signal?.aborted
          ? `no answer within the time budget (${budgetText})`
          : describeFailure(failure);
      waitMs = backoff(attempts);
    } finally {
      clearTimeout(timeout);
    }
    if (attempts >= maxAttempts)
      return { delivered: false, status, attempts, error: `${error} (after ${attempts} attempts)` };
    if (options.now() + waitMs >= deadline) return { delivered: false, status, attempts, error };
    await options.sleep(waitMs, options.signal);
  }
}

/** The project's one backoff (http/retry.ts); the attempts and the time budget are counted here. */
function backoff(attempt: number): number {
  return backoffDelayMs({ ...NOTIFY_BACKOFF, maxAttempts: Infinity }, attempt, undefined) ?? NOTIFY_BACKOFF.capMs;
}

/**
 * A network failure in words, from its code alone: the messages of Node's
 * errors can quote the URL (an invalid URL's does, whole), and the URL is a
 * secret.
 */
export function describeFailure(failure: unknown): string {
  if (failure instanceof OciAccessError && failure.code === 'HTTP_DEADLINE_EXCEEDED')
    return 'no complete answer within the deadline for one request';
  if (failure instanceof OciAccessError && failure.code === 'HTTP_BODY_TOO_LARGE') return 'the answer was too large';
  if (failure instanceof OciAccessError) return `cannot send (${failure.code})`;
  if ((failure as Error)?.name === 'AbortError') return 'stopped before it was delivered';
  const cause = (failure as { cause?: { code?: unknown } })?.cause;
  const code =
    typeof cause?.code === 'string'
      ? cause.code
      : typeof (failure as { code?: unknown })?.code === 'string'
        ? (failure as { code: string }).code
        : undefined;
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'ECONNREFUSED':
      return 'the connection was refused';
    case 'ECONNRESET':
      return 'the connection was reset';
    case 'ETIMEDOUT':
      return 'the connection timed out';
    case 'ERR_INVALID_URL':
      return 'the URL is not valid';
    default:
      if (code && /CERT|ERR_TLS|ERR_SSL|LEAF_SIGNATURE|ISSUER/.test(code))
        return `the TLS certificate was not accepted (${code}); set tls.caFile for a private CA`;
      return code ? `network error (${code})` : 'network error';
  }
}
