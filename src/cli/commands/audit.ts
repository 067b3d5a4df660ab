import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { parseDuration } from '../args.js';
import { ExitCode, UsageError, isOciAccessError, quoteInput } from '../../errors.js';
import { isoSeconds, table } from '../output.js';
import type { CommandEnv } from '../command-env.js';
import type { AuditEntry } from '../../store/audit-entry.js';
import { foldAuditActions, type AuditAction } from '../../store/audit-actions.js';
import { idpWordsOf } from '../../core/idp-words.js';

function since(env: CommandEnv, raw: string | undefined): Date | undefined {
  if (raw === undefined) return undefined;
  const asDate = new Date(raw);
  if (/^\d{4}-\d{2}-\d{2}/.test(raw) && !Number.isNaN(asDate.getTime())) return asDate;
  try {
    return new Date(env.ctx.clock.now().getTime() - parseDuration(raw, '--since'));
  } catch {
    throw new UsageError(`--since ${quoteInput(raw)} is neither a date nor a duration.`, {
      code: 'INVALID_SINCE',
      hint: 'Use e.g. --since 2026-11-01 or --since 24h.',
    });
  }
}

/** The hash as `audit verify` prints it (sha256:…) or bare, 64 hex digits; lower-cased. */
export function parseExpectHead(raw: string): string {
  const match = /^(?:sha256:)?([0-9a-f]{64})$/i.exec(raw.trim());
  if (!match) {
    throw new UsageError(`--expect-head "${raw}" is not a head hash.`, {
      code: 'INVALID_EXPECT_HEAD',
      hint: 'Pass the 64 hex digits `ociaccess audit verify` printed after "head", with or without "sha256:".',
    });
  }
  return match[1]!.toLowerCase();
}

/**
 * The audit key as a command that writes or verifies the log would use it: the
 * environment first, else the config's audit.keyFile. A machine without a
 * config can still verify (then only the environment can name a key).
 */
async function auditKeyOf(env: CommandEnv) {
  const { auditKeySource, AUDIT_KEY_ENV, AUDIT_KEY_FILE_ENV } = await import('../../store/audit-key.js');
  let configKeyFile: string | undefined;
  if (!env.ctx.env[AUDIT_KEY_ENV] && !env.ctx.env[AUDIT_KEY_FILE_ENV]) {
    configKeyFile = await env.config().then(
      (config) => config.audit?.keyFile,
      (error: unknown) => {
        if (isOciAccessError(error) && error.code === 'CONFIG_MISSING') return undefined;
        throw error;
      },
    );
  }
  return auditKeySource({ env: env.ctx.env, configKeyFile, cwd: env.ctx.cwd, platform: env.ctx.platform });
}

async function auditLogOf(env: CommandEnv, withKey = false) {
  const { openAuditLog } = await import('../../store/audit-log.js');
  const host = {
    clock: env.ctx.clock,
    pid: env.ctx.pid,
    hostname: env.ctx.hostname,
    platform: env.ctx.platform,
    uid: env.ctx.uid,
  };
  return openAuditLog(env.ctx.paths.stateDir, host, withKey ? { key: await auditKeyOf(env) } : {});
}

const targetText = (target: AuditEntry['target']) =>
  [target.upn, target.groupName, target.requestId].filter(Boolean).join(' ');

function renderEntries(env: CommandEnv, entries: AuditEntry[]): void {
  env.out.data({ entries }, () =>
    entries.length === 0
      ? ''
      : table(
          env.out,
          ['SEQ', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'RESULT', 'REASON'],
          entries.map((e) => [
            String(e.seq),
            isoSeconds(new Date(e.at)),
            e.actor.upn,
            e.action,
            targetText(e.target),
            e.result,
            e.reason ?? '',
          ]),
        ),
  );
}

function renderActions(env: CommandEnv, actions: AuditAction[]): void {
  env.out.data({ actions }, () =>
    actions.length === 0
      ? ''
      : table(
          env.out,
          ['AT', 'ACTOR', 'ACTION', 'TARGET', 'STATE', 'REASON'],
          actions.map((a) => [
            isoSeconds(new Date(a.at)),
            a.actor.upn,
            a.action,
            targetText(a.target),
            a.state,
            a.reason ?? '',
          ]),
        ),
  );
}

