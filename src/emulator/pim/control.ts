/**
 * PIM's control routes (/_emulator/pim/…): what an admin sets in the portal's PIM blade —
 * a group governed by PIM with its membership policy, eligible members — and a read of
 * PIM's whole state for tests and the demo.
 */
import { randomUUID } from 'node:crypto';
import { json, parseJsonBody, route, type Route } from '../http.js';
import type { EntraGroup, World } from '../state.js';
import { durationMs } from './clock.js';
import { approvalJson, assignmentJson, eligibilityJson, policyAssignmentJson, requestJson } from './json.js';
import type { PimPolicy } from './state.js';

function badRequest(message: string) {
  return json(400, { error: 'bad_request', message });
}

function groupOf(world: World, ref: string): EntraGroup | undefined {
  const decoded = decodeURIComponent(ref);
  return world.groups.get(decoded) ?? world.groupByName(decoded);
}

function userIds(world: World, refs: unknown): string[] | string {
  if (refs === undefined) return [];
  if (!Array.isArray(refs) || refs.some((ref) => typeof ref !== 'string')) return 'must be a list of UPNs or ids';
  const ids: string[] = [];
  for (const ref of refs as string[]) {
    const user = world.userByIdOrUpn(ref);
    if (!user) return `unknown user ${ref}`;
    ids.push(user.id);
  }
  return ids;
}

export interface PolicyInput {
  /** ISO 8601 (maximumDuration) or hours. */
  maximumDuration?: unknown;
  maxHours?: unknown;
  isExpirationRequired?: unknown;
  approvalRequired?: unknown;
  approvers?: unknown;
  approverGroups?: unknown;
  justificationRequired?: unknown;
  ticketRequired?: unknown;
  approvalTimeoutDays?: unknown;
}

/** A policy from the control body; a message when something is wrong. */
export function policyFrom(world: World, body: PolicyInput): PimPolicy | string {
  let maximumDuration = 'PT8H';
  if (body.maxHours !== undefined) {
    if (typeof body.maxHours !== 'number' || !(body.maxHours > 0)) return '"maxHours" must be a positive number';
    maximumDuration = `PT${body.maxHours}H`;
  } else if (body.maximumDuration !== undefined) {
    if (typeof body.maximumDuration !== 'string' || !durationMs(body.maximumDuration))
      return '"maximumDuration" must be an ISO 8601 duration such as PT8H';
    maximumDuration = body.maximumDuration;
  }
  const approverUserIds = userIds(world, body.approvers);
  if (typeof approverUserIds === 'string') return `"approvers" ${approverUserIds}`;
  const groupRefs = body.approverGroups ?? [];
  if (!Array.isArray(groupRefs) || groupRefs.some((ref) => typeof ref !== 'string' || !groupOf(world, ref)))
    return '"approverGroups" must be a list of existing group ids or names';
  const approvalRequired = body.approvalRequired === true;
  if (approvalRequired && approverUserIds.length === 0 && groupRefs.length === 0)
    return 'an approval needs "approvers" or "approverGroups"';
  const timeout = body.approvalTimeoutDays ?? 1;
  if (typeof timeout !== 'number' || !(timeout > 0)) return '"approvalTimeoutDays" must be a positive number';
  return {
    maximumDuration,
    isExpirationRequired: body.isExpirationRequired !== false,
    enabledRules: [
      ...(body.justificationRequired === true ? ['Justification'] : []),
      ...(body.ticketRequired === true ? ['Ticketing'] : []),
    ],
    isApprovalRequired: approvalRequired,
    approverUserIds,
    approverGroupIds: (groupRefs as string[]).map((ref) => groupOf(world, ref)!.id),
    approvalStageTimeOutInDays: timeout,
  };
}

/** Makes a user eligible for a group's membership (an eligibility schedule), until `endDateTime` if given. */
export function makeEligible(world: World, groupId: string, userId: string, endDateTime?: number): void {
  for (const [id, existing] of world.pim.eligibilities)
    if (existing.groupId === groupId && existing.principalId === userId) world.pim.eligibilities.delete(id);
  const id = randomUUID();
  world.pim.eligibilities.set(id, { id, groupId, principalId: userId, startDateTime: world.now(), endDateTime });
}

