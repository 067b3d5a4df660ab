/**
 * PIM's requests and active assignments shown as the records backend shows
 * its requests (RequestView: an AccessRequest and its GrantView), so that
 * `status`, `list`, `approve` and `revoke` render both backends alike. The
 * state comes from PIM's status, and for a granted activation from whether
 * an active assignment still holds it.
 */
import type { GroupConfig } from '../../config/schema.js';
import type { DirectoryUser } from '../ports.js';
import type { GrantView, RequestState } from '../grants.js';
import type { RequestView } from '../lifecycle.js';
import { PIM_APPROVER, type AccessRequest, type Decision } from '../records.js';
import { PIM_GRANTED_STATUSES, PIM_PENDING_STATUSES, type PimInstance, type PimRequest } from './port.js';

const HOUR = 3600_000;

/** The actions whose request asks for membership (the others end or remove it). */
export const GRANTING_ACTIONS: ReadonlySet<string> = new Set([
  'selfActivate',
  'selfExtend',
  'adminAssign',
  'adminExtend',
]);
const ENDING_ACTIONS: ReadonlySet<string> = new Set(['selfDeactivate', 'adminRemove']);

const CLOSED_STATE: Record<string, RequestState> = {
  Denied: 'denied',
  Canceled: 'cancelled',
  Revoked: 'revoked',
  TimedOut: 'timed-out',
};

export function accessRequestOf(request: PimRequest): AccessRequest {
  const hours =
    request.hours ??
    (request.endAt && request.startAt ? (request.endAt.getTime() - request.startAt.getTime()) / HOUR : 0);
  return {
    id: request.id,
    groupId: request.groupId,
    requesterId: request.principalId,
    hours,
    justification: request.justification,
    ...(request.ticket ? { ticket: request.ticket } : {}),
    requestedAt: request.createdAt,
    ...(request.status === 'Failed' ? { invalid: 'PIM marked it Failed' } : {}),
  };
}

/** The decision a granted request stands for: PIM's (its approver is PIM_APPROVER; PIM keeps who approved). */
function pimDecision(request: PimRequest, kind: Decision['kind'], expiresAt?: Date): Decision {
  const decidedAt = request.completedAt ?? request.startAt ?? request.createdAt;
  return {
    requestId: request.id,
    requesterId: request.principalId,
    groupId: request.groupId,
    kind,
    approverId: PIM_APPROVER,
    decidedAt,
    ...(expiresAt ? { expiresAt } : {}),
    ...(request.hours !== undefined ? { hours: request.hours } : {}),
  };
}

/**
 * What a granting request has become, given the principal's active
 * assignments now and the requests that ended an assignment after it.
 */
export function grantOfPimRequest(
  request: PimRequest,
  context: { instances: readonly PimInstance[]; endings: readonly PimRequest[]; now: Date },
): GrantView {
  if (request.status === 'Failed') return { state: 'invalid' };
  if (PIM_PENDING_STATUSES.has(request.status)) return { state: 'pending' };
  const closed = CLOSED_STATE[request.status];
  if (closed && closed !== 'revoked')
    return { state: closed, ...(closed === 'denied' ? { decision: pimDecision(request, 'denied') } : {}) };
  if (!PIM_GRANTED_STATUSES.has(request.status) && !closed) return { state: 'pending' };
  const start = request.startAt ?? request.completedAt ?? request.createdAt;
  const planned =
    request.endAt ?? (request.hours !== undefined ? new Date(start.getTime() + request.hours * HOUR) : undefined);
  const active = context.instances.find(
    (instance) =>
      instance.principalId === request.principalId && (instance.endAt === null || instance.endAt > context.now),
  );
  if (active && (planned === undefined || planned > context.now)) {
    const expiresAt = active.endAt ?? planned;
    return {
      state: 'approved',
      decision: pimDecision(request, 'approved', expiresAt),
      ...(expiresAt ? { expiresAt } : {}),
    };
  }
  const ending = context.endings.find((end) => end.principalId === request.principalId && end.createdAt >= start);
  if (closed === 'revoked' || (ending && (planned === undefined || ending.createdAt < planned))) {
    const at = ending?.createdAt ?? request.completedAt ?? start;
    return { state: 'revoked', decision: pimDecision(request, 'revoked'), endedAt: at };
  }
  const end = planned ?? start;
  return { state: 'expired', decision: pimDecision(request, 'approved', end), expiresAt: end, endedAt: end };
}

/** The requests that ended an assignment (deactivations and removals PIM carried out). */
export const endingsOf = (requests: readonly PimRequest[]) =>
  requests.filter((request) => ENDING_ACTIONS.has(request.action) && request.status === 'Revoked');

/**
 * Views of a group's granting requests, plus one for each active assignment
 * no request of theirs explains (an admin's assignment in the portal).
 */
export function pimViews(
  group: GroupConfig,
  requests: readonly PimRequest[],
  instances: readonly PimInstance[],
  people: ReadonlyMap<string, Pick<DirectoryUser, 'id' | 'userPrincipalName' | 'displayName'>>,
  now: Date,
): RequestView[] {
  const endings = endingsOf(requests);
  const requesterOf = (id: string) => people.get(id) ?? { id, userPrincipalName: id, displayName: id };
  const views: RequestView[] = [];
  for (const request of requests) {
    if (!GRANTING_ACTIONS.has(request.action) || request.groupId !== group.entraGroupId) continue;
    const grant = grantOfPimRequest(request, { instances, endings, now });
    views.push({
      request: accessRequestOf(request),
      requester: requesterOf(request.principalId),
      group,
      grant,
      decidedBy: 'PIM',
    });
  }
  for (const instance of instances) {
    if (views.some((v) => v.requester.id === instance.principalId && v.grant.state === 'approved')) continue;
    views.push(instanceView(group, instance, requesterOf(instance.principalId)));
  }
  return views;
}

/** An active assignment shown as a grant (its id is the instance's). */
export function instanceView(
  group: GroupConfig,
  instance: PimInstance,
  requester: RequestView['requester'],
): RequestView {
  const hours = instance.endAt ? (instance.endAt.getTime() - instance.startAt.getTime()) / HOUR : 0;
  const request: AccessRequest = {
    id: instance.id,
    groupId: instance.groupId,
    requesterId: instance.principalId,
    hours,
    justification: `(${instance.assignmentType === 'activated' ? 'activated' : 'assigned'} in PIM${instance.endAt ? '' : ', permanent'})`,
    requestedAt: instance.startAt,
  };
  const decision: Decision = {
    requestId: instance.id,
    requesterId: instance.principalId,
    groupId: instance.groupId,
    kind: 'approved',
    approverId: PIM_APPROVER,
    decidedAt: instance.startAt,
    ...(instance.endAt ? { expiresAt: instance.endAt } : {}),
  };
  return {
    request,
    requester,
    group,
    grant: { state: 'approved', decision, ...(instance.endAt ? { expiresAt: instance.endAt } : {}) },
    decidedBy: 'PIM',
  };
}
