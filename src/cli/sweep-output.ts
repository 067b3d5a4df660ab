/**
 * How a sweep's report is shown: the text summary on stdout, the --json
 * document, the exit code of each outcome, and what is said when another
 * sweep holds the lock. `sweep` and `sweep --watch` render through here.
 */
import type { Context } from '../context.js';
import {
  describeNonUser,
  type GroupSweepReport,
  type SweepMemberAction,
  type SweepReport,
  type SweepStep,
} from '../core/sweep.js';
import { ExitCode, OciAccessError, capErrorText, isOciAccessError } from '../errors.js';
import { formatDuration, type Output } from './output.js';
import { describeLockStatus, HEARTBEAT_DEFAULTS, type HeartbeatRun } from '../store/lock.js';

export const PHASES: Record<SweepStep['phase'], string> = {
  reading: 'reading members',
  records: 'reading records',
  removing: 'removing',
  oci: 'checking OCI',
};

export const EXIT_FOR: Record<SweepReport['outcome'], number> = {
  clean: ExitCode.ok,
  planned: ExitCode.ok,
  pending: ExitCode.pendingInOci,
  unavailable: ExitCode.upstream,
  failed: ExitCode.unexpected,
};

/** A user by UPN; anything else (nested group, service principal, device) by kind, name and id. */
function who(a: SweepMemberAction): string {
  return a.kind ? describeNonUser({ id: a.userId, kind: a.kind, displayName: a.displayName }) : a.upn;
}

const DRY_RUN_VERB: Record<string, string> = {
  removed: 'would remove',
  autoApproved: 'would approve',
  forcedInOci: 'would remove in OCI directly',
};

/** The text report: one headline per group, one line per member acted on, and the outcome. */
export function renderSweepReport(out: Output, report: SweepReport): string {
  const lines: string[] = [];
  for (const g of report.groups) lines.push(...groupLines(out, g, report.dryRun));
  lines.push(outcomeLine(report));
  return lines.join('\n');
}

function groupLines(out: Output, g: GroupSweepReport, dryRun: boolean): string[] {
  const lines = [
    `${out.style.bold(g.group)}: ${g.members} member(s), kept ${g.kept.length}, ${dryRun ? 'would remove' : 'removed'} ${g.removed.length}, ${dryRun ? 'would auto-approve' : 'auto-approved'} ${g.autoApproved.length}, timed out ${g.timedOut.length}, drift ${g.drift.length}`,
  ];
  const label = (plain: string, key: string) => (dryRun ? DRY_RUN_VERB[key]! : plain).padEnd(10);
  if (dryRun) {
    for (const r of g.removed)
      lines.push(`  ${label('removed', 'removed')} ${who(r)}  (${r.reason}${r.requestId ? `, ${r.requestId}` : ''})`);
    for (const r of g.removedInOci) lines.push(`  would remove from OCI directly ${r.upn}`);
  } else lines.push(...removedLines(g));
  for (const a of g.autoApproved)
    lines.push(`  ${label('approved', 'autoApproved')} ${a.upn}  (${a.requestId}, until ${a.expiresAt ?? '-'})`);
  for (const c of g.confirmedInOci)
    lines.push(
      `  confirmed  ${c.upn}  gone from OCI${c.outcome === 'gone after provision on demand' ? ' (provisioned on demand)' : ''}`,
    );
  for (const c of g.forcedInOci)
    lines.push(
      `  ${label('forced', 'forcedInOci')} ${c.upn}  ${dryRun ? '' : (c.outcome ?? 'removed in OCI directly')}`.trimEnd(),
    );
  for (const p of g.pendingInOci)
    lines.push(`  pending    ${p.upn}  ${p.outcome ?? ''}${p.requestId ? ` (${p.reason}, ${p.requestId})` : ''}`);
  for (const c of g.covered ?? []) lines.push(`  covered    ${c.upn}  ${c.requestId} ${c.outcome ?? ''}`);
  for (const s of g.stuck) lines.push(`  STUCK      ${s.upn}  ${s.outcome ?? ''}${s.hint ? `. ${s.hint}` : ''}`);
  for (const f of g.failed) lines.push(`  FAILED     ${who(f)}  ${f.outcome ?? ''}`);
  for (const u of g.untrusted) lines.push(`  UNTRUSTED  ${u.upn}  ${u.requestId}: ${u.outcome} (dated ${u.decidedAt})`);
  for (const d of g.drift)
    lines.push(
      `  ${d.state === 'stuck' || d.state === 'failed' ? 'DRIFT     ' : 'drift     '} ${d.userName}  ${d.state === 'planned' ? 'would remove in OCI directly' : d.outcome}`,
    );
  for (const problem of g.problems) lines.push(`  PROBLEM    ${problem}`);
  for (const problem of g.unavailable ?? []) lines.push(`  UNAVAILABLE ${problem}`);
  return lines;
}

