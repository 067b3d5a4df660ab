/**
 * Delivering one notification: retried on 429 and 5xx honouring Retry-After,
 * within a total budget, never past it; a refusal (4xx) is not retried; a
 * network failure is described by its code, never by a message that could
 * quote the (secret) URL. A fake clock: nothing here waits in real time
 * except the one test of an answer that never comes.
 */
import { deliver, describeFailure, type PostAnswer, type PostJson } from '../../src/adapters/notify/send.js';
import { maskUrl, resolveTarget, TargetSourceError } from '../../src/adapters/notify/targets.js';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const URL_SECRET = 'https://hooks.example/services/T000/B000/SECRETPATH';

function fakeClock() {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
    sleeps,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function scripted(
  answers: (PostAnswer | Error)[],
  clock?: ReturnType<typeof fakeClock>,
  costMs = 0,
): { post: PostJson; calls: number[] } {
  const calls: number[] = [];
  const post: PostJson = async () => {
    calls.push(clock?.now() ?? 0);
    clock?.advance(costMs);
    const next = answers.shift() ?? { status: 200, text: 'ok' };
    if (next instanceof Error) throw next;
    return next;
  };
  return { post, calls };
}

const body = () => ({ body: '{}', headers: {} });

test('429 with Retry-After, then success: waits what was asked, delivered on the second attempt', async () => {
  const clock = fakeClock();
  const { post, calls } = scripted(
    [
      { status: 429, retryAfterMs: 1500, text: 'rate_limited' },
      { status: 200, text: 'ok' },
    ],
    clock,
  );
  const result = await deliver(URL_SECRET, body, { post, budgetMs: 5000, now: clock.now, sleep: clock.sleep });
  expect(result).toEqual({ delivered: true, status: 200, attempts: 2 });
  expect(clock.sleeps).toEqual([1500]);
  expect(calls).toHaveLength(2);
});

test('5xx until the attempts run out: failed, with the last status, never past the budget', async () => {
  const clock = fakeClock();
  const { post } = scripted(
    Array.from({ length: 10 }, () => ({ status: 503, text: 'busy' })),
    clock,
    100,
  );
  const result = await deliver(URL_SECRET, body, { post, budgetMs: 5000, now: clock.now, sleep: clock.sleep });
  expect(result).toMatchObject({ delivered: false, status: 503, attempts: 4 });
  expect(result.error).toBe('answered 503 (busy) (after 4 attempts)');
  // The project's backoff (http/retry.ts, NOTIFY_BACKOFF): ceilings 0.5, 1 and 2 s, each wait between half its ceiling and the ceiling.
  expect(clock.sleeps).toHaveLength(3);
  [500, 1000, 2000].forEach((ceiling, index) => {
    expect(clock.sleeps[index]).toBeGreaterThanOrEqual(ceiling / 2);
    expect(clock.sleeps[index]).toBeLessThanOrEqual(ceiling);
  });
});

test('5xx until the budget runs out: stops when the next wait would pass it', async () => {
  const clock = fakeClock();
  const { post } = scripted(
    Array.from({ length: 10 }, () => ({ status: 500, text: '' })),
    clock,
    900,
  );
  const result = await deliver(URL_SECRET, body, { post, budgetMs: 2000, now: clock.now, sleep: clock.sleep });
  // 900 ms, a wait of 250–500 ms, 900 ms: a wait of 500 ms or more would end past the 2 s budget, so it stops after 2 of its 4 attempts.
  expect(result).toEqual({ delivered: false, status: 500, attempts: 2, error: 'answered 500' });
  expect(clock.sleeps).toHaveLength(1);
  expect(clock.sleeps[0]).toBeGreaterThanOrEqual(250);
  expect(clock.sleeps[0]).toBeLessThanOrEqual(500);
});

test('a Retry-After beyond the budget gives up at once and says so', async () => {
  const clock = fakeClock();
  const { post, calls } = scripted([{ status: 429, retryAfterMs: 60_000, text: '' }], clock);
  const result = await deliver(URL_SECRET, body, { post, budgetMs: 5000, now: clock.now, sleep: clock.sleep });
  expect(result).toMatchObject({ delivered: false, status: 429, attempts: 1 });
  expect(result.error).toMatch(/asked to wait 60 s \(Retry-After\), beyond the time budget \(5 s\)/);
  expect(calls).toHaveLength(1);
  expect(clock.sleeps).toEqual([]);
});

test('a refusal (400, 403, 404) is not retried', async () => {
  const clock = fakeClock();
  const { post, calls } = scripted([{ status: 404, text: 'no_service' }], clock);
  const result = await deliver(URL_SECRET, body, { post, budgetMs: 5000, now: clock.now, sleep: clock.sleep });
  expect(result).toEqual({ delivered: false, status: 404, attempts: 1, error: 'answered 404 (no_service)' });
  expect(calls).toHaveLength(1);
});

test('an answer that never comes ends at the budget (the one real-time wait here: 200 ms)', async () => {
  const post: PostJson = (_url, _body, _headers, signal) =>
    new Promise((_resolve, reject) =>
      signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))),
    );
  const started = performance.now();
  const result = await deliver(URL_SECRET, body, {
    post,
    budgetMs: 200,
    now: () => performance.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  expect(result).toMatchObject({ delivered: false, attempts: 1, error: 'no answer within the time budget (0.2 s)' });
  expect(performance.now() - started).toBeLessThan(5000);
});

