/**
 * What Entra's Privileged Identity Management keeps for PIM for Groups, as far as the
 * emulator models it: per group, the membership policy (its rules as Graph shows them),
 * eligibility schedules, active assignments (schedule instances), the schedule requests
 * and their approvals. Only accessId "member" is modelled. The virtual clock drives
 * expiry and approval timeouts (see clock.ts).
 */

/** The rules of a group's membership policy that the emulator enforces. */
export interface PimPolicy {
  /** Expiration_EndUser_Assignment.maximumDuration, ISO 8601 (e.g. "PT8H"). */
  maximumDuration: string;
  /** Expiration_EndUser_Assignment.isExpirationRequired. */
  isExpirationRequired: boolean;
  /** Enablement_EndUser_Assignment.enabledRules: "Justification", "Ticketing", "MultiFactorAuthentication". */
  enabledRules: string[];
  /** Approval_EndUser_Assignment.setting.isApprovalRequired. */
  isApprovalRequired: boolean;
  /** Primary approvers: single users (user ids) and the members of groups (group ids). */
  approverUserIds: string[];
  approverGroupIds: string[];
  /** approvalStageTimeOutInDays. */
  approvalStageTimeOutInDays: number;
}

export interface PimEligibility {
  id: string;
  groupId: string;
  principalId: string;
  startDateTime: number;
  /** Undefined: eligible without end. */
  endDateTime?: number;
}

/** An active membership (privilegedAccessGroupAssignmentScheduleInstance). */
export interface PimAssignment {
  id: string;
  groupId: string;
  principalId: string;
  startDateTime: number;
  /** Undefined: no end (admin assigned permanently). */
  endDateTime?: number;
  /** "activated" (selfActivate) or "assigned" (adminAssign), as Graph's assignmentType says. */
  assignmentType: 'Activated' | 'Assigned';
  /** The request that created it (targetScheduleId points here). */
  requestId: string;
  /** Set once the membership was added to the group (at start); a member already there is not ours to remove. */
  addedMember: boolean;
}

export type PimRequestStatus =
  | 'PendingApproval'
  | 'Provisioned'
  | 'ScheduleCreated'
  | 'Granted'
  | 'Denied'
  | 'Canceled'
  | 'Revoked'
  | 'TimedOut'
  | 'Failed';

export type PimAction =
  'selfActivate' | 'selfDeactivate' | 'selfExtend' | 'adminAssign' | 'adminRemove' | 'adminExtend';

export interface PimScheduleInfo {
  startDateTime: number;
  expiration: { type: 'afterDuration' | 'afterDateTime' | 'noExpiration'; duration?: string; endDateTime?: number };
}

export interface PimRequest {
  id: string;
  action: PimAction;
  groupId: string;
  principalId: string;
  accessId: 'member';
  status: PimRequestStatus;
  justification: string | null;
  ticketInfo: { ticketNumber: string | null; ticketSystem: string | null };
  scheduleInfo: PimScheduleInfo | null;
  createdDateTime: number;
  completedDateTime: number | null;
  createdBy: { userId?: string; appId?: string };
  approvalId: string | null;
  targetScheduleId: string | null;
  customData: string | null;
}

export interface PimApprovalStage {
  id: string;
  /** User ids the stage is assigned to, resolved when the request was made. */
  assignedTo: string[];
  status: 'InProgress' | 'Completed';
  reviewResult: 'NotReviewed' | 'Approve' | 'Deny';
  reviewedBy: string | null;
  reviewedDateTime: number | null;
  justification: string;
}

export interface PimApproval {
  /** The request's id: Graph addresses the approval by the request id (approval-get). */
  id: string;
  requestId: string;
  stages: PimApprovalStage[];
  /** When the stage times out (approvalStageTimeOutInDays after the request). */
  expiresAt: number;
}

export class PimState {
  /** groupId → its membership policy; a group without one is not governed by PIM. */
  readonly policies = new Map<string, PimPolicy>();
  readonly eligibilities = new Map<string, PimEligibility>();
  readonly assignments = new Map<string, PimAssignment>();
  readonly requests = new Map<string, PimRequest>();
  readonly approvals = new Map<string, PimApproval>();

  activeAssignment(groupId: string, principalId: string, now: number): PimAssignment | undefined {
    for (const assignment of this.assignments.values()) {
      if (assignment.groupId !== groupId || assignment.principalId !== principalId) continue;
      if (assignment.startDateTime <= now && (assignment.endDateTime === undefined || assignment.endDateTime > now))
        return assignment;
    }
    return undefined;
  }

  /** An assignment now or later (a scheduled one counts as existing). */
  currentOrScheduled(groupId: string, principalId: string, now: number): PimAssignment | undefined {
    for (const assignment of this.assignments.values()) {
      if (assignment.groupId !== groupId || assignment.principalId !== principalId) continue;
      if (assignment.endDateTime === undefined || assignment.endDateTime > now) return assignment;
    }
    return undefined;
  }

  isEligible(groupId: string, principalId: string, now: number): boolean {
    for (const eligibility of this.eligibilities.values()) {
      if (eligibility.groupId !== groupId || eligibility.principalId !== principalId) continue;
      if (eligibility.startDateTime <= now && (eligibility.endDateTime === undefined || eligibility.endDateTime > now))
        return true;
    }
    return false;
  }

  pendingRequest(groupId: string, principalId: string): PimRequest | undefined {
    for (const request of this.requests.values())
      if (request.groupId === groupId && request.principalId === principalId && request.status === 'PendingApproval')
        return request;
    return undefined;
  }

  clear(): void {
    this.policies.clear();
    this.eligibilities.clear();
    this.assignments.clear();
    this.requests.clear();
    this.approvals.clear();
  }
}
