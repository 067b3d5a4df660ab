import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { checkReason } from '../args.js';
import { findGroup } from '../../config/groups.js';
import { revokeFor } from '../../core/access.js';
import { describeOci } from '../../core/oci-check.js';
import { idpWordsOf } from '../../core/idp-words.js';
import { ExitCode, UsageError, quoteInput } from '../../errors.js';
import { exitCodeWith, problemsJson, warnProblems } from '../problems.js';

export function registerRevoke(program: Command, run: Runner): void {
  program
    .command('revoke')
    .description('end a grant early: removes the membership, records it, checks OCI')
    .option('-u, --user <upn>', "someone else's grant (approvers only)")
    .option('-g, --group <name>', 'managed group (default: defaultGroup)')
    .option('-r, --reason <text>', 'why, for the record')
    .option('--provision-now', 'ask Entra to push the removal to OCI at once')
    .addHelpText(
      'after',
      `
Examples:
  $ ociaccess revoke                                   # your own grant
  $ ociaccess revoke --user alice@contoso.com --reason "done early"

Exit code 6 when the removal has not reached OCI yet: the next provisioning cycle
removes it there, and the sweep reports it as drift until it does. Exit code 7
when the revocation was made but something after it failed (the OCI check, local
state, the audit entry): each is a warning with its code.`,
    )
    .action(
      async (options: { user?: string; group?: string; reason?: string; provisionNow?: boolean }, command: Command) =>
        run(command, async (env) => {
          const reason = checkReason(options.reason);
          // Length first: a regular expression over megabytes of input can overflow V8's backtracking stack.
          const user = options.user?.trim();
          if (user !== undefined && (user.length > 256 || !/^[^\s@]+@[^\s@]+$/.test(user))) {
            throw new UsageError(`--user ${quoteInput(options.user)} is not a user principal name.`, {
              code: 'INVALID_USER',
              hint: 'Use e.g. --user alice@contoso.com.',
            });
          }
          const config = await env.config();
          const group = findGroup(config, options.group);
          const services = await env.services();
          const provisionNow = options.provisionNow ?? config.provisioning?.provisionOnDemand ?? false;
          // One's own revoke only writes one's own record (the sweep removes the member); someone else's removes them.
          const role = options.user === undefined ? 'requester' : provisionNow ? 'operator' : 'approver';
          const result = await revokeFor(await services.userDeps(role), {
            group,
            userUpn: options.user?.trim(),
            reason,
            provisionNow,
          });
          env.out.data(
            {
              user: result.user.userPrincipalName,
              group: group.name,
              revokedRequests: result.revokedRequestIds,
              ...('backend' in result
                ? { backend: result.backend, cancelledRequests: result.cancelledRequestIds }
                : {}),
              membership: result.membership,
              oci: result.oci.state,
              provisionError: result.provisionError ?? null,
              problems: problemsJson(result.problems),
            },
            () => `${result.user.userPrincipalName}\t${result.membership}\t${result.oci.state}`,
          );
          const what =
            result.membership === 'removed'
              ? 'removed from'
              : result.membership === 'not-member'
                ? 'was not a member of'
                : 'is marked revoked in';
          const idp = idpWordsOf(config);
          env.out.success(`${result.user.userPrincipalName} ${what} ${group.name} in ${idp.name}.`);
          if (result.provisionError)
            env.out.warn(
              `Provisioning on demand did not push the removal (${result.provisionError}); ${idp.nextPush} (or the sweep's direct removal) does.`,
            );
          if (result.membership === 'left-for-sweep' && !result.problems.some((p) => p.code === 'MEMBER_NOT_REMOVED'))
            env.out.info(
              `You cannot remove yourself in ${idp.name} (you do not manage the group); the next sweep removes the membership.`,
            );
          const oci = result.oci;
          if (oci.state === 'member')
            env.out.warn(
              `OCI still lists ${result.user.userPrincipalName} (${describeOci(oci)}); ${idp.nextPush} or the sweep removes it.`,
            );
          else if (oci.state === 'not-checked')
            env.out.info(`OCI: ${describeOci(oci)}; ${idp.carrier} (and the sweep) remove the membership there.`);
          else if (oci.state !== 'check-failed') env.out.info(`OCI: ${describeOci(oci)}.`);
          warnProblems(env.out, result.problems);
          return exitCodeWith(result.problems, oci.state === 'member' ? ExitCode.pendingInOci : ExitCode.ok);
        }),
    );
}
