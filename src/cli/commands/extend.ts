import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { checkJustification, checkTicket, parseDuration, parseHours } from '../args.js';
import { findGroup } from '../../config/groups.js';
import { checkRequestHours } from '../../core/lifecycle.js';
import { extendAccess } from '../../core/extend.js';
import { extendPimGrant } from '../../core/pim/revoke.js';
import { formatDuration } from '../output.js';
import { waitForGrant } from './wait.js';
import { exitCodeWith, problemsJson, warnProblems } from '../problems.js';

export function registerExtend(program: Command, run: Runner): void {
  program
    .command('extend')
    .description('ask to continue your live grant: a request approved like any other, before the grant ends')
    .option('-g, --group <name>', 'managed group (default: defaultGroup from the config)')
    .option(
      '-H, --hours <duration>',
      "how long from its approval: hours (2, 1.5) or a duration (90m, 1h30m); at most the group's maximum",
    )
    .option('-j, --justification <text>', 'why you need longer (required; shown to approvers)')
    .option('-t, --ticket <id>', 'a ticket or incident id')
    .option('--wait', 'wait until the extension is approved and OCI shows the membership')
    .option('--timeout <duration>', 'how long --wait waits (e.g. 30m, 1h)', '10m')
    .addHelpText(
      'after',
      `
It must be approved while your grant is live: then the sweep never removes you
in between. Approved, the new grant runs for the hours asked from its approval.

Examples:
  $ ociaccess extend --hours 2 --justification "INC-4711: the restore is still running"
  $ ociaccess extend -H 1 -j "INC-4711: finish the wallet rotation" -t INC-4711 --json`,
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
          if ((group.backend ?? 'records') === 'pim') {
            // PIM keeps the schedule: selfExtend, approved (or not) by the group's PIM policy.
            const extended = await extendPimGrant(deps, { group, hours, justification, ticket });
            const ends = extended.expiresAt ?? extended.previousExpiresAt;
            env.out.success(
              extended.state === 'approved'
                ? `PIM extended your membership of ${group.name}: it now ends ${env.out.time(extended.expiresAt!, deps.clock.now())} (request ${extended.request.id}).`
                : `Asked PIM to extend your membership of ${group.name} (request ${extended.request.id}, ${extended.pimStatus}).`,
            );
            if (extended.state !== 'approved' && ends)
              env.out.info(
                `Your membership ends ${env.out.time(ends, deps.clock.now())} unless an approver named by the group's PIM policy approves first.`,
              );
            warnProblems(env.out, extended.problems);
            env.out.data(
              {
                id: extended.request.id,
                backend: 'pim',
                group: group.name,
                hours,
                justification,
                ticket: ticket ?? null,
                state: extended.state,
                pimStatus: extended.pimStatus,
                previousExpiresAt: extended.previousExpiresAt?.toISOString() ?? null,
                expiresAt: extended.expiresAt?.toISOString() ?? null,
                problems: problemsJson(extended.problems),
              },
              () => extended.request.id,
            );
            return exitCodeWith(extended.problems);
          }
          const result = await extendAccess(deps, { group, hours, justification, ticket });
          const now = deps.clock.now();
          const active = result.activeGrant!;
          env.out.success(
            `Asked to extend ${active.requestId} in ${group.name} by ${formatDuration(hours * 3600_000)} from its approval, as ${result.requester.userPrincipalName} (request ${result.request.id}).`,
          );
          env.out.info(
            `Your grant expires ${env.out.time(active.expiresAt, now)}: the extension must be approved before then, or it lapses and you need \`ociaccess request\`.`,
          );
          const others = group.approvers.filter(
            (upn) => upn.toLowerCase() !== result.requester.userPrincipalName.toLowerCase(),
          );
          env.out.info(
            result.autoApprovable
              ? 'It is covered by the auto-approval rule: the next sweep approves it.'
              : others.length > 0
                ? `Next: an approver (${others.join(', ')}) runs \`ociaccess approve ${result.request.id}\`.`
                : `Next: ${group.name} names no approver but you: ask an admin to add one (groups[].approvers).`,
          );
          warnProblems(env.out, result.problems);
          const waited = options.wait ? await waitForGrant(env, deps, group, result.request.id, timeoutMs) : undefined;
          env.out.data(
            {
              id: result.request.id,
              extends: active.requestId,
              group: group.name,
              hours,
              justification,
              ticket: ticket ?? null,
              requestedAt: result.request.requestedAt.toISOString(),
              state: 'pending',
              autoApprovable: result.autoApprovable,
              activeGrant: { requestId: active.requestId, expiresAt: active.expiresAt.toISOString() },
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
