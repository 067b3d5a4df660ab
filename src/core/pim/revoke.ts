/**
 * `revoke` and `extend` for a pim group. One's own: a pending request is
 * cancelled and an active membership deactivated (selfDeactivate); or
 * lengthened (selfExtend). Someone else's (--user): adminRemove / adminExtend,
 * which PIM allows to the group's owners and PIM administrators only; a
 * member PIM does not know (added by hand) is removed from the group directly.
 * The events are the records backend's (grant.revoked; request.created and
 * request.approved for an extension), so audit and notifications are unchanged.
 */
import type { GroupConfig } from '../../config/schema.js';
import { OciAccessError, PolicyError, quoteInput, type Problem } from '../../errors.js';
import type { CoreDeps } from '../deps.js';
import { maxSkewMsOf, resolvePeople, sameUpn } from '../deps.js';
import type { DomainEvent } from '../events.js';
import type { RequestState } from '../grants.js';
import {
  actorOf,
  announceRevocation,
  checkAfterRevocation,
  eventBase,
  personOf,
  problemDetails,
  recordOutcome,
  wholeSecond,
  type Revocation,
  type RevokeInput,
  type RevokeResult,
} from '../lifecycle.js';
import type { DirectoryUser } from '../ports.js';
import type { AccessRequest } from '../records.js';
import { checkAgainstPolicy, governingPolicy, requirePim, rewordRefusal, tooShortRefusal } from './policy.js';
import { PIM_GRANTED_STATUSES, PIM_PENDING_STATUSES, type PimInstance, type PimPort } from './port.js';
import { accessRequestOf, instanceView } from './views.js';

const HOUR = 3600_000;

export interface PimRevokeResult extends RevokeResult {
  backend: 'pim';
  /** One's own pending requests cancelled in PIM. */
  cancelledRequestIds: string[];
}

/** Whose membership: one's own, or the user --user names; never a standing (break-glass) member. */
async function whoseMembership(
  deps: CoreDeps,
  group: GroupConfig,
  me: DirectoryUser,
  userUpn: string | undefined,
): Promise<{ user: DirectoryUser; own: boolean }> {
  const own = !userUpn || sameUpn(userUpn, me.userPrincipalName);
  const user = own ? me : await deps.directory.getUser(userUpn);
  if (!user) {
    throw new PolicyError('USER_NOT_FOUND', `No user ${quoteInput(userUpn)} in the directory.`, {
      hint: 'Check the user principal name.',
    });
  }
  const people = await resolvePeople(deps.directory, group, maxSkewMsOf(deps.config));
  if (people.standingIds.has(user.id)) {
    throw new PolicyError(
      'STANDING_MEMBER',
      `${user.userPrincipalName} is a standing (break-glass) member of ${group.name}; this command does not change standing members.`,
      { hint: 'Remove them from groups[].standingMembers in the config first if this is intended.' },
    );
  }
  return { user, own };
}

const isActive = (instance: PimInstance, now: Date) => instance.endAt === null || instance.endAt > now;

async function activeOf(pim: PimPort, group: GroupConfig, user: DirectoryUser, own: boolean, now: Date) {
  const instances = own
    ? await pim.myActiveInstances(group.entraGroupId)
    : (await pim.activeInstances(group.entraGroupId)).filter((i) => i.principalId === user.id);
  return instances.filter((i) => i.principalId === user.id && isActive(i, now));
}

export async function revokePimGrant(deps: CoreDeps, input: RevokeInput): Promise<PimRevokeResult> {
  const { group } = input;
  const pim = requirePim(deps, group);
  const me = await deps.directory.me();
  const { user, own } = await whoseMembership(deps, group, me, input.userUpn);
  const now = wholeSecond(deps.clock.now());
  const active = await activeOf(pim, group, user, own, now);
  // Only one's own pending requests can be withdrawn (PIM's cancel is the requester's).
  const pending = own
    ? (await pim.myRequests(group.entraGroupId)).filter((r) => PIM_PENDING_STATUSES.has(r.status))
    : [];
  const open: AccessRequest[] = [
    ...pending.map(accessRequestOf),
    ...active.map((instance) => instanceView(group, instance, user).request),
  ];
  const revoked = await announceRevocation(deps, {
    group,
    actor: me,
    user,
    requestIds: open.map((r) => r.id),
    reason: input.reason,
    own,
    at: now,
  });
  for (const request of pending) await pim.cancel(request.id);
  let membership: RevokeResult['membership'] = 'not-member';
  if (active.length > 0) {
    try {
      await pim.submit({
        action: own ? 'selfDeactivate' : 'adminRemove',
        principalId: user.id,
        groupId: group.entraGroupId,
        justification: input.reason ?? (own ? 'Ended early with ociaccess' : 'Revoked with ociaccess'),
      });
      membership = 'removed';
    } catch (error) {
      if (error instanceof OciAccessError && error.code === 'PIM_ACTIVE_TOO_SHORT') {
        const latest = active.reduce((a, b) => (a.startAt > b.startAt ? a : b));
        throw tooShortRefusal(latest.startAt, error);
      }
      throw error;
    }
  } else if (!own) {
    // A member PIM knows nothing of (added by hand in the portal): removed like the records backend does.
    membership = await deps.directory.removeGroupMember(group.entraGroupId, user.id);
  }
  const problems: Problem[] = [];
  const revocation: Revocation = { group, me, user, own, open, now, reason: input.reason };
  const oci = await checkAfterRevocation(deps, revocation, membership, problems);
  await recordOutcome(deps, problems, { ...revoked, membership, oci: oci.state, ...problemDetails(problems) });
  return {
    backend: 'pim',
    user,
    group,
    revokedRequestIds: open.map((r) => r.id),
    cancelledRequestIds: pending.map((r) => r.id),
    membership,
    oci,
    problems,
  };
}

