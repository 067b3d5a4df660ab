/**
 * The spinner of status and list (withSpinner in src/cli/progress.ts), on a
 * clock the test moves: nothing for work quicker than the delay, frames on
 * stderr after it, the line cleared when the work settles, never when piped
 * or with --json or --quiet, and no sleep left waiting afterwards.
 */
import { actorContext, CapturedStream } from '../../src/actor-context.js';
import type { Clock } from '../../src/context.js';
import { createOutput } from '../../src/cli/output.js';
import { SPINNER_DELAY_MS, withSpinner } from '../../src/cli/progress.js';

/** A clock whose sleeps end when the test says so; `waiting` counts the sleeps not yet ended. */
function manualClock() {
  let now = 0;
  const sleepers = new Set<{ until: number; wake: () => void }>();
  const clock: Clock = {
    now: () => new Date(now),
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        const sleeper = {
          until: now + ms,
          wake: () => {
            sleepers.delete(sleeper);
            resolve();
          },
        };
        if (signal?.aborted) return resolve();
        sleepers.add(sleeper);
        signal?.addEventListener('abort', sleeper.wake, { once: true });
      }),
  };
  const advance = async (ms: number) => {
    now += ms;
    for (const sleeper of [...sleepers]) if (sleeper.until <= now) sleeper.wake();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { clock, advance, waiting: () => sleepers.size };
}

function setup(tty: boolean, globals: { json?: boolean; quiet?: boolean } = {}) {
  const manual = manualClock();
  const stderr = new CapturedStream({ isTTY: tty });
  const ctx = actorContext({ env: {}, stdout: new CapturedStream({ isTTY: tty }), stderr, clock: manual.clock });
  const options = { json: globals.json ?? false, color: false, debug: false, quiet: globals.quiet ?? false };
  return { ...manual, ctx, stderr, out: createOutput(ctx, options), options };
}

/** Work that settles when the test calls `finish`. */
function pendingWork() {
  let finish!: (value: string) => void;
  const work = new Promise<string>((resolve) => {
    finish = resolve;
  });
  return { work: () => work, finish };
}

test('on a terminal, work slower than the delay: frames with the label, then the line cleared and no sleep left', async () => {
  const { ctx, out, options, stderr, advance, waiting } = setup(true);
  const { work, finish } = pendingWork();
  const running = withSpinner(ctx, out, options, 'reading your requests', work);
  await advance(SPINNER_DELAY_MS - 1);
  expect(stderr.text).toBe('');
  await advance(1);
  expect(stderr.text).toBe('\r\u001b[K⠋ reading your requests');
  await advance(100);
  expect(stderr.text).toBe('\r\u001b[K⠋ reading your requests\r\u001b[K⠙ reading your requests');
  finish('done');
  expect(await running).toBe('done');
  expect(stderr.text.endsWith('⠙ reading your requests\r\u001b[K')).toBe(true);
  expect(waiting()).toBe(0);
});

test('on a terminal, work quicker than the delay: nothing drawn, nothing cleared, no sleep left', async () => {
  const { ctx, out, options, stderr, advance, waiting } = setup(true);
  const { work, finish } = pendingWork();
  const running = withSpinner(ctx, out, options, 'reading', work);
  await advance(SPINNER_DELAY_MS - 1);
  finish('quick');
  expect(await running).toBe('quick');
  expect(stderr.text).toBe('');
  expect(waiting()).toBe(0);
});

test('work that fails: the error comes through, the line is cleared, no sleep left', async () => {
  const { ctx, out, options, stderr, advance, waiting } = setup(true);
  let fail!: (error: Error) => void;
  const work = new Promise<string>((_resolve, reject) => {
    fail = reject;
  });
  const running = withSpinner(ctx, out, options, 'reading', () => work);
  await advance(SPINNER_DELAY_MS);
  fail(new Error('Graph is down'));
  await expect(running).rejects.toThrow('Graph is down');
  expect(stderr.text).toBe('\r\u001b[K⠋ reading\r\u001b[K');
  expect(waiting()).toBe(0);
});

test.each([
  ['piped', false, {}],
  ['--json on a terminal', true, { json: true }],
  ['--quiet on a terminal', true, { quiet: true }],
])('%s: never a spinner, and no sleep at all', async (_name, tty, globals) => {
  const { ctx, out, options, stderr, advance, waiting } = setup(tty, globals);
  const { work, finish } = pendingWork();
  const running = withSpinner(ctx, out, options, 'reading', work);
  expect(waiting()).toBe(0);
  await advance(10 * SPINNER_DELAY_MS);
  finish('ok');
  expect(await running).toBe('ok');
  expect(stderr.text).toBe('');
});
