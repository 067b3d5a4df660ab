/**
 * When to try a call again: the one Retry-After parser and the one backoff
 * helper, used by Graph whole requests (graph/retry.ts), $batch items
 * (graph/batch.ts) and OCI calls (oci/oci-domain.ts).
 *
 * The rule everywhere: wait what the server's Retry-After says, else
 * exponential backoff with jitter; bounded in attempts and in how long one wait may be.
 * A Retry-After longer than the policy's longest wait ends the retries rather
 * than being shortened: coming back early only earns another 429.
 */
import { performance } from 'node:perf_hooks';

/**
 * Retry-After (RFC 9110 §10.2.3) in milliseconds from `nowMs`: delta-seconds
 * (digits only) or an HTTP-date (IMF-fixdate, or the obsolete RFC 850 and
 * asctime forms, which are GMT). A date in the past is 0 (go now). Anything
 * else (absent, empty, negative, fractional, a date in another shape) is
 * undefined: the caller backs off as if no header had come.
 */
export function retryAfterMs(value: string | null | undefined, nowMs: number): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = httpDateMs(text);
  return at === undefined ? undefined : Math.max(0, at - nowMs);
}

const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC_850 = /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

function httpDateMs(text: string): number | undefined {
  // Date.parse alone accepts far more than HTTP dates ("2", "May"), and reads asctime as local time.
  let parsed: number;
  if (IMF_FIXDATE.test(text) || RFC_850.test(text)) parsed = Date.parse(text);
  else if (ASCTIME.test(text)) parsed = Date.parse(`${text} GMT`);
  else return undefined;
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** How one kind of call is retried. */
export interface BackoffPolicy {
  /** The ceiling of the first wait; each later ceiling doubles, up to capMs. */
  readonly firstMs: number;
  /** The largest ceiling of a computed wait. */
  readonly capMs: number;
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** A Retry-After longer than this ends the retries (the call fails with what it got). */
  readonly maxRetryAfterMs: number;
}

/**
 * The wait before attempt `attempt + 1`, after `attempt` attempts (1 after
 * the first) failed; undefined when there is to be no further attempt.
 * With a Retry-After (`retryAfter`, in ms) the wait is exactly that. Without
 * one, equal jitter: a wait is between half its ceiling and the ceiling
 * (`random` in [0, 1) picks where), so calls that failed together spread out
 * while every wait keeps a known minimum.
 */
export function backoffDelayMs(
  policy: BackoffPolicy,
  attempt: number,
  retryAfter: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  if (attempt >= policy.maxAttempts) return undefined;
  if (retryAfter !== undefined && retryAfter > policy.maxRetryAfterMs) return undefined;
  // The server said when: that is the wait (Graph's and OCI's guidance), neither earlier nor padded.
  if (retryAfter !== undefined) return Math.ceil(retryAfter);
  const ceiling = Math.min(policy.capMs, policy.firstMs * 2 ** (attempt - 1));
  return Math.ceil(ceiling / 2 + (random() * ceiling) / 2);
}

/** The least a policy waits in all before giving up, when no Retry-After comes (the jitter's low end every time). */
export function minimumTotalWaitMs(policy: BackoffPolicy): number {
  let total = 0;
  for (let attempt = 1; attempt < policy.maxAttempts; attempt += 1)
    total += Math.min(policy.capMs, policy.firstMs * 2 ** (attempt - 1)) / 2;
  return total;
}

/** The Graph SDK's RetryHandler caps its delay here (docs/architecture.md). */
const GRAPH_LONGEST_RETRY_AFTER_MS = 180_000;

/** Graph whole requests (429/503/504): as many attempts as the Graph SDK's RetryHandler makes by default. */
export const GRAPH_REQUEST_BACKOFF: BackoffPolicy = {
  firstMs: 2_000,
  capMs: 30_000,
  maxAttempts: 4,
  maxRetryAfterMs: GRAPH_LONGEST_RETRY_AFTER_MS,
};

/** $batch items (429/503/504 of their own): more attempts, since other items go on while one waits. */
export const GRAPH_BATCH_ITEM_BACKOFF: BackoffPolicy = {
  firstMs: 500,
  capMs: 30_000,
  maxAttempts: 6,
  maxRetryAfterMs: GRAPH_LONGEST_RETRY_AFTER_MS,
};

/**
 * OCI throttling (429). An identity domain's limits are per second and per
 * minute, and its 429 has no documented Retry-After, so the waits must
 * outlast a one-minute window even at the jitter's low end
 * (minimumTotalWaitMs; docs/architecture.md has the numbers).
 */
export const OCI_THROTTLE_BACKOFF: BackoffPolicy = {
  firstMs: 2_000,
  capMs: 40_000,
  maxAttempts: 8,
  maxRetryAfterMs: 120_000,
};

/** OCI server errors and lost connections: a few quick attempts, then report it. */
export const OCI_FAILURE_BACKOFF: BackoffPolicy = {
  firstMs: 1_000,
  capMs: 8_000,
  maxAttempts: 4,
  maxRetryAfterMs: 120_000,
};

/** Notifications (webhooks): short waits, since a person's command waits for them within a few seconds' budget. */
export const NOTIFY_BACKOFF: BackoffPolicy = { firstMs: 500, capMs: 2_000, maxAttempts: 4, maxRetryAfterMs: Infinity };

/**
 * The OCI SDK turns an error answer into an OciError without its headers, so
 * a Retry-After never reaches the code that retries. The OCI client tells
 * this watch every answer (WholeHttpClient's onAnswer); it notes, from every
 * 429/503 answer, the time before which the service asked not to be called
 * again, and the retry loop waits until then.
 */
export interface RetryAfterWatch {
  /** Hand every answer's status and headers here. */
  note(status: number, headers: { get(name: string): string | null }): void;
  /** Milliseconds still to wait for the latest 429/503's Retry-After (undefined when it had none). */
  waitMs(): number | undefined;
}

export function watchRetryAfter(wallClockMs: () => number): RetryAfterWatch {
  let notBefore: number | undefined;
  return {
    note(status, headers) {
      if (status !== 429 && status !== 503) return;
      // The latest throttled answer decides: one without a Retry-After leaves the wait to the backoff.
      const wait = retryAfterMs(headers.get('retry-after'), wallClockMs());
      notBefore = wait === undefined ? undefined : performance.now() + wait;
    },
    waitMs: () => (notBefore === undefined ? undefined : Math.max(0, Math.ceil(notBefore - performance.now()))),
  };
}
