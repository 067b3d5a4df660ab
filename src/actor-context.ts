/**
 * A Context for running main() in-process as a given person on a given
 * "machine" (its own state directory and environment): used by `demo` and
 * by the tests, which play several actors against one emulator.
 */
import os from 'node:os';
import {
  defaultPaths,
  randomIds,
  systemClock,
  type Clock,
  type Context,
  type OutputStream,
  type Prompter,
} from './context.js';
import { UsageError } from './errors.js';

export class CapturedStream implements OutputStream {
  text = '';
  readonly isTTY: boolean;
  private readonly echo?: (chunk: string) => void;
  constructor(options: { isTTY?: boolean; echo?: (chunk: string) => void } = {}) {
    this.isTTY = options.isTTY ?? false;
    this.echo = options.echo;
  }
  write(chunk: string): boolean {
    this.text += chunk;
    this.echo?.(chunk);
    return true;
  }
  take(): string {
    const text = this.text;
    this.text = '';
    return text;
  }
}

export const noPrompter: Prompter = {
  interactive: false,
  select: async (message) => {
    throw new UsageError(`Cannot ask "${message}": no terminal.`, { code: 'PROMPT_UNAVAILABLE' });
  },
  confirm: async (message) => {
    throw new UsageError(`Cannot ask "${message}": no terminal.`, { code: 'PROMPT_UNAVAILABLE' });
  },
  input: async (message) => {
    throw new UsageError(`Cannot ask "${message}": no terminal.`, { code: 'PROMPT_UNAVAILABLE' });
  },
};

export interface ActorContextOptions {
  env: Record<string, string | undefined>;
  stdout?: OutputStream;
  stderr?: OutputStream;
  prompter?: Prompter;
  cwd?: string;
  stdin?: string;
  abortSignal?: AbortSignal;
  /** Stands in for SIGHUP: each dispatched 'hangup' event calls the command's listener. */
  hangup?: EventTarget;
  /** This machine's clock (tests: a machine whose clock is off). */
  clock?: Clock;
  /** The user id the run acts as (file owner checks); the process's own by default. */
  uid?: number;
  /** This machine's browser (tests: a function that records the URL); none by default, so no test opens a real one. */
  openUrl?: (url: string) => Promise<void>;
}

export function actorContext(options: ActorContextOptions): Context {
  return {
    env: options.env,
    cwd: options.cwd ?? os.tmpdir(),
    stdout: options.stdout ?? new CapturedStream(),
    stderr: options.stderr ?? new CapturedStream(),
    stdinIsTTY: false,
    readStdin: async () => options.stdin ?? '',
    clock: options.clock ?? systemClock,
    ids: randomIds,
    paths: defaultPaths(options.env, os.tmpdir()),
    prompter: options.prompter ?? noPrompter,
    platform: process.platform,
    uid: 'uid' in options ? options.uid : process.geteuid?.(),
    pid: process.pid,
    hostname: os.hostname(),
    abortSignal: options.abortSignal ?? new AbortController().signal,
    ...(options.hangup ? { onHangup: hangupFrom(options.hangup) } : {}),
    ...(options.openUrl ? { openUrl: options.openUrl } : {}),
  };
}

function hangupFrom(target: EventTarget): NonNullable<Context['onHangup']> {
  return (listener) => {
    target.addEventListener('hangup', listener);
    return () => target.removeEventListener('hangup', listener);
  };
}
