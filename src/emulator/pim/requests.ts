/**
 * What a privilegedAccessGroupAssignmentScheduleRequest does, by action: checks the policy
 * (expiration, justification, ticket, approval), eligibility and the current assignment, then
 * provisions, revokes, extends or waits for approval. Errors are Graph's codes for PIM
 * (docs/pim.md; docs/emulator.md "PIM for Groups" names each source and choice).
 */
import { randomUUID } from 'node:crypto';
import type { World } from '../state.js';
import { durationMs } from './clock.js';
import type { PimAction, PimAssignment, PimRequest, PimScheduleInfo } from './state.js';

export interface PimFailure {
  status: number;
  code: string;
  message: string;
}

const fail = (code: string, message: string, status = 400): PimFailure => ({ status, code, message });

/** Deactivation is refused this soon after activation (ActiveDurationTooShort). */
export const MINIMUM_ACTIVE_MS = 5 * 60_000;

export const ACTIONS: readonly PimAction[] = [
  'selfActivate',
  'selfDeactivate',
  'selfExtend',
  'adminAssign',
  'adminRemove',
  'adminExtend',
];

export interface RequestInput {
  action: PimAction;
  groupId: string;
  principalId: string;
  justification: string | null;
  ticketInfo: { ticketNumber: string | null; ticketSystem: string | null };
  scheduleInfo: PimScheduleInfo | null;
  customData: string | null;
  createdBy: { userId?: string; appId?: string };
}

/** Reads scheduleInfo: start (now when absent) and expiration; a string on failure. */
export function parseScheduleInfo(raw: unknown, now: number): PimScheduleInfo | null | string {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object') return 'scheduleInfo must be an object.';
  const info = raw as { startDateTime?: unknown; expiration?: unknown };
  let start = now;
  if (info.startDateTime !== undefined && info.startDateTime !== null) {
    const parsed = typeof info.startDateTime === 'string' ? Date.parse(info.startDateTime) : NaN;
    if (Number.isNaN(parsed)) return 'scheduleInfo.startDateTime is not a valid date.';
    start = Math.max(parsed, now);
  }
  const expiration = (info.expiration ?? { type: 'noExpiration' }) as {
    type?: unknown;
    duration?: unknown;
    endDateTime?: unknown;
  };
  const type = typeof expiration.type === 'string' ? expiration.type : 'noExpiration';
  if (type.toLowerCase() === 'afterduration') {
    const ms = typeof expiration.duration === 'string' ? durationMs(expiration.duration) : undefined;
    if (ms === undefined || ms <= 0) return 'scheduleInfo.expiration.duration is not a valid ISO 8601 duration.';
    return { startDateTime: start, expiration: { type: 'afterDuration', duration: expiration.duration as string } };
  }
  if (type.toLowerCase() === 'afterdatetime') {
    const end = typeof expiration.endDateTime === 'string' ? Date.parse(expiration.endDateTime) : NaN;
    if (Number.isNaN(end)) return 'scheduleInfo.expiration.endDateTime is not a valid date.';
    return { startDateTime: start, expiration: { type: 'afterDateTime', endDateTime: end } };
  }
  if (type.toLowerCase() === 'noexpiration') return { startDateTime: start, expiration: { type: 'noExpiration' } };
  return `scheduleInfo.expiration.type '${type}' is not valid.`;
}

/** The end a schedule gives, or undefined for none. */
export function endOf(schedule: PimScheduleInfo): number | undefined {
  const { expiration } = schedule;
  if (expiration.type === 'afterDuration') return schedule.startDateTime + durationMs(expiration.duration!)!;
  if (expiration.type === 'afterDateTime') return expiration.endDateTime;
  return undefined;
}

/** The end-user rules of the group's policy that the request breaks (selfActivate, selfExtend). */
function failedRules(world: World, input: RequestInput): string[] {
  const policy = world.pim.policies.get(input.groupId);
  if (!policy) return [];
  const failed: string[] = [];
  const schedule = input.scheduleInfo;
  const end = schedule ? endOf(schedule) : undefined;
  const maximum = durationMs(policy.maximumDuration);
  if (!schedule || end === undefined) {
    if (policy.isExpirationRequired) failed.push('ExpirationRule');
  } else if (maximum !== undefined && end - schedule.startDateTime > maximum) failed.push('ExpirationRule');
  if (policy.enabledRules.includes('Justification') && !input.justification?.trim()) failed.push('JustificationRule');
  if (policy.enabledRules.includes('Ticketing') && !input.ticketInfo.ticketNumber?.trim()) failed.push('TicketingRule');
  return failed;
}

/** User ids a stage is assigned to: single users, and the members of approver groups now. */
function approversOf(world: World, groupId: string): string[] {
  const policy = world.pim.policies.get(groupId);
  if (!policy) return [];
  const ids = new Set(policy.approverUserIds);
  for (const approverGroup of policy.approverGroupIds)
    for (const member of world.groups.get(approverGroup)?.members ?? []) if (world.users.has(member)) ids.add(member);
  return [...ids];
}

function newRequest(world: World, input: RequestInput): PimRequest {
  return {
    id: randomUUID(),
    action: input.action,
    groupId: input.groupId,
    principalId: input.principalId,
    accessId: 'member',
    status: 'Granted',
    justification: input.justification,
    ticketInfo: input.ticketInfo,
    scheduleInfo: input.scheduleInfo,
    createdDateTime: world.now(),
    completedDateTime: null,
    createdBy: input.createdBy,
    approvalId: null,
    targetScheduleId: null,
    customData: input.customData,
  };
}

