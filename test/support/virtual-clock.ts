/**
 * Virtual time for long-running commands (`sweep --watch`) run in-process:
 * `now()` is the emulator's clock, and `sleep` registers a timer that fires
 * only when the test moves time on (`runFor`), which jumps the emulator's
 * clock to the next timer once the program has gone quiet (no new request
 * reached the emulator for a moment). Each watcher gets its own view of the
 * one clock; `freeze()` on a view stands for that process dying: its sleeps
 * never end, so it stops beating and sweeping, as after kill -9.
 */
import type { Clock } from '../../src/context.js';
import type { RunningEmulator } from '../../src/emulator/index.js';

interface Timer {
  at: number;
  view: ClockView;
  wake: () => void;
}

export interface ClockView extends Clock {
  freeze(): void;
}

const realDelay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class VirtualClock {
  private timers: Timer[] = [];
  private sleepsBegun = 0;
  /**
   * How many sleeps are pending when the programs under test are idle: an
   * active watcher sleeps twice (its loop and its lock's heartbeat), a
   * standby once. Time moves only when at least this many are pending.
   */
  sleepersWhenIdle = 2;

  constructor(private readonly emu: RunningEmulator) {}

  now(): number {
    return this.emu.world.now();
  }

  view(): ClockView {
    let frozen = false;
    const view: ClockView = {
      now: () => new Date(this.now()),
      sleep: (ms, signal) =>
        new Promise<void>((resolve) => {
          if (signal?.aborted) return resolve();
          if (frozen) return;
          const timer: Timer = {
            at: this.now() + Math.max(0, ms),
            view,
            wake: () => {
              signal?.removeEventListener('abort', onAbort);
              resolve();
            },
          };
          const onAbort = () => {
            this.timers = this.timers.filter((t) => t !== timer);
            if (!frozen) resolve();
          };
          signal?.addEventListener('abort', onAbort, { once: true });
          this.timers.push(timer);
          this.sleepsBegun += 1;
        }),
      freeze: () => {
        frozen = true;
        this.timers = this.timers.filter((t) => t.view !== view);
      },
    };
    return view;
  }

  /**
   * Waits (in real time) until no request has reached the emulator and no
   * sleep began or ended for a moment, and someone sleeps.
   */
  private async quiet(): Promise<void> {
    const log = this.emu.world.requestLog;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const seen = log.length;
      const sleeps = this.sleepsBegun;
      await realDelay(30);
      const idle = this.timers.length >= this.sleepersWhenIdle || Date.now() > deadline - 25_000;
      if (log.length === seen && sleeps === this.sleepsBegun && this.timers.length > 0 && idle) return;
      if (Date.now() > deadline) throw new Error('the program under test never went to sleep');
    }
  }

  private moveTo(at: number): void {
    const world = this.emu.world;
    if (at > world.now()) world.clockOffsetMs += at - world.now();
    this.emu.server.runDueCycles();
  }

  /**
   * Moves virtual time on by `ms`, waking each sleeper when its time comes,
   * and stops early once `until` holds (checked whenever the program is quiet).
   */
  async runFor(ms: number, until?: () => boolean): Promise<void> {
    const end = this.now() + ms;
    for (;;) {
      await this.quiet();
      if (until?.()) return;
      const next = this.timers.reduce<Timer | undefined>((a, t) => (a && a.at <= t.at ? a : t), undefined);
      if (!next || next.at > end) {
        this.moveTo(end);
        await this.quiet();
        return;
      }
      this.moveTo(next.at);
      const due = this.timers.filter((t) => t.at <= this.now());
      this.timers = this.timers.filter((t) => t.at > this.now());
      for (const timer of due) timer.wake();
    }
  }
}
