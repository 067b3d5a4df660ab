/**
 * `sweep --watch`: one sweep after another, each woken by the earlier of the
 * next due event (a grant's expiry, a request's timeout) and the re-read
 * interval (revocations and new grants are records nobody announces). Only
 * the holder of the sweep lock sweeps; the others stand by and poll it.
 * Outages slow the loop down (backoff) instead of ending it, and are told
 * once when they start and once when they end. No I/O of its own: the lock,
 * the sweep, the health signal and the messages are ports.
 */
import type { Clock } from '../context.js';
import type { SweepReport } from './sweep-report.js';

export type WatchRole = 'active' | 'standby';

/** The sweep lock as the watcher uses it. */
export interface WatchLease {
  /** One attempt to become the active watcher; `lost` fires when another one takes the lock over. */
  tryTake(): Promise<{ taken: true; lost: AbortSignal } | { taken: false; holder?: string }>;
  /** Stops beating and gives the lock up (if still ours). */
  release(): Promise<void>;
}

/** What one sweep of the loop came to. */
export interface TickResult {
  /** 'unavailable' (some of Graph or OCI did not answer) counts as an outage, like a thrown error. */
  outcome: SweepReport['outcome'];
  /** The earliest due event the sweep saw, or null. */
  nextDue: Date | null;
  /** Why an 'unavailable' sweep was short of its goal (said once per outage). */
  reason?: string;
}

export interface WatchPorts {
  clock: Clock;
  /** SIGTERM/SIGINT: the step in progress ends, then the loop. */
  stop: AbortSignal;
  intervalMs: number;
  /** How often a standby tries the lock (the heartbeat). */
  standbyPollMs: number;
  /** The longest wait between two attempts during an outage. */
  maxBackoffMs: number;
  lease: WatchLease;
  sweep(): Promise<TickResult>;
  /** Called before each sweep; resolves once a reload asked for (SIGHUP) is done. */
  beforeSweep?(): Promise<void>;
  /** Fires (and is re-armed by the caller) when something wants the loop awake now, e.g. SIGHUP. */
  wake?(): AbortSignal;
  /** The health signal: called on every wake-up, active or standby. */
  alive(role: WatchRole): Promise<void>;
  log: { info(message: string): void; warn(message: string): void };
}

export interface WatchSummary {
  sweeps: number;
  /** Times this watcher became the active one. */
  activations: number;
}

const MIN_GAP_MS = 1_000;

/** When to sweep next: at the due event if it comes before the interval ends, never sooner than a second from now. */
export function nextWakeAt(now: number, intervalMs: number, nextDue: Date | null): number {
  const byInterval = now + intervalMs;
  const due = nextDue?.getTime();
  if (due === undefined || due >= byInterval) return byInterval;
  return Math.max(due, now + MIN_GAP_MS);
}

/** The wait after `failures` failed sweeps in a row: the interval, doubled each time, up to the cap. */
export function backoffMs(failures: number, intervalMs: number, maxBackoffMs: number): number {
  if (failures <= 0) return intervalMs;
  return Math.min(maxBackoffMs, intervalMs * 2 ** Math.min(failures - 1, 20));
}

/** Tells an outage once when it starts (whatever failed first) and once when it ends. */
export class OutageNotes {
  private since: Date | undefined;
  failures = 0;

  constructor(private readonly log: WatchPorts['log']) {}

  failed(message: string, at: Date): void {
    this.failures += 1;
    if (this.since !== undefined) return;
    this.since = at;
    this.log.warn(`${message} The watcher keeps trying, less often, and says when it recovers.`);
  }

  recovered(at: Date): void {
    if (this.since !== undefined) {
      const seconds = Math.round((at.getTime() - this.since.getTime()) / 1000);
      this.log.info(`Recovered after ${seconds}s and ${this.failures} failed sweep(s); watching again.`);
    }
    this.since = undefined;
    this.failures = 0;
  }
}

