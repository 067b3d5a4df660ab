/**
 * `sweep --watch` and `sweep --health`: the long-running sweep (the loop is
 * core/watch.ts) wired to the sweep lock, the config (reloaded on SIGHUP),
 * the health file and the output: one line (or JSON line) per sweep that did
 * something, messages on stderr.
 */
import path from 'node:path';
import { parseDuration } from './args.js';
import { createCommandEnv, type CommandEnv } from './command-env.js';
import type { CoreDeps } from '../core/deps.js';
import { runSweep, type SweepOptions, type SweepReport } from '../core/sweep.js';
import { runWatch, type TickResult, type WatchLease } from '../core/watch.js';
import { ExitCode, StateError, UsageError, quoteInput } from '../errors.js';
import type { Clock } from '../context.js';
import {
  describeLockStatus,
  HEARTBEAT_DEFAULTS,
  heartbeatLockOptions,
  readLockStatus,
  startHeartbeat,
  tryAcquire,
} from '../store/lock.js';
import { HEALTH_FILE_NAME, readHealth, staleAfterMs, writeHealth } from '../store/health-file.js';
import type { Services } from './services.js';
import { sweepSettings, type SweepFlags, type SweepSettings } from './sweep-once.js';

export const DEFAULT_INTERVAL_MS = 30_000;
const MIN_INTERVAL_MS = 5_000;
const MAX_INTERVAL_MS = 3_600_000;
const MAX_BACKOFF_MS = 300_000;

export function parseInterval(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_INTERVAL_MS;
  const ms = /^\s*\d+\s*$/.test(raw) ? Number(raw) * 1000 : parseDuration(raw, '--interval');
  if (ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) {
    throw new UsageError(`--interval must be from 5s to 1h, not ${quoteInput(raw)}.`, {
      code: 'INVALID_DURATION',
      hint: 'The default is 30s: e.g. --interval 30s, --interval 1m, or seconds alone (--interval 15).',
    });
  }
  return ms;
}

export function healthFileOf(env: CommandEnv, flag: string | undefined): string {
  return flag ? path.resolve(env.ctx.cwd, flag) : path.join(env.ctx.paths.stateDir, HEALTH_FILE_NAME);
}

/** `sweep --health`: exit 0 when the watcher's health file is fresh, else WATCH_UNHEALTHY (exit 1). */
export async function checkHealth(env: CommandEnv, healthFileFlag: string | undefined): Promise<number> {
  const file = healthFileOf(env, healthFileFlag);
  const verdict = await readHealth(file, env.ctx.clock);
  if (!verdict.healthy) {
    const age = verdict.ageMs === undefined ? '' : ` (last wake-up ${Math.round(verdict.ageMs / 1000)}s ago)`;
    throw new StateError('WATCH_UNHEALTHY', `The watcher's health file ${file} is ${verdict.why}${age}.`, {
      hint: 'Is `ociaccess sweep --watch` running with this state directory (or this --health-file)? Its log says why it stopped.',
      details: { path: file, why: verdict.why },
    });
  }
  const { note, ageMs } = verdict;
  env.out.data(
    { healthy: true, role: note.role, at: note.at, ageMs, staleAfterMs: staleAfterMs(note.intervalMs) },
    () => `healthy: ${note.role}, last wake-up ${Math.round(ageMs / 1000)}s ago`,
  );
  return ExitCode.ok;
}

/** The sweep lock as a lease: a heartbeat while held, and who holds it when not. */
function sweepLease(env: CommandEnv, clock: Clock): WatchLease {
  const file = path.join(env.ctx.paths.stateDir, 'sweep.lock');
  const options = heartbeatLockOptions(
    { clock, pid: env.ctx.pid, hostname: env.ctx.hostname },
    'a watching sweep (sweep --watch)',
  );
  let held: { release(): Promise<unknown>; stop(): Promise<void> } | undefined;
  return {
    async tryTake() {
      const { ensureStateDir } = await import('../store/atomic-file.js');
      await ensureStateDir(env.ctx.paths.stateDir, { platform: env.ctx.platform, uid: env.ctx.uid });
      const lock = await tryAcquire(file, options);
      if (!lock) {
        const status = await readLockStatus(file, clock);
        return { taken: false, holder: status ? `the sweep lock is held by ${describeLockStatus(status)}` : undefined };
      }
      const heartbeat = startHeartbeat(lock, clock, options.heartbeatMs);
      held = { release: () => lock.release(), stop: () => heartbeat.stop() };
      return { taken: true, lost: heartbeat.lost };
    },
    async release() {
      const current = held;
      held = undefined;
      await current?.stop();
      await current?.release();
    },
  };
}

