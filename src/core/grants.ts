/**
 * What a request has become, derived from the records alone (never stored):
 * pending, approved (live grant), expired, denied, revoked, cancelled or
 * timed out. The same derivation serves `status`, `list`, `approve` and
 * `sweep`, so every machine reaches the same answer from the same records.
 */
import type { GroupConfig } from '../config/schema.js';
import { AUTO_APPROVER, PIM_APPROVER, type AccessRequest, type Decision } from './records.js';
import { groupBy } from './group-by.js';

export type RequestState =
  'pending' | 'approved' | 'expired' | 'denied' | 'revoked' | 'cancelled' | 'timed-out' | 'invalid';

export interface GrantView {
  state: RequestState;
  /** The decision that settled the request, if any. */
  decision?: Decision;
  /** For approved/expired: when the grant ends (the earliest of every bound). */
  expiresAt?: Date;
  /** For expired: it ended only because of the bound from when a sweep first saw the approval. */
  endedByFirstSeen?: boolean;
  /** For a grant that was held and ended (expired, or revoked after its approval): when it ended. */
  endedAt?: Date;
  /** For an ended grant whose requester holds a newer live grant in the same group: that grant's request id (their access is still due). */
  coveredBy?: string;
}

export interface PolicyContext {
  group: GroupConfig;
  /** Object ids of the group's configured approvers (resolved from their UPNs). */
  approverIds: ReadonlySet<string>;
  /** Object ids allowed by the auto-approval rule (empty set = every eligible requester). */
  autoApprovableIds: ReadonlySet<string> | null;
  /** Object ids of the group's eligible requesters: an approval for anyone else keeps nobody. */
  eligibleIds: ReadonlySet<string>;
  /** How far ahead of the reader's clock a decision may be dated (clock skew); later ones are not trusted. */
  maxSkewMs: number;
}

const HOUR = 3600_000;
export const DEFAULT_MAX_SKEW_MS = 5 * 60_000;

/** Why an approval keeps nobody although its approver is trusted: the sweep reports these. */
export type ApprovalProblem = 'future-dated' | 'not-eligible' | 'invalid';

/**
 * What is wrong with an approval that a trusted approver (or the group's
 * rule) wrote, if anything: dated later than the reader's time plus the
 * allowed skew (a skewed clock or a hand-edited record: it would outlive
 * every cap), for someone who is not an eligible requester, or breaking the
 * input rules. Denials and revocations are never held to these: they can
 * only take access away.
 */
export function approvalProblem(decision: Decision, policy: PolicyContext, now: Date): ApprovalProblem | undefined {
  if (decision.kind !== 'approved') return undefined;
  if (decision.invalid) return 'invalid';
  if (decision.decidedAt.getTime() > now.getTime() + policy.maxSkewMs) return 'future-dated';
  // PIM decides eligibility itself (and an admin's assignment needs none): the config lists nobody for a pim group.
  if (decision.approverId === PIM_APPROVER) return undefined;
  if (!policy.eligibleIds.has(decision.requesterId)) return 'not-eligible';
  return undefined;
}

/**
 * Whether a decision was taken by someone allowed to take it, for this group,
 * not about themselves, and (for an approval) with nothing approvalProblem finds.
 */
export function isTrustedDecision(decision: Decision, policy: PolicyContext, now: Date): boolean {
  if (decision.groupId !== policy.group.entraGroupId) return false;
  if (approvalProblem(decision, policy, now)) return false;
  // Built by the sweep from PIM's active assignments, never read from a record: only a pim group has them.
  if (decision.approverId === PIM_APPROVER) return policy.group.backend === 'pim';
  if (decision.approverId === AUTO_APPROVER) {
    const rule = policy.group.autoApproval;
    if (!rule || decision.kind === 'denied') return decision.kind === 'revoked';
    if (decision.kind === 'approved') {
      if ((decision.hours ?? Infinity) > rule.maxHours) return false;
      if (
        policy.autoApprovableIds &&
        policy.autoApprovableIds.size > 0 &&
        !policy.autoApprovableIds.has(decision.requesterId)
      )
        return false;
    }
    return true;
  }
  if (decision.approverId === decision.requesterId) return false;
  return policy.approverIds.has(decision.approverId);
}

/**
 * When an approval ends: the earliest of the recorded expiry, and the hours
 * approved, the group's maximum (and the rule's maximum for auto-approvals)
 * counted from the earlier of the decision time and when a sweep first saw
 * the approval, and any local expiry this machine recorded. The earlier one
 * always wins; a decision time in the future buys nothing once a sweep saw it.
 */