test('network failures are described by their code, never by their message (which can quote the URL)', () => {
  const failed = (code: string) =>
    new TypeError('fetch failed', { cause: Object.assign(new Error(`getaddrinfo ${code} ${URL_SECRET}`), { code }) });
  expect(describeFailure(failed('ENOTFOUND'))).toBe('the host name does not resolve');
  expect(describeFailure(failed('ECONNREFUSED'))).toBe('the connection was refused');
  expect(describeFailure(failed('UNABLE_TO_VERIFY_LEAF_SIGNATURE'))).toMatch(/TLS certificate was not accepted/);
  expect(
    describeFailure(
      new TypeError('fetch failed', { cause: new TypeError(`http: URLs are not supported: ${URL_SECRET}`) }),
    ),
  ).toBe('network error');
  for (const code of ['ENOTFOUND', 'EPIPE']) expect(describeFailure(failed(code))).not.toContain('SECRETPATH');
});

test("a target's URL is read from a private file or the environment, shown masked, and every problem names the source, never the secret", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'notify-targets-'));
  const file = path.join(dir, 'url');
  writeFileSync(file, `${URL_SECRET}\n`, { mode: 0o600 });
  const host = {
    env: { HOOK: URL_SECRET, NOT_HTTPS: 'http://hooks.example/SECRETPATH', SECRET: 's3cret' },
    cwd: dir,
    files: { platform: process.platform, uid: process.getuid?.() },
  };
  expect(resolveTarget({ kind: 'slack', for: ['operators'], urlFile: 'url' }, 0, host)).toMatchObject({
    url: URL_SECRET,
    masked: 'https://hooks.example/…',
    label: 'slack#1',
  });
  expect(
    resolveTarget({ kind: 'webhook', for: ['operators'], urlEnv: 'HOOK', secretEnv: 'SECRET', name: 'siem' }, 1, host),
  ).toMatchObject({ secret: 's3cret', label: 'siem' });
  const problem = (target: Parameters<typeof resolveTarget>[0]) => {
    try {
      resolveTarget(target, 0, host);
    } catch (error) {
      expect(error).toBeInstanceOf(TargetSourceError);
      return (error as Error).message;
    }
    throw new Error('expected a TargetSourceError');
  };
  expect(problem({ kind: 'teams', for: ['approvers'], urlFile: 'missing' })).toMatch(
    /the URL file .*missing of notify target "teams#1" cannot be read \(ENOENT\)/,
  );
  expect(problem({ kind: 'teams', for: ['approvers'], urlEnv: 'UNSET' })).toMatch(/environment variable UNSET/);
  expect(problem({ kind: 'teams', for: ['approvers'], urlEnv: 'NOT_HTTPS' })).toMatch(/is not an https:\/\/ URL/);
  expect(problem({ kind: 'webhook', for: ['operators'], urlEnv: 'HOOK', secretEnv: 'UNSET' })).toMatch(
    /signing secret/,
  );
  if (process.platform !== 'win32') {
    chmodSync(file, 0o644);
    expect(problem({ kind: 'slack', for: ['operators'], urlFile: 'url' })).toMatch(/readable by other users/);
  }
  for (const target of [{ urlEnv: 'NOT_HTTPS' }, { urlFile: 'url' }]) {
    try {
      resolveTarget({ kind: 'slack', for: ['operators'], ...target }, 0, host);
    } catch (error) {
      expect((error as Error).message).not.toContain('SECRETPATH');
    }
  }
  expect(maskUrl(URL_SECRET)).toBe('https://hooks.example/…');
  expect(maskUrl('not a url SECRETPATH')).toBe('(not a URL)');
});
