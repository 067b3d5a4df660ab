/**
 * The pim backend's core, table-driven, with an in-memory PIM port: what is
 * refused before anything is sent (and in the policy's own words), how PIM's
 * answers are read, and the sweep's rule over PIM's active assignments.
 */
import type { GroupConfig } from '../../src/config/schema.js';
import type { CoreDeps } from '../../src/core/deps.js';
import type { DomainEvent } from '../../src/core/events.js';
import { GrantViews, isTrustedDecision, type PolicyContext } from '../../src/core/grants.js';
import { durationOfHours, hoursOfDuration } from '../../src/core/pim/duration.js';
import { checkAgainstPolicy } from '../../src/core/pim/policy.js';
import type { PimInstance, PimPolicy, PimPort, PimRequest, PimScheduleRequestInput } from '../../src/core/pim/port.js';
import { requestPimAccess } from '../../src/core/pim/request.js';
import { decidePim } from '../../src/core/pim/decide.js';
import { extendPimGrant, revokePimGrant } from '../../src/core/pim/revoke.js';
import { bookOfInstances } from '../../src/core/pim/sweep-input.js';
import { grantOfPimRequest } from '../../src/core/pim/views.js';
import { planGroupSweep } from '../../src/core/sweep-plan.js';
import { PIM_APPROVER } from '../../src/core/records.js';
import { policyOfRules } from '../../src/adapters/graph/pim.js';
import { pimErrorOf } from '../../src/adapters/graph/pim-errors.js';
import { OciAccessError, PolicyError } from '../../src/errors.js';

const HOUR = 3600_000;
const T0 = new Date('2026-12-05T08:00:00Z');
const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);

const GROUP: GroupConfig = {
  name: 'OCI-Temp-Admins-PIM',
  entraGroupId: '7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d',
  ociGroupName: 'OCI-Temp-Admins-PIM',
  maxHours: 8,
  defaultHours: 2,
  backend: 'pim',
  eligibleRequesters: [],
  approvers: [],
  standingMembers: ['glass@x.example'],
  autoApproval: null,
  pendingTimeoutHours: 24,
} as GroupConfig;

const POLICY: PimPolicy = {
  maxActivationHours: 4,
  approvalRequired: true,
  approverIds: ['bob'],
  approverGroupIds: [],
  justificationRequired: true,
  ticketRequired: true,
};

const user = (id: string) => ({ id, userPrincipalName: `${id}@x.example`, displayName: id });

// ---------------------------------------------------------------- an in-memory PIM

class MemoryPim implements PimPort {
  policyOf: PimPolicy | null = POLICY;
  eligible = new Set<string>(['alice']);
  requests: PimRequest[] = [];
  instances: PimInstance[] = [];
  submitted: PimScheduleRequestInput[] = [];
  decided: string[] = [];
  failNext?: OciAccessError;
  constructor(private readonly me: () => string) {}
  async policy() {
    return this.policyOf;
  }
  async myEligibility(groupId: string) {
    return this.eligible.has(this.me())
      ? [{ id: 'e1', principalId: this.me(), groupId, startAt: null, endAt: null }]
      : [];
  }
  async submit(input: PimScheduleRequestInput): Promise<PimRequest> {
    this.submitted.push(input);
    if (this.failNext) throw this.failNext;
    const request: PimRequest = {
      id: `00000000-0000-4000-8000-00000000000${this.requests.length}`,
      action: input.action,
      status: POLICY.approvalRequired ? 'PendingApproval' : 'Provisioned',
      principalId: input.principalId,
      groupId: input.groupId,
      justification: input.justification ?? '',
      createdAt: T0,
      approvalId: 'a1',
      ...(input.hours !== undefined ? { hours: input.hours, startAt: T0 } : {}),
    };
    this.requests.push(request);
    return request;
  }
  async myRequests() {
    return this.requests.filter((r) => r.principalId === this.me());
  }
  async groupRequests() {
    return this.requests;
  }
  async awaitingMyApproval() {
    return this.requests.filter((r) => r.status === 'PendingApproval');
  }
  async request(id: string) {
    return this.requests.find((r) => r.id === id) ?? null;
  }
  async approval(approvalId: string) {
    return {
      id: approvalId,
      stages: [{ id: 's1', status: 'InProgress', reviewResult: 'NotReviewed', assignedToMe: this.me() === 'bob' }],
    };
  }
  async decide(approvalId: string, stageId: string, result: string) {
    this.decided.push(`${approvalId}/${stageId}:${result}`);
  }
  async cancel() {}
  async activeInstances() {
    return this.instances;
  }
  async myActiveInstances() {
    return this.instances.filter((i) => i.principalId === this.me());
  }
}