export function approvalExpiry(decision: Decision, group: GroupConfig, localExpiry?: Date, firstSeen?: Date): Date {
  return new Date(approvalBounds(decision, group, localExpiry, firstSeen).end);
}

function approvalBounds(
  decision: Decision,
  group: GroupConfig,
  localExpiry?: Date,
  firstSeen?: Date,
): { end: number; byFirstSeen: boolean } {
  // Math.min pair by pair (a NaN anywhere still gives NaN): a sweep derives thousands of grants.
  let span = group.maxHours * HOUR;
  if (decision.hours !== undefined) span = Math.min(span, decision.hours * HOUR);
  if (decision.approverId === AUTO_APPROVER && group.autoApproval)
    span = Math.min(span, group.autoApproval.maxHours * HOUR);
  let end = decision.decidedAt.getTime() + span;
  if (decision.expiresAt) end = Math.min(end, decision.expiresAt.getTime());
  if (localExpiry) end = Math.min(end, localExpiry.getTime());
  const fromFirstSeen = firstSeen ? firstSeen.getTime() + span : Infinity;
  return fromFirstSeen < end ? { end: fromFirstSeen, byFirstSeen: true } : { end, byFirstSeen: false };
}

/** Earliest first; an exact tie is broken by approver id so every machine picks the same one. */
function earliestFirst(a: Decision, b: Decision): number {
  return (
    a.decidedAt.getTime() - b.decidedAt.getTime() ||
    (a.approverId < b.approverId ? -1 : a.approverId > b.approverId ? 1 : 0)
  );
}

export function deriveGrant(
  request: Pick<AccessRequest, 'id' | 'requesterId' | 'requestedAt' | 'withdrawn'> & { invalid?: string },
  decisions: readonly Decision[],
  policy: PolicyContext,
  now: Date,
  localExpiry?: Date,
  /** When a sweep first saw an approval of this request (the sweep's ledger); bounds the grant. */
  firstSeen?: Date,
): GrantView {
  // A record that breaks the input rules is never a request anyone can approve or hold.
  if (request.invalid) return { state: 'invalid' };
  // One pass, no closures: a sweep derives thousands of grants, most with a single decision.
  const mine: Decision[] = [];
  for (const d of decisions) {
    if (d.requestId === request.id && d.requesterId === request.requesterId && isTrustedDecision(d, policy, now))
      mine.push(d);
  }
  if (mine.length > 1) mine.sort(earliestFirst);
  // The earliest revocation wins over everything; otherwise the first decision settles the
  // request: a later contrary one (a race between two approvers) is ignored.
  let settling: Decision | undefined;
  // A revocation ends a grant only if an approval came first; its time is when the grant ended (unless it had expired before).
  const endedBy = (at: Date): { endedAt?: Date } =>
    settling?.kind === 'approved'
      ? {
          endedAt: new Date(Math.min(at.getTime(), approvalBounds(settling, policy.group, localExpiry, firstSeen).end)),
        }
      : {};
  for (const d of mine) {
    if (d.kind === 'revoked') return { state: 'revoked', decision: d, ...endedBy(d.decidedAt) };
    if (settling === undefined && (d.kind === 'approved' || d.kind === 'denied')) settling = d;
  }
  if (request.withdrawn?.kind === 'revoked') return { state: 'revoked', ...endedBy(request.withdrawn.at) };
  if (settling?.kind === 'denied') return { state: 'denied', decision: settling };
  if (settling?.kind === 'approved') {
    const { end, byFirstSeen } = approvalBounds(settling, policy.group, localExpiry, firstSeen);
    const live = end > now.getTime();
    return {
      state: live ? 'approved' : 'expired',
      decision: settling,
      expiresAt: new Date(end),
      ...(live ? {} : { endedAt: new Date(end) }),
      ...(byFirstSeen && !live ? { endedByFirstSeen: true } : {}),
    };
  }
  if (request.withdrawn?.kind === 'cancelled') return { state: 'cancelled' };
  if (now.getTime() - request.requestedAt.getTime() >= policy.group.pendingTimeoutHours * HOUR)
    return { state: 'timed-out' };
  return { state: 'pending' };
}

/** One grant of a requester: the request id, its record when the requester's own record holds it, and what it has become. */
export interface RequesterGrant {
  requestId: string;
  request?: AccessRequest;
  view: GrantView;
}

