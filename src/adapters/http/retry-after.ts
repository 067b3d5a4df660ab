/**
 * The OCI SDK turns an error answer into an OciError without its headers, so
 * a Retry-After never reaches the code that retries. The OCI client tells
 * this watch every answer (WholeHttpClient's onAnswer); it notes, from every
 * 429/503 answer, the time before which the service asked not to be called
 * again, and the retry loop waits until then.
 */
import { performance } from 'node:perf_hooks';

export interface RetryAfterWatch {
  /** Hand every answer's status and headers here. */
  note(status: number, headers: { get(name: string): string | null }): void;
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

export function watchRetryAfter(wallClockMs: () => number): RetryAfterWatch {
  let notBefore = 0;
  return {
    note(status, headers) {
      if (status !== 429 && status !== 503) return;
      const wait = retryAfterMs(headers.get('retry-after') ?? undefined, wallClockMs());
      if (wait !== undefined) notBefore = Math.max(notBefore, performance.now() + wait);
    },
    waitMs: () => Math.max(0, Math.ceil(notBefore - performance.now())),
  };
}