function world(meId = 'alice') {
  let current = meId;
  const pim = new MemoryPim(() => current);
  const events: DomainEvent[] = [];
  const deps = {
    config: { groups: [GROUP] },
    clock: { now: () => T0 },
    ids: {},
    directory: {
      me: async () => user(current),
      getUser: async (upn: string) => user(upn.split('@')[0]!),
      getUsers: async (ids: string[]) => new Map(ids.map((id) => [id, user(id)])),
      removeGroupMember: async () => 'not-member',
    },
    oci: async () => {
      throw new Error('no OCI in unit tests');
    },
    state: {
      readLocal: async () => ({ requests: {}, decisions: {} }),
      recordRequest: async () => undefined,
      recordDecisions: async () => undefined,
      recordRevocation: async () => undefined,
    },
    events: {
      intend: async () => undefined,
      emit: async (e: DomainEvent | DomainEvent[]) => {
        events.push(...(Array.isArray(e) ? e : [e]));
        return {};
      },
    },
    pim,
  } as unknown as CoreDeps;
  return { deps, pim, events, as: (id: string) => (current = id) };
}

// ---------------------------------------------------------------- reading PIM

test.each([
  ['PT8H', 8],
  ['PT1H30M', 1.5],
  ['PT90M', 1.5],
  ['P1D', 24],
  ['P1DT2H', 26],
  ['PT', undefined],
  ['8 hours', undefined],
  [undefined, undefined],
])('hoursOfDuration(%p) = %p', (text, hours) => {
  expect(hoursOfDuration(text)).toBe(hours);
});

test.each([
  [2, 'PT2H'],
  [1.5, 'PT1H30M'],
  [0.25, 'PT15M'],
])('durationOfHours(%p) = %p', (hours, text) => {
  expect(durationOfHours(hours)).toBe(text);
});

test("policyOfRules reads the end user's expiration, enablement and approval rules", () => {
  const policy = policyOfRules([
    {
      id: 'Expiration_EndUser_Assignment',
      '@odata.type': '#microsoft.graph.unifiedRoleManagementPolicyExpirationRule',
      maximumDuration: 'PT8H',
    },
    { id: 'Enablement_EndUser_Assignment', enabledRules: ['Justification', 'Ticketing'] },
    {
      id: 'Approval_EndUser_Assignment',
      setting: {
        isApprovalRequired: true,
        approvalStages: [
          {
            primaryApprovers: [
              { '@odata.type': '#microsoft.graph.singleUser', userId: 'bob' },
              { '@odata.type': '#microsoft.graph.groupMembers', groupId: 'g-approvers' },
            ],
          },
        ],
      },
    },
    // An admin's rule of the same kind does not bound an end user's activation.
    {
      id: 'Expiration_Admin_Assignment',
      '@odata.type': '#microsoft.graph.unifiedRoleManagementPolicyExpirationRule',
      maximumDuration: 'P365D',
    },
  ]);
  expect(policy).toEqual({
    maxActivationHours: 8,
    approvalRequired: true,
    approverIds: ['bob'],
    approverGroupIds: ['g-approvers'],
    justificationRequired: true,
    ticketRequired: true,
  });
});

test.each([
  [
    'RoleAssignmentRequestPolicyValidationFailed',
    'The following policy rules failed: ["ExpirationRule"]',
    'DURATION_TOO_LONG',
  ],
  [
    'RoleAssignmentRequestPolicyValidationFailed',
    'The following policy rules failed: ["TicketingRule"]',
    'TICKET_REQUIRED',
  ],
  [
    'RoleAssignmentRequestPolicyValidationFailed',
    'The following policy rules failed: ["JustificationRule"]',
    'JUSTIFICATION_REQUIRED',
  ],
  [
    'RoleAssignmentRequestPolicyValidationFailed',
    'The following policy rules failed: ["OtherRule"]',
    'PIM_POLICY_REFUSED',
  ],
  ['ActiveDurationTooShort', 'too short', 'PIM_ACTIVE_TOO_SHORT'],
  ['RoleAssignmentExists', 'exists', 'PIM_ALREADY_ACTIVE'],
  ['RoleAssignmentDoesNotExist', 'none', 'PIM_NO_ASSIGNMENT'],
  ['PendingRoleAssignmentRequest', 'pending', 'REQUEST_ALREADY_PENDING'],
  ['RoleEligibilityScheduleDoesNotExist', 'not eligible', 'NOT_ELIGIBLE'],
  ['Request_BadRequest', 'anything else', undefined],
])('PIM error %s (%s) → %s', (code, message, ours) => {
  const error = pimErrorOf(400, code, message);
  expect(error?.code).toBe(ours);
  if (error) expect(error.exitCode).toBe(3);
});

