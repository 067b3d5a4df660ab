/**
 * The one Retry-After parser and the one backoff helper
 * (src/adapters/http/retry.ts) that Graph whole requests, $batch items and
 * OCI calls share; and the Graph chain's retries that use them.
 */
import fc from 'fast-check';
import {
  GRAPH_BATCH_ITEM_BACKOFF,
  GRAPH_REQUEST_BACKOFF,
  OCI_FAILURE_BACKOFF,
  OCI_THROTTLE_BACKOFF,
  backoffDelayMs,
  minimumTotalWaitMs,
  retryAfterMs,
  type BackoffPolicy,
} from '../../src/adapters/http/retry.js';
import { GraphRetryHandler } from '../../src/adapters/graph/retry.js';
import { itemRetryDelayMs } from '../../src/adapters/graph/batch.js';
import { RetryHandlerOptions, type Context, type Middleware } from '@microsoft/microsoft-graph-client';

const NOW = Date.parse('2025-03-04T05:06:07Z');
const POLICIES: [string, BackoffPolicy][] = [
  ['graph requests', GRAPH_REQUEST_BACKOFF],
  ['graph batch items', GRAPH_BATCH_ITEM_BACKOFF],
  ['oci throttling', OCI_THROTTLE_BACKOFF],
  ['oci failures', OCI_FAILURE_BACKOFF],
];

describe('retryAfterMs', () => {
  it.each([
    ['0', 0],
    ['7', 7_000],
    [' 120 ', 120_000],
  ])('delta-seconds %j is %d ms', (value, ms) => {
    expect(retryAfterMs(value, NOW)).toBe(ms);
  });

  it('an HTTP-date in the future is the time until then, in each of the three forms (the obsolete two as GMT)', () => {
    expect(retryAfterMs('Tue, 04 Mar 2025 05:06:37 GMT', NOW)).toBe(30_000);
    expect(retryAfterMs('Tuesday, 04-Mar-25 05:07:07 GMT', NOW)).toBe(60_000);
    expect(retryAfterMs('Tue Mar  4 05:06:17 2025', NOW)).toBe(10_000);
  });

  it('an HTTP-date in the past (or now) is 0: go now', () => {
    expect(retryAfterMs('Tue, 04 Mar 2025 05:06:07 GMT', NOW)).toBe(0);
    expect(retryAfterMs('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(0);
  });

  it.each([
    undefined,
    null,
    '',
    '   ',
    '-5',
    '1.5',
    '1e3',
    '0x10',
    'soon',
    'Tue, 04 Mar 2025',
    '2025-03-04T05:06:37Z',
    'Tue, 04 Mar 2025 05:06:37 PST',
    'Tue, 99 Mar 2025 05:06:37 GMT',
  ])('garbage %j is undefined (back off as if no header came)', (value) => {
    expect(retryAfterMs(value, NOW)).toBeUndefined();
  });
});

describe('backoffDelayMs', () => {
  it.each(POLICIES)('%s: never before the Retry-After; exactly it, whatever the jitter says', (_name, policy) => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: policy.maxAttempts - 1 }),
        fc.integer({ min: 0, max: policy.maxRetryAfterMs }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, retryAfter, random) => {
          expect(backoffDelayMs(policy, attempt, retryAfter, () => random)).toBe(retryAfter);
        },
      ),
    );
  });

  it.each(POLICIES)(
    '%s: without a Retry-After, between half the ceiling and the ceiling, the ceiling doubling up to the cap',
    (_name, policy) => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: policy.maxAttempts - 1 }),
          fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
          (attempt, random) => {
            const ceiling = Math.min(policy.capMs, policy.firstMs * 2 ** (attempt - 1));
            const delay = backoffDelayMs(policy, attempt, undefined, () => random)!;
            expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
            expect(delay).toBeLessThanOrEqual(ceiling);
            expect(delay).toBeLessThanOrEqual(policy.capMs);
          },
        ),
      );
    },
  );

  it('is jittered: the same attempt waits differently for different draws', () => {
    const low = backoffDelayMs(GRAPH_REQUEST_BACKOFF, 2, undefined, () => 0)!;
    const high = backoffDelayMs(GRAPH_REQUEST_BACKOFF, 2, undefined, () => 0.999)!;
    expect(low).toBe(2_000);
    expect(high).toBeGreaterThan(3_900);
    const draws = new Set(Array.from({ length: 20 }, () => backoffDelayMs(GRAPH_REQUEST_BACKOFF, 3, undefined)));
    expect(draws.size).toBeGreaterThan(1);
  });

  it.each(POLICIES)(
    '%s: bounded: no attempt past maxAttempts, and a Retry-After longer than the policy allows ends the retries',
    (_name, policy) => {
      expect(backoffDelayMs(policy, policy.maxAttempts, undefined)).toBeUndefined();
      expect(backoffDelayMs(policy, policy.maxAttempts, 0)).toBeUndefined();
      expect(backoffDelayMs(policy, 1, policy.maxRetryAfterMs + 1)).toBeUndefined();
      expect(backoffDelayMs(policy, 1, policy.maxRetryAfterMs)).toBe(policy.maxRetryAfterMs);
    },
  );

  it("OCI throttling outlasts a one-minute rate window even at the jitter's low end, and gives up within a few minutes", () => {
    expect(minimumTotalWaitMs(OCI_THROTTLE_BACKOFF)).toBeGreaterThan(60_000);
    let most = 0;
    for (let attempt = 1; attempt < OCI_THROTTLE_BACKOFF.maxAttempts; attempt += 1)
      most += backoffDelayMs(OCI_THROTTLE_BACKOFF, attempt, undefined, () => 0.999_999)!;
    expect(most).toBeLessThanOrEqual(150_000);
    // What the docs say: at least 71 s, at most 142 s.
    expect(minimumTotalWaitMs(OCI_THROTTLE_BACKOFF)).toBe(71_000);
  });

  it('a $batch item reads its own Retry-After (either case of the name) through the same parser', () => {
    const item = (headers: Record<string, string>) => ({ id: '1', status: 429, headers, body: {} });
    expect(itemRetryDelayMs(item({ 'retry-after': '3' }), 1, NOW, GRAPH_BATCH_ITEM_BACKOFF, () => 0)).toBe(3_000);
    expect(
      itemRetryDelayMs(
        item({ 'Retry-After': 'Tue, 04 Mar 2025 05:06:09 GMT' }),
        1,
        NOW,
        GRAPH_BATCH_ITEM_BACKOFF,
        () => 0,
      ),
    ).toBe(2_000);
    expect(itemRetryDelayMs(item({ 'retry-after': 'later' }), 1, NOW, GRAPH_BATCH_ITEM_BACKOFF, () => 0)).toBe(250);
    expect(
      itemRetryDelayMs(item({}), GRAPH_BATCH_ITEM_BACKOFF.maxAttempts, NOW, GRAPH_BATCH_ITEM_BACKOFF, () => 0),
    ).toBeUndefined();
  });
});

