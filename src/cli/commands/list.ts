import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { groupsOrAll } from '../../config/groups.js';
import type { RequestView } from '../../core/lifecycle.js';
import { listRequestsFor } from '../../core/access.js';
import {
  NOT_CHECKED,
  UNKNOWN,
  checkOciMemberships,
  checksOci,
  describeOciFor,
  readOciOrProblem,
  type OciMembership,
  type OciProblem,
} from '../../core/oci-check.js';
import type { RequestState } from '../../core/grants.js';
import { table } from '../output.js';
import { UsageError } from '../../errors.js';
import { formatHours } from '../args.js';
import type { CoreDeps } from '../../core/deps.js';
import { reportOciProblems } from '../oci-problems.js';
import { withSpinner } from '../progress.js';
import { colourState, entryJson, shownJustification, withProblems } from '../request-view.js';
import { idpWordsOf } from '../../core/idp-words.js';

export function registerList(program: Command, run: Runner): void {
  program
    .command('list')
    .description('for approvers: pending and active requests of the managed groups')
    .option('-g, --group <name>', 'only this group')
    .option('--pending', 'only pending requests')
    .option('--active', 'only live grants')
    .option('--all', 'also closed ones (denied, expired, revoked, …)')
    .option('--no-oci', 'skip the OCI check (one read of each OCI group)')
    .addHelpText(
      'after',
      `
Examples:
  $ ociaccess list --pending
  $ ociaccess list --all             # ended grants show "ended, pending in OCI" until OCI catches up
  $ ociaccess list --active --json`,
    )
    .action(
      async (
        options: { group?: string; pending?: boolean; active?: boolean; all?: boolean; oci: boolean },
        command: Command,
      ) =>
        run(command, async (env) => {
          if (options.all && (options.pending || options.active)) {
            throw new UsageError('--all cannot be combined with --pending or --active.', { code: 'CONFLICTING_FLAGS' });
          }
          const config = await env.config();
          const groups = groupsOrAll(config, options.group);
          const states = new Set<RequestState>();
          // A record that breaks the input rules is shown (as invalid) wherever a pending one would be: approvers should see it.
          if (options.pending) {
            states.add('pending');
            states.add('invalid');
          }
          if (options.active) states.add('approved');
          if (!options.pending && !options.active && !options.all) {
            states.add('pending');
            states.add('approved');
            states.add('invalid');
          }
          const services = await env.services();
          const ociProblems: OciProblem[] = [];
          const { views, ociOf } = await withSpinner(
            env.ctx,
            env.out,
            env.globals,
            'reading the requests',
            async () => {
              const deps = await services.userDeps();
              const found = await listRequestsFor(deps, { groups, states: options.all ? undefined : states });
              return { views: found, ociOf: options.oci ? await ociMemberships(deps, found, ociProblems) : undefined };
            },
          );
          const now = services.clock.now();
          env.out.data(
            withProblems({ requests: views.map((v) => entryJson(v, ociOf)) }, ociProblems, idpWordsOf(config)),
            () =>
              views.length === 0
                ? ''
                : table(
                    env.out,
                    ['ID', 'REQUESTER', 'GROUP', 'STATE', 'HOURS', 'REQUESTED', 'EXPIRES', 'OCI', 'JUSTIFICATION'],
                    views.map((v) => [
                      v.request.id,
                      v.requester.userPrincipalName,
                      v.group.name,
                      v.lapsed ? env.out.style.dim('lapsed') : colourState(env.out, v.grant.state),
                      formatHours(v.request.hours),
                      env.out.time(v.request.requestedAt, now),
                      v.grant.expiresAt ? env.out.time(v.grant.expiresAt, now) : '-',
                      ociOf ? describeOciFor(v.grant.state, ociOf(v)) : '-',
                      shownJustification(v.request),
                    ]),
                  ),
          );
          if (views.length === 0) env.out.info('Nothing to show.');
          const lapsed = views.filter((v) => v.lapsed);
          if (lapsed.length > 0)
            env.out.info(
              `lapsed: ${lapsed.map((v) => v.request.id).join(', ')} extend${lapsed.length === 1 ? 's' : ''} a grant that has ended; it can no longer be approved, only denied (\`ociaccess deny <id> --reason …\`) or left to time out.`,
            );
          return reportOciProblems(env.out, ociProblems, idpWordsOf(config));
        }),
    );
}

/**
 * For `list`: the OCI membership of every requester whose grant is live or
 * ended, from one read of each OCI group. A group OCI fails to read shows
 * "unknown" and adds to `problems`; a machine without an "oci" section says
 * "not checked from this machine", without a problem.
 */
async function ociMemberships(
  deps: CoreDeps,
  views: RequestView[],
  problems: OciProblem[],
): Promise<(view: RequestView) => OciMembership | undefined> {
  const byGroup = new Map<string, Map<string, OciMembership>>();
  const relevant = views.filter((v) => ['approved', 'expired', 'revoked'].includes(v.grant.state));
  // No "oci" section (people's machines need no OCI key): not an error, and nothing to warn about.
  if (!checksOci(deps)) return (view) => (relevant.includes(view) ? NOT_CHECKED : undefined);
  const unreadable = new Set<string>();
  for (const group of new Set(relevant.map((v) => v.group))) {
    const userNames = relevant.filter((v) => v.group === group).map((v) => v.requester.userPrincipalName);
    const read = await readOciOrProblem(group, problems, async () =>
      checkOciMemberships(await deps.oci(), group, userNames),
    );
    if (read) byGroup.set(group.entraGroupId, read);
    else unreadable.add(group.entraGroupId);
  }
  return (view) =>
    unreadable.has(view.group.entraGroupId) && relevant.includes(view)
      ? UNKNOWN
      : byGroup.get(view.group.entraGroupId)?.get(view.requester.userPrincipalName);
}
