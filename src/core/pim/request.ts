/**
 * `request`, `list` and `status` for a pim group. Entra's PIM holds the
 * request and its approval: the CLI checks eligibility and the policy first
 * (so a refusal names the policy's limits before anything is sent), submits a
 * self-activation, and tells the same domain events as the records backend,
 * so the audit log and notifications work unchanged.
 */
import type { GroupConfig } from '../../config/schema.js';
import { PolicyError, type Problem } from '../../errors.js';
import type { CoreDeps } from '../deps.js';
import type { DomainEvent } from '../events.js';
import type { RequestState } from '../grants.js';
import {
  actorOf,
  eventBase,
  noteLocalRequest,
  personOf,
  problemDetails,
  recordOutcome,
  type RequestAccessInput,
  type RequestAccessResult,
  type RequestView,
  type StatusEntry,
} from '../lifecycle.js';
import { UNKNOWN, ociMembershipFromHere, readOciOrProblem, type OciProblem } from '../oci-check.js';
import type { DirectoryUser } from '../ports.js';
import { checkAgainstPolicy, governingPolicy, requirePim, rewordRefusal } from './policy.js';
import { PIM_GRANTED_STATUSES, PIM_PENDING_STATUSES, type PimPolicy, type PimPort } from './port.js';
import { accessRequestOf, pimViews } from './views.js';

const HOUR = 3600_000;

export interface PimRequestResult extends RequestAccessResult {
  backend: 'pim';
  /** pending (PIM waits for an approver) or approved (the policy needs none: Entra added the member). */
  state: RequestState;
  /** PIM's own status of the request (PendingApproval, Provisioned, …). */
  pimStatus: string;
  /** For an approved one: when PIM ends it. */
  expiresAt?: Date;
  /** Who the group's PIM policy names as approvers (their UPNs where they could be read). */
  approvers: string[];
}

/** The UPNs of the policy's approvers (ids where a user cannot be read; groups named as such). */
export async function approverNames(deps: CoreDeps, policy: PimPolicy): Promise<string[]> {
  const found = policy.approverIds.length > 0 ? await deps.directory.getUsers(policy.approverIds) : new Map();
  return [
    ...policy.approverIds.map((id) => found.get(id)?.userPrincipalName ?? id),
    ...policy.approverGroupIds.map((id) => `members of group ${id}`),
  ];
}

/** Refuses someone PIM holds no eligibility for now, and a request PIM would refuse as pending or already active. */
async function checkMyStanding(pim: PimPort, group: GroupConfig, me: DirectoryUser, now: Date): Promise<void> {
  const [eligibility, requests, active] = await Promise.all([
    pim.myEligibility(group.entraGroupId),
    pim.myRequests(group.entraGroupId),
    pim.myActiveInstances(group.entraGroupId),
  ]);
  const eligibleNow = eligibility.some(
    (e) => (e.startAt === null || e.startAt <= now) && (e.endAt === null || e.endAt > now),
  );
  if (!eligibleNow) {
    throw new PolicyError(
      'NOT_ELIGIBLE',
      `PIM holds no eligibility of ${me.userPrincipalName} for membership of ${group.name}.`,
      {
        hint: `Ask a PIM administrator to make you eligible for ${group.name} (Privileged Identity Management > Groups).`,
      },
    );
  }
  const pending = requests.find((r) => PIM_PENDING_STATUSES.has(r.status));
  if (pending) {
    throw new PolicyError(
      'REQUEST_ALREADY_PENDING',
      `You already have a pending request ${pending.id} for ${group.name}.`,
      { hint: 'Wait for an approver, or withdraw it with `ociaccess revoke` and request again.' },
    );
  }
  const current = active.find((i) => i.endAt === null || i.endAt > now);
  if (current) {
    throw new PolicyError(
      'PIM_ALREADY_ACTIVE',
      `Your membership of ${group.name} is already active${current.endAt ? ` until ${current.endAt.toISOString()}` : ''}.`,
      { hint: 'Lengthen it with `ociaccess extend --hours H -j "…"`.' },
    );
  }
}

