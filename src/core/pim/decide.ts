/**
 * `approve` and `deny` for a pim group: the approval stage PIM assigned to
 * the signed-in approver is decided (PATCH …/assignmentApprovals/{id}/stages/{id}).
 * PIM refuses self-approval itself; the CLI refuses it first too, and also
 * refuses an approval longer than the config's maxHours, so a group's
 * config stays a bound whatever its PIM policy says.
 */
import type { GroupConfig } from '../../config/schema.js';
import { CancelledError, PolicyError, quoteInput, type Problem } from '../../errors.js';
import type { CoreDeps } from '../deps.js';
import type { DomainEvent } from '../events.js';
import {
  actorOf,
  afterChange,
  eventBase,
  localDecision,
  personOf,
  problemDetails,
  recordOutcome,
  type DecideInput,
  type DecideResult,
  type RequestView,
} from '../lifecycle.js';
import type { Decision } from '../records.js';
import { requirePim } from './policy.js';
import { PIM_GRANTED_STATUSES, PIM_PENDING_STATUSES, type PimApprovalStage, type PimRequest } from './port.js';
import { accessRequestOf } from './views.js';

const HOUR = 3600_000;

export interface PimDecideResult extends DecideResult {
  backend: 'pim';
  /** PIM's status of the request after the decision (Provisioned, Denied, PendingApproval while later stages wait). */
  pimStatus: string;
}

/** The request the id names, in one of these pim groups; refused otherwise. */
async function locatePim(
  deps: CoreDeps,
  groups: GroupConfig[],
  requestId: string,
): Promise<{ group: GroupConfig; request: PimRequest }> {
  const pimGroups = groups.filter((g) => g.backend === 'pim');
  const found = pimGroups.length > 0 ? await requirePim(deps, pimGroups[0]!).request(requestId) : null;
  const group = found && pimGroups.find((g) => g.entraGroupId === found.groupId);
  if (!found || !group) {
    throw new PolicyError('REQUEST_NOT_FOUND', `No PIM request with id ${quoteInput(requestId)} in a managed group.`, {
      hint: 'Run `ociaccess list --pending` to see the requests waiting for you.',
    });
  }
  return { group, request: found };
}

/** The stage PIM assigned to the signed-in user that is still open. */
const openStageOf = (stages: readonly PimApprovalStage[]) =>
  stages.find((s) => s.assignedToMe && s.reviewResult === 'NotReviewed' && s.status !== 'Completed');

