/**
 * The sweep's rule, deny by default. A member keeps the membership only if
 * they are a configured standing member, or hold a live approval by a trusted
 * approver (or the group's auto-approval rule) — and have not been in the
 * group longer than the group's maximum since that approval began. Everyone
 * else is removed: expired, denied, revoked, forged, and hand-added members,
 * and every member that is not a user (nested group, service principal, device).
 * Pure: the same inputs always give the same plan.
 */
import type { DirectoryUser, MemberKind } from './ports.js';
import { AUTO_APPROVER, type AccessRequest, type Decision } from './records.js';
import type { GrantView } from './grants.js';
import { isLapsedExtension } from './extension.js';
import {
  GrantViews,
  approvalExpiry,
  approvalProblem,
  grantKey,
  lastEndedGrant,
  liveGrant,
  type ApprovalProblem,
  type PolicyContext,
} from './grants.js';

export type KeepReason = 'standing' | 'grant';
export type RemoveReason = 'expired' | 'revoked' | 'denied' | 'no-grant' | 'max-duration' | 'not-a-user';
/** A group member; `kind` absent means a user (the directory port always sets it). */
export type PlanMember = DirectoryUser & { kind?: MemberKind };

export interface PlannedKeep {
  user: PlanMember;
  reason: KeepReason;
  requestId?: string;
  expiresAt?: Date;
  /** Kept only by this sweep's auto-approval: the removal that applies if that approval is not made. */
  removeIfNotAutoApproved?: PlannedRemoval;
}
export interface PlannedRemoval {
  user: PlanMember;
  reason: RemoveReason;
  requestId?: string;
}

export interface GroupSweepInput {
  policy: PolicyContext;
  members: readonly PlanMember[];
  standingIds: ReadonlySet<string>;
  /** Object ids of eligible requesters (resolved from the config's UPNs). */
  eligibleIds: ReadonlySet<string>;
  requestsByUser: ReadonlyMap<string, readonly AccessRequest[]>;
  decisions: readonly Decision[];
  /** The sweep's ledger for this group: userId → when first seen as a member (ISO). */
  firstSeen: Readonly<Record<string, string>>;
  /** The sweep's ledger for this group: grantKey → when a sweep first saw that approval (ISO). */
  grantsFirstSeen?: Readonly<Record<string, string>>;
  now: Date;
  /** The grants of these decisions, already derived by the caller's other questions (made here when absent). */
  grants?: GrantViews;
}

export interface GroupSweepPlan {
  keep: PlannedKeep[];
  remove: PlannedRemoval[];
  autoApprove: AccessRequest[];
  /**
   * Auto-approvals recorded by an earlier sweep, still live, whose member is
   * not in the group (that sweep died or Graph failed between the record and
   * the membership): the sweep adds them, or the grant would be lost.
   */
  completeAutoApprovals: { request: AccessRequest; expiresAt: Date }[];
  timedOut: AccessRequest[];
  /** The ledger after this sweep: current members only. */
  firstSeen: Record<string, string>;
  /** The approvals' ledger after this sweep: every approval of the group the records hold, seen now or before. */
  grantsFirstSeen: Record<string, string>;
  /**
   * Approvals by trusted approvers (or the group's rule) that keep nobody, to report: dated
   * ahead of this sweep's clock, breaking the input rules, or for a member who is not an
   * eligible requester.
   */
  untrusted: { decision: Decision; problem: ApprovalProblem }[];
}

const HOUR = 3600_000;

