/**
 * Retries of whole Graph requests, in place of the SDK's RetryHandler in the
 * middleware chain (client.ts): the same statuses (429, 503, 504) and the same
 * per-request options (RetryHandlerOptions: maxRetries, shouldRetry), but the
 * waits come from the one backoff helper (../http/retry.ts), so Graph whole
 * requests, $batch items and OCI calls back off alike. Unlike the SDK's
 * handler, it never comes back before a Retry-After (the SDK shortens a long
 * one to its own cap); a Retry-After longer than the policy allows ends the
 * retries and the call fails with the 429 it got.
 */
import { systemClock } from '../../context.js';
import {
  FeatureUsageFlag,
  RetryHandlerOptions,
  TelemetryHandlerOptions,
  type Context,
  type Middleware,
} from '@microsoft/microsoft-graph-client';
import { GRAPH_REQUEST_BACKOFF, backoffDelayMs, retryAfterMs, type BackoffPolicy } from '../http/retry.js';

const RETRIABLE = new Set([429, 503, 504]);

export interface GraphRetryOptions {
  policy?: BackoffPolicy;
  /** Waits (tests pass a recording one). */
  sleep?: (ms: number) => Promise<void>;
  /** The wall clock an HTTP-date Retry-After is read against. */
  nowMs?: () => number;
  random?: () => number;
  /**
   * Aborted when the command is over: a retry still waiting then gives up at once with the answer it
   * has, instead of holding the process (and its connections) for the rest of a Retry-After.
   */
  stop?: AbortSignal;
}

export class GraphRetryHandler implements Middleware {
  private next: Middleware | undefined;
  private readonly policy: BackoffPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly nowMs: () => number;
  private readonly random: () => number;
  private readonly stop: AbortSignal | undefined;

  constructor(options: GraphRetryOptions = {}) {
    this.policy = options.policy ?? GRAPH_REQUEST_BACKOFF;
    this.stop = options.stop;
    this.sleep = options.sleep ?? ((ms) => systemClock.sleep(ms, options.stop));
    this.nowMs = options.nowMs ?? (() => new Date().getTime());
    this.random = options.random ?? Math.random;
  }

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    // A request's own RetryHandlerOptions (the SDK's API: .middlewareOptions([...])) still apply.
    const given = context.middlewareControl?.getMiddlewareOptions(RetryHandlerOptions) as
      RetryHandlerOptions | undefined;
    TelemetryHandlerOptions.updateFeatureUsageFlag(context, FeatureUsageFlag.RETRY_HANDLER_ENABLED);
    const maxAttempts = given ? given.maxRetries + 1 : this.policy.maxAttempts;
    const policy = { ...this.policy, maxAttempts };
    for (let attempt = 1; ; attempt += 1) {
      await this.next!.execute(context);
      const response = context.response!;
      // A Request object's body can be read once: only requests the SDK built from a URL are sent again.
      if (!RETRIABLE.has(response.status) || typeof context.request !== 'string') return;
      const delay = backoffDelayMs(
        policy,
        attempt,
        retryAfterMs(response.headers.get('retry-after'), this.nowMs()),
        this.random,
      );
      if (delay === undefined) return;
      if (given && !given.shouldRetry(delay / 1000, attempt - 1, context.request, context.options, response)) return;
      await this.sleep(delay);
      if (this.stop?.aborted) return;
    }
  }
}