export function pimState(world: World) {
  const pim = world.pim;
  return {
    now: world.nowIso(),
    policies: [...pim.policies].map(([groupId, policy]) => policyAssignmentJson(groupId, policy, true)),
    eligibilities: [...pim.eligibilities.values()].map(eligibilityJson),
    assignments: [...pim.assignments.values()].map((assignment) => ({
      ...assignmentJson(assignment),
      requestId: assignment.requestId,
      addedMember: assignment.addedMember,
    })),
    requests: [...pim.requests.values()].map(requestJson),
    approvals: [...pim.approvals.values()].map((approval) => ({
      ...approvalJson(world, approval, undefined),
      assignedTo: approval.stages.map((stage) => stage.assignedTo),
    })),
  };
}

export function pimControlRoutes(): Route[] {
  const group = String.raw`\/_emulator\/pim\/groups\/(?<group>[^/]+)`;
  return [
    route('control', 'GET', /^\/_emulator\/pim$/, (_req, emu) => json(200, pimState(emu.world))),
    // {maxHours | maximumDuration, isExpirationRequired, approvalRequired, approvers, approverGroups,
    //  justificationRequired, ticketRequired, approvalTimeoutDays}: the group is governed by PIM with this policy.
    route('control', 'PUT', new RegExp(`^${group}\\/policy$`), (req, emu) => {
      const target = groupOf(emu.world, req.params.group!);
      if (!target) return json(404, { error: 'not_found', message: `no group ${req.params.group}` });
      const policy = policyFrom(emu.world, parseJsonBody<PolicyInput>(req) ?? {});
      if (typeof policy === 'string') return badRequest(policy);
      emu.world.pim.policies.set(target.id, policy);
      return json(200, policyAssignmentJson(target.id, policy, true));
    }),
    route('control', 'DELETE', new RegExp(`^${group}\\/policy$`), (req, emu) => {
      const target = groupOf(emu.world, req.params.group!);
      if (!target) return json(404, { error: 'not_found', message: `no group ${req.params.group}` });
      emu.world.pim.policies.delete(target.id);
      return { status: 204 };
    }),
    // {user, endDateTime?}: the user may activate the group's membership (until endDateTime).
    route('control', 'POST', new RegExp(`^${group}\\/eligible$`), (req, emu) => {
      const target = groupOf(emu.world, req.params.group!);
      if (!target) return json(404, { error: 'not_found', message: `no group ${req.params.group}` });
      const body = parseJsonBody<{ user?: unknown; endDateTime?: unknown }>(req) ?? {};
      const user = typeof body.user === 'string' ? emu.world.userByIdOrUpn(body.user) : undefined;
      if (!user) return badRequest('"user" must name an existing user (UPN or id)');
      let end: number | undefined;
      if (body.endDateTime !== undefined) {
        end = typeof body.endDateTime === 'string' ? Date.parse(body.endDateTime) : NaN;
        if (Number.isNaN(end)) return badRequest('"endDateTime" must be an ISO 8601 date');
      }
      makeEligible(emu.world, target.id, user.id, end);
      return json(200, { groupId: target.id, userId: user.id, endDateTime: end ? new Date(end).toISOString() : null });
    }),
    route('control', 'DELETE', new RegExp(`^${group}\\/eligible\\/(?<user>[^/]+)$`), (req, emu) => {
      const target = groupOf(emu.world, req.params.group!);
      const user = emu.world.userByIdOrUpn(decodeURIComponent(req.params.user!));
      if (!target || !user) return json(404, { error: 'not_found', message: 'no such group or user' });
      for (const [id, existing] of emu.world.pim.eligibilities)
        if (existing.groupId === target.id && existing.principalId === user.id) emu.world.pim.eligibilities.delete(id);
      return { status: 204 };
    }),
  ];
}