// ---------------------------------------------------------------- refused early

test.each([
  [
    { hours: 5, justification: 'j', ticket: 'T-1' },
    'DURATION_TOO_LONG',
    'PIM allows at most 4 hours for OCI-Temp-Admins-PIM.',
  ],
  [
    { hours: 2, justification: 'j' },
    'TICKET_REQUIRED',
    "OCI-Temp-Admins-PIM's PIM policy requires a ticket: add --ticket.",
  ],
  [
    { hours: 2, justification: ' ', ticket: 'T-1' },
    'JUSTIFICATION_REQUIRED',
    "OCI-Temp-Admins-PIM's PIM policy requires a justification.",
  ],
  [{ hours: 4, justification: 'j', ticket: 'T-1' }, undefined, undefined],
])('checkAgainstPolicy(%p) → %s', (input, code, message) => {
  if (!code) return expect(() => checkAgainstPolicy(GROUP, POLICY, input)).not.toThrow();
  expect(() => checkAgainstPolicy(GROUP, POLICY, input)).toThrow(expect.objectContaining({ code, message }));
});

test("the config's maxHours bounds a policy that allows more", () => {
  expect(() =>
    checkAgainstPolicy(GROUP, { ...POLICY, maxActivationHours: 24 }, { hours: 9, justification: 'j', ticket: 'T' }),
  ).toThrow(
    expect.objectContaining({ code: 'DURATION_TOO_LONG', message: expect.stringContaining("config's maxHours") }),
  );
});

const INPUT = { group: GROUP, hours: 2, justification: 'INC-1', ticket: 'T-1' };

test.each<[string, (w: ReturnType<typeof world>) => void, object, string]>([
  ['not governed', (w) => (w.pim.policyOf = null), INPUT, 'PIM_NOT_GOVERNED'],
  ['over the policy', () => undefined, { ...INPUT, hours: 5 }, 'DURATION_TOO_LONG'],
  ['no ticket', () => undefined, { ...INPUT, ticket: undefined }, 'TICKET_REQUIRED'],
  ['not eligible', (w) => w.pim.eligible.clear(), INPUT, 'NOT_ELIGIBLE'],
  [
    'already pending',
    (w) =>
      w.pim.requests.push({
        id: 'p',
        action: 'selfActivate',
        status: 'PendingApproval',
        principalId: 'alice',
        groupId: GROUP.entraGroupId,
        justification: '',
        createdAt: T0,
      }),
    INPUT,
    'REQUEST_ALREADY_PENDING',
  ],
  [
    'already active',
    (w) =>
      w.pim.instances.push({
        id: 'i',
        principalId: 'alice',
        groupId: GROUP.entraGroupId,
        startAt: at(-1),
        endAt: at(1),
        assignmentType: 'activated',
        memberType: 'direct',
      }),
    INPUT,
    'PIM_ALREADY_ACTIVE',
  ],
])('request is refused before anything is sent: %s', async (_name, arrange, input, code) => {
  const w = world();
  arrange(w);
  await expect(requestPimAccess(w.deps, input as typeof INPUT)).rejects.toMatchObject({ code });
  expect(w.pim.submitted).toEqual([]);
});

test('request sends a selfActivate with justification, ticket and the duration, and tells request.created', async () => {
  const w = world();
  const result = await requestPimAccess(w.deps, INPUT);
  expect(w.pim.submitted).toEqual([
    {
      action: 'selfActivate',
      principalId: 'alice',
      groupId: GROUP.entraGroupId,
      justification: 'INC-1',
      ticket: 'T-1',
      hours: 2,
      startAt: T0,
    },
  ]);
  expect(result).toMatchObject({
    backend: 'pim',
    state: 'pending',
    pimStatus: 'PendingApproval',
    approvers: ['bob@x.example'],
  });
  expect(w.events.map((e) => e.type)).toEqual(['request.created']);
});

test("the service's policy refusal is said in the policy's words", async () => {
  const w = world();
  w.pim.failNext = pimErrorOf(400, 'RoleAssignmentRequestPolicyValidationFailed', 'failed: ExpirationRule');
  await expect(requestPimAccess(w.deps, INPUT)).rejects.toMatchObject({
    code: 'DURATION_TOO_LONG',
    message: 'PIM allows at most 4 hours for OCI-Temp-Admins-PIM.',
  });
});