export async function decidePim(
  deps: CoreDeps,
  input: DecideInput,
  kind: 'approved' | 'denied',
): Promise<PimDecideResult> {
  await deps.state.readLocal();
  const me = await deps.directory.me();
  const { group, request: pimRequest } = await locatePim(deps, input.groups, input.requestId);
  const pim = requirePim(deps, group);
  const verb = kind === 'approved' ? 'approve' : 'deny';
  const request = accessRequestOf(pimRequest);
  const requester = (await deps.directory.getUser(pimRequest.principalId)) ?? {
    id: pimRequest.principalId,
    userPrincipalName: pimRequest.principalId,
    displayName: pimRequest.principalId,
  };
  if (pimRequest.principalId === me.id || pimRequest.createdById === me.id) {
    throw new PolicyError('SELF_APPROVAL', `You cannot ${verb} your own request ${pimRequest.id}.`, {
      hint: `Ask another approver named in ${group.name}'s PIM policy.`,
    });
  }
  if (!PIM_PENDING_STATUSES.has(pimRequest.status) || !pimRequest.approvalId) {
    throw new PolicyError(
      'REQUEST_NOT_PENDING',
      `Request ${pimRequest.id} is ${pimRequest.status || 'not pending'} in PIM; only pending requests can be ${kind}.`,
      { hint: 'The requester can make a new request.' },
    );
  }
  if (kind === 'approved' && request.hours > group.maxHours) {
    throw new PolicyError(
      'DURATION_TOO_LONG',
      `Request ${pimRequest.id} asks for ${request.hours} hours; ${group.name} allows at most ${group.maxHours}.`,
      { hint: 'Deny it and ask the requester for a shorter one.' },
    );
  }
  const approval = await pim.approval(pimRequest.approvalId);
  const stage = openStageOf(approval.stages);
  if (!stage) {
    throw new PolicyError(
      'NOT_AN_APPROVER',
      `PIM assigns no open approval stage of request ${pimRequest.id} to ${me.userPrincipalName}.`,
      {
        hint: `The approvers are named in ${group.name}'s PIM policy; see \`ociaccess list --pending\` for what waits for you.`,
      },
    );
  }
  const view: RequestView = { request, requester, group, grant: { state: 'pending' } };
  if (input.confirm && !(await input.confirm(view))) throw new CancelledError();
  const now = deps.clock.now();
  const decision: Decision = {
    requestId: pimRequest.id,
    requesterId: pimRequest.principalId,
    groupId: group.entraGroupId,
    kind,
    approverId: me.id,
    decidedAt: now,
    ...(kind === 'approved' ? { expiresAt: new Date(now.getTime() + request.hours * HOUR), hours: request.hours } : {}),
    ...(input.reason ? { reason: input.reason } : {}),
  };
  const base = {
    ...eventBase(group, actorOf(me), now),
    requester: personOf(requester),
    requestId: pimRequest.id,
    reason: input.reason,
  };
  const announced: DomainEvent =
    kind === 'denied'
      ? { ...base, type: 'request.denied' }
      : {
          ...base,
          type: 'request.approved',
          hours: request.hours,
          expiresAt: decision.expiresAt!.toISOString(),
          auto: false,
        };
  await deps.events.intend(announced);
  await pim.decide(
    pimRequest.approvalId,
    stage.id,
    kind === 'approved' ? 'Approve' : 'Deny',
    input.reason ?? (kind === 'approved' ? 'Approved with ociaccess' : 'Denied with ociaccess'),
  );
  const problems: Problem[] = [];
  await afterChange(problems, 'STATE_NOT_WRITTEN', () =>
    deps.state.recordDecisions([localDecision(request, requester, group, decision)]),
  );
  // What PIM made of it (a later stage may still wait): read back, never assumed.
  // A failed read costs only the status shown: the decision is made.
  const after = await pim.request(pimRequest.id).catch(() => null);
  const pimStatus = after?.status ?? (kind === 'approved' ? 'Provisioned' : 'Denied');
  const result: PimDecideResult = { backend: 'pim', request, requester, group, decision, pimStatus, problems };
  const events: DomainEvent[] = [];
  if (kind === 'approved' && PIM_GRANTED_STATUSES.has(pimStatus)) {
    // Entra adds the member when PIM provisions the activation.
    result.membership = 'added';
    if (input.provisionNow) {
      try {
        await deps.directory.provisionOnDemand(group.entraGroupId, [requester.id]);
        result.provisionedOnDemand = true;
      } catch (error) {
        result.provisionedOnDemand = false;
        result.provisionError = (error as Error).message;
      }
    }
    events.push(
      {
        ...(announced as Extract<DomainEvent, { type: 'request.approved' }>),
        membership: 'added',
        ...(result.provisionError ? { provisionOnDemandError: result.provisionError } : {}),
        ...problemDetails(problems),
      },
      {
        ...eventBase(group, actorOf(me), deps.clock.now()),
        type: 'member.added',
        member: personOf(requester),
        requestId: pimRequest.id,
        membership: 'added',
        cause: 'approval',
        expiresAt: decision.expiresAt!.toISOString(),
      },
    );
  } else {
    events.push({ ...announced, ...problemDetails(problems) } as DomainEvent);
  }
  await recordOutcome(deps, problems, events);
  return result;
}
