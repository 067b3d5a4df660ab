import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { parseDuration } from '../args.js';
import { ExitCode, UsageError, quoteInput } from '../../errors.js';
import { table } from '../output.js';
import type { CommandEnv } from '../command-env.js';

function since(env: CommandEnv, raw: string | undefined): Date | undefined {
  if (raw === undefined) return undefined;
  const asDate = new Date(raw);
  if (/^\d{4}-\d{2}-\d{2}/.test(raw) && !Number.isNaN(asDate.getTime())) return asDate;
  try {
    return new Date(env.ctx.clock.now().getTime() - parseDuration(raw, '--since'));
  } catch {
    throw new UsageError(`--since ${quoteInput(raw)} is neither a date nor a duration.`, { code: 'INVALID_SINCE', hint: 'Use e.g. --since 2026-11-01 or --since 24h.' });
  }
}

async function auditLogOf(env: CommandEnv) {
  const { openAuditLog } = await import('../../store/audit-log.js');
  return openAuditLog(env.ctx.paths.stateDir, { clock: env.ctx.clock, pid: env.ctx.pid, hostname: env.ctx.hostname, platform: env.ctx.platform, uid: env.ctx.uid });
}

export function registerAudit(program: Command, run: Runner): void {
  const audit = program
    .command('audit')
    .description("this machine's audit log (append-only, hash-chained)")
    .option('--since <when>', 'only entries since a date (2026-11-01) or a duration ago (24h)')
    .addHelpText('after', `
Examples:
  $ ociaccess audit --since 24h
  $ ociaccess audit --json
  $ ociaccess audit verify`)
    .action(async (options: { since?: string }, command: Command) =>
      run(command, async (env) => {
        const from = since(env, options.since);
        const entries = await (await auditLogOf(env)).read(from ? { since: from } : {});
        env.out.data({ entries }, () =>
          entries.length === 0 ? '' : table(env.out, ['SEQ', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'RESULT', 'REASON'], entries.map((e) => [
            String(e.seq), e.at.replace(/\.\d{3}Z$/, 'Z'), e.actor.upn, e.action,
            [e.target.upn, e.target.groupName, e.target.requestId].filter(Boolean).join(' '), e.result, e.reason ?? '',
          ])),
        );
        if (entries.length === 0) env.out.info('The audit log has no entries' + (from ? ' in that period.' : ' yet.'));
      }),
    );
  audit
    .command('verify')
    .description('check the hash chain: detects edited, deleted, inserted and reordered entries')
    .addHelpText('after', `
Example:
  $ ociaccess audit verify && echo intact     # exit 1 when the chain is broken`)
    .action(async (_options: unknown, command: Command) =>
      run(command, async (env) => {
        const result = await (await auditLogOf(env)).verify();
        env.out.data(result, () => (result.ok ? `ok: ${result.entries} entries verified` : `BROKEN at seq ${result.firstBadSeq}: ${result.problem} — ${result.message ?? ''}`));
        if (!result.ok) {
          env.out.warn(`The audit log does not verify (${result.problem}); entries from seq ${result.firstBadSeq} on cannot be trusted.`);
          return ExitCode.unexpected;
        }
        return ExitCode.ok;
      }),
    );
}