export async function requestPimAccess(deps: CoreDeps, input: RequestAccessInput): Promise<PimRequestResult> {
  const { group } = input;
  const pim = requirePim(deps, group);
  await deps.state.readLocal();
  const me = await deps.directory.me();
  const policy = await governingPolicy(pim, group);
  checkAgainstPolicy(group, policy, input);
  const now = deps.clock.now();
  await checkMyStanding(pim, group, me, now);
  const approvers = await approverNames(deps, policy);
  const announced: DomainEvent = {
    ...eventBase(group, actorOf(me), now),
    type: 'request.created',
    requester: personOf(me),
    requestId: '(assigned by PIM)',
    hours: input.hours,
    justification: input.justification,
    ...(input.ticket ? { ticket: input.ticket } : {}),
    autoApprovable: !policy.approvalRequired,
    approvers,
  };
  // Fail closed, as for records: a request that cannot be audited is not sent.
  await deps.events.intend(announced);
  let submitted;
  try {
    submitted = await pim.submit({
      action: 'selfActivate',
      principalId: me.id,
      groupId: group.entraGroupId,
      justification: input.justification,
      ...(input.ticket ? { ticket: input.ticket } : {}),
      hours: input.hours,
      startAt: now,
    });
  } catch (error) {
    throw rewordRefusal(error, group, policy);
  }
  const request = accessRequestOf(submitted);
  const granted = PIM_GRANTED_STATUSES.has(submitted.status);
  const state: RequestState = granted ? 'approved' : submitted.status === 'Denied' ? 'denied' : 'pending';
  const expiresAt = granted ? new Date((submitted.startAt ?? now).getTime() + input.hours * HOUR) : undefined;
  const problems: Problem[] = [];
  await noteLocalRequest(deps, problems, {
    id: submitted.id,
    group,
    requester: me,
    input,
    requestedAt: now,
    status: granted ? 'approved' : 'pending',
    ...(expiresAt ? { expiresAt } : {}),
  });
  const created: DomainEvent = { ...announced, requestId: submitted.id };
  const outcome: DomainEvent[] = [{ ...created, ...problemDetails(problems) } as DomainEvent];
  if (granted && expiresAt) {
    // The policy needs no approval: PIM granted it and Entra added the member.
    const base = eventBase(group, actorOf(me), deps.clock.now());
    outcome.push(
      {
        ...base,
        type: 'request.approved',
        requester: personOf(me),
        requestId: submitted.id,
        hours: input.hours,
        expiresAt: expiresAt.toISOString(),
        auto: true,
        reason: "PIM: the group's policy requires no approval",
        membership: 'added',
      },
      {
        ...base,
        type: 'member.added',
        member: personOf(me),
        requestId: submitted.id,
        membership: 'added',
        cause: 'auto-approval',
        expiresAt: expiresAt.toISOString(),
      },
    );
  }
  await recordOutcome(deps, problems, outcome);
  return {
    backend: 'pim',
    request,
    requester: me,
    autoApprovable: !policy.approvalRequired,
    state,
    pimStatus: submitted.status,
    ...(expiresAt ? { expiresAt } : {}),
    approvers,
    problems,
  };
}

// ---------------------------------------------------------------- list

/**
 * For approvers: the requests PIM says wait for the signed-in user's
 * approval (pending), and each group's requests and active assignments
 * (approved and closed states).
 */
export async function listPimRequests(
  deps: CoreDeps,
  input: { groups: GroupConfig[]; states?: Set<RequestState> },
): Promise<RequestView[]> {
  if (input.groups.length === 0) return [];
  const pim = requirePim(deps, input.groups[0]!);
  const now = deps.clock.now();
  const wants = (state: RequestState) => !input.states || input.states.has(state);
  const byId = new Map(input.groups.map((g) => [g.entraGroupId, g]));
  const found: {
    group: GroupConfig;
    requests: Awaited<ReturnType<PimPort['groupRequests']>>;
    instances: Awaited<ReturnType<PimPort['activeInstances']>>;
  }[] = [];
  if (wants('pending')) {
    const waiting = (await pim.awaitingMyApproval()).filter((r) => byId.has(r.groupId));
    for (const group of input.groups) {
      const requests = waiting.filter((r) => r.groupId === group.entraGroupId);
      if (requests.length > 0) found.push({ group, requests, instances: [] });
    }
  }
  const others = input.states ? [...input.states].some((s) => s !== 'pending') : true;
  if (others) {
    for (const group of input.groups) {
      const [requests, instances] = await Promise.all([
        pim.groupRequests(group.entraGroupId),
        pim.activeInstances(group.entraGroupId),
      ]);
      // Pending ones come from the approver's own view above (PIM's "waiting for me").
      found.push({ group, requests: requests.filter((r) => !PIM_PENDING_STATUSES.has(r.status)), instances });
    }
  }
  const principalIds = [
    ...new Set(
      found.flatMap((f) => [...f.requests.map((r) => r.principalId), ...f.instances.map((i) => i.principalId)]),
    ),
  ];
  const people = await deps.directory.getUsers(principalIds);
  const views = found.flatMap((f) => pimViews(f.group, f.requests, f.instances, people, now));
  const unique = new Map(views.map((v) => [`${v.request.id}:${v.requester.id}`, v]));
  return [...unique.values()]
    .filter((v) => wants(v.grant.state))
    .sort((a, b) => a.request.requestedAt.getTime() - b.request.requestedAt.getTime());
}

// ---------------------------------------------------------------- status

/** The signed-in user's PIM requests and active assignments in these groups, with OCI's view as for records. */
export async function myPimStatus(
  deps: CoreDeps,
  groups: GroupConfig[],
  options: { checkOci: boolean; me?: DirectoryUser },
): Promise<{ me: DirectoryUser; entries: StatusEntry[]; ociProblems: OciProblem[] }> {
  const me = options.me ?? (await deps.directory.me());
  const entries: StatusEntry[] = [];
  const ociProblems: OciProblem[] = [];
  const now = deps.clock.now();
  for (const group of groups) {
    const pim = requirePim(deps, group);
    const [requests, instances] = await Promise.all([
      pim.myRequests(group.entraGroupId),
      pim.myActiveInstances(group.entraGroupId),
    ]);
    const mine = pimViews(group, requests, instances, new Map([[me.id, me]]), now);
    entries.push(...mine);
    if (options.checkOci && mine.some((e) => ['approved', 'expired', 'revoked'].includes(e.grant.state))) {
      const oci =
        (await readOciOrProblem(group, ociProblems, () => ociMembershipFromHere(deps, group, me.userPrincipalName))) ??
        UNKNOWN;
      for (const entry of mine) (entry as StatusEntry).oci = oci;
    }
  }
  entries.sort((a, b) => b.request.requestedAt.getTime() - a.request.requestedAt.getTime());
  return { me, entries, ociProblems };
}
