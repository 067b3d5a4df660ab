import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { checkJustification, checkTicket, parseHours } from '../args.js';
import { findGroup } from '../../config/groups.js';
import { PolicyError } from '../../errors.js';
import { requestAccess } from '../../core/lifecycle.js';
import { formatDuration } from '../output.js';

export function registerRequest(program: Command, run: Runner): void {
  program
    .command('request')
    .description('ask for time-bound membership of a managed group')
    .option('-g, --group <name>', 'managed group (default: defaultGroup from the config)')
    .option('-H, --hours <n>', 'how long, in hours (e.g. 2 or 1.5); at most the group\'s maximum')
    .option('-j, --justification <text>', 'why you need it (required; shown to approvers)')
    .option('-t, --ticket <id>', 'a ticket or incident id')
    .addHelpText('after', `
Examples:
  $ ociaccess request --hours 2 --justification "INC-4711: rotate the DB wallet"
  $ ociaccess request -g OCI-Temp-Admins -H 0.5 -j "check a policy" -t CHG-99 --json`)
    .action(async (options: { group?: string; hours?: string; justification?: string; ticket?: string }, command: Command) =>
      run(command, async (env) => {
        // Flags first: nothing is read or sent when they are wrong.
        const justification = checkJustification(options.justification);
        const ticket = checkTicket(options.ticket);
        const hoursFlag = options.hours === undefined ? undefined : parseHours(options.hours);
        const config = await env.config();
        const group = findGroup(config, options.group);
        const hours = hoursFlag ?? (group.defaultHours || parseHours(undefined));
        if (hours > group.maxHours) {
          throw new PolicyError('DURATION_TOO_LONG', `${hours} hours is more than ${group.name} allows (at most ${group.maxHours}).`, {
            hint: `Use --hours ${group.maxHours} or less.`,
          });
        }
        const services = await env.services();
        const result = await requestAccess(await services.userDeps(), { group, hours, justification, ticket });
        const next = result.autoApprovable
          ? 'It is covered by the auto-approval rule: the next sweep approves it.'
          : `Next: an approver (${group.approvers.join(', ')}) runs \`ociaccess approve ${result.request.id}\`.`;
        env.out.data(
          {
            id: result.request.id,
            group: group.name,
            hours,
            justification,
            ticket: ticket ?? null,
            requestedAt: result.request.requestedAt.toISOString(),
            state: 'pending',
            autoApprovable: result.autoApprovable,
            activeGrant: result.activeGrant ? { requestId: result.activeGrant.requestId, expiresAt: result.activeGrant.expiresAt.toISOString() } : null,
          },
          () => result.request.id,
        );
        env.out.success(`Requested ${formatDuration(hours * 3600_000)} in ${group.name} as ${result.requester.userPrincipalName} (request ${result.request.id}).`);
        if (result.activeGrant) env.out.info(`You already hold a grant until ${result.activeGrant.expiresAt.toISOString()}; this one would extend it.`);
        env.out.info(next);
      }),
    );
}