/** Starts (or schedules) the membership a granted activation or assignment gives. */
function provision(world: World, request: PimRequest): void {
  const now = world.now();
  const schedule = request.scheduleInfo ?? { startDateTime: now, expiration: { type: 'noExpiration' as const } };
  const assignment: PimAssignment = {
    id: `${request.groupId}_member_${request.id}`,
    groupId: request.groupId,
    principalId: request.principalId,
    startDateTime: schedule.startDateTime,
    endDateTime: endOf(schedule),
    assignmentType: request.action === 'selfActivate' ? 'Activated' : 'Assigned',
    requestId: request.id,
    addedMember: false,
  };
  world.pim.assignments.set(assignment.id, assignment);
  request.targetScheduleId = assignment.id;
  request.completedDateTime = now;
  request.status = assignment.startDateTime <= now ? 'Provisioned' : 'ScheduleCreated';
  const group = world.groups.get(request.groupId);
  if (group && assignment.startDateTime <= now && !group.members.has(request.principalId)) {
    group.members.add(request.principalId);
    assignment.addedMember = true;
  }
}

/** Moves the active assignment's end to the one the extension asks for. */
function extend(world: World, request: PimRequest): void {
  const now = world.now();
  const assignment = world.pim.currentOrScheduled(request.groupId, request.principalId, now);
  request.completedDateTime = now;
  if (!assignment) {
    request.status = 'Failed';
    return;
  }
  assignment.endDateTime = request.scheduleInfo ? endOf(request.scheduleInfo) : undefined;
  request.targetScheduleId = assignment.id;
  request.status = 'Provisioned';
}

/** Ends a membership now: the assignment goes and the member it added leaves the group. */
export function revoke(world: World, assignment: PimAssignment): void {
  if (assignment.addedMember) world.groups.get(assignment.groupId)?.members.delete(assignment.principalId);
  world.pim.assignments.delete(assignment.id);
}

/** Completes an approved request (approval given): provisions or extends. */
export function completeApproved(world: World, request: PimRequest): void {
  if (request.action === 'selfExtend') extend(world, request);
  else provision(world, request);
}

/** Creates the request and does what it asks, or says why not. */
export function submitRequest(world: World, input: RequestInput): PimRequest | PimFailure {
  const now = world.now();
  const pim = world.pim;
  const { groupId, principalId } = input;
  const active = pim.currentOrScheduled(groupId, principalId, now);
  switch (input.action) {
    case 'selfActivate':
    case 'selfExtend': {
      if (!pim.isEligible(groupId, principalId, now))
        return fail(
          'RoleEligibilityScheduleDoesNotExist',
          'The principal does not have an eligible membership of this group to activate.',
        );
      if (input.action === 'selfActivate' && active)
        return fail('RoleAssignmentExists', 'The Role assignment already exists.');
      if (input.action === 'selfExtend' && !active)
        return fail('RoleAssignmentDoesNotExist', 'The Role assignment does not exist.');
      if (pim.pendingRequest(groupId, principalId))
        return fail('PendingRoleAssignmentRequest', 'There is already an existing pending Role assignment request.');
      const failed = failedRules(world, input);
      if (failed.length > 0)
        return fail(
          'RoleAssignmentRequestPolicyValidationFailed',
          `The following policy rules failed: [${failed.map((rule) => `"${rule}"`).join(',')}]`,
        );
      const request = newRequest(world, input);
      pim.requests.set(request.id, request);
      const policy = pim.policies.get(groupId);
      if (policy?.isApprovalRequired) {
        request.status = 'PendingApproval';
        request.approvalId = request.id;
        pim.approvals.set(request.id, {
          id: request.id,
          requestId: request.id,
          stages: [
            {
              id: randomUUID(),
              assignedTo: approversOf(world, groupId),
              status: 'InProgress',
              reviewResult: 'NotReviewed',
              reviewedBy: null,
              reviewedDateTime: null,
              justification: '',
            },
          ],
          expiresAt: now + policy.approvalStageTimeOutInDays * 86_400_000,
        });
        return request;
      }
      completeApproved(world, request);
      return request;
    }
    case 'adminAssign': {
      if (active) return fail('RoleAssignmentExists', 'The Role assignment already exists.');
      const request = newRequest(world, input);
      pim.requests.set(request.id, request);
      provision(world, request);
      return request;
    }
    case 'adminExtend': {
      if (!active) return fail('RoleAssignmentDoesNotExist', 'The Role assignment does not exist.');
      const request = newRequest(world, input);
      pim.requests.set(request.id, request);
      extend(world, request);
      return request;
    }
    case 'selfDeactivate':
    case 'adminRemove': {
      if (!active) return fail('RoleAssignmentDoesNotExist', 'The Role assignment does not exist.');
      if (input.action === 'selfDeactivate' && now - active.startDateTime < MINIMUM_ACTIVE_MS)
        return fail('ActiveDurationTooShort', 'The Active duration is too short. Miniumum Required is 5 minutes.');
      const request = newRequest(world, input);
      pim.requests.set(request.id, request);
      revoke(world, active);
      request.status = 'Revoked';
      request.targetScheduleId = active.id;
      request.completedDateTime = now;
      return request;
    }
  }
}
