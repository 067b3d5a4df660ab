/**
 * The OCI SDK turns an error answer into an OciError without its headers, so
 * a Retry-After never reaches the code that retries. This wraps the dispatcher
 * the SDK sends through and notes, from every 429/503 answer, the time before
 * which the service asked not to be called again; the retry loop waits until then.
 */
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';

export interface RetryAfterWatch {
  dispatcher: Dispatcher;
  /** Milliseconds still to wait for the latest Retry-After seen (0 when none is pending). */
  waitMs(): number;
}

/** Retry-After as delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

function headerValue(rawHeaders: unknown, name: string): string | undefined {
  if (!Array.isArray(rawHeaders)) return undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (String(rawHeaders[i]).toLowerCase() === name) return String(rawHeaders[i + 1]);
  }
  return undefined;
}

export function watchRetryAfter(inner: Dispatcher, wallClockMs: () => number): RetryAfterWatch {
  let notBefore = 0;
  const note = (statusCode: number, rawHeaders: unknown) => {
    if (statusCode !== 429 && statusCode !== 503) return;
    const wait = retryAfterMs(headerValue(rawHeaders, 'retry-after'), wallClockMs());
    if (wait !== undefined) notBefore = Math.max(notBefore, performance.now() + wait);
  };
  const dispatcher = inner.compose((dispatch) => (options, handler) =>
    dispatch(
      options,
      // fetch's handler is a class instance: keep its methods bound to it, only listen to onHeaders.
      new Proxy(handler, {
        get(target, property) {
          const value = Reflect.get(target, property) as unknown;
          if (property === 'onHeaders' && typeof value === 'function') {
            return (statusCode: number, rawHeaders: unknown, ...rest: unknown[]) => {
              note(statusCode, rawHeaders);
              return (value as (...args: unknown[]) => unknown).call(target, statusCode, rawHeaders, ...rest);
            };
          }
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      }),
    ),
  );
  return { dispatcher, waitMs: () => Math.max(0, Math.ceil(notBefore - performance.now())) };
}
