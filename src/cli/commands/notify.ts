import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { findGroup } from '../../config/groups.js';
import { ExitCode } from '../../errors.js';
import { table } from '../output.js';

export function registerNotify(program: Command, run: Runner): void {
  const notify = program
    .command('notify')
    .description('notification targets (Teams, Slack, signed webhook): see docs/notifications.md');
  notify
    .command('test')
    .description('send a test message to every configured target and report each result')
    .option('-g, --group <name>', 'only the targets of this group (default: every group)')
    .addHelpText(
      'after',
      `
Sends to every target of the group(s), side by side, with the same retries and
time budget as real notifications (OCIACCESS_NOTIFY_BUDGET_SECONDS, default 5 s).
URLs are shown as https://host/… only.

Examples:
  $ ociaccess notify test
  $ ociaccess notify test --group OCI-Temp-Admins --json

Exit codes: 0 every message delivered (or no target configured), 5 any failed,
2 an unknown group.`,
    )
    .action(async (options: { group?: string }, command: Command) =>
      run(command, async (env) => {
        const config = await env.config();
        const groups = options.group ? [findGroup(config, options.group)] : config.groups;
        // The services set the emulator-aware clock (a signature's timestamp must agree with the receiver's).
        const clock = await env.services().then(
          (services) => services.clock,
          () => env.ctx.clock,
        );
        const { notifyTransport } = await import('../notifications.js');
        const { sendTestMessages } = await import('../../adapters/notify/index.js');
        const { testMessage } = await import('../../adapters/notify/compose.js');
        const sentBy = `ociaccess on ${env.ctx.hostname}`;
        const results = await sendTestMessages(
          notifyTransport({ ctx: env.ctx, out: env.out, config, clock }),
          groups,
          (group, target, label) =>
            testMessage(
              { id: group.entraGroupId, name: group.name },
              { label, kind: target.kind, for: target.for },
              sentBy,
            ),
        );
        const failed = results.filter((result) => !result.delivered).length;
        env.out.data({ results, delivered: results.length - failed, failed }, () =>
          results.length === 0
            ? ''
            : table(
                env.out,
                ['GROUP', 'TARGET', 'KIND', 'HOST', 'FOR', 'RESULT', 'STATUS', 'ATTEMPTS', 'DETAIL'],
                results.map((result) => [
                  result.group,
                  result.target,
                  result.kind,
                  result.host,
                  result.for.join(','),
                  result.delivered ? 'delivered' : 'FAILED',
                  result.status === null ? '-' : String(result.status),
                  String(result.attempts),
                  result.error ?? '',
                ]),
              ),
        );
        if (results.length === 0) {
          env.out.warn(
            `No notification targets are configured${options.group ? ` for ${groups[0]!.name}` : ''}: add groups[].notify (docs/notifications.md).`,
          );
          return ExitCode.ok;
        }
        if (failed > 0) {
          env.out.warn(
            `${failed} of ${results.length} test message(s) were not delivered; the DETAIL column says why (docs/notifications.md).`,
          );
          return ExitCode.upstream;
        }
        env.out.success(`${results.length} test message(s) delivered.`);
        return ExitCode.ok;
      }),
    );
}