test('approve: self-approval is refused by us, nothing is decided; bob decides the stage assigned to him', async () => {
  const w = world();
  const { request } = await requestPimAccess(w.deps, INPUT);
  await expect(decidePim(w.deps, { groups: [GROUP], requestId: request.id }, 'approved')).rejects.toMatchObject({
    code: 'SELF_APPROVAL',
  });
  expect(w.pim.decided).toEqual([]);
  w.as('carol');
  await expect(decidePim(w.deps, { groups: [GROUP], requestId: request.id }, 'approved')).rejects.toMatchObject({
    code: 'NOT_AN_APPROVER',
  });
  w.as('bob');
  const result = await decidePim(w.deps, { groups: [GROUP], requestId: request.id }, 'approved');
  expect(w.pim.decided).toEqual(['a1/s1:Approve']);
  expect(result.decision).toMatchObject({ kind: 'approved', approverId: 'bob', hours: 2 });
});

test('revoke within 5 minutes of the activation says when to try again', async () => {
  const w = world();
  w.pim.instances.push({
    id: 'i',
    principalId: 'alice',
    groupId: GROUP.entraGroupId,
    startAt: at(-1 / 60),
    endAt: at(2),
    assignmentType: 'activated',
    memberType: 'direct',
  });
  w.pim.failNext = pimErrorOf(400, 'ActiveDurationTooShort', 'too short');
  await expect(revokePimGrant(w.deps, { group: GROUP })).rejects.toMatchObject({
    code: 'PIM_ACTIVE_TOO_SHORT',
    message: 'PIM does not end an activation within 5 minutes of its start: try again after 08:04 UTC.',
  });
  expect(w.pim.submitted.map((s) => s.action)).toEqual(['selfDeactivate']);
});

test.each<[string, PimInstance[], object, string | undefined]>([
  ['nothing active', [], {}, 'NO_ACTIVE_GRANT'],
  [
    'ends later already',
    [
      {
        id: 'i',
        principalId: 'alice',
        groupId: GROUP.entraGroupId,
        startAt: at(-1),
        endAt: at(3),
        assignmentType: 'activated',
        memberType: 'direct',
      },
    ],
    { hours: 2 },
    'EXTENSION_NOT_LONGER',
  ],
  ['over the policy', [], { hours: 6 }, 'DURATION_TOO_LONG'],
  [
    'extends',
    [
      {
        id: 'i',
        principalId: 'alice',
        groupId: GROUP.entraGroupId,
        startAt: at(-1),
        endAt: at(1),
        assignmentType: 'activated',
        memberType: 'direct',
      },
    ],
    { hours: 3 },
    undefined,
  ],
])('extendPimGrant: %s', async (_name, instances, input, code) => {
  const w = world();
  w.pim.instances.push(...instances);
  const run = extendPimGrant(w.deps, { group: GROUP, hours: 2, justification: 'more', ticket: 'T-1', ...input });
  if (code) {
    await expect(run).rejects.toMatchObject({ code });
    expect(w.pim.submitted).toEqual([]);
    return;
  }
  const result = await run;
  expect(w.pim.submitted.map((s) => [s.action, s.hours])).toEqual([['selfExtend', 3]]);
  expect(result).toMatchObject({ backend: 'pim', own: true, previousExpiresAt: at(1), state: 'pending' });
});

// ---------------------------------------------------------------- status of a request

test.each<[string, Partial<PimRequest>, PimInstance[], string]>([
  ['pending', { status: 'PendingApproval' }, [], 'pending'],
  ['denied', { status: 'Denied' }, [], 'denied'],
  ['cancelled', { status: 'Canceled' }, [], 'cancelled'],
  [
    'active',
    { status: 'Provisioned' },
    [
      {
        id: 'i',
        principalId: 'alice',
        groupId: GROUP.entraGroupId,
        startAt: T0,
        endAt: at(2),
        assignmentType: 'activated',
        memberType: 'direct',
      },
    ],
    'approved',
  ],
  ['ended by PIM', { status: 'Provisioned' }, [], 'expired'],
])('a PIM request that is %s: its state', (_name, fields, instances, state) => {
  const request: PimRequest = {
    id: 'r',
    action: 'selfActivate',
    status: 'Provisioned',
    principalId: 'alice',
    groupId: GROUP.entraGroupId,
    justification: 'j',
    createdAt: T0,
    startAt: T0,
    hours: 2,
    ...fields,
  };
  expect(grantOfPimRequest(request, { instances, endings: [], now: at(1) }).state).toBe(state);
});