describe('GraphRetryHandler (whole Graph requests)', () => {
  /** A last link answering the given statuses in turn, each with its Retry-After. */
  function answering(answers: [number, string | null][]): Middleware & { calls: number } {
    const link = {
      calls: 0,
      async execute(context: Context) {
        const [status, retryAfter] = answers[Math.min(link.calls, answers.length - 1)]!;
        link.calls += 1;
        context.response = new Response(null, {
          status,
          headers: retryAfter === null ? {} : { 'retry-after': retryAfter },
        });
      },
    };
    return link;
  }

  async function run(answers: [number, string | null][], options: { given?: RetryHandlerOptions } = {}) {
    const waits: number[] = [];
    const handler = new GraphRetryHandler({
      sleep: async (ms) => void waits.push(ms),
      random: () => 0,
      nowMs: () => NOW,
    });
    const last = answering(answers);
    handler.setNext(last);
    const context: Context = {
      request: 'https://graph.example/v1.0/users',
      options: { method: 'GET' },
      ...(options.given ? { middlewareControl: { getMiddlewareOptions: () => options.given } as never } : {}),
    };
    await handler.execute(context);
    return { waits, calls: last.calls, status: context.response!.status };
  }

  it('waits what Retry-After says (seconds or a date), and backs off with jitter when there is none', async () => {
    expect(
      await run([
        [429, '2'],
        [503, 'Tue, 04 Mar 2025 05:06:12 GMT'],
        [504, null],
        [200, null],
      ]),
    ).toEqual({ waits: [2_000, 5_000, 4_000], calls: 4, status: 200 });
  });

  it('gives up after its attempts with the last answer, and at once on a Retry-After beyond its bound', async () => {
    expect(await run([[429, '0']])).toEqual({
      waits: [0, 0, 0],
      calls: GRAPH_REQUEST_BACKOFF.maxAttempts,
      status: 429,
    });
    expect(await run([[429, '3600']])).toEqual({ waits: [], calls: 1, status: 429 });
  });

  it('does not retry other statuses', async () => {
    expect(await run([[500, null]])).toEqual({ waits: [], calls: 1, status: 500 });
  });

  it("honours a request's own RetryHandlerOptions: maxRetries and shouldRetry (given the wait in seconds)", async () => {
    const seen: number[] = [];
    const given = new RetryHandlerOptions(0, 1, (delay) => {
      seen.push(delay);
      return true;
    });
    expect(await run([[429, '4']], { given })).toEqual({ waits: [4_000], calls: 2, status: 429 });
    expect(seen).toEqual([4]);
  });

  it('a retry still waiting when the command is over gives up at once with the answer it has (no timer outlives the command)', async () => {
    const stop = new AbortController();
    const handler = new GraphRetryHandler({ stop: stop.signal, random: () => 0, nowMs: () => NOW });
    const last = answering([[429, '50']]);
    const counted = {
      async execute(context: Context) {
        await last.execute(context);
        // The command ends while this call waits out its Retry-After of 50 s.
        setImmediate(() => stop.abort());
      },
    } as Middleware;
    handler.setNext(counted);
    const context: Context = { request: 'https://graph.example/v1.0/users', options: { method: 'GET' } };
    const timersBefore = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    await handler.execute(context);
    expect({ calls: last.calls, status: context.response!.status }).toEqual({ calls: 1, status: 429 });
    expect(process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length).toBeLessThanOrEqual(
      timersBefore,
    );
  });
});
