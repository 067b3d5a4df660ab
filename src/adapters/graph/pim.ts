/**
 * PimPort over Microsoft Graph v1.0 (PIM for Groups), through the project's
 * one Graph client: GraphDirectory.send / listAll give the same transport,
 * retries, token refresh, paging and error mapping as every other call; only
 * PIM's own errors are mapped here first (pim-errors.ts). docs/pim.md lists
 * each call, its body, its least permission and its documentation source.
 */
import type { Clock } from '../../context.js';
import { UpstreamError } from '../../errors.js';
import type {
  PimApproval,
  PimEligibility,
  PimInstance,
  PimPolicy,
  PimPort,
  PimRequest,
  PimScheduleRequestInput,
} from '../../core/pim/port.js';
import { durationOfHours, hoursOfDuration } from '../../core/pim/duration.js';
import { stripControls } from '../../core/text.js';
import type { GraphDirectory } from './graph-directory.js';
import { pimErrorOf } from './pim-errors.js';

const PAG = '/identityGovernance/privilegedAccess/group';

/** Least permissions (delegated / application alike unless said), named when Graph refuses a call. */
export const PIM_PERMISSIONS = {
  policy: 'RoleManagementPolicy.Read.AzureADGroup',
  eligibility: 'PrivilegedEligibilitySchedule.Read.AzureADGroup',
  read: 'PrivilegedAssignmentSchedule.Read.AzureADGroup',
  write: 'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
} as const;

/** A value inside an OData string literal: quotes doubled, then URL-encoded with the rest of the filter. */
const odataString = (value: string) => `'${value.replace(/'/g, "''")}'`;
const filter = (expression: string) => `$filter=${encodeURIComponent(expression)}`;
const byGroup = (groupId: string) => filter(`groupId eq ${odataString(groupId)}`);

const text = (value: unknown): string => (typeof value === 'string' ? stripControls(value) : '');
const dateOf = (value: unknown): Date | undefined => {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms) : undefined;
};

export function toPimRequest(raw: any): PimRequest {
  const schedule = raw?.scheduleInfo ?? {};
  const expiration = schedule.expiration ?? {};
  const request: PimRequest = {
    id: String(raw?.id ?? ''),
    action: text(raw?.action),
    status: text(raw?.status),
    principalId: String(raw?.principalId ?? ''),
    groupId: String(raw?.groupId ?? ''),
    justification: text(raw?.justification),
    createdAt: dateOf(raw?.createdDateTime) ?? new Date(0),
  };
  const ticket = text(raw?.ticketInfo?.ticketNumber);
  if (ticket) request.ticket = ticket;
  const completedAt = dateOf(raw?.completedDateTime);
  if (completedAt) request.completedAt = completedAt;
  if (typeof raw?.approvalId === 'string' && raw.approvalId) request.approvalId = raw.approvalId;
  const createdBy = raw?.createdBy?.user?.id;
  if (typeof createdBy === 'string') request.createdById = createdBy;
  const startAt = dateOf(schedule.startDateTime);
  if (startAt) request.startAt = startAt;
  const hours = hoursOfDuration(expiration.duration);
  if (hours !== undefined) request.hours = hours;
  const endAt = dateOf(expiration.endDateTime);
  if (endAt) request.endAt = endAt;
  return request;
}

export function toPimInstance(raw: any): PimInstance {
  return {
    id: String(raw?.id ?? ''),
    principalId: String(raw?.principalId ?? ''),
    groupId: String(raw?.groupId ?? ''),
    startAt: dateOf(raw?.startDateTime) ?? new Date(0),
    endAt: dateOf(raw?.endDateTime) ?? null,
    assignmentType: text(raw?.assignmentType) || 'unknown',
    memberType: text(raw?.memberType) || 'direct',
  };
}

function toEligibility(raw: any): PimEligibility {
  return {
    id: String(raw?.id ?? ''),
    principalId: String(raw?.principalId ?? ''),
    groupId: String(raw?.groupId ?? ''),
    startAt: dateOf(raw?.startDateTime) ?? null,
    endAt: dateOf(raw?.endDateTime) ?? null,
  };
}

