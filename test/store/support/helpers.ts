/** Shared helpers for the store tests: temp state directories and a clock that moves only when told. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Clock } from '../../../src/context.js';

export interface FakeClock extends Clock {
  advance(ms: number): void;
  set(iso: string): void;
  /** Called on every sleep, after time has moved; lets a test act "while" someone waits. */
  onSleep?: (ms: number) => void | Promise<void>;
}

/** now() is fixed until advance(); sleep(ms) advances by ms and returns at once. */
export function fakeClock(start = '2025-03-01T10:00:00.000Z'): FakeClock {
  let t = Date.parse(start);
  const clock: FakeClock = {
    now: () => new Date(t),
    async sleep(ms) {
      t += ms;
      await clock.onSleep?.(ms);
    },
    advance(ms) {
      t += ms;
    },
    set(iso) {
      t = Date.parse(iso);
    },
  };
  return clock;
}

/** A fresh parent directory (0700 from mkdtemp); the state dir inside it is not created. */
export async function tempRoot(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'ociaccess-store-'));
}

export async function removeTree(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

export async function modeOf(file: string): Promise<number> {
  return (await fs.stat(file)).mode & 0o777;
}

/** Runs fn and returns what it threw (fails the test if it did not throw). */
export async function caught(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, got none');
}

export const HOST = 'test-host';