/**
 * A signal that fires when any of `signals` does, and a function that stops
 * listening. Made by hand: the listeners hold the combined signal strongly,
 * for as long as the wait lasts.
 */
function anyOf(signals: (AbortSignal | undefined)[]): { signal: AbortSignal; dispose(): void } {
  const combined = new AbortController();
  const sources = signals.filter((s): s is AbortSignal => s !== undefined);
  const fire = () => combined.abort();
  for (const source of sources) {
    if (source.aborted) combined.abort();
    else source.addEventListener('abort', fire, { once: true });
  }
  return {
    signal: combined.signal,
    dispose: () => {
      for (const source of sources) source.removeEventListener('abort', fire);
    },
  };
}

/** Sleeps until `until`, in steps of at most the interval so the health signal stays fresh; ends early on `signal`. */
async function sleepUntil(ports: WatchPorts, until: number, role: WatchRole, signal: AbortSignal): Promise<void> {
  for (;;) {
    const left = until - ports.clock.now().getTime();
    if (left <= 0 || signal.aborted) return;
    await ports.clock.sleep(Math.min(left, ports.intervalMs), signal);
    if (signal.aborted) return;
    await ports.alive(role);
  }
}

function errorKind(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'ERROR';
}

/** One sweep with its outcome noted; returns when to wake next. */
async function sweepOnce(ports: WatchPorts, outage: OutageNotes): Promise<number> {
  const { clock, intervalMs, maxBackoffMs } = ports;
  let result: TickResult;
  try {
    await ports.beforeSweep?.();
    result = await ports.sweep();
  } catch (error) {
    outage.failed(`The sweep failed: ${(error as Error).message} [${errorKind(error)}]`, clock.now());
    return clock.now().getTime() + backoffMs(outage.failures, intervalMs, maxBackoffMs);
  }
  const now = clock.now();
  if (result.outcome === 'unavailable') {
    outage.failed(`Graph or OCI is unavailable: ${result.reason ?? 'see the report'}.`, now);
    return now.getTime() + backoffMs(outage.failures, intervalMs, maxBackoffMs);
  }
  outage.recovered(now);
  return nextWakeAt(now.getTime(), intervalMs, result.nextDue);
}

/** Runs until `stop` fires; sweeps only while holding the lease. */
export async function runWatch(ports: WatchPorts): Promise<WatchSummary> {
  const { clock, stop } = ports;
  const outage = new OutageNotes(ports.log);
  const summary: WatchSummary = { sweeps: 0, activations: 0 };
  let lost: AbortSignal | undefined;
  let saidStandby = false;
  try {
    while (!stop.aborted) {
      if (lost?.aborted) {
        ports.log.warn('Another watcher took the sweep lock over (this one stalled); standing by.');
        await ports.lease.release().catch(() => undefined);
        lost = undefined;
      }
      if (lost === undefined) {
        const taken = await ports.lease.tryTake().catch((error: unknown) => {
          outage.failed(`The sweep lock cannot be used: ${(error as Error).message}`, clock.now());
          return { taken: false as const, holder: undefined };
        });
        if (!taken.taken) {
          if (!saidStandby) ports.log.info(`Standing by: ${taken.holder ?? 'another watcher holds the sweep lock'}.`);
          saidStandby = true;
          await ports.alive('standby');
          await clock.sleep(ports.standbyPollMs, stop);
          continue;
        }
        lost = taken.lost;
        saidStandby = false;
        summary.activations += 1;
        ports.log.info('Active: this watcher holds the sweep lock.');
      }
      const wakeAt = await sweepOnce(ports, outage);
      summary.sweeps += 1;
      await ports.alive('active');
      const wake = anyOf([stop, lost, ports.wake?.()]);
      try {
        await sleepUntil(ports, wakeAt, 'active', wake.signal);
      } finally {
        wake.dispose();
      }
    }
  } finally {
    if (lost !== undefined) await ports.lease.release().catch(() => undefined);
  }
  return summary;
}