export function registerAudit(program: Command, run: Runner): void {
  const audit = program
    .command('audit')
    .description("this machine's audit log (append-only, hash-chained)")
    .option('--since <when>', 'only entries since a date (2026-11-01) or a duration ago (24h)')
    .option('--raw', 'one row per entry as written (an action writes "pending", then its outcome)')
    .addHelpText(
      'after',
      `
Examples:
  $ ociaccess audit --since 24h
  $ ociaccess audit --json
  $ ociaccess audit --raw            # every entry, with its seq
  $ ociaccess audit verify`,
    )
    .action(async (options: { since?: string; raw?: boolean }, command: Command) =>
      run(command, async (env) => {
        const from = since(env, options.since);
        const entries = await (await auditLogOf(env)).read(from ? { since: from } : {});
        if (options.raw) renderEntries(env, entries);
        else {
          // A machine without a readable config still shows its log, in Entra's words.
          const idp = await env.config().then(idpWordsOf, () => idpWordsOf(undefined));
          renderActions(env, foldAuditActions(entries, idp.name));
        }
        if (entries.length === 0) env.out.info('The audit log has no entries' + (from ? ' in that period.' : ' yet.'));
      }),
    );
  audit
    .command('verify')
    .description(
      'check the hash chain, the head record and (with an audit key) the seals; exit 1 when anything is wrong',
    )
    .option(
      '--expect-head <hash>',
      'also require the chain to end at this hash (as printed after "head", e.g. kept off this machine)',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ ociaccess audit verify && echo intact     # exit 1 when the log does not verify
  $ ociaccess audit verify --expect-head sha256:95967aca…   # the head you kept elsewhere

With an audit key configured (OCIACCESS_AUDIT_KEY_FILE or audit.keyFile) every seal is checked.`,
    )
    .action(async (options: { expectHead?: string }, command: Command) =>
      run(command, async (env) => {
        const expectHead = options.expectHead === undefined ? undefined : parseExpectHead(options.expectHead);
        const result = await (await auditLogOf(env, true)).verify(expectHead === undefined ? {} : { expectHead });
        const seals = result.seals;
        const sealNote = seals?.checked ? `, ${seals.sealed} sealed` : '';
        env.out.data(result, () =>
          result.ok
            ? `ok: ${result.entries} entries verified${sealNote}, head sha256:${result.lastHash}${result.lastSeq > 0 ? ` (seq ${result.lastSeq})` : ''}`
            : `BROKEN at seq ${result.firstBadSeq}: ${result.problem} — ${result.message ?? ''}`,
        );
        if (!result.ok) {
          env.out.warn(
            `The audit log does not verify (${result.problem}); entries from seq ${result.firstBadSeq} on cannot be trusted.`,
          );
          if (result.hint) env.out.warn(`hint: ${result.hint}`);
          return ExitCode.unexpected;
        }
        if (seals?.checked && seals.unsealed > 0) {
          env.out.warn(
            `${seals.unsealed} entr${seals.unsealed === 1 ? 'y was' : 'ies were'} written before sealing started (entries 1–${seals.unsealed}, accepted by \`audit seal\` at entry ${seals.unsealed + 1}): the chain covers them, the key does not.`,
          );
        }
        if (seals && !seals.checked) {
          env.out.warn(
            `${seals.sealed} entries are sealed, but no audit key is configured here, so their seals were not checked (set OCIACCESS_AUDIT_KEY_FILE to check them).`,
          );
        }
        return ExitCode.ok;
      }),
    );
  audit
    .command('seal')
    .description('start sealing an existing log with the configured audit key (checks it first)')
    .addHelpText(
      'after',
      `
Run once after configuring an audit key on a machine whose log already has entries:
  $ ociaccess audit verify && ociaccess audit seal`,
    )
    .action(async (_options: unknown, command: Command) =>
      run(command, async (env) => {
        const log = await auditLogOf(env, true);
        const user = env.ctx.env.USER ?? env.ctx.env.USERNAME ?? 'unknown';
        // A local act by whoever holds the key on this machine: named by the OS account, not an Entra sign-in.
        const entry = await log.seal({ id: `local:${user}`, upn: `${user}@${env.ctx.hostname}`, kind: 'user' });
        env.out.data({ sealed: entry !== undefined, ...(entry === undefined ? {} : { entry }) }, () =>
          entry === undefined
            ? 'nothing to do: the log is empty or already sealed'
            : `sealed: entries 1–${entry.seq - 1} accepted as written before the key; entry ${entry.seq} and every later one are sealed`,
        );
        return ExitCode.ok;
      }),
    );
}