export function planGroupSweep(input: GroupSweepInput): GroupSweepPlan {
  const { policy, now } = input;
  const group = policy.group;
  const keep: PlannedKeep[] = [];
  const remove: PlannedRemoval[] = [];
  const firstSeen: Record<string, string> = {};
  // Decisions indexed once (a group of thousands of members has thousands of decisions, and scanning
  // them all for every request would be quadratic), and each grant derived once.
  const given = input.grants;
  const grants =
    given && given.decisions === input.decisions && given.policy === policy && given.now.getTime() === now.getTime()
      ? given
      : new GrantViews(input.decisions, policy, now, input.grantsFirstSeen);
  const { grantsFirstSeen, untrusted } = reviewApprovals(input, new Set(input.members.map((member) => member.id)));

  const autoApprove: AccessRequest[] = [];
  const completeAuto = new Map<string, { request: AccessRequest; expiresAt: Date }>();
  const memberIds = new Set(input.members.map((member) => member.id));
  const timedOut: AccessRequest[] = [];
  const rule = group.autoApproval;
  for (const [userId, requests] of input.requestsByUser) {
    for (const request of requests) {
      if (request.groupId !== group.entraGroupId) continue;
      const view = grants.of(request);
      if (
        view.state === 'timed-out' &&
        now.getTime() - request.requestedAt.getTime() < (group.pendingTimeoutHours + 24) * HOUR
      ) {
        timedOut.push(request);
      }
      if (
        view.state === 'approved' &&
        view.decision?.approverId === AUTO_APPROVER &&
        view.expiresAt &&
        !memberIds.has(userId) &&
        input.eligibleIds.has(userId)
      ) {
        const known = completeAuto.get(userId);
        if (!known || view.expiresAt > known.expiresAt)
          completeAuto.set(userId, { request, expiresAt: view.expiresAt });
      }
      if (view.state !== 'pending' || !rule) continue;
      if (!input.eligibleIds.has(userId)) continue;
      if (request.hours > rule.maxHours) continue;
      if (policy.autoApprovableIds && policy.autoApprovableIds.size > 0 && !policy.autoApprovableIds.has(userId))
        continue;
      // An extension whose grant has ended is not approved, by the rule as by a person (extension.ts).
      if (isLapsedExtension(grants, request, requests)) continue;
      autoApprove.push(request);
    }
  }
  // Whoever this sweep auto-approves holds a grant from now on: an older grant
  // of theirs that has expired must not remove them in the same sweep.
  const autoApprovedNow = new Map(autoApprove.map((request) => [request.requesterId, request]));
  for (const userId of autoApprovedNow.keys()) completeAuto.delete(userId);

  // Hoisted: this loop runs for every member of the group (thousands).
  const nowIso = now.toISOString();
  for (const member of input.members) {
    const seenAt = input.firstSeen[member.id] ?? nowIso;
    firstSeen[member.id] = seenAt;
    if (input.standingIds.has(member.id)) {
      keep.push({ user: member, reason: 'standing' });
      continue;
    }
    // Only a user can hold a grant: a nested group (whose users JIT would carry into OCI), a
    // service principal or a device is removed unless it is listed as standing.
    if (member.kind !== undefined && member.kind !== 'user') {
      remove.push({ user: member, reason: 'not-a-user' });
      continue;
    }
    // Any live grant keeps the member: an older grant expiring must not remove
    // someone whose newer grant (an extension or a re-approval) is still valid.
    // Approvals whose request record the requester deleted still count (the
    // approver's record is the proof). Without one, the grant that ended last
    // says why (a revocation today, not last week's expiry).
    const memberGrants = grants.grantsOf(member.id, input.requestsByUser.get(member.id));
    const live = liveGrant(memberGrants);
    let best: PlannedKeep | undefined = live
      ? { user: member, reason: 'grant', requestId: live.requestId, expiresAt: live.view.expiresAt }
      : undefined;
    const ended = lastEndedGrant(memberGrants);
    const why: PlannedRemoval | undefined = ended
      ? { user: member, reason: endReason(ended.view), requestId: ended.requestId }
      : undefined;
    const renewal = autoApprovedNow.get(member.id);
    if (!best && renewal) {
      best = {
        user: member,
        reason: 'grant',
        requestId: renewal.id,
        expiresAt: new Date(now.getTime() + renewal.hours * HOUR),
        removeIfNotAutoApproved: why ?? { user: member, reason: 'no-grant' },
      };
    }
    if (best) keep.push(best);
    else remove.push(why ?? { user: member, reason: 'no-grant' });
  }

  return {
    keep,
    remove,
    autoApprove,
    completeAutoApprovals: [...completeAuto.values()],
    timedOut,
    firstSeen,
    grantsFirstSeen,
    untrusted,
  };
}

/** Why an ended grant ended, as a removal reason. */
export function endReason(view: GrantView): RemoveReason {
  if (view.state === 'expired' && view.endedByFirstSeen) return 'max-duration';
  return view.state as RemoveReason;
}

/**
 * The approvals of this group in the records: when a sweep first saw each
 * (kept for as long as the records hold it, so that a decision dated ahead
 * is bounded from the moment any sweep of this host saw it, even after its
 * date comes), and those that keep nobody although their approver is trusted.
 */
function reviewApprovals(
  input: GroupSweepInput,
  memberIds: ReadonlySet<string>,
): Pick<GroupSweepPlan, 'grantsFirstSeen' | 'untrusted'> {
  const { policy, now } = input;
  const before = input.grantsFirstSeen ?? {};
  const nowIso = now.toISOString();
  const grantsFirstSeen: Record<string, string> = {};
  const untrusted: GroupSweepPlan['untrusted'] = [];
  for (const decision of input.decisions) {
    if (decision.kind !== 'approved' || decision.groupId !== policy.group.entraGroupId) continue;
    const key = grantKey(decision.requestId, decision.requesterId);
    grantsFirstSeen[key] = before[key] ?? nowIso;
    if (
      decision.approverId !== AUTO_APPROVER &&
      (!policy.approverIds.has(decision.approverId) || decision.approverId === decision.requesterId)
    )
      continue;
    const problem = approvalProblem(decision, policy, now);
    if (!problem) continue;
    // A date ahead always matters (the clock or the record is wrong); the others while they would keep a member.
    const wouldKeep =
      memberIds.has(decision.requesterId) && approvalExpiry(decision, policy.group).getTime() > now.getTime();
    if (problem === 'future-dated' || wouldKeep) untrusted.push({ decision, problem });
  }
  return { grantsFirstSeen, untrusted };
}
