import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { parseDuration } from '../args.js';
import { groupsOrAll } from '../../config/groups.js';
import { requireOci } from '../../config/oci.js';
import {
  describeNonUser,
  runSweep,
  type SweepMemberAction,
  type SweepReport,
  type SweepStep,
} from '../../core/sweep.js';
import { ExitCode, UsageError, quoteInput } from '../../errors.js';
import { formatDuration, type Output } from '../output.js';
import { describeLockStatus, HEARTBEAT_DEFAULTS, type HeartbeatRun } from '../../store/lock.js';
import { createProgress } from '../progress.js';
import { checkHealth, watchSweep } from '../sweep-watch.js';

interface SweepFlags {
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

const PHASES: Record<SweepStep['phase'], string> = {
  reading: 'reading members',
  records: 'reading records',
  removing: 'removing',
  oci: 'checking OCI',
};

/** A user by UPN; anything else (nested group, service principal, device) by kind, name and id. */
function who(a: SweepMemberAction): string {
  return a.kind ? describeNonUser({ id: a.userId, kind: a.kind, displayName: a.displayName }) : a.upn;
}

function summary(out: Output, report: SweepReport): string {
  const lines: string[] = [];
  for (const g of report.groups) {
    lines.push(
      `${out.style.bold(g.group)}: ${g.members} member(s), kept ${g.kept.length}, removed ${g.removed.length}, auto-approved ${g.autoApproved.length}, timed out ${g.timedOut.length}, drift ${g.drift.length}`,
    );
    for (const r of g.removed) lines.push(`  removed    ${who(r)}  (${r.reason}${r.outcome ? `, ${r.outcome}` : ''})`);
    for (const a of g.autoApproved) lines.push(`  approved   ${a.upn}  (${a.requestId}, until ${a.expiresAt ?? '-'})`);
    for (const c of g.confirmedInOci)
      lines.push(
        `  confirmed  ${c.upn}  gone from OCI${c.outcome === 'gone after provision on demand' ? ' (provisioned on demand)' : ''}`,
      );
    for (const c of g.forcedInOci) lines.push(`  forced     ${c.upn}  ${c.outcome ?? 'removed in OCI directly'}`);
    for (const p of g.pendingInOci) lines.push(`  pending    ${p.upn}  ${p.outcome ?? ''}`);
    for (const s of g.stuck) lines.push(`  STUCK      ${s.upn}  ${s.outcome ?? ''}`);
    for (const f of g.failed) lines.push(`  FAILED     ${who(f)}  ${f.outcome ?? ''}`);
    for (const u of g.untrusted)
      lines.push(`  UNTRUSTED  ${u.upn}  ${u.requestId}: ${u.outcome} (dated ${u.decidedAt})`);
    for (const d of g.drift)
      lines.push(
        `  ${d.state === 'stuck' || d.state === 'failed' ? 'DRIFT     ' : 'drift     '} ${d.userName}  ${d.outcome}`,
      );
    for (const problem of g.problems) lines.push(`  PROBLEM    ${problem}`);
    for (const problem of g.unavailable ?? []) lines.push(`  UNAVAILABLE ${problem}`);
  }
  lines.push(`outcome: ${report.outcome}${report.dryRun ? ' (dry run: nothing changed)' : ''}`);
  return lines.join('\n');
}

type Skipped = Extract<HeartbeatRun<unknown>, { ran: false }>;

/** Another sweep holds the lock: say who and when it last beat, and warn when it has held it suspiciously long. */
function reportSkipped(out: Output, skipped: Skipped): { warnings: string[]; holder?: Record<string, unknown> } {
  const holder = skipped.holder;
  out.info(`A sweep is already running${holder ? ` (${describeLockStatus(holder)})` : ''}; nothing to do.`);
  if (!holder) return { warnings: [] };
  const warnings: string[] = [];
  if (skipped.old) {
    warnings.push(
      `The sweep lock has been held for ${formatDuration(holder.heldForMs)} by pid ${holder.owner.pid} on host ${holder.owner.hostname} ` +
        `but its heartbeat is fresh (last ${holder.lastBeatAt}): that sweep is alive but may be stuck. ` +
        `It is taken over only once its heartbeat stops; check that host.`,
    );
  }
  for (const warning of warnings) out.warn(warning);
  const { nonce: _nonce, ...owner } = holder.owner;
  return { warnings, holder: { ...owner, lastBeatAt: holder.lastBeatAt } };
}

const LOCK_LOST_WARNING =
  `This sweep lost the sweep lock while it ran: it went more than ${HEARTBEAT_DEFAULTS.missedBeats} heartbeats ` +
  `without beating (stalled or cut off from the state directory) and another sweep took over, so the two may have overlapped. ` +
  'Every sweep action is idempotent; check why this process stalled.';

const EXIT_FOR: Record<SweepReport['outcome'], number> = {
  clean: ExitCode.ok,
  pending: ExitCode.pendingInOci,
  unavailable: ExitCode.upstream,
  failed: ExitCode.unexpected,
};

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

export function registerSweep(program: Command, run: Runner): void {
  program
    .command('sweep')
    .description(
      'remove expired and unapproved members, auto-approve, and confirm removals reached OCI (run from cron)',
    )
    .option('-g, --group <name>', 'only this group (default: all managed groups)')
    .option('--dry-run', 'print the plan, change nothing')
    .option(
      '--provision-now',
      'ask Entra to provision removals to OCI at once (default: provisioning.provisionOnDemand)',
    )
    .option(
      '--force-oci-after <duration>',
      'remove in OCI directly when still there this long after the Entra removal (e.g. 30m)',
    )
    .option(
      '--fix-drift',
      'remove OCI group members that have no Entra membership and no grant (otherwise only reported)',
    )
    .option('--concurrency <n>', 'Graph $batch calls in flight at once, 1-16 (default: sweep.concurrency, 4)')
    .option('--no-batch', 'one Graph request per item instead of $batch (slow; for comparison and troubleshooting)')
    .option('--watch', 'keep running: sweep at each due expiry and every --interval (one active watcher per lock)')
    .option('--interval <duration>', 'with --watch: how often records are re-read (default 30s)')
    .option('--health', "exit 0 when the watcher's health file is fresh, else 1 (a liveness probe)")
    .option(
      '--health-file <path>',
      'the health file --watch rewrites and --health reads (default: in the state directory)',
    )
    .addHelpText(
      'after',
      `
Runs as the automation app (automation.* in the config) and needs the "oci" section;
--fix-drift and --force-oci-after need oci.access "write". Non-interactive.
One sweep at a time per state directory, across hosts that share it: a second
one exits 0 saying which host and pid hold the lock and when it last beat. A
lock whose heartbeat stopped for 30s (the holder was killed) is taken over.

Examples:
  $ ociaccess sweep
  $ ociaccess sweep --dry-run
  $ ociaccess sweep --provision-now --force-oci-after 30m --fix-drift --json
  $ ociaccess sweep --watch --interval 30s --health-file /run/ociaccess/health
  $ ociaccess sweep --health --health-file /run/ociaccess/health

--watch runs until SIGTERM or SIGINT (it ends the sweep in progress, then exits
0) and reloads the config on SIGHUP; a second watcher stands by and takes over
within a minute of the first one dying. One line (--json: one JSON line) per
sweep that changed something.

Exit codes: 0 clean, 6 changes still pending in OCI, 5 Graph/OCI unavailable,
1 anything else (failures, stuck removals, quarantine, lasting drift; see the report).`,
    )
    .action(async (options: SweepFlags, command: Command) =>
      run(command, async (env) => {
        if (options.health) return checkHealth(env, options.healthFile);
        if (options.watch) return watchSweep(env, { ...options, concurrency: parseConcurrency(options.concurrency) });
        const forceMs =
          options.forceOciAfter !== undefined ? parseDuration(options.forceOciAfter, '--force-oci-after') : undefined;
        if (forceMs === 0) throw new UsageError('--force-oci-after must be more than 0.', { code: 'INVALID_DURATION' });
        const concurrency = parseConcurrency(options.concurrency);
        const config = await env.config();
        const groups = groupsOrAll(config, options.group);
        // The sweep confirms every removal in OCI: without the domain it would call removals "done" blind.
        const oci = requireOci(config, 'sweep');
        const forceOciAfterMs = forceMs ?? config.sweep.forceOciAfterMinutes * 60_000;
        if (oci.access !== 'write' && (options.fixDrift || forceOciAfterMs > 0)) {
          // Said once here; each refused OCI removal is also in the report (OCI_READ_ONLY), and the sweep's Entra work still runs.
          env.out.warn(
            `${options.fixDrift ? '--fix-drift' : 'Forced OCI removals'} need${options.fixDrift ? 's' : ''} oci.access "write"; this config's OCI key is read-only, so OCI removals will be refused.`,
          );
        }
        const services = await env.services({ concurrency: concurrency ?? config.sweep.concurrency, unattended: true });
        const deps = await services.appDeps({
          concurrency: concurrency ?? config.sweep.concurrency,
          batching: options.batch !== false,
        });
        env.ctx.preferSmallMemory?.();
        const progress = createProgress(env.ctx, env.out, { quiet: env.globals.quiet });
        const startedMs = env.ctx.clock.now().getTime();
        let run: HeartbeatRun<SweepReport>;
        try {
          run = await services.withSweepLock(async () =>
            runSweep(deps, groups, {
              dryRun: Boolean(options.dryRun),
              provisionNow: options.provisionNow ?? config.provisioning?.provisionOnDemand ?? false,
              forceOciAfterMs,
              fixDrift: Boolean(options.fixDrift),
              cycleMs: (config.provisioning?.cycleMinutes ?? 40) * 60_000,
              ociConcurrency: concurrency ?? config.sweep.concurrency,
              actor: { id: config.automation?.clientId ?? 'automation', upn: 'automation', kind: 'app' },
              onProgress: (message) => progress.message(message),
              onStep: (step) =>
                progress.step({ label: `${step.group}: ${PHASES[step.phase]}`, done: step.done, total: step.total }),
            }),
          );
        } finally {
          progress.stop();
        }
        if (!run.ran) {
          // Said on stderr; --json still gets its one document.
          const { warnings, holder } = reportSkipped(env.out, run);
          env.out.data(
            {
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
        const stats = {
          durationMs: env.ctx.clock.now().getTime() - startedMs,
          requests: { ...services.requestCounts },
        };
        env.out.data({ ...finished, stats, ...(run.stillHeld ? {} : { warnings: [LOCK_LOST_WARNING] }) }, () =>
          summary(env.out, finished),
        );
        return EXIT_FOR[finished.outcome];
      }),
    );
}