/** What a sweep did, as one line per change (nothing when it changed nothing). */
function changesOf(report: SweepReport): string[] {
  const lines: string[] = [];
  for (const g of report.groups) {
    for (const r of g.removed) lines.push(`${g.group}: removed ${r.upn || r.userId} (${r.reason})`);
    for (const a of g.autoApproved) lines.push(`${g.group}: auto-approved ${a.upn} (${a.requestId})`);
    for (const c of g.confirmedInOci) lines.push(`${g.group}: gone from OCI ${c.upn}`);
    for (const c of g.removedInOci) lines.push(`${g.group}: removed from OCI ${c.upn}`);
    for (const c of g.forcedInOci) lines.push(`${g.group}: removed in OCI ${c.upn}`);
    for (const s of g.stuck) lines.push(`${g.group}: STUCK ${s.upn} ${s.outcome ?? ''}`.trimEnd());
    for (const f of g.failed) lines.push(`${g.group}: FAILED ${f.upn || f.userId} ${f.outcome ?? ''}`.trimEnd());
    for (const p of g.problems) lines.push(`${g.group}: PROBLEM ${p}`);
  }
  return lines;
}

/** The config and what it builds, replaced whole on SIGHUP. */
interface Generation {
  env: CommandEnv;
  settings: SweepSettings;
  services: Services;
  deps: CoreDeps;
}

/** The flags and the config resolved as for a one-off sweep (sweep-once.ts), and the services they build. */
async function generation(env: CommandEnv, flags: SweepFlags): Promise<Generation> {
  const settings = await sweepSettings(env, flags);
  const { concurrency, batching } = settings;
  const services = await env.services({ concurrency, unattended: true });
  const deps = await services.appDeps({ concurrency, batching });
  return { env, settings, services, deps };
}

/** `sweep --watch`: runs until SIGTERM/SIGINT, then exits 0. */
export async function watchSweep(env: CommandEnv, flags: SweepFlags): Promise<number> {
  if (flags.dryRun) throw new UsageError('--watch cannot be combined with --dry-run: a watcher acts.');
  const intervalMs = parseInterval(flags.interval);
  const { ctx, out } = env;
  const baseClock = ctx.clock;
  let current = await generation(env, flags);
  const clock = current.services.clock;
  const healthFile = healthFileOf(env, flags.healthFile);
  let reloadAsked = false;
  let wakeUp = new AbortController();
  const stopHangup = ctx.onHangup?.(() => {
    reloadAsked = true;
    wakeUp.abort();
  });
  let lastOutcome: string | undefined;
  const reload = async () => {
    if (!reloadAsked) return;
    reloadAsked = false;
    wakeUp = new AbortController();
    const next = createCommandEnv(ctx, out, env.globals);
    try {
      ctx.clock = baseClock;
      const made = await generation(next, flags);
      if (current.env !== env) await current.env.settle();
      current = made;
      out.info(`Config reloaded from ${env.configFile}.`);
    } catch (error) {
      await next.settle();
      out.warn(`The config was not reloaded (${(error as Error).message}); the watcher goes on with the one it had.`);
    }
  };
  const sweep = async (): Promise<TickResult> => {
    let nextDue: Date | null = null;
    const options: SweepOptions = {
      ...current.settings.options,
      onNextDue: (due) => {
        if (due && (!nextDue || due < nextDue)) nextDue = due;
      },
    };
    const report = await runSweep(current.deps, current.settings.groups, options);
    const changes = changesOf(report);
    if (changes.length > 0 || report.outcome !== lastOutcome) {
      const requests = { ...current.services.requestCounts };
      if (out.json) ctx.stdout.write(`${JSON.stringify({ ...report, stats: { requests } })}\n`);
      else
        for (const line of [...changes, `outcome: ${report.outcome}`])
          ctx.stdout.write(`${report.finishedAt} ${line}\n`);
    }
    lastOutcome = report.outcome;
    const unavailable = report.groups.flatMap((g) => g.unavailable ?? []);
    return { outcome: report.outcome, nextDue, reason: unavailable[0] };
  };
  let healthWarned = false;
  out.info(
    `Watching: a sweep at each due expiry and every ${Math.round(intervalMs / 1000)}s; health in ${healthFile}.`,
  );
  try {
    const summary = await runWatch({
      clock,
      stop: ctx.abortSignal,
      intervalMs,
      standbyPollMs: HEARTBEAT_DEFAULTS.everyMs,
      maxBackoffMs: Math.max(MAX_BACKOFF_MS, intervalMs),
      lease: sweepLease(env, clock),
      sweep,
      beforeSweep: reload,
      wake: () => wakeUp.signal,
      alive: (role) =>
        writeHealth(healthFile, clock, { role, intervalMs }).then(
          () => {
            healthWarned = false;
          },
          (error: unknown) => {
            if (!healthWarned)
              out.warn(`The health file ${healthFile} could not be written: ${(error as Error).message}`);
            healthWarned = true;
          },
        ),
      log: { info: (m) => out.info(m), warn: (m) => out.warn(m) },
    });
    out.info(`Stopped after ${summary.sweeps} sweep(s).`);
  } finally {
    stopHangup?.();
    if (current.env !== env) await current.env.settle();
  }
  return ExitCode.ok;
}
