import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { extendAccess } from '../../core/extend.js';
import { extendPimGrant } from '../../core/pim/revoke.js';
import { reportPimExtension } from '../backend-view.js';
import { formatDuration } from '../output.js';
import { waitForGrant, waitedJson } from './wait.js';
import { exitCodeWith, problemsJson, warnProblems } from '../problems.js';
import { addRequestOptions, approversOtherThan, readRequestFlags, type RequestFlags } from '../request-flags.js';

export function registerExtend(program: Command, run: Runner): void {
  addRequestOptions(
    program
      .command('extend')
      .description('ask to continue your live grant: a request approved like any other, before the grant ends'),
    {
      hours: "how long from its approval: hours (2, 1.5) or a duration (90m, 1h30m); at most the group's maximum",
      justification: 'why you need longer (required; shown to approvers)',
      wait: 'wait until the extension is approved and OCI shows the membership',
    },
  )
    .addHelpText(
      'after',
      `
It must be approved while your grant is live: then the sweep never removes you
in between. Approved, the new grant runs for the hours asked from its approval.

Examples:
  $ ociaccess extend --hours 2 --justification "INC-4711: the restore is still running"
  $ ociaccess extend -H 1 -j "INC-4711: finish the wallet rotation" -t INC-4711 --json`,
    )
    .action(async (options: RequestFlags, command: Command) =>
      run(command, async (env) => {
        const { group, hours, justification, ticket, timeoutMs } = await readRequestFlags(env, options);
        const services = await env.services();
        const deps = await services.userDeps();
        if ((group.backend ?? 'records') === 'pim') {
          // PIM keeps the schedule: selfExtend, approved (or not) by the group's PIM policy.
          const extended = await extendPimGrant(deps, { group, hours, justification, ticket });
          reportPimExtension(env.out, extended, { group, hours, justification, ticket }, deps.clock.now());
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
        env.out.info(
          result.autoApprovable
            ? 'It is covered by the auto-approval rule: the next sweep approves it.'
            : approversOtherThan(group.approvers, result.requester.userPrincipalName, result.request.id, group.name),
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
            ...waitedJson(waited),
            problems: problemsJson(result.problems),
          },
          () => result.request.id,
        );
        return exitCodeWith(result.problems);
      }),
    );
}