// ---------------------------------------------------------------- the sweep's rule over PIM

const POLICY_CONTEXT: PolicyContext = {
  group: GROUP,
  approverIds: new Set(),
  autoApprovableIds: null,
  eligibleIds: new Set(),
  maxSkewMs: 5 * 60_000,
};

const instance = (principalId: string, startAt: Date, endAt: Date | null): PimInstance => ({
  id: `i-${principalId}`,
  principalId,
  groupId: GROUP.entraGroupId,
  startAt,
  endAt,
  assignmentType: endAt ? 'activated' : 'assigned',
  memberType: 'direct',
});

test.each<[string, PimInstance[], PimRequest[], Date, 'keep' | 'remove']>([
  ['an activation within its end', [instance('alice', T0, at(2))], [], at(1), 'keep'],
  ['a permanent assignment within maxHours', [instance('alice', T0, null)], [], at(7), 'keep'],
  ['a permanent assignment past maxHours', [instance('alice', T0, null)], [], at(8.1), 'remove'],
  ['an over-long assignment past maxHours', [instance('alice', T0, at(48))], [], at(9), 'remove'],
  ['no assignment (added by hand)', [], [], at(1), 'remove'],
  [
    'an extension granted since: bounded from its own time',
    [instance('alice', T0, at(12))],
    [
      {
        id: 'x',
        action: 'selfExtend',
        status: 'Provisioned',
        principalId: 'alice',
        groupId: GROUP.entraGroupId,
        justification: 'j',
        createdAt: at(6),
        completedAt: at(6),
        hours: 6,
      },
    ],
    at(9),
    'keep',
  ],
  [
    'only a pending request',
    [],
    [
      {
        id: 'p',
        action: 'selfActivate',
        status: 'PendingApproval',
        principalId: 'alice',
        groupId: GROUP.entraGroupId,
        justification: 'j',
        createdAt: T0,
      },
    ],
    at(0.5),
    'remove',
  ],
])('sweep of a pim group: %s', (_name, instances, requests, now, expected) => {
  const book = bookOfInstances(GROUP, instances, requests);
  const plan = planGroupSweep({
    policy: POLICY_CONTEXT,
    members: [
      { ...user('alice'), kind: 'user' },
      { ...user('glass'), kind: 'user' },
    ],
    standingIds: new Set(['glass']),
    eligibleIds: new Set(),
    requestsByUser: book.requestsByUser,
    decisions: book.decisions,
    firstSeen: {},
    now,
  });
  expect(plan.keep.some((k) => k.user.id === 'glass' && k.reason === 'standing')).toBe(true);
  expect(plan.keep.some((k) => k.user.id === 'alice') ? 'keep' : 'remove').toBe(expected);
});

test("PIM's marker is trusted only in a group whose backend is pim", () => {
  const decision = {
    requestId: 'i',
    requesterId: 'alice',
    groupId: GROUP.entraGroupId,
    kind: 'approved' as const,
    approverId: PIM_APPROVER,
    decidedAt: T0,
  };
  expect(isTrustedDecision(decision, POLICY_CONTEXT, at(1))).toBe(true);
  const records = { ...POLICY_CONTEXT, group: { ...GROUP, backend: 'records' as const } };
  expect(isTrustedDecision(decision, records, at(1))).toBe(false);
  expect(new GrantViews([decision], records, at(1)).grantsOf('alice')[0]?.view.state).toBe('pending');
});

test('PolicyError is what refusals are', () => {
  expect(pimErrorOf(400, 'RoleAssignmentExists', 'x')).toBeInstanceOf(PolicyError);
});

test("approve refuses a request longer than the config's maxHours, whatever PIM's policy allows; nothing is decided", async () => {
  const w = world('bob');
  w.pim.requests.push({
    id: 'long',
    action: 'selfActivate',
    status: 'PendingApproval',
    principalId: 'alice',
    groupId: GROUP.entraGroupId,
    justification: 'j',
    createdAt: T0,
    approvalId: 'a1',
    hours: 9,
    startAt: T0,
  });
  await expect(decidePim(w.deps, { groups: [GROUP], requestId: 'long' }, 'approved')).rejects.toMatchObject({
    code: 'DURATION_TOO_LONG',
  });
  expect(w.pim.decided).toEqual([]);
});
