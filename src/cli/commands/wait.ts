/** `--wait`: poll OCI until it shows (or no longer shows) a membership, with a spinner on a terminal. */
import type { CommandEnv } from '../command-env.js';
import type { CoreDeps } from '../../core/deps.js';
import type { GroupConfig } from '../../config/schema.js';
import { checkOciMembership, checksOci, describeOci, type OciMembership } from '../../core/oci-check.js';
import { idpWordsOf } from '../../core/idp-words.js';
import { ExitCode, OciAccessError, PolicyError, quoteInput } from '../../errors.js';
import type { RequestView } from '../../core/lifecycle.js';
import { myStatusFor } from '../../core/access.js';
import { AUTO_APPROVER } from '../../core/records.js';
import { formatDuration } from '../output.js';
import { SPINNER_FRAMES as FRAMES } from '../progress.js';

export async function waitForOci(
  env: CommandEnv,
  deps: CoreDeps,
  group: GroupConfig,
  userName: string,
  wanted: 'member' | 'gone',
  timeoutMs: number,
  pollMs = 2000,
): Promise<{ state: OciMembership['state']; waitedMs: number }> {
  if (!checksOci(deps)) {
    // No OCI key here (people's machines need none): the change is made in the IdP; provisioning or Push Groups, and the sweep, carry it to OCI.
    env.out.info(
      `OCI is not checked from this machine (no "oci" section in the config); ${idpWordsOf(deps.config).carrier} carries the change to ${group.ociGroupName}.`,
    );
    return { state: 'not-checked', waitedMs: 0 };
  }
  const started = env.ctx.clock.now().getTime();
  const tty = Boolean(env.ctx.stderr.isTTY) && !env.out.json;
  let frame = 0;
  for (;;) {
    const membership = await checkOciMembership(await deps.oci(), group, userName);
    const waitedMs = env.ctx.clock.now().getTime() - started;
    const done = wanted === 'member' ? membership.state === 'member' : membership.state !== 'member';
    if (done) {
      if (tty) env.ctx.stderr.write('\r\u001b[K');
      env.out.success(
        `OCI ${wanted === 'member' ? 'shows' : 'no longer shows'} ${userName} in ${group.ociGroupName} (after ${formatDuration(waitedMs)}).`,
      );
      return { state: membership.state, waitedMs };
    }
    if (waitedMs >= timeoutMs || env.ctx.abortSignal.aborted) {
      if (tty) env.ctx.stderr.write('\r\u001b[K');
      // Exit 6, as a sweep's: the change is made and only OCI is behind (5 would say Entra or OCI is down).
      throw new OciAccessError(
        'OCI_WAIT_TIMEOUT',
        ExitCode.pendingInOci,
        `OCI still says "${describeOci(membership)}" for ${userName} after ${formatDuration(waitedMs)}.`,
        {
          hint:
            deps.config.idp?.type === 'okta'
              ? "Okta's Push Groups has not carried it yet: check the push's status in the Okta Admin Console (Applications → the OCI app → Push Groups), or `ociaccess status`."
              : 'The provisioning cycle may not have run yet; check with `ociaccess status`, or use --provision-now.',
        },
      );
    }
    if (tty)
      env.ctx.stderr.write(
        `\r${FRAMES[frame++ % FRAMES.length]} waiting for OCI (${describeOci(membership)}, ${formatDuration(waitedMs)})`,
      );
    else env.out.info(`waiting for OCI: ${describeOci(membership)}`);
    await env.ctx.clock.sleep(pollMs);
  }
}

/** " by bob@… 2026-…Z" for a request someone settled; nothing when nobody did (a timeout, a withdrawal). */
function settledBy(env: CommandEnv, entry: RequestView | undefined): string {
  const decision = entry?.grant.decision;
  if (!entry?.decidedBy || !decision) return '';
  const who = entry.decidedBy === AUTO_APPROVER ? 'the auto-approval rule' : entry.decidedBy;
  return ` by ${who} ${env.out.time(decision.decidedAt, env.ctx.clock.now())}`;
}

/**
 * `request --wait`: first until the request is decided (an approver, or the
 * sweep's auto-approval rule), then until OCI shows the membership. A denial
 * (or a cancellation, revocation or pending timeout) ends the wait at once.
 */
export async function waitForGrant(
  env: CommandEnv,
  deps: CoreDeps,
  group: GroupConfig,
  requestId: string,
  timeoutMs: number,
  pollMs = 2000,
): Promise<{ state: OciMembership['state']; waitedMs: number; approvedAfterMs: number }> {
  const started = env.ctx.clock.now().getTime();
  const tty = Boolean(env.ctx.stderr.isTTY) && !env.out.json;
  let frame = 0;
  let said = false;
  for (;;) {
    const { entries } = await myStatusFor(deps, [group], { checkOci: false });
    const entry = entries.find((e) => e.request.id === requestId);
    const state = entry?.grant.state ?? 'pending';
    const waitedMs = env.ctx.clock.now().getTime() - started;
    if (state === 'approved') {
      if (tty) env.ctx.stderr.write('\r\u001b[K');
      env.out.success(
        `${requestId} was approved (after ${formatDuration(waitedMs)}); it expires ${env.out.time(entry!.grant.expiresAt!, deps.clock.now())}.`,
      );
      const oci = await waitForOci(
        env,
        deps,
        group,
        entry!.requester.userPrincipalName,
        'member',
        Math.max(0, timeoutMs - waitedMs),
        pollMs,
      );
      return { ...oci, waitedMs: waitedMs + oci.waitedMs, approvedAfterMs: waitedMs };
    }
    if (state !== 'pending') {
      if (tty) env.ctx.stderr.write('\r\u001b[K');
      throw new PolicyError(
        state === 'denied' ? 'REQUEST_DENIED' : 'REQUEST_NOT_PENDING',
        `${requestId} was not approved: it is ${state}${settledBy(env, entry)}${entry?.grant.decision?.reason ? ` (${quoteInput(entry.grant.decision.reason)})` : ''}.`,
        {
          hint: 'See `ociaccess status`; ask again with `ociaccess request` if it still makes sense.',
        },
      );
    }
    if (waitedMs >= timeoutMs || env.ctx.abortSignal.aborted) {
      if (tty) env.ctx.stderr.write('\r\u001b[K');
      throw new OciAccessError(
        'APPROVAL_WAIT_TIMEOUT',
        ExitCode.unexpected,
        `${requestId} is still waiting for approval after ${formatDuration(waitedMs)}.`,
        {
          hint: `It stays pending: \`ociaccess status\` shows it, and \`ociaccess request --wait\` is not needed to keep it (approvers: ${group.approvers.join(', ')}).`,
        },
      );
    }
    if (tty)
      env.ctx.stderr.write(
        `\r${FRAMES[frame++ % FRAMES.length]} waiting for approval of ${requestId} (${formatDuration(waitedMs)})`,
      );
    else if (!said) env.out.info(`waiting for approval of ${requestId}`);
    said = true;
    await env.ctx.clock.sleep(pollMs);
  }
}

/** What --wait adds to the --json document of request and extend: approved, and what OCI showed when. */
export function waitedJson(waited: Awaited<ReturnType<typeof waitForGrant>> | undefined) {
  return waited
    ? {
        state: 'approved' as const,
        oci: { state: waited.state, waitedMs: waited.waitedMs, approvedAfterMs: waited.approvedAfterMs },
      }
    : {};
}
