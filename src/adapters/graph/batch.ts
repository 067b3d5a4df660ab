/**
 * Graph JSON batching with the throttling rules the SDK leaves to us: a batch
 * holds at most 20 requests; each item has its own status, and a throttled
 * item (429, or 503/504) comes back with its own Retry-After and is NOT
 * retried by the SDK. Items are retried here with the one backoff helper
 * (../http/retry.ts: exponential with jitter, never before the item's
 * Retry-After), within its attempts, while other batches go on. An item is only reported as done with a real answer.
 */
import type { Clock } from '../../context.js';
import { GRAPH_BATCH_ITEM_BACKOFF, backoffDelayMs, retryAfterMs, type BackoffPolicy } from '../http/retry.js';

export const MAX_BATCH_SIZE = 20;

export interface BatchItemRequest {
  id: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Relative to the version root, e.g. "/groups/{id}/members/{uid}/$ref". */
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface BatchItemResponse {
  id: string;
  status: number;
  headers: Record<string, string>;
  body: any;
}

export interface BatchOptions {
  concurrency: number;
  /** Attempts per item and the waits between them (default GRAPH_BATCH_ITEM_BACKOFF). */
  backoff?: BackoffPolicy;
  clock: Clock;
  /** Jitter source (0..1), injectable for tests. */
  random?: () => number;
  /** Called with the answer of each attempt (for tracing and counting). */
  onAttempt?: (item: BatchItemRequest, response: BatchItemResponse, attempt: number) => void;
  /** Called once per item with its final answer (for progress). */
  onResult?: (item: BatchItemRequest, response: BatchItemResponse) => void;
}

export type BatchSender = (items: BatchItemRequest[]) => Promise<BatchItemResponse[]>;

const RETRIABLE = new Set([429, 503, 504]);

/** The wait before an item's next attempt, or undefined when it is to have none (attempts spent, or a Retry-After too long). */
export function itemRetryDelayMs(
  response: BatchItemResponse,
  attempt: number,
  nowMs: number,
  policy: BackoffPolicy,
  random: () => number,
): number | undefined {
  const header = response.headers?.['retry-after'] ?? response.headers?.['Retry-After'];
  return backoffDelayMs(policy, attempt, retryAfterMs(header, nowMs), random);
}

/**
 * Runs every item through $batch calls of at most 20, `concurrency` calls in
 * flight. Returns the final answer per item id: the first non-retriable
 * answer, or the last retriable one once the budget is spent.
 */
export async function runBatched(
  items: BatchItemRequest[],
  send: BatchSender,
  options: BatchOptions,
): Promise<Map<string, BatchItemResponse>> {
  const random = options.random ?? Math.random;
  const policy = options.backoff ?? GRAPH_BATCH_ITEM_BACKOFF;
  const results = new Map<string, BatchItemResponse>();
  const attempts = new Map<string, number>();
  /** Items ready to send, and items waiting for their Retry-After (virtual "not before" in real ms). */
  let ready: BatchItemRequest[] = [...items];
  const waiting: { item: BatchItemRequest; notBefore: number }[] = [];
  let inFlight = 0;
  let failure: unknown;

  await new Promise<void>((resolve) => {
    const pump = () => {
      if (failure !== undefined) {
        if (inFlight === 0) resolve();
        return;
      }
      const nowMs = options.clock.now().getTime();
      for (let i = waiting.length - 1; i >= 0; i -= 1) {
        if (waiting[i]!.notBefore <= nowMs) ready.push(waiting.splice(i, 1)[0]!.item);
      }
      while (inFlight < options.concurrency && ready.length > 0) {
        const chunk = ready.slice(0, MAX_BATCH_SIZE);
        ready = ready.slice(MAX_BATCH_SIZE);
        inFlight += 1;
        send(chunk)
          .then((responses) => {
            const byId = new Map(responses.map((response) => [response.id, response]));
            for (const item of chunk) {
              const attempt = (attempts.get(item.id) ?? 0) + 1;
              attempts.set(item.id, attempt);
              const response = byId.get(item.id) ?? {
                id: item.id,
                status: 502,
                headers: {},
                body: { error: { code: 'MissingBatchItem', message: 'The batch answer had no item with this id.' } },
              };
              options.onAttempt?.(item, response, attempt);
              const nowMs = options.clock.now().getTime();
              const delay = RETRIABLE.has(response.status)
                ? itemRetryDelayMs(response, attempt, nowMs, policy, random)
                : undefined;
              if (delay !== undefined) {
                waiting.push({ item, notBefore: nowMs + delay });
              } else {
                results.set(item.id, response);
                options.onResult?.(item, response);
              }
            }
          })
          .catch((error: unknown) => {
            failure = error;
          })
          .finally(() => {
            inFlight -= 1;
            // The next chunk goes out at once (a timer would add a tick to every round trip); retries wait for theirs.
            if (ready.length > 0 && failure === undefined) pump();
            else schedule();
          });
      }
      if (inFlight === 0 && ready.length === 0 && waiting.length === 0) resolve();
      else if (inFlight === 0 && ready.length === 0) schedule();
    };
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      // After a failure the run ends as soon as nothing is in flight: a retry's pending timer is not waited for
      // (it held the caller, and the test process after the caller had stopped waiting, for the whole Retry-After).
      if (failure !== undefined && timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      if (timer) return;
      const nowMs = options.clock.now().getTime();
      const next = waiting.length ? Math.max(0, Math.min(...waiting.map((w) => w.notBefore)) - nowMs) : 0;
      const delay = ready.length > 0 || failure !== undefined ? 0 : next;
      timer = setTimeout(() => {
        timer = undefined;
        pump();
      }, delay);
    };
    pump();
  });
  if (failure !== undefined) throw failure;
  return results;
}
