/**
 * What a request has become, derived from the records alone (never stored):
 * pending, approved (live grant), expired, denied, revoked, cancelled or
 * timed out. The same derivation serves `status`, `list`, `approve` and
 * `sweep`, so every machine reaches the same answer from the same records.
 */
import type { GroupConfig } from '../config/schema.js';
import { AUTO_APPROVER, type AccessRequest, type Decision } from './records.js';
import { groupBy } from './group-by.js';

export type RequestState = 'pending' | 'approved' | 'expired' | 'denied' | 'revoked' | 'cancelled' | 'timed-out';

export interface GrantView {
  state: RequestState;
  /** The decision that settled the request, if any. */
  decision?: Decision;
  /** For approved/expired: when the grant ends (the earliest of every bound). */
  expiresAt?: Date;
}

export interface PolicyContext {
  group: GroupConfig;
  /** Object ids of the group's configured approvers (resolved from their UPNs). */
  approverIds: ReadonlySet<string>;
  /** Object ids allowed by the auto-approval rule (empty set = every eligible requester). */
  autoApprovableIds: ReadonlySet<string> | null;
}

const HOUR = 3600_000;

/** Whether a decision was taken by someone allowed to take it, for this group, not about themselves. */
export function isTrustedDecision(decision: Decision, policy: PolicyContext): boolean {
  if (decision.groupId !== policy.group.entraGroupId) return false;
  if (decision.approverId === AUTO_APPROVER) {
    const rule = policy.group.autoApproval;
    if (!rule || decision.kind === 'denied') return decision.kind === 'revoked';
    if (decision.kind === 'approved') {
      if ((decision.hours ?? Infinity) > rule.maxHours) return false;
      if (policy.autoApprovableIds && policy.autoApprovableIds.size > 0 && !policy.autoApprovableIds.has(decision.requesterId)) return false;
    }
    return true;
  }
  if (decision.approverId === decision.requesterId) return false;
  return policy.approverIds.has(decision.approverId);
}

/**
 * When an approval ends: the earliest of the recorded expiry, the approval
 * time plus the group's maximum (plus the rule's maximum for auto-approvals),
 * and any local expiry this machine recorded. The earlier one always wins.
 */
export function approvalExpiry(decision: Decision, group: GroupConfig, localExpiry?: Date): Date {
  // Math.min pair by pair (a NaN anywhere still gives NaN): a sweep derives thousands of grants.
  const decidedMs = decision.decidedAt.getTime();
  let end = decidedMs + group.maxHours * HOUR;
  if (decision.expiresAt) end = Math.min(end, decision.expiresAt.getTime());
  if (decision.hours !== undefined) end = Math.min(end, decidedMs + decision.hours * HOUR);
  if (decision.approverId === AUTO_APPROVER && group.autoApproval) end = Math.min(end, decidedMs + group.autoApproval.maxHours * HOUR);
  if (localExpiry) end = Math.min(end, localExpiry.getTime());
  return new Date(end);
}

/** Earliest first; an exact tie is broken by approver id so every machine picks the same one. */
function earliestFirst(a: Decision, b: Decision): number {
  return a.decidedAt.getTime() - b.decidedAt.getTime() || (a.approverId < b.approverId ? -1 : a.approverId > b.approverId ? 1 : 0);
}

export function deriveGrant(
  request: Pick<AccessRequest, 'id' | 'requesterId' | 'requestedAt' | 'withdrawn'>,
  decisions: readonly Decision[],
  policy: PolicyContext,
  now: Date,
  localExpiry?: Date,
): GrantView {
  // One pass, no closures: a sweep derives thousands of grants, most with a single decision.
  const mine: Decision[] = [];
  for (const d of decisions) {
    if (d.requestId === request.id && d.requesterId === request.requesterId && isTrustedDecision(d, policy)) mine.push(d);
  }
  if (mine.length > 1) mine.sort(earliestFirst);
  // The earliest revocation wins over everything; otherwise the first decision settles the
  // request: a later contrary one (a race between two approvers) is ignored.
  let settling: Decision | undefined;
  for (const d of mine) {
    if (d.kind === 'revoked') return { state: 'revoked', decision: d };
    if (settling === undefined && (d.kind === 'approved' || d.kind === 'denied')) settling = d;
  }
  if (request.withdrawn?.kind === 'revoked') return { state: 'revoked' };
  if (settling?.kind === 'denied') return { state: 'denied', decision: settling };
  if (settling?.kind === 'approved') {
    const expiresAt = approvalExpiry(settling, policy.group, localExpiry);
    return { state: expiresAt.getTime() > now.getTime() ? 'approved' : 'expired', decision: settling, expiresAt };
  }
  if (request.withdrawn?.kind === 'cancelled') return { state: 'cancelled' };
  if (now.getTime() - request.requestedAt.getTime() >= policy.group.pendingTimeoutHours * HOUR) return { state: 'timed-out' };
  return { state: 'pending' };
}

export const isOpenState = (state: RequestState) => state === 'pending' || state === 'approved';

/**
 * The grants of one set of decisions, derived once each: a sweep asks about
 * the same requests several times (who holds a live grant, the early plan, the
 * full plan, the OCI check), and deriving a grant sorts and filters its
 * decisions each time. Valid for these decisions, policy and time only: a
 * sweep that reads the decisions again makes a new one.
 */
export class GrantViews {
  private readonly byRequest: Map<string, Decision[]>;
  /** Decisions about each requester. */
  readonly byRequester: Map<string, Decision[]>;
  private readonly ofRequests = new WeakMap<AccessRequest, GrantView>();
  private readonly ofDecisions = new WeakMap<Decision, GrantView>();

  constructor(
    readonly decisions: readonly Decision[],
    readonly policy: PolicyContext,
    readonly now: Date,
  ) {
    this.byRequest = groupBy(decisions, (d) => d.requestId);
    this.byRequester = groupBy(decisions, (d) => d.requesterId);
  }

  /** The decisions about this request id (any requester: deriveGrant checks). */
  about(requestId: string): readonly Decision[] {
    return this.byRequest.get(requestId) ?? [];
  }

  /** deriveGrant for a request record. */
  of(request: AccessRequest): GrantView {
    let view = this.ofRequests.get(request);
    if (!view) {
      view = deriveGrant(request, this.about(request.id), this.policy, this.now);
      this.ofRequests.set(request, view);
    }
    return view;
  }

  /**
   * deriveGrant for the request a decision is about, when the request record
   * is not at hand (the requester's record was not read, or no longer holds
   * it): the approver's record is the proof, and the decision time stands in
   * for the request time.
   */
  ofDecidedRequest(decision: Decision): GrantView {
    let view = this.ofDecisions.get(decision);
    if (!view) {
      view = deriveGrant({ id: decision.requestId, requesterId: decision.requesterId, requestedAt: decision.decidedAt }, this.about(decision.requestId), this.policy, this.now);
      this.ofDecisions.set(decision, view);
    }
    return view;
  }
}