// ---------------------------------------------------------------- extend

export interface ExtendPimInput {
  group: GroupConfig;
  /** The new length, counted from now (as a new request's would be). */
  hours: number;
  justification: string;
  ticket?: string;
  /** Someone else's membership (adminExtend: the group's owners and PIM administrators); default one's own (selfExtend). */
  userUpn?: string;
}

export interface ExtendPimResult {
  backend: 'pim';
  user: DirectoryUser;
  group: GroupConfig;
  own: boolean;
  /** The extension request as PIM holds it (its id is PIM's). */
  request: AccessRequest;
  /** pending: PIM waits for an approver; approved: the membership now lasts until expiresAt. */
  state: RequestState;
  pimStatus: string;
  /** When the membership ended before the extension. */
  previousExpiresAt: Date | null;
  /** For an approved extension: when PIM now ends the membership. */
  expiresAt?: Date;
  /** What failed after PIM took the request (the audit entry). */
  problems: Problem[];
}

/**
 * Lengthens an active membership of a pim group to `hours` from now. Refused
 * early (with the policy's limits) when the policy would refuse it, when no
 * membership is active, or when it would not end later than it does now.
 */
export async function extendPimGrant(deps: CoreDeps, input: ExtendPimInput): Promise<ExtendPimResult> {
  const { group } = input;
  const pim = requirePim(deps, group);
  const me = await deps.directory.me();
  const { user, own } = await whoseMembership(deps, group, me, input.userUpn);
  const policy = await governingPolicy(pim, group);
  checkAgainstPolicy(group, policy, input);
  const now = deps.clock.now();
  const active = await activeOf(pim, group, user, own, now);
  if (active.length === 0) {
    throw new PolicyError(
      'NO_ACTIVE_GRANT',
      `${own ? 'You hold' : `${user.userPrincipalName} holds`} no active membership of ${group.name} to extend.`,
      { hint: own ? 'Ask for one with `ociaccess request`.' : 'They can ask for one with `ociaccess request`.' },
    );
  }
  if (own && (await pim.myRequests(group.entraGroupId)).some((r) => PIM_PENDING_STATUSES.has(r.status))) {
    throw new PolicyError('REQUEST_ALREADY_PENDING', `You already have a pending request for ${group.name}.`, {
      hint: 'Wait for an approver, or withdraw it with `ociaccess revoke`.',
    });
  }
  const ends = active.map((i) => i.endAt);
  const previousExpiresAt = ends.includes(null) ? null : new Date(Math.max(...ends.map((e) => e!.getTime())));
  const newEnd = new Date(now.getTime() + input.hours * HOUR);
  if (previousExpiresAt === null || newEnd <= previousExpiresAt) {
    throw new PolicyError(
      'EXTENSION_NOT_LONGER',
      previousExpiresAt === null
        ? `${own ? 'Your' : `${user.userPrincipalName}'s`} membership of ${group.name} has no end; there is nothing to extend.`
        : `${own ? 'Your' : `${user.userPrincipalName}'s`} membership of ${group.name} already lasts until ${previousExpiresAt.toISOString()}; ${input.hours} hours from now ends sooner.`,
      { hint: "Ask for more hours (they count from now), up to the group's maximum." },
    );
  }
  const announced: DomainEvent = {
    ...eventBase(group, actorOf(me), now),
    type: 'request.created',
    requester: personOf(user),
    requestId: '(assigned by PIM)',
    hours: input.hours,
    justification: input.justification,
    ...(input.ticket ? { ticket: input.ticket } : {}),
    autoApprovable: !policy.approvalRequired,
    approvers: [],
  };
  await deps.events.intend(announced);
  let submitted;
  try {
    submitted = await pim.submit({
      action: own ? 'selfExtend' : 'adminExtend',
      principalId: user.id,
      groupId: group.entraGroupId,
      justification: input.justification,
      ...(input.ticket ? { ticket: input.ticket } : {}),
      hours: input.hours,
      startAt: now,
    });
  } catch (error) {
    throw rewordRefusal(error, group, policy);
  }
  const granted = PIM_GRANTED_STATUSES.has(submitted.status);
  const state: RequestState = granted ? 'approved' : submitted.status === 'Denied' ? 'denied' : 'pending';
  const problems: Problem[] = [];
  const outcome: DomainEvent[] = [{ ...announced, requestId: submitted.id } as DomainEvent];
  if (granted) {
    outcome.push({
      ...eventBase(group, actorOf(me), deps.clock.now()),
      type: 'request.approved',
      requester: personOf(user),
      requestId: submitted.id,
      hours: input.hours,
      expiresAt: newEnd.toISOString(),
      auto: own,
      reason: own ? "PIM: the group's policy requires no approval" : 'extended by an administrator in PIM',
    });
  }
  await recordOutcome(deps, problems, outcome);
  return {
    backend: 'pim',
    user,
    group,
    own,
    request: accessRequestOf(submitted),
    state,
    pimStatus: submitted.status,
    previousExpiresAt,
    ...(granted ? { expiresAt: newEnd } : {}),
    problems,
  };
}
