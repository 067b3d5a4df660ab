/**
 * The one object through which the program reaches the outside world:
 * streams, environment, clock, ids, paths, prompts and (lazily) the network
 * clients. main() builds it from the real process; tests build their own.
 * Nothing outside this module reads process.*, console.* or Date.now().
 */
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';

export interface OutputStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface Clock {
  now(): Date;
  /**
   * Waits; the emulator-aware clock still sleeps in real time. An aborted
   * `signal` ends the wait early (and clears its timer, so a background loop
   * such as a lock's heartbeat never keeps the process alive).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface IdSource {
  /** Short, human-typable request ids (e.g. "r-7k2m9q"). */
  requestId(): string;
  uuid(): string;
}

export interface Prompter {
  /** Whether prompts may be shown at all (stdin and stdout are terminals, not CI). */
  readonly interactive: boolean;
  select<T>(message: string, choices: { name: string; value: T; description?: string }[]): Promise<T>;
  confirm(message: string, defaultValue?: boolean): Promise<boolean>;
  input(message: string, options?: { default?: string; validate?: (v: string) => true | string }): Promise<string>;
}

export interface Paths {
  /** Config file to read (after --config / OCIACCESS_CONFIG). */
  configFile: string;
  /** Per-machine state: local records, sweep ledger, audit log, token cache fallback. */
  stateDir: string;
}

export interface Context {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly stdinIsTTY: boolean;
  /** Reads all of standard input (for secrets passed with `-`). */
  readStdin(): Promise<string>;
  clock: Clock;
  readonly ids: IdSource;
  readonly paths: Paths;
  readonly prompter: Prompter;
  readonly platform: NodeJS.Platform;
  /** The effective user id, for file owner checks; undefined on Windows. */
  readonly uid?: number;
  readonly pid: number;
  readonly hostname: string;
  /** Called when the process receives SIGINT/SIGTERM (long waits stop early). */
  readonly abortSignal: AbortSignal;
  /**
   * Calls `listener` on each SIGHUP until the returned function is called
   * (`sweep --watch` reloads its config). Absent where there are no signals.
   */
  onHangup?(listener: () => void): () => void;
  /**
   * Opens a URL in the user's browser (login --browser). Absent where there is
   * no browser to open (tests, unless they pass one); it may fail, so callers
   * print the URL too.
   */
  openUrl?(url: string): Promise<void>;
  /**
   * Asks the runtime to trade a little speed for memory, for bulk work such as
   * a sweep of a big group (the real process sets V8's --optimize-for-size;
   * in-process contexts leave it alone).
   */
  preferSmallMemory?(): void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** A clock whose "now" is the system time shifted by an offset (used to follow the emulator's virtual time). */
export function offsetClock(offsetMs: number, base: Clock = systemClock): Clock {
  return { now: () => new Date(base.now().getTime() + offsetMs), sleep: base.sleep };
}

const ID_ALPHABET = '23456789abcdefghjkmnpqrstuvwxyz';

export const randomIds: IdSource = {
  requestId() {
    const bytes = randomBytes(8);
    let id = 'r-';
    for (let i = 0; i < 8; i += 1) id += ID_ALPHABET[bytes[i]! % ID_ALPHABET.length];
    return id;
  },
  uuid: () => randomUUID(),
};

/** XDG base directories, with OCIACCESS_HOME as a single override for state. */
export function defaultPaths(env: Readonly<Record<string, string | undefined>>, home = os.homedir()): Paths {
  const configHome = env.XDG_CONFIG_HOME || path.join(home, '.config');
  const stateHome = env.XDG_STATE_HOME || path.join(home, '.local', 'state');
  return {
    configFile: env.OCIACCESS_CONFIG || path.join(configHome, 'ociaccess', 'config.json'),
    stateDir: env.OCIACCESS_HOME || path.join(stateHome, 'ociaccess'),
  };
}
