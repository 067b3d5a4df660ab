import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { requestAccessFor } from '../../core/access.js';
import { pimNextStep } from '../backend-view.js';
import { formatDuration } from '../output.js';
import { waitForGrant, waitedJson } from './wait.js';
import { exitCodeWith, problemsJson, warnProblems } from '../problems.js';
import { addRequestOptions, approversOtherThan, readRequestFlags, type RequestFlags } from '../request-flags.js';

export function registerRequest(program: Command, run: Runner): void {
  addRequestOptions(program.command('request').description('ask for time-bound membership of a managed group'), {
    hours: "how long: hours (2, 1.5) or a duration (90m, 1h30m); at most the group's maximum",
    justification: 'why you need it (required; shown to approvers)',
    wait: 'wait until the request is approved and OCI shows the membership',
  })
    .addHelpText(
      'after',
      `
Examples:
  $ ociaccess request --hours 2 --justification "INC-4711: rotate the DB wallet"
  $ ociaccess request -H 1 -j "INC-4712: read the audit logs" --wait --timeout 30m
  $ ociaccess request -g OCI-Temp-Admins -H 20m -j "check a policy" -t CHG-99 --json`,
    )
    .action(async (options: RequestFlags, command: Command) =>
      run(command, async (env) => {
        const { group, hours, justification, ticket, timeoutMs } = await readRequestFlags(env, options);
        const services = await env.services();
        const deps = await services.userDeps();
        const result = await requestAccessFor(deps, { group, hours, justification, ticket });
        const next =
          'backend' in result
            ? pimNextStep(env.out, result, deps.clock.now())
            : result.autoApprovable
              ? 'It is covered by the auto-approval rule: the next sweep approves it.'
              : approversOtherThan(group.approvers, result.requester.userPrincipalName, result.request.id, group.name);
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
            ...waitedJson(waited),
            problems: problemsJson(result.problems),
          },
          () => result.request.id,
        );
        return exitCodeWith(result.problems);
      }),
    );
}