const ruleType = (rule: any): string => String(rule?.['@odata.type'] ?? '').replace(/^#?microsoft\.graph\./, '');

/**
 * The policy's rules for an end user's activation (the *_EndUser_Assignment
 * rules). A rule the answer lacks counts as not set: PIM still enforces its
 * own policy when the request is submitted, and the config's maxHours bounds
 * every activation whatever the policy says.
 */
export function policyOfRules(rules: any[]): PimPolicy {
  const byId = new Map(rules.map((rule) => [String(rule?.id ?? ''), rule]));
  const expiration = byId.get('Expiration_EndUser_Assignment');
  const enablement = byId.get('Enablement_EndUser_Assignment');
  const approval = byId.get('Approval_EndUser_Assignment');
  const enabled: string[] = Array.isArray(enablement?.enabledRules) ? enablement.enabledRules.map(String) : [];
  const setting = approval?.setting ?? {};
  const stage = Array.isArray(setting.approvalStages) ? setting.approvalStages[0] : undefined;
  const approvers: any[] = Array.isArray(stage?.primaryApprovers) ? stage.primaryApprovers : [];
  const typeOf = (a: any) => String(a?.['@odata.type'] ?? '').replace(/^#?microsoft\.graph\./, '');
  return {
    maxActivationHours:
      expiration && ruleType(expiration) === 'unifiedRoleManagementPolicyExpirationRule'
        ? (hoursOfDuration(expiration.maximumDuration) ?? null)
        : null,
    approvalRequired: approval ? setting.isApprovalRequired !== false : false,
    approverIds: approvers.filter((a) => typeOf(a) === 'singleUser' && a.userId).map((a) => String(a.userId)),
    approverGroupIds: approvers.filter((a) => typeOf(a) === 'groupMembers' && a.groupId).map((a) => String(a.groupId)),
    justificationRequired: enabled.includes('Justification'),
    ticketRequired: enabled.includes('Ticketing'),
  };
}

export class GraphPim implements PimPort {
  constructor(
    private readonly graph: GraphDirectory,
    private readonly clock: Clock,
  ) {}

  /** Every item of a PIM list (all pages), read with the permission that allows it. */
  private list(path: string, what: string, permission: string = PIM_PERMISSIONS.read): Promise<any[]> {
    return this.graph.listAll(`${PAG}/${path}`, what, permission, pimErrorOf);
  }

  /** The requests of one group from a list (filters are re-applied: a list may hold other groups'). */
  private async requestsOf(groupId: string, path: string, what: string): Promise<PimRequest[]> {
    return (await this.list(path, what)).map(toPimRequest).filter((r) => r.groupId === groupId);
  }

  /** The membership instances of one group from a list (ownership never keeps anyone a member). */
  private async instancesOf(groupId: string, path: string, what: string): Promise<PimInstance[]> {
    return (await this.list(path, what))
      .filter(isMembership)
      .map(toPimInstance)
      .filter((i) => i.groupId === groupId);
  }

  async policy(groupId: string): Promise<PimPolicy | null> {
    const query =
      filter(`scopeId eq ${odataString(groupId)} and scopeType eq 'Group' and roleDefinitionId eq 'member'`) +
      '&$expand=policy($expand=rules)';
    const assignments = await this.graph.listAll(
      `/policies/roleManagementPolicyAssignments?${query}`,
      "read the group's PIM policy",
      PIM_PERMISSIONS.policy,
      pimErrorOf,
    );
    const assignment = assignments[0];
    if (!assignment) return null;
    const rules = assignment.policy?.rules;
    if (!Array.isArray(rules)) {
      throw new UpstreamError(
        'GRAPH_ERROR',
        "Microsoft Graph answered the group's PIM policy without its rules; ociaccess cannot check it.",
        { hint: 'Try again; if it persists, check the policy in the Entra admin center.' },
      );
    }
    return policyOfRules(rules);
  }

  async myEligibility(groupId: string): Promise<PimEligibility[]> {
    const items = await this.list(
      `eligibilityScheduleInstances/filterByCurrentUser(on='principal')?${byGroup(groupId)}`,
      'read your PIM eligibility',
      PIM_PERMISSIONS.eligibility,
    );
    return items.map(toEligibility).filter((e) => e.groupId === groupId);
  }

  async submit(input: PimScheduleRequestInput): Promise<PimRequest> {
    const body: Record<string, unknown> = {
      accessId: 'member',
      principalId: input.principalId,
      groupId: input.groupId,
      action: input.action,
    };
    if (input.justification !== undefined) body.justification = input.justification;
    if (input.ticket) body.ticketInfo = { ticketNumber: input.ticket, ticketSystem: 'ociaccess' };
    if (input.hours !== undefined) {
      body.scheduleInfo = {
        startDateTime: (input.startAt ?? this.clock.now()).toISOString(),
        expiration: { type: 'afterDuration', duration: durationOfHours(input.hours) },
      };
    }
    const answer = await this.graph.send({
      method: 'POST',
      url: `${PAG}/assignmentScheduleRequests`,
      body,
      what: `submit the PIM request (${input.action})`,
      permission: PIM_PERMISSIONS.write,
      mapOwnError: pimErrorOf,
    });
    return toPimRequest(answer);
  }

  async myRequests(groupId: string): Promise<PimRequest[]> {
    return this.requestsOf(
      groupId,
      `assignmentScheduleRequests/filterByCurrentUser(on='principal')?${byGroup(groupId)}`,
      'read your PIM requests',
    );
  }

  async groupRequests(groupId: string): Promise<PimRequest[]> {
    return this.requestsOf(groupId, `assignmentScheduleRequests?${byGroup(groupId)}`, "read the group's PIM requests");
  }

  async awaitingMyApproval(): Promise<PimRequest[]> {
    const items = await this.list(
      `assignmentScheduleRequests/filterByCurrentUser(on='approver')?${filter("status eq 'PendingApproval'")}`,
      'read the PIM requests waiting for your approval',
    );
    return items.map(toPimRequest);
  }

  async request(id: string): Promise<PimRequest | null> {
    try {
      const raw = await this.graph.send({
        method: 'GET',
        url: `${PAG}/assignmentScheduleRequests/${encodeURIComponent(id)}`,
        what: `read PIM request ${id}`,
        permission: PIM_PERMISSIONS.read,
        mapOwnError: pimErrorOf,
      });
      return toPimRequest(raw);
    } catch (error) {
      if (error instanceof UpstreamError && error.details?.status === 404) return null;
      throw error;
    }
  }

  async approval(approvalId: string): Promise<PimApproval> {
    const raw = await this.graph.send({
      method: 'GET',
      url: `${PAG}/assignmentApprovals/${encodeURIComponent(approvalId)}`,
      what: 'read the approval of the PIM request',
      permission: PIM_PERMISSIONS.read,
      mapOwnError: pimErrorOf,
    });
    const stages: any[] = Array.isArray(raw?.stages) ? raw.stages : [];
    return {
      id: String(raw?.id ?? approvalId),
      stages: stages.map((stage) => ({
        id: String(stage?.id ?? ''),
        status: text(stage?.status),
        reviewResult: text(stage?.reviewResult) || 'NotReviewed',
        assignedToMe: stage?.assignedToMe === true,
        ...(typeof stage?.reviewedBy?.id === 'string' ? { reviewedById: stage.reviewedBy.id } : {}),
        ...(dateOf(stage?.reviewedDateTime) ? { reviewedAt: dateOf(stage.reviewedDateTime) } : {}),
        ...(text(stage?.justification) ? { justification: text(stage.justification) } : {}),
      })),
    };
  }

  async decide(approvalId: string, stageId: string, result: 'Approve' | 'Deny', justification: string): Promise<void> {
    await this.graph.send({
      method: 'PATCH',
      url: `${PAG}/assignmentApprovals/${encodeURIComponent(approvalId)}/stages/${encodeURIComponent(stageId)}`,
      body: { reviewResult: result, justification },
      what: `${result === 'Approve' ? 'approve' : 'deny'} the PIM request`,
      permission: PIM_PERMISSIONS.write,
      mapOwnError: pimErrorOf,
    });
  }

  async cancel(requestId: string): Promise<void> {
    await this.graph.send({
      method: 'POST',
      url: `${PAG}/assignmentScheduleRequests/${encodeURIComponent(requestId)}/cancel`,
      what: 'cancel your PIM request',
      permission: PIM_PERMISSIONS.write,
      mapOwnError: pimErrorOf,
    });
  }

  async activeInstances(groupId: string): Promise<PimInstance[]> {
    return this.instancesOf(
      groupId,
      `assignmentScheduleInstances?${byGroup(groupId)}`,
      "read the group's active PIM assignments",
    );
  }

  async myActiveInstances(groupId: string): Promise<PimInstance[]> {
    return this.instancesOf(
      groupId,
      `assignmentScheduleInstances/filterByCurrentUser(on='principal')?${byGroup(groupId)}`,
      'read your active PIM assignments',
    );
  }
}

/** Membership only: an ownership assignment ("owner") never keeps anyone in the group's members. */
const isMembership = (raw: any) => raw?.accessId === undefined || raw.accessId === 'member';
