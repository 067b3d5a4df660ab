import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { parseDuration } from '../args.js';
import { findGroup } from '../../config/groups.js';
import { runSweep, type SweepReport } from '../../core/sweep.js';
import { ExitCode, UsageError } from '../../errors.js';
import type { Output } from '../output.js';

function summary(out: Output, report: SweepReport): string {
  const lines: string[] = [];
  for (const g of report.groups) {
    lines.push(`${out.style.bold(g.group)}: ${g.members} member(s), kept ${g.kept.length}, removed ${g.removed.length}, auto-approved ${g.autoApproved.length}, timed out ${g.timedOut.length}`);
    for (const r of g.removed) lines.push(`  removed    ${r.upn}  (${r.reason}${r.outcome ? `, ${r.outcome}` : ''})`);
    for (const a of g.autoApproved) lines.push(`  approved   ${a.upn}  (${a.requestId}, until ${a.expiresAt ?? '-'})`);
    for (const c of g.confirmedInOci) lines.push(`  confirmed  ${c.upn}  gone from OCI`);
    for (const c of g.forcedInOci) lines.push(`  forced     ${c.upn}  removed in OCI directly`);
    for (const p of g.pendingInOci) lines.push(`  pending    ${p.upn}  ${p.outcome ?? ''}`);
    for (const s of g.stuck) lines.push(`  STUCK      ${s.upn}  ${s.outcome ?? ''}`);
    for (const f of g.failed) lines.push(`  FAILED     ${f.upn}  ${f.outcome ?? ''}`);
    for (const problem of g.problems) lines.push(`  PROBLEM    ${problem}`);
  }
  lines.push(`outcome: ${report.outcome}${report.dryRun ? ' (dry run: nothing changed)' : ''}`);
  return lines.join('\n');
}

export function registerSweep(program: Command, run: Runner): void {
  program
    .command('sweep')
    .description('remove expired and unapproved members, auto-approve, and confirm removals reached OCI (run from cron)')
    .option('-g, --group <name>', 'only this group (default: all managed groups)')
    .option('--dry-run', 'print the plan, change nothing')
    .option('--provision-now', 'ask Entra to provision removals to OCI at once')
    .option('--force-oci-after <duration>', 'remove in OCI directly when still there this long after the Entra removal (e.g. 30m)')
    .addHelpText('after', `
Runs as the automation app (automation.* in the config). Non-interactive.

Examples:
  $ ociaccess sweep
  $ ociaccess sweep --dry-run
  $ ociaccess sweep --provision-now --force-oci-after 30m --json

Exit codes: 0 clean, 6 removals still pending in OCI, 5 Graph/OCI unavailable, 1 failures (see the report).`)
    .action(async (options: { group?: string; dryRun?: boolean; provisionNow?: boolean; forceOciAfter?: string }, command: Command) =>
      run(command, async (env) => {
        const forceMs = options.forceOciAfter !== undefined ? parseDuration(options.forceOciAfter, '--force-oci-after') : undefined;
        if (forceMs === 0) throw new UsageError('--force-oci-after must be more than 0.', { code: 'INVALID_DURATION' });
        const config = await env.config();
        const groups = options.group ? [findGroup(config, options.group)] : config.groups;
        const services = await env.services();
        const deps = await services.appDeps();
        const report = await services.withSweepLock(async () =>
          runSweep(deps, groups, {
            dryRun: Boolean(options.dryRun),
            provisionNow: options.provisionNow ?? config.provisioning?.provisionOnDemand ?? false,
            forceOciAfterMs: forceMs ?? config.sweep.forceOciAfterMinutes * 60_000,
            cycleMs: (config.provisioning?.cycleMinutes ?? 40) * 60_000,
            actor: { id: config.automation?.clientId ?? 'automation', upn: 'automation', kind: 'app' },
            onProgress: (message) => env.out.info(message),
          }),
        );
        if (report === null) return ExitCode.ok;
        env.out.data(report, () => summary(env.out, report));
        return report.outcome === 'clean' ? ExitCode.ok : report.outcome === 'pending' ? ExitCode.pendingInOci : ExitCode.unexpected;
      }),
    );
}
