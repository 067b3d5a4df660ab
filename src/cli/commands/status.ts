import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { groupsOrAll } from '../../config/groups.js';
import { myStatus, listRequests, type RequestView, type StatusEntry } from '../../core/lifecycle.js';
import {
  NOT_CHECKED,
  UNKNOWN,
  checkOciMemberships,
  checksOci,
  describeOciFor,
  ociSyncOf,
  readOciOrProblem,
  type OciMembership,
  type OciProblem,
} from '../../core/oci-check.js';
import type { RequestState } from '../../core/grants.js';
import { table, type Output } from '../output.js';
import { UsageError } from '../../errors.js';
import { formatHours } from '../args.js';
import type { CoreDeps } from '../../core/deps.js';
import { ociProblemsJson, reportOciProblems } from '../oci-problems.js';
import { AUTO_APPROVER } from '../../core/records.js';

/** Who settled a request, when and why: what a requester needs to see about a denial (or a revocation). */
function decisionJson(entry: RequestView) {
  const decision = entry.grant.decision;
  if (!decision) return null;
  return {
    kind: decision.kind,
    by: entry.decidedBy ?? decision.approverId,
    at: decision.decidedAt.toISOString(),
    reason: decision.reason ?? null,
  };
}

/** The DECISION column: "denied by bob@… 5m ago (14:05 UTC): use the read-only group". */
function describeDecision(out: Output, entry: RequestView, now: Date): string {
  const decision = decisionJson(entry);
  if (!decision) return '-';
  const by = decision.by === AUTO_APPROVER ? 'the auto-approval rule' : decision.by;
  const reason = decision.reason ? `: ${decision.reason}` : '';
  return `${decision.kind} by ${by} ${out.time(decision.at, now)}${reason}`;
}

function entryJson(entry: StatusEntry | RequestView, ociOf?: (entry: RequestView) => OciMembership | undefined) {
  const oci = 'oci' in entry ? entry.oci : ociOf?.(entry);
  return {
    id: entry.request.id,
    group: entry.group.name,
    requester: entry.requester.userPrincipalName,
    state: entry.grant.state,
    hours: entry.request.hours,
    justification: entry.request.justification,
    ticket: entry.request.ticket ?? null,
    requestedAt: entry.request.requestedAt.toISOString(),
    decidedBy: entry.grant.decision?.approverId ?? null,
    decision: decisionJson(entry),
    expiresAt: entry.grant.expiresAt?.toISOString() ?? null,
    ...(entry.request.invalid ? { invalid: entry.request.invalid } : {}),
    ...('oci' in entry || ociOf ? { oci: oci?.state ?? null, ociSync: ociSyncOf(entry.grant.state, oci) } : {}),
  };
}

/** An invalid record's justification is not shown as if it were one: the rule it breaks is. */
const shownJustification = (request: RequestView['request']) =>
  request.invalid ? `INVALID: ${request.invalid}` : request.justification;

function colourState(out: Output, state: RequestState): string {
  const s = out.style;
  return state === 'approved'
    ? s.green(state)
    : state === 'pending'
      ? s.yellow(state)
      : state === 'denied' || state === 'revoked' || state === 'invalid'
        ? s.red(state)
        : s.dim(state);
}

export function registerStatus(program: Command, run: Runner): void {
  program
    .command('status')
    .description('your requests and grants: state, time left, and whether OCI has caught up')
    .option('-g, --group <name>', 'only this group')
    .option('--no-oci', 'skip the OCI check (faster)')
    .addHelpText(
      'after',
      `
Examples:
  $ ociaccess status
  $ ociaccess status --json | jq '.requests[] | select(.state=="approved")'`,
    )
    .action(async (options: { group?: string; oci: boolean }, command: Command) =>
      run(command, async (env) => {
        const config = await env.config();
        const groups = groupsOrAll(config, options.group);
        const services = await env.services();
        const { me, entries, ociProblems } = await myStatus(await services.userDeps(), groups, {
          checkOci: options.oci,
        });
        const now = services.clock.now();
        const document = { user: me.userPrincipalName, requests: entries.map((e) => entryJson(e)) };
        env.out.data(withProblems(document, ociProblems), () => {
          if (entries.length === 0) return '';
          return table(
            env.out,
            ['ID', 'GROUP', 'STATE', 'HOURS', 'EXPIRES', 'OCI', 'DECISION', 'JUSTIFICATION'],
            entries.map((e) => [
              e.request.id,
              e.group.name,
              colourState(env.out, e.grant.state),
              formatHours(e.request.hours),
              e.grant.expiresAt ? env.out.time(e.grant.expiresAt, now) : '-',
              options.oci ? describeOciFor(e.grant.state, e.oci) : '-',
              describeDecision(env.out, e, now),
              shownJustification(e.request),
            ]),
          );
        });
        if (entries.length === 0)
          env.out.info(
            `No requests for ${me.userPrincipalName}. Ask with \`ociaccess request --hours 2 --justification "…"\`.`,
          );
        return reportOciProblems(env.out, ociProblems);
      }),
    );

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
          const deps = await services.userDeps();
          const views = await listRequests(deps, { groups, states: options.all ? undefined : states });
          const now = services.clock.now();
          const ociProblems: OciProblem[] = [];
          const ociOf = options.oci ? await ociMemberships(deps, views, ociProblems) : undefined;
          env.out.data(withProblems({ requests: views.map((v) => entryJson(v, ociOf)) }, ociProblems), () =>
            views.length === 0
              ? ''
              : table(
                  env.out,
                  ['ID', 'REQUESTER', 'GROUP', 'STATE', 'HOURS', 'REQUESTED', 'EXPIRES', 'OCI', 'JUSTIFICATION'],
                  views.map((v) => [
                    v.request.id,
                    v.requester.userPrincipalName,
                    v.group.name,
                    colourState(env.out, v.grant.state),
                    formatHours(v.request.hours),
                    env.out.time(v.request.requestedAt, now),
                    v.grant.expiresAt ? env.out.time(v.grant.expiresAt, now) : '-',
                    ociOf ? describeOciFor(v.grant.state, ociOf(v)) : '-',
                    shownJustification(v.request),
                  ]),
                ),
          );
          if (views.length === 0) env.out.info('Nothing to show.');
          return reportOciProblems(env.out, ociProblems);
        }),
    );
}

/** `problems` only when there are any: a document without them is complete. */
function withProblems<T extends object>(document: T, problems: readonly OciProblem[]) {
  return problems.length === 0 ? document : { ...document, problems: ociProblemsJson(problems) };
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
