/**
 * PIM for Groups, as the core needs it (docs/pim.md lists the Graph calls
 * behind each method). Only membership ("member" access) is ever asked for:
 * the port has no way to ask for ownership.
 *
 * Entra keeps the requests, the approvals and the schedules of a group whose
 * config says `"backend": "pim"`, and ends an activation itself; the core only
 * reads them, submits schedule requests and decides approval stages.
 */

/** The rules of a group's PIM policy for membership that the CLI reads and enforces early. */
export interface PimPolicy {
  /** The longest activation the policy allows, in hours; null when the policy sets no limit. */
  maxActivationHours: number | null;
  approvalRequired: boolean;
  /** Object ids of the users the policy names as approvers (singleUser). */
  approverIds: string[];
  /** Object ids of groups whose members the policy names as approvers (groupMembers). */
  approverGroupIds: string[];
  justificationRequired: boolean;
  ticketRequired: boolean;
}

/** What a schedule request asks for (the six actions the CLI uses). */
export type PimAction =
  'selfActivate' | 'selfDeactivate' | 'selfExtend' | 'adminAssign' | 'adminRemove' | 'adminExtend';

/** A schedule request's status as Graph names it (PendingApproval, Provisioned, Granted, Denied, Canceled, Revoked, TimedOut, Failed, …). */
export type PimRequestStatus = string;

export interface PimRequest {
  id: string;
  action: PimAction | string;
  status: PimRequestStatus;
  principalId: string;
  groupId: string;
  justification: string;
  ticket?: string;
  createdAt: Date;
  completedAt?: Date;
  /** Set when the policy requires approval: the id of the approval to decide. */
  approvalId?: string;
  /** Who submitted it (the principal for self-service, the admin for admin actions). */
  createdById?: string;
  /** The schedule asked for: start and length (hours, from the ISO 8601 duration) or end. */
  startAt?: Date;
  hours?: number;
  endAt?: Date;
}

/** An active assignment (a membership PIM holds now, activated or assigned by an admin). */
export interface PimInstance {
  id: string;
  principalId: string;
  groupId: string;
  startAt: Date;
  /** null: permanent (no end). */
  endAt: Date | null;
  /** 'activated' (an eligible user's activation) or 'assigned' (an admin's direct assignment). */
  assignmentType: string;
  /** 'direct', or 'group' when it comes through another group. */
  memberType: string;
}

/** A user's eligibility for membership (they may activate it while it lasts). */
export interface PimEligibility {
  id: string;
  principalId: string;
  groupId: string;
  startAt: Date | null;
  endAt: Date | null;
}

export interface PimApprovalStage {
  id: string;
  /** NotStarted, InProgress, Completed, Escalating. */
  status: string;
  /** NotReviewed, Approve, Deny. */
  reviewResult: string;
  assignedToMe: boolean;
  reviewedById?: string;
  reviewedAt?: Date;
  justification?: string;
}

export interface PimApproval {
  id: string;
  stages: PimApprovalStage[];
}

export interface PimScheduleRequestInput {
  action: PimAction;
  principalId: string;
  groupId: string;
  justification?: string;
  ticket?: string;
  /** Activations and extensions: how long (sent as afterDuration PT…). Deactivation and removal take none. */
  hours?: number;
  /** Defaults to now (the adapter's clock). */
  startAt?: Date;
}

export interface PimPort {
  /** The group's PIM policy for membership; null when PIM does not govern the group. */
  policy(groupId: string): Promise<PimPolicy | null>;
  /** The signed-in user's eligibilities for membership of the group (delegated only). */
  myEligibility(groupId: string): Promise<PimEligibility[]>;
  /** Submits a schedule request; resolves with the request as Entra answered it (its status says what happened). */
  submit(input: PimScheduleRequestInput): Promise<PimRequest>;
  /** The signed-in user's own schedule requests for the group. */
  myRequests(groupId: string): Promise<PimRequest[]>;
  /** Every schedule request of the group (the sweep reads extensions from them). */
  groupRequests(groupId: string): Promise<PimRequest[]>;
  /** Requests waiting for the signed-in user's approval (any group). */
  awaitingMyApproval(): Promise<PimRequest[]>;
  /** One request by id; null when Graph does not know it. */
  request(id: string): Promise<PimRequest | null>;
  approval(approvalId: string): Promise<PimApproval>;
  /** Decides one stage of an approval (the one assigned to the signed-in user). */
  decide(approvalId: string, stageId: string, result: 'Approve' | 'Deny', justification: string): Promise<void>;
  /** Cancels one's own pending request. */
  cancel(requestId: string): Promise<void>;
  /** Every active membership assignment of the group. */
  activeInstances(groupId: string): Promise<PimInstance[]>;
  /** The signed-in user's active membership assignments of the group. */
  myActiveInstances(groupId: string): Promise<PimInstance[]>;
}

/** Request statuses that mean the membership is (or will be) held. */
export const PIM_GRANTED_STATUSES: ReadonlySet<string> = new Set(['Provisioned', 'Granted', 'ScheduleCreated']);
export const PIM_PENDING_STATUSES: ReadonlySet<string> = new Set(['PendingApproval', 'PendingApprovalProvisioning']);
