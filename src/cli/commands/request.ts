import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { checkJustification, checkTicket, parseDuration, parseHours } from '../args.js';
import { findGroup } from '../../config/groups.js';
import { checkRequestHours } from '../../core/lifecycle.js';
import { requestAccessFor } from '../../core/access.js';
import { pimNextStep } from '../backend-view.js';
import { formatDuration } from '../output.js';
import { waitForGrant } from './wait.js';
import { exitCodeWith, problemsJson, warnProblems } from '../problems.js';

/** Who can approve: never the requester, who cannot approve their own request. */
function approversOtherThan(approvers: readonly string[], requesterUpn: string, id: string, groupName: string): string {
  const others = approvers.filter((upn) => upn.toLowerCase() !== requesterUpn.toLowerCase());
  if (others.length === 0) {
    return `Next: ${groupName} names no approver but you, and nobody approves their own request: ask an admin to add an approver to the config (groups[].approvers).`;
  }
  return `Next: an approver (${others.join(', ')}) runs \`ociaccess approve ${id}\`.`;
}

export function registerRequest(program: Command, run: Runner): void {
  program
    .command('request')
    .description('ask for time-bound membership of a managed group')
    .option('-g, --group <name>', 'managed group (default: defaultGroup from the config)')
    .option(
      '-H, --hours <duration>',
      "how long: hours (2, 1.5) or a duration (90m, 1h30m); at most the group's maximum",
    )
    .option('-j, --justification <text>', 'why you need it (required; shown to approvers)')
    .option('-t, --ticket <id>', 'a ticket or incident id')
    .option('--wait', 'wait until the request is approved and OCI shows the membership')
    .option('--timeout <duration>', 'how long --wait waits (e.g. 30m, 1h)', '10m')
    .addHelpText(
      'after',
      `
Examples:
  $ ociaccess request --hours 2 --justification "INC-4711: rotate the DB wallet"
  $ ociaccess request -H 1 -j "INC-4712: read the audit logs" --wait --timeout 30m
  $ ociaccess request -g OCI-Temp-Admins -H 20m -j "check a policy" -t CHG-99 --json`,
    )
    .action(
      async (
        options: {
          group?: string;
          hours?: string;
          justification?: string;
          ticket?: string;
          wait?: boolean;
          timeout?: string;
        },
        command: Command,
      ) =>
        run(command, async (env) => {
          // Flags first: nothing is read or sent when they are wrong.
          const justification = checkJustification(options.justification);
          const ticket = checkTicket(options.ticket);
          const hoursFlag = options.hours === undefined ? undefined : parseHours(options.hours);
          const timeoutMs = options.wait ? parseDuration(options.timeout ?? '10m', '--timeout') : 0;
          const config = await env.config();
          const group = findGroup(config, options.group);
          const hours = hoursFlag ?? (group.defaultHours || parseHours(undefined));
          checkRequestHours(group, hours);
          const services = await env.services();
          const deps = await services.userDeps();
          const result = await requestAccessFor(deps, { group, hours, justification, ticket });
          const next =
            'backend' in result
              ? pimNextStep(env.out, result, deps.clock.now())
              : result.autoApprovable
                ? 'It is covered by the auto-approval rule: the next sweep approves it.'
                : approversOtherThan(
                    group.approvers,
                    result.requester.userPrincipalName,
                    result.request.id,
                    group.name,
                  );
          env.out.success(
            `Requested ${formatDuration(hours * 3600_000)} in ${group.name} as ${result.requester.userPrincipalName} (request ${result.request.id}).`,
          );
          if (result.activeGrant)
            env.out.info(
              `You already hold a grant that expires ${env.out.time(result.activeGrant.expiresAt, deps.clock.now())}; this one would extend it.`,
            );
          env.out.info(next);
          warnProblems(env.out, result.problems);
          const waited = options.wait ? await waitForGrant(env, deps, group, result.request.id, timeoutMs) : undefined;
          env.out.data(
            {
              id: result.request.id,
              group: group.name,
              hours,
              justification,
              ticket: ticket ?? null,
              requestedAt: result.request.requestedAt.toISOString(),
              state: 'backend' in result ? result.state : 'pending',
              autoApprovable: result.autoApprovable,
              ...('backend' in result
                ? {
                    backend: result.backend,
                    pimStatus: result.pimStatus,
                    expiresAt: result.expiresAt?.toISOString() ?? null,
                  }
                : {}),
              activeGrant: result.activeGrant
                ? { requestId: result.activeGrant.requestId, expiresAt: result.activeGrant.expiresAt.toISOString() }
                : null,
              ...(waited
                ? {
                    state: 'approved',
                    oci: { state: waited.state, waitedMs: waited.waitedMs, approvedAfterMs: waited.approvedAfterMs },
                  }
                : {}),
              problems: problemsJson(result.problems),
            },
            () => result.request.id,
          );
          return exitCodeWith(result.problems);
        }),
    );
}
