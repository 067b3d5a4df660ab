/**
 * One sweep as the command runs it: the flags and the config resolved into
 * settings once, then `sweepOnce` takes the lock, sweeps every group, prints
 * the report and returns the exit code. `sweep` calls it once; `sweep --watch`
 * calls it on every tick with the same settings.
 */
import type { CommandEnv } from './command-env.js';
import { parseDuration } from './args.js';
import { groupsOrAll } from '../config/groups.js';
import { requireOci } from '../config/oci.js';
import type { GroupConfig } from '../config/schema.js';
import { runSweep, type SweepOptions, type SweepReport } from '../core/sweep.js';
import { ExitCode, UsageError, quoteInput } from '../errors.js';
import type { HeartbeatRun } from '../store/lock.js';
import { createProgress } from './progress.js';
import {
  EXIT_FOR,
  LOCK_LOST_WARNING,
  PHASES,
  printSweepFailure,
  renderSweepReport,
  reportSkipped,
  sweepWarnings,
  type SweepDocumentWithoutReport,
} from './sweep-output.js';

export interface SweepFlags {
  group?: string;
  dryRun?: boolean;
  provisionNow?: boolean;
  forceOciAfter?: string;
  fixDrift?: boolean;
  concurrency?: string;
  batch?: boolean;
  watch?: boolean;
  interval?: string;
  health?: boolean;
  healthFile?: string;
}

/** What every sweep of this command does: the flags and the config, resolved once. */
export interface SweepSettings {
  groups: GroupConfig[];
  options: Omit<SweepOptions, 'onProgress' | 'onStep'>;
  concurrency: number;
  batching: boolean;
}

function parseConcurrency(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(value) || value < 1 || value > 16) {
    throw new UsageError(`--concurrency must be a whole number from 1 to 16, not ${quoteInput(raw)}.`, {
      code: 'INVALID_CONCURRENCY',
      hint: 'The default is 4 (sweep.concurrency in the config).',
    });
  }
  return value;
}

/** Flags first (exit 2 before any network), then the config. */
export async function sweepSettings(env: CommandEnv, flags: SweepFlags): Promise<SweepSettings> {
  const forceMs =
    flags.forceOciAfter !== undefined ? parseDuration(flags.forceOciAfter, '--force-oci-after') : undefined;
  if (forceMs === 0) throw new UsageError('--force-oci-after must be more than 0.', { code: 'INVALID_DURATION' });
  const givenConcurrency = parseConcurrency(flags.concurrency);
  const config = await env.config();
  const groups = groupsOrAll(config, flags.group);
  // The sweep confirms every removal in OCI: without the domain it would call removals "done" blind.
  const oci = requireOci(config, 'sweep');
  const forceOciAfterMs = forceMs ?? config.sweep.forceOciAfterMinutes * 60_000;
  if (oci.access !== 'write' && (flags.fixDrift || forceOciAfterMs > 0)) {
    // Said once here; each refused OCI removal is also in the report (OCI_READ_ONLY), and the sweep's Entra work still runs.
    env.out.warn(
      `${flags.fixDrift ? '--fix-drift' : 'Forced OCI removals'} need${flags.fixDrift ? 's' : ''} oci.access "write"; this config's OCI key is read-only, so OCI removals will be refused.`,
    );
  }
  const concurrency = givenConcurrency ?? config.sweep.concurrency;
  return {
    groups,
    concurrency,
    batching: flags.batch !== false,
    options: {
      dryRun: Boolean(flags.dryRun),
      provisionNow: flags.provisionNow ?? config.provisioning?.provisionOnDemand ?? false,
      forceOciAfterMs,
      fixDrift: Boolean(flags.fixDrift),
      cycleMs: (config.provisioning?.cycleMinutes ?? 40) * 60_000,
      ociConcurrency: concurrency,
      actor: { id: config.automation?.clientId ?? 'automation', upn: 'automation', kind: 'app' },
    },
  };
}

/**
 * The `sweep` command: settings, then one sweep. With --json a failure before
 * the report (config, sign-in, Graph) still prints the report's shape.
 */
export async function sweepCommand(env: CommandEnv, flags: SweepFlags): Promise<number> {
  const startedAt = env.ctx.clock.now();
  let settings: SweepSettings;
  try {
    settings = await sweepSettings(env, flags);
  } catch (error) {
    if (!env.out.json) throw error;
    return printSweepFailure(env.ctx, env.out, error, {
      startedAt,
      finishedAt: env.ctx.clock.now(),
      dryRun: Boolean(flags.dryRun),
    });
  }
  return sweepOnce(env, settings);
}

/**
 * One sweep under the lock: prints the report (or why it was skipped) and
 * returns the exit code. With --json every outcome is one report-shaped
 * document: a sweep that failed says why in `error`, a skipped one is
 * `skipped` with no groups.
 */
export async function sweepOnce(env: CommandEnv, settings: SweepSettings): Promise<number> {
  const startedAt = env.ctx.clock.now();
  try {
    return await sweepUnderLock(env, settings);
  } catch (error) {
    if (!env.out.json) throw error;
    return printSweepFailure(env.ctx, env.out, error, {
      startedAt,
      finishedAt: env.ctx.clock.now(),
      dryRun: settings.options.dryRun,
    });
  }
}

async function sweepUnderLock(env: CommandEnv, settings: SweepSettings): Promise<number> {
  const services = await env.services({ concurrency: settings.concurrency, unattended: true });
  const deps = await services.appDeps({ concurrency: settings.concurrency, batching: settings.batching });
  // Read once the services are up: with the emulator, they set the clock the report's times come from.
  const startedAt = env.ctx.clock.now();
  env.ctx.preferSmallMemory?.();
  const progress = createProgress(env.ctx, env.out, { quiet: env.globals.quiet });
  let run: HeartbeatRun<SweepReport>;
  try {
    run = await services.withSweepLock(async () =>
      runSweep(deps, settings.groups, {
        ...settings.options,
        onProgress: (message) => progress.message(message),
        onStep: (step) =>
          progress.step({ label: `${step.group}: ${PHASES[step.phase]}`, done: step.done, total: step.total }),
      }),
    );
  } finally {
    progress.stop();
  }
  if (!run.ran) {
    // Said on stderr; --json still gets its one document, in the report's shape.
    const { warnings, holder } = reportSkipped(env.out, run);
    const skipped: SweepDocumentWithoutReport = {
      startedAt: startedAt.toISOString(),
      finishedAt: env.ctx.clock.now().toISOString(),
      dryRun: settings.options.dryRun,
      outcome: 'skipped',
      groups: [],
    };
    env.out.data(
      {
        ...skipped,
        skipped: true,
        reason: 'another sweep is running',
        ...(holder ? { holder } : {}),
        ...(warnings.length ? { warnings } : {}),
      },
      () => '',
    );
    return ExitCode.ok;
  }
  const finished = run.value;
  if (!run.stillHeld) env.out.warn(LOCK_LOST_WARNING);
  for (const warning of sweepWarnings(finished)) env.out.warn(warning);
  const stats = {
    durationMs: env.ctx.clock.now().getTime() - startedAt.getTime(),
    requests: { ...services.requestCounts },
  };
  env.out.data({ ...finished, stats, ...(run.stillHeld ? {} : { warnings: [LOCK_LOST_WARNING] }) }, () =>
    renderSweepReport(env.out, finished),
  );
  return EXIT_FOR[finished.outcome];
}