function outcomeLine(report: SweepReport): string {
  if (!report.dryRun) return `outcome: ${report.outcome}`;
  const p = report.planned;
  const counts = p
    ? [
        `remove ${p.remove}`,
        `auto-approve ${p.autoApprove}`,
        ...(p.removeInOci ? [`remove in OCI ${p.removeInOci}`] : []),
        ...(p.fixDrift ? [`fix drift ${p.fixDrift}`] : []),
      ].join(', ')
    : '';
  return `outcome: ${report.outcome} (dry run: ${report.outcome === 'planned' ? `would ${counts}; ` : ''}nothing changed)`;
}

/** The warnings of every group (an export Entra did not make, …), said on stderr. */
export function sweepWarnings(report: SweepReport): string[] {
  return report.groups.flatMap((g) => g.warnings ?? []);
}

/** What `sweep --json` prints when there is no report: the report's shape, no groups, and why. */
export interface SweepDocumentWithoutReport {
  startedAt: string;
  finishedAt: string;
  dryRun: boolean;
  outcome: SweepReport['outcome'] | 'skipped';
  groups: [];
  error?: { code: string; message: string; hint: string | null };
}

/**
 * A sweep that failed before its report (config, sign-in, lock, Graph): in
 * --json the report's shape still goes to stdout, the error inside it, so
 * that monitors reading `.outcome` and `.groups` keep working; the error is
 * said on stderr too. Returns the exit code the error carries.
 */
export function printSweepFailure(
  ctx: Context,
  out: Output,
  error: unknown,
  times: { startedAt: Date; finishedAt: Date; dryRun: boolean },
): number {
  const known = isOciAccessError(error)
    ? error
    : new OciAccessError(
        'UNEXPECTED',
        ExitCode.unexpected,
        `Unexpected failure: ${(error as Error)?.message ?? String(error)}`,
        {
          hint: 'Run again with --debug for the stack trace, and report it if it persists.',
          cause: error,
        },
      );
  const message = capErrorText(known.message);
  const document: SweepDocumentWithoutReport = {
    startedAt: times.startedAt.toISOString(),
    finishedAt: times.finishedAt.toISOString(),
    dryRun: times.dryRun,
    outcome: known.exitCode === ExitCode.upstream ? 'unavailable' : 'failed',
    groups: [],
    error: { code: known.code, message, hint: known.hint === undefined ? null : capErrorText(known.hint) },
  };
  out.data(document, () => '');
  return known.exitCode;
}

/** Each removal, saying "gone from OCI" when this sweep also removed the member there; then those an earlier sweep removed in Entra. */
function removedLines(g: SweepReport['groups'][number]): string[] {
  const goneFromOci = new Map(g.removedInOci.map((r) => [r.userId, r]));
  const lines = g.removed.map((r) => {
    const gone = goneFromOci.get(r.userId);
    goneFromOci.delete(r.userId);
    const oci = gone ? `; ${gone.outcome === 'removed from OCI directly' ? 'gone from OCI' : gone.outcome}` : '';
    return `  removed    ${who(r)}  (${r.reason}${r.outcome ? `, ${r.outcome}` : ''}${oci})`;
  });
  for (const r of goneFromOci.values()) lines.push(`  gone       ${r.upn}  ${r.outcome ?? ''}`);
  return lines;
}

export type SkippedSweep = Extract<HeartbeatRun<unknown>, { ran: false }>;

/** Another sweep holds the lock: say who and when it last beat, and warn when it has held it suspiciously long. */
export function reportSkipped(
  out: Output,
  skipped: SkippedSweep,
): { warnings: string[]; holder?: Record<string, unknown> } {
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

export const LOCK_LOST_WARNING =
  `This sweep lost the sweep lock while it ran: it went more than ${HEARTBEAT_DEFAULTS.missedBeats} heartbeats ` +
  `without beating (stalled or cut off from the state directory) and another sweep took over, so the two may have overlapped. ` +
  'Every sweep action is idempotent; check why this process stalled.';