const isEnded = (view: GrantView) => view.state === 'expired' || view.state === 'revoked' || view.state === 'denied';

/**
 * Why a member without a live grant has none: the grant that ended last
 * (expired or revoked after it was held), so a revocation today is not
 * reported as last week's expiry; else any denied, or revoked-while-pending,
 * request. Undefined when nothing ended.
 */
export function lastEndedGrant(grants: readonly RequesterGrant[]): RequesterGrant | undefined {
  let last: RequesterGrant | undefined;
  for (const grant of grants) {
    const at = grant.view.endedAt?.getTime();
    if (at === undefined) continue;
    const lastAt = last?.view.endedAt?.getTime() ?? -Infinity;
    if (at > lastAt || (at === lastAt && grant.requestId > last!.requestId)) last = grant;
  }
  if (last) return last;
  const ended = grants.filter((grant) => isEnded(grant.view));
  return ended.find((grant) => grant.view.state !== 'denied') ?? ended[0];
}

/** The live grant that lasts longest, if any. */
export function liveGrant(grants: readonly RequesterGrant[]): RequesterGrant | undefined {
  let best: RequesterGrant | undefined;
  for (const grant of grants) {
    if (grant.view.state !== 'approved' || !grant.view.expiresAt) continue;
    if (!best || grant.view.expiresAt > best.view.expiresAt!) best = grant;
  }
  return best;
}

/** The same grants, each ended one marked as covered by the requester's live grant when there is one. */
function withCoverage(grants: RequesterGrant[]): RequesterGrant[] {
  const live = liveGrant(grants);
  if (!live) return grants;
  return grants.map((grant) =>
    grant.view.endedAt ? { ...grant, view: { ...grant.view, coveredBy: live.requestId } } : grant,
  );
}

/** The key of a grant in the sweep's ledger of when it first saw each approval: a request id means nothing without its requester. */
export const grantKey = (requestId: string, requesterId: string) => `${requestId}:${requesterId}`;

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
    /** When a sweep first saw each approval, by grantKey (the sweep's ledger); absent elsewhere. */
    private readonly firstSeen?: Readonly<Record<string, string>>,
  ) {
    this.byRequest = groupBy(decisions, (d) => d.requestId);
    this.byRequester = groupBy(decisions, (d) => d.requesterId);
  }

  private firstSeenOf(requestId: string, requesterId: string): Date | undefined {
    const seen = this.firstSeen?.[grantKey(requestId, requesterId)];
    return seen === undefined ? undefined : new Date(seen);
  }

  /** The decisions about this request id (any requester: deriveGrant checks). */
  about(requestId: string): readonly Decision[] {
    return this.byRequest.get(requestId) ?? [];
  }

  /** deriveGrant for a request record. */
  of(request: AccessRequest): GrantView {
    let view = this.ofRequests.get(request);
    if (!view) {
      view = deriveGrant(
        request,
        this.about(request.id),
        this.policy,
        this.now,
        undefined,
        this.firstSeenOf(request.id, request.requesterId),
      );
      this.ofRequests.set(request, view);
    }
    return view;
  }

  /**
   * Every grant of one requester in this group: the requests their own record
   * holds, and approvals whose request record is not at hand (the approver's
   * record is the proof), each ended one with `coveredBy` when a live one
   * covers it.
   */
  grantsOf(requesterId: string, requests: readonly AccessRequest[] = []): RequesterGrant[] {
    const groupId = this.policy.group.entraGroupId;
    const grants: RequesterGrant[] = [];
    const known = new Set<string>();
    for (const request of requests) {
      if (request.groupId !== groupId || request.requesterId !== requesterId) continue;
      known.add(request.id);
      grants.push({ requestId: request.id, request, view: this.of(request) });
    }
    for (const decision of this.byRequester.get(requesterId) ?? []) {
      if (decision.groupId !== groupId || known.has(decision.requestId)) continue;
      known.add(decision.requestId);
      grants.push({ requestId: decision.requestId, view: this.ofDecidedRequest(decision) });
    }
    return withCoverage(grants);
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
      view = deriveGrant(
        { id: decision.requestId, requesterId: decision.requesterId, requestedAt: decision.decidedAt },
        this.about(decision.requestId),
        this.policy,
        this.now,
        undefined,
        this.firstSeenOf(decision.requestId, decision.requesterId),
      );
      this.ofDecisions.set(decision, view);
    }
    return view;
  }
}
