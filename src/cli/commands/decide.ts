import type { Command } from 'commander';
import type { Runner } from '../main.js';
import type { CommandEnv } from '../command-env.js';
import { checkReason, checkRequestId, checkUpn } from '../args.js';
import { findGroup, groupsOrAll } from '../../config/groups.js';
import { PolicyError, UsageError } from '../../errors.js';
import type { DecideResult, RequestView } from '../../core/lifecycle.js';
import {
  approveFor,
  denyFor,
  listRequestsFor,
  refuseDecisionByReadingFor,
  type PimDecideResult,
} from '../../core/access.js';
import { formatDuration } from '../output.js';
import { stripControls } from '../../core/text.js';
import { waitForOci } from './wait.js';
import { exitCodeWith, problemsJson, warnProblems } from '../problems.js';

interface DecideOptions {
  group?: string;
  requester?: string;
  reason?: string;
  yes?: boolean;
  provisionNow?: boolean;
  wait?: boolean;
  timeout?: string;
}

/** A request as the pick list offers it: the id alone is not enough, since a requester can copy another's. */
interface Picked {
  id: string;
  requesterUpn: string;
}

/** Without an id, offers the pending requests to pick from (terminal only). */
async function pickRequest(env: CommandEnv, options: DecideOptions, verb: string): Promise<Picked> {
  if (options.yes || !env.ctx.prompter.interactive) {
    throw new UsageError(`Which request? Give its id: \`ociaccess ${verb} <id>\`.`, {
      code: 'REQUEST_ID_REQUIRED',
      hint: 'Run `ociaccess list --pending` to see the ids (no prompt is shown without a terminal or with --yes).',
    });
  }
  const config = await env.config();
  const groups = groupsOrAll(config, options.group);
  const services = await env.services();
  const now = services.clock.now();
  const listed = await listRequestsFor(await services.userDeps(), { groups, states: new Set(['pending']) });
  // A lapsed extension can only be denied: approve does not offer it.
  const pending = verb === 'approve' ? listed.filter((p) => !p.lapsed) : listed;
  if (pending.length === 0) {
    const lapsed = listed.length > 0;
    throw new UsageError(
      lapsed ? 'The only pending requests are extensions of grants that have ended.' : 'There are no pending requests.',
      {
        code: 'NO_PENDING_REQUESTS',
        hint: lapsed ? 'They can only be denied: `ociaccess deny`.' : 'Nothing to do.',
      },
    );
  }
  return env.ctx.prompter.select<Picked>(
    `Which request do you want to ${verb}?`,
    pending.map((p) => ({
      value: { id: p.request.id, requesterUpn: p.requester.userPrincipalName },
      // The prompt library prints choices as they are: no remote text reaches it uncleaned.
      name: stripControls(
        `${p.request.id}  ${p.requester.userPrincipalName}  ${p.group.name}  ${formatDuration(p.request.hours * 3600_000)}  "${p.request.justification}"  (${formatDuration(now.getTime() - p.request.requestedAt.getTime())} ago)`,
      ),
    })),
  );
}

/** The reason for a denial, asked on a terminal (after the pick): the same rules as --reason. */
async function askDenyReason(env: CommandEnv, requestId: string): Promise<string> {
  const validate = (raw: string): true | string => {
    try {
      checkReason(raw, true);
      return true;
    } catch (error) {
      return (error as Error).message.replace(/^--reason /, 'The reason ');
    }
  };
  const answer = await env.ctx.prompter.input(`Why do you deny ${requestId}? (shown to the requester)`, { validate });
  return checkReason(answer, true)!;
}

/** What is about to be decided, on stderr; on a terminal (without --yes) the person confirms it. */
function confirmation(env: CommandEnv, options: DecideOptions, verb: 'approve' | 'deny') {
  return async (view: RequestView): Promise<boolean> => {
    const { request, requester, group, continues } = view;
    // An extension says which grant it continues and when that one ends: the new grant runs from the approval.
    const extension = continues
      ? ` (an extension of ${continues.requestId}${continues.expiresAt ? `, which ends ${env.out.time(continues.expiresAt, (await env.services()).clock.now())}` : ''})`
      : '';
    env.out.info(
      `${verb === 'approve' ? 'Approving' : 'Denying'} ${request.id}: ${requester.userPrincipalName} asks for ${formatDuration(request.hours * 3600_000)} in ${group.name}${extension}` +
        ` — "${request.justification}"${request.ticket ? ` (ticket ${request.ticket})` : ''}.`,
    );
    if (options.yes || !env.ctx.prompter.interactive) return true;
    return env.ctx.prompter.confirm(`${verb === 'approve' ? 'Approve' : 'Deny'} it?`, false);
  };
}

function render(env: CommandEnv, result: DecideResult | PimDecideResult) {
  return {
    ...('backend' in result ? { backend: result.backend, pimStatus: result.pimStatus } : {}),
    id: result.request.id,
    group: result.group.name,
    requester: result.requester.userPrincipalName,
    decision: result.decision.kind,
    hours: result.request.hours,
    extends: result.continues?.requestId ?? result.request.continues ?? null,
    previousExpiresAt: result.continues?.expiresAt?.toISOString() ?? null,
    decidedAt: result.decision.decidedAt.toISOString(),
    expiresAt: result.decision.expiresAt?.toISOString() ?? null,
    reason: result.decision.reason ?? null,
    membership: result.membership ?? null,
    provisionedOnDemand: result.provisionedOnDemand ?? false,
    provisionError: result.provisionError ?? null,
    problems: problemsJson(result.problems),
  };
}

