/**
 * How a sweep's report is shown: the text summary on stdout, the --json
 * document, the exit code of each outcome, and what is said when another
 * sweep holds the lock. `sweep` and `sweep --watch` render through here.
 */
import { describeNonUser, type SweepMemberAction, type SweepReport, type SweepStep } from '../core/sweep.js';
import { ExitCode } from '../errors.js';
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
  pending: ExitCode.pendingInOci,
  unavailable: ExitCode.upstream,
  failed: ExitCode.unexpected,
};

/** A user by UPN; anything else (nested group, service principal, device) by kind, name and id. */
function who(a: SweepMemberAction): string {
  return a.kind ? describeNonUser({ id: a.userId, kind: a.kind, displayName: a.displayName }) : a.upn;
}

/** The text report: one headline per group, one line per member acted on, and the outcome. */
export function renderSweepReport(out: Output, report: SweepReport): string {
  const lines: string[] = [];
  for (const g of report.groups) {
    lines.push(
      `${out.style.bold(g.group)}: ${g.members} member(s), kept ${g.kept.length}, removed ${g.removed.length}, auto-approved ${g.autoApproved.length}, timed out ${g.timedOut.length}, drift ${g.drift.length}`,
    );
    lines.push(...removedLines(g));
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