export function registerDecide(program: Command, run: Runner): void {
  for (const verb of ['approve', 'deny'] as const) {
    const command = program
      .command(`${verb} [id]`)
      .description(
        verb === 'approve'
          ? 'approve a pending request: adds the member and records the expiry'
          : 'deny a pending request',
      )
      .option('-g, --group <name>', 'only requests of this group (for the pick list)')
      .option(
        '-r, --reason <text>',
        verb === 'deny'
          ? 'why (shown to the requester; asked for on a terminal, else required)'
          : 'a note for the record',
      )
      .option('--requester <upn>', 'whose request it is (needed when the id is found under several requesters)')
      .option('-y, --yes', 'never prompt (no pick list, no confirmation); the id is then required');
    if (verb === 'approve') {
      command
        .option('--provision-now', 'ask Entra to provision the member to OCI at once (provision on demand)')
        .option('--wait', 'wait until OCI shows the membership')
        .option('--timeout <duration>', 'how long --wait waits (e.g. 30m, 1h)', '10m');
    }
    command.addHelpText(
      'after',
      verb === 'approve'
        ? `
Examples:
  $ ociaccess approve                      # pick from the pending requests
  $ ociaccess approve r-7k2m9q3a --provision-now --wait
  $ ociaccess approve r-7k2m9q3a --yes --json
  $ ociaccess approve r-7k2m9q3a --requester alice@contoso.com   # when the id is found under several requesters`
        : `
Examples:
  $ ociaccess deny r-7k2m9q3a --reason "use the read-only group"`,
    );
    command.action(async (id: string | undefined, options: DecideOptions, cmd: Command) =>
      run(cmd, async (env) => {
        let requestId = checkRequestId(id);
        // A denial needs a reason: on a terminal it is asked for after the pick list; elsewhere the flag is required.
        const askReason =
          verb === 'deny' && options.reason === undefined && !options.yes && env.ctx.prompter.interactive;
        let reason = checkReason(options.reason, verb === 'deny' && !askReason);
        const timeoutMs =
          verb === 'approve' && options.wait
            ? (await import('../args.js')).parseDuration(options.timeout ?? '10m', '--timeout')
            : 0;
        const config = await env.config();
        if (options.group) findGroup(config, options.group);
        let requesterUpn = options.requester === undefined ? undefined : checkUpn(options.requester, '--requester');
        if (!requestId) ({ id: requestId, requesterUpn } = await pickRequest(env, options, verb));
        if (askReason) reason = await askDenyReason(env, requestId);
        const services = await env.services();
        const provisionNow = options.provisionNow ?? config.provisioning?.provisionOnDemand ?? false;
        const groups = groupsOrAll(config, options.group);
        const input = {
          groups,
          requestId,
          requesterUpn,
          reason,
          provisionNow,
          confirm: confirmation(env, options, verb),
        };
        // An approval adds the member (and may provision on demand); a denial only writes one's own record.
        const role = verb === 'deny' ? 'requester' : provisionNow ? 'operator' : 'approver';
        const deps = await services.userDeps(role).catch(async (error: unknown) => {
          if (role === 'requester' || (error as { code?: string }).code !== 'SCOPE_NOT_GRANTED') throw error;
          // A requester's sign-in (Okta adds no scope later): when the request is one's own, or one
          // is no approver, say that, not "sign in as an approver", which would only lead to it.
          const refusal = await services
            .userDeps('requester')
            .then((reader) => refuseDecisionByReadingFor(reader, input, 'approved'))
            .then(
              () => undefined,
              (refused: unknown) => (refused instanceof PolicyError ? refused : undefined),
            );
          throw refusal ?? error;
        });
        const result = verb === 'approve' ? await approveFor(deps, input) : await denyFor(deps, input);
        const data: Record<string, unknown> = render(env, result);
        if (verb === 'approve') {
          const extension = result.continues
            ? ` (an extension of ${result.continues.requestId}${result.continues.expiresAt ? `, which was to end ${env.out.time(result.continues.expiresAt, deps.clock.now())}` : ''})`
            : '';
          env.out.success(
            `Approved ${result.request.id}${extension}: ${result.requester.userPrincipalName} is in ${result.group.name} for ${formatDuration(result.request.hours * 3600_000)}; it expires ${env.out.time(result.decision.expiresAt!, deps.clock.now())}.`,
          );
          if (result.provisionError)
            env.out.warn(
              `Provisioning on demand failed (${result.provisionError}); OCI catches up at the next cycle or when the user signs in.`,
            );
          warnProblems(env.out, result.problems);
          if (options.wait)
            data.oci = await waitForOci(
              env,
              deps,
              result.group,
              result.requester.userPrincipalName,
              'member',
              timeoutMs,
            );
          else
            env.out.info(
              config.idp?.type === 'okta'
                ? "Okta's Push Groups carries the membership to OCI within seconds."
                : provisionNow
                  ? 'Asked Entra to provision it to OCI now.'
                  : 'OCI sees the membership at the next provisioning cycle (or when the user signs in, through JIT).',
            );
        } else {
          env.out.success(`Denied ${result.request.id} of ${result.requester.userPrincipalName}.`);
          warnProblems(env.out, result.problems);
        }
        env.out.data(
          data,
          () =>
            `${result.request.id}\t${result.decision.kind}\t${result.requester.userPrincipalName}\t${env.out.time(result.decision.expiresAt, deps.clock.now())}`,
        );
        return exitCodeWith(result.problems);
      }),
    );
  }
}
