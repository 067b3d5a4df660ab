/**
 * PIM for Groups in the Graph emulator (docs/pim.md), through the real
 * @microsoft/microsoft-graph-client v3: the policy, eligibility, each request
 * action and status, approvals, the documented errors, permissions, and expiry
 * on the virtual clock removing the member. The tenant is the default seed:
 * OCI-Temp-Admins-PIM governed by PIM, alice eligible, bob and carol approvers.
 */
import { Client, RetryHandlerOptions, type GraphError } from '@microsoft/microsoft-graph-client';
import { fetchWithCa } from '../../src/adapters/http/tls.js';
import { referenceDispatcher } from '../support/reference-fetch.js';
import { generateEmulatorKeys, startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { SEED, seedPim } from '../../src/emulator/seed.js';
import { issueToken } from '../../src/emulator/tokens.js';

const keys = generateEmulatorKeys();
const U = SEED.users;
const GROUP = SEED.pimGroupId;
const PAG = '/identityGovernance/privilegedAccess/group';
const noRetry = [new RetryHandlerOptions(0, 0)];

let emu: RunningEmulator;
let dispatcher: ReturnType<typeof referenceDispatcher>;

beforeAll(async () => {
  emu = await startEmulator({ keys });
  dispatcher = referenceDispatcher(emu.caFile);
});
afterAll(async () => emu.stop());
beforeEach(() => {
  seedPim(emu.world);
  emu.world.groups.get(GROUP)!.members.clear();
});

function client(token: string): Client {
  return Client.initWithMiddleware({
    authProvider: { getAccessToken: async () => token },
    baseUrl: emu.baseUrl,
    customHosts: new Set(['127.0.0.1']),
    fetchOptions: { dispatcher } as never,
  });
}

const userToken = (userId: string, scopes: string[] = [...SEED.cliDelegatedPermissions]) =>
  issueToken(emu.world, { principalType: 'user', appId: SEED.cliAppId, userId, scopes }).token;
const appToken = (roles: string[] = [...SEED.automationApplicationPermissions]) =>
  issueToken(emu.world, { principalType: 'app', appId: SEED.automationAppId, roles }).token;
const as = (userId: string) => client(userToken(userId));

async function failure(call: Promise<unknown>): Promise<GraphError> {
  try {
    await call;
  } catch (error) {
    return error as GraphError;
  }
  throw new Error('expected the Graph call to fail');
}

async function control(method: string, path: string, body?: unknown): Promise<any> {
  const answer = await fetchWithCa(emu.caFile)(`${emu.baseUrl}/_emulator/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await answer.text();
  return { status: answer.status, body: text ? JSON.parse(text) : undefined };
}

async function advance(minutes: number): Promise<void> {
  const moved = await control('POST', 'clock/advance', { minutes });
  expect(moved.status).toBe(200);
}

function activation(overrides: Record<string, unknown> = {}) {
  return {
    accessId: 'member',
    principalId: U.alice,
    groupId: GROUP,
    action: 'selfActivate',
    justification: 'CHG-1 fix the load balancer',
    scheduleInfo: { startDateTime: emu.world.nowIso(), expiration: { type: 'afterDuration', duration: 'PT2H' } },
    ...overrides,
  };
}

const post = (graph: Client, body: unknown) => graph.api(`${PAG}/assignmentScheduleRequests`).post(body);
const isMember = (userId: string) => emu.world.groups.get(GROUP)!.members.has(userId);

async function approve(approvalId: string, approver: string, reviewResult = 'Approve') {
  const graph = as(approver);
  const approval = await graph.api(`${PAG}/assignmentApprovals/${approvalId}`).get();
  await graph
    .api(`${PAG}/assignmentApprovals/${approvalId}/stages/${approval.stages[0].id}`)
    .patch({ reviewResult, justification: 'ok' });
  return approval;
}

/** Governs the group with no approval (activation is provisioned at once). */
async function withoutApproval(extra: Record<string, unknown> = {}) {
  const set = await control('PUT', `pim/groups/${GROUP}/policy`, {
    maxHours: 8,
    justificationRequired: true,
    ...extra,
  });
  expect(set.status).toBe(200);
}

describe('PIM for Groups: the policy and eligibility', () => {
  it('lists the group policy assignment with its rules, and nothing for a group PIM does not govern', async () => {
    const graph = client(appToken());
    const filter = (groupId: string) =>
      `scopeId eq '${groupId}' and scopeType eq 'Group' and roleDefinitionId eq 'member'`;
    const governed = await graph
      .api('/policies/roleManagementPolicyAssignments')
      .filter(filter(GROUP))
      .expand('policy($expand=rules)')
      .get();
    expect(governed.value).toHaveLength(1);
    const rules = governed.value[0].policy.rules as any[];
    const rule = (id: string) => rules.find((candidate) => candidate.id === id);
    expect(rule('Expiration_EndUser_Assignment').maximumDuration).toBe('PT8H');
    expect(rule('Enablement_EndUser_Assignment').enabledRules).toEqual(['Justification']);
    const approval = rule('Approval_EndUser_Assignment').setting;
    expect(approval.isApprovalRequired).toBe(true);
    expect(approval.approvalStages[0].primaryApprovers.map((a: any) => a.userId)).toEqual([U.bob, U.carol]);
    const plain = await graph.api('/policies/roleManagementPolicyAssignments').filter(filter(SEED.tempGroupId)).get();
    expect(plain.value).toEqual([]);
    const unfiltered = await failure(graph.api('/policies/roleManagementPolicyAssignments').get());
    expect(unfiltered.statusCode).toBe(400);
  });

  it('lists eligibility for the group and for the signed-in user', async () => {
    const all = await client(appToken())
      .api(`${PAG}/eligibilityScheduleInstances`)
      .filter(`groupId eq '${GROUP}'`)
      .get();
    expect(all.value.map((e: any) => e.principalId)).toEqual([U.alice]);
    const mine = await as(U.alice)
      .api(`${PAG}/eligibilityScheduleInstances/filterByCurrentUser(on='principal')`)
      .filter(`groupId eq '${GROUP}'`)
      .get();
    expect(mine.value).toHaveLength(1);
    const bobs = await as(U.bob)
      .api(`${PAG}/eligibilityScheduleInstances/filterByCurrentUser(on='principal')`)
      .filter(`groupId eq '${GROUP}'`)
      .get();
    expect(bobs.value).toEqual([]);
  });

  it('requires $filter on groupId or principalId on the plain list calls', async () => {
    const graph = client(appToken());
    for (const path of ['eligibilityScheduleInstances', 'assignmentScheduleInstances', 'assignmentScheduleRequests']) {
      const error = await failure(graph.api(`${PAG}/${path}`).get());
      expect(error.statusCode).toBe(400);
    }
  });

  it('control routes govern a group, make a user eligible (with an end), and read the state', async () => {
    const set = await control('PUT', `pim/groups/${SEED.tempGroupName}/policy`, {
      maxHours: 4,
      approvalRequired: true,
      approvers: [`carol@${SEED.domain}`],
      ticketRequired: true,
    });
    expect(set.status).toBe(200);
    const end = new Date(emu.world.now() + 3_600_000).toISOString();
    const eligible = await control('POST', `pim/groups/${SEED.tempGroupId}/eligible`, {
      user: `dave@${SEED.domain}`,
      endDateTime: end,
    });
    expect(eligible.status).toBe(200);
    const state = await control('GET', 'pim');
    const policy = state.body.policies.find((p: any) => p.scopeId === SEED.tempGroupId);
    expect(policy.policy.rules[0].maximumDuration).toBe('PT4H');
    expect(state.body.eligibilities.find((e: any) => e.principalId === U.dave).endDateTime).toBe(end);
    await advance(61);
    const after = await client(appToken())
      .api(`${PAG}/eligibilityScheduleInstances`)
      .filter(`groupId eq '${SEED.tempGroupId}'`)
      .get();
    expect(after.value).toEqual([]);
    expect((await control('DELETE', `pim/groups/${SEED.tempGroupId}/policy`)).status).toBe(204);
    const bad = await control('PUT', `pim/groups/${GROUP}/policy`, { approvalRequired: true });
    expect(bad.status).toBe(400);
  });
});

describe('PIM for Groups: requests, approvals and expiry', () => {
  it('selfActivate with approval required is PendingApproval; approve provisions and adds the member; expiry removes it', async () => {
    const alice = as(U.alice);
    const request = await post(alice, activation());
    expect(request.status).toBe('PendingApproval');
    expect(request.approvalId).toBe(request.id);
    expect(request.createdBy).toEqual({ user: { id: U.alice } });
    expect(isMember(U.alice)).toBe(false);

    const waiting = await as(U.bob)
      .api(`${PAG}/assignmentScheduleRequests/filterByCurrentUser(on='approver')`)
      .filter("status eq 'PendingApproval'")
      .get();
    expect(waiting.value.map((r: any) => r.id)).toEqual([request.id]);
    const mine = await alice
      .api(`${PAG}/assignmentScheduleRequests/filterByCurrentUser(on='principal')`)
      .filter(`groupId eq '${GROUP}'`)
      .get();
    expect(mine.value.map((r: any) => r.id)).toEqual([request.id]);

    const approval = await approve(request.approvalId, U.bob);
    expect(approval.stages[0].assignedToMe).toBe(true);
    const done = await alice.api(`${PAG}/assignmentScheduleRequests/${request.id}`).get();
    expect(done.status).toBe('Provisioned');
    expect(done.targetScheduleId).toBeTruthy();
    expect(isMember(U.alice)).toBe(true);
    // The same membership Graph's member listing shows.
    const members = await client(appToken()).api(`/groups/${GROUP}/members`).get();
    expect(members.value.map((m: any) => m.id)).toContain(U.alice);

    const instances = await client(appToken())
      .api(`${PAG}/assignmentScheduleInstances`)
      .filter(`groupId eq '${GROUP}'`)
      .get();
    expect(instances.value).toHaveLength(1);
    expect(Date.parse(instances.value[0].endDateTime) - Date.parse(instances.value[0].startDateTime)).toBe(7_200_000);
    const myInstances = await alice
      .api(`${PAG}/assignmentScheduleInstances/filterByCurrentUser(on='principal')`)
      .filter(`groupId eq '${GROUP}'`)
      .get();
    expect(myInstances.value).toHaveLength(1);

    await advance(119);
    expect(isMember(U.alice)).toBe(true);
    await advance(2);
    expect(isMember(U.alice)).toBe(false);
    // A new token: the first one expired on the virtual clock too.
    const gone = await as(U.alice)
      .api(`${PAG}/assignmentScheduleInstances/filterByCurrentUser(on='principal')`)
      .filter(`groupId eq '${GROUP}'`)
      .get();
    expect(gone.value).toEqual([]);
  });

  it('an activated member is exported to OCI by the provisioning engine like any member', async () => {
    await withoutApproval();
    await post(as(U.alice), activation());
    emu.server.runCycleNow();
    const ociGroup = emu.world.ociGroupByName(SEED.pimGroupName)!;
    const alice = emu.world.ociUserByUserName(`alice@${SEED.domain}`);
    expect(alice && ociGroup.members.has(alice.id)).toBe(true);
  });

  it('without approval selfActivate is Provisioned at once', async () => {
    await withoutApproval();
    const request = await post(as(U.alice), activation());
    expect(request.status).toBe('Provisioned');
    expect(request.approvalId).toBeNull();
    expect(isMember(U.alice)).toBe(true);
  });

  it('deny ends the request as Denied and adds nobody', async () => {
    const request = await post(as(U.alice), activation());
    await approve(request.approvalId, U.carol, 'Deny');
    const done = await as(U.alice).api(`${PAG}/assignmentScheduleRequests/${request.id}`).get();
    expect(done.status).toBe('Denied');
    expect(isMember(U.alice)).toBe(false);
    const again = await failure(approve(request.approvalId, U.bob));
    expect(again.statusCode).toBe(409);
  });

  it('cancel ends a pending request as Canceled (204); only its author may cancel', async () => {
    const request = await post(as(U.alice), activation());
    const notMine = await failure(as(U.bob).api(`${PAG}/assignmentScheduleRequests/${request.id}/cancel`).post({}));
    expect(notMine.statusCode).toBe(403);
    await as(U.alice).api(`${PAG}/assignmentScheduleRequests/${request.id}/cancel`).post({});
    const done = await as(U.alice).api(`${PAG}/assignmentScheduleRequests/${request.id}`).get();
    expect(done.status).toBe('Canceled');
    const twice = await failure(as(U.alice).api(`${PAG}/assignmentScheduleRequests/${request.id}/cancel`).post({}));
    expect(twice.statusCode).toBe(400);
  });

  it('an approval not given within approvalStageTimeOutInDays ends as TimedOut on the virtual clock', async () => {
    const request = await post(as(U.alice), activation());
    await advance(24 * 60 + 1);
    const done = await as(U.alice).api(`${PAG}/assignmentScheduleRequests/${request.id}`).get();
    expect(done.status).toBe('TimedOut');
    expect(isMember(U.alice)).toBe(false);
  });

  it('selfDeactivate is refused within 5 minutes (ActiveDurationTooShort), then Revoked and the member removed', async () => {
    await withoutApproval();
    const alice = as(U.alice);
    await post(alice, activation());
    const early = await failure(
      post(alice, { accessId: 'member', principalId: U.alice, groupId: GROUP, action: 'selfDeactivate' }),
    );
    expect(early.statusCode).toBe(400);
    expect(early.code).toBe('ActiveDurationTooShort');
    await advance(5);
    const revoked = await post(alice, {
      accessId: 'member',
      principalId: U.alice,
      groupId: GROUP,
      action: 'selfDeactivate',
    });
    expect(revoked.status).toBe('Revoked');
    expect(isMember(U.alice)).toBe(false);
    const nothing = await failure(
      post(alice, { accessId: 'member', principalId: U.alice, groupId: GROUP, action: 'selfDeactivate' }),
    );
    expect(nothing.code).toBe('RoleAssignmentDoesNotExist');
  });

  it('selfExtend moves the end (policy maximum applies; approval applies as to activation)', async () => {
    const alice = as(U.alice);
    const first = await post(alice, activation());
    await approve(first.approvalId, U.bob);
    const tooLong = await failure(
      post(
        alice,
        activation({ action: 'selfExtend', scheduleInfo: { expiration: { type: 'afterDuration', duration: 'PT9H' } } }),
      ),
    );
    expect(tooLong.code).toBe('RoleAssignmentRequestPolicyValidationFailed');
    expect(tooLong.message).toContain('ExpirationRule');
    const extension = await post(
      alice,
      activation({ action: 'selfExtend', scheduleInfo: { expiration: { type: 'afterDuration', duration: 'PT6H' } } }),
    );
    expect(extension.status).toBe('PendingApproval');
    await approve(extension.approvalId, U.carol);
    expect((await as(U.alice).api(`${PAG}/assignmentScheduleRequests/${extension.id}`).get()).status).toBe(
      'Provisioned',
    );
    await advance(3 * 60);
    expect(isMember(U.alice)).toBe(true);
    await advance(3 * 60 + 1);
    expect(isMember(U.alice)).toBe(false);
  });

  it('adminAssign (no end), adminExtend and adminRemove by the automation app', async () => {
    const app = client(appToken());
    const assigned = await post(app, {
      accessId: 'member',
      principalId: U.dave,
      groupId: GROUP,
      action: 'adminAssign',
      justification: 'standing',
      scheduleInfo: { expiration: { type: 'noExpiration' } },
    });
    expect(assigned.status).toBe('Provisioned');
    expect(assigned.createdBy).toEqual({ application: { id: SEED.automationAppId } });
    expect(isMember(U.dave)).toBe(true);
    const listed = await app.api(`${PAG}/assignmentScheduleInstances`).filter(`principalId eq '${U.dave}'`).get();
    expect(listed.value[0].endDateTime).toBeNull();
    const exists = await failure(
      post(app, { ...assigned, action: 'adminAssign', scheduleInfo: undefined, id: undefined }),
    );
    expect(exists.code).toBe('RoleAssignmentExists');
    const extended = await post(app, {
      accessId: 'member',
      principalId: U.dave,
      groupId: GROUP,
      action: 'adminExtend',
      scheduleInfo: { expiration: { type: 'afterDuration', duration: 'PT1H' } },
    });
    expect(extended.status).toBe('Provisioned');
    const removed = await post(app, { accessId: 'member', principalId: U.dave, groupId: GROUP, action: 'adminRemove' });
    expect(removed.status).toBe('Revoked');
    expect(isMember(U.dave)).toBe(false);
    const again = await failure(
      post(app, { accessId: 'member', principalId: U.dave, groupId: GROUP, action: 'adminRemove' }),
    );
    expect(again.code).toBe('RoleAssignmentDoesNotExist');
    const requests = await app.api(`${PAG}/assignmentScheduleRequests`).filter(`groupId eq '${GROUP}'`).get();
    expect(requests.value.map((r: any) => r.action).sort()).toEqual(['adminAssign', 'adminExtend', 'adminRemove']);
  });

  it('refuses DELETE members/$ref of a membership an active PIM assignment holds', async () => {
    await withoutApproval();
    await post(as(U.alice), activation());
    const error = await failure(
      client(appToken()).api(`/groups/${GROUP}/members/${U.alice}/$ref`).middlewareOptions(noRetry).delete(),
    );
    expect(error.statusCode).toBe(400);
    expect(isMember(U.alice)).toBe(true);
  });
});

describe('PIM for Groups: documented errors and permissions', () => {
  it('names each failed policy rule', async () => {
    await withoutApproval({ ticketRequired: true });
    const error = await failure(
      post(
        as(U.alice),
        activation({ justification: '', scheduleInfo: { expiration: { type: 'afterDuration', duration: 'PT9H' } } }),
      ),
    );
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('RoleAssignmentRequestPolicyValidationFailed');
    expect(error.message).toBe(
      'The following policy rules failed: ["ExpirationRule","JustificationRule","TicketingRule"]',
    );
    const noEnd = await failure(
      post(as(U.alice), activation({ scheduleInfo: { expiration: { type: 'noExpiration' } } })),
    );
    expect(noEnd.message).toContain('ExpirationRule');
    const ok = await post(
      as(U.alice),
      activation({ ticketInfo: { ticketNumber: 'CHG-1', ticketSystem: 'ociaccess' } }),
    );
    expect(ok.status).toBe('Provisioned');
    expect(ok.ticketInfo.ticketNumber).toBe('CHG-1');
  });

  it('RoleAssignmentExists while active, PendingRoleAssignmentRequest while pending, not eligible refused', async () => {
    const alice = as(U.alice);
    const pending = await post(alice, activation());
    const second = await failure(post(alice, activation()));
    expect(second.code).toBe('PendingRoleAssignmentRequest');
    await approve(pending.approvalId, U.bob);
    const exists = await failure(post(alice, activation()));
    expect(exists.code).toBe('RoleAssignmentExists');
    const notEligible = await failure(post(as(U.mallory), activation({ principalId: U.mallory })));
    expect(notEligible.statusCode).toBe(400);
    expect(notEligible.code).toBe('RoleEligibilityScheduleDoesNotExist');
  });

  it('refuses self-approval (403) and a stage not assigned to the caller (403)', async () => {
    await control('POST', `pim/groups/${GROUP}/eligible`, { user: U.bob });
    const own = await post(as(U.bob), activation({ principalId: U.bob }));
    const selfApproval = await failure(approve(own.approvalId, U.bob));
    expect(selfApproval.statusCode).toBe(403);
    const request = await post(as(U.alice), activation());
    const stranger = await failure(approve(request.approvalId, U.mallory));
    expect(stranger.statusCode).toBe(403);
    expect((await as(U.alice).api(`${PAG}/assignmentScheduleRequests/${request.id}`).get()).status).toBe(
      'PendingApproval',
    );
  });

  it('approvals are delegated only: an app token gets 403', async () => {
    const request = await post(as(U.alice), activation());
    const app = client(appToken());
    const read = await failure(app.api(`${PAG}/assignmentApprovals/${request.approvalId}`).get());
    expect(read.statusCode).toBe(403);
    const stageId = emu.world.pim.approvals.get(request.approvalId)!.stages[0]!.id;
    const decide = await failure(
      app.api(`${PAG}/assignmentApprovals/${request.approvalId}/stages/${stageId}`).patch({ reviewResult: 'Approve' }),
    );
    expect(decide.statusCode).toBe(403);
  });

  it('checks the permission of each call (403 Authorization_RequestDenied)', async () => {
    const bare = client(userToken(U.alice, ['User.Read']));
    const calls: Promise<unknown>[] = [
      bare
        .api('/policies/roleManagementPolicyAssignments')
        .filter(`scopeId eq '${GROUP}' and scopeType eq 'Group'`)
        .get(),
      bare.api(`${PAG}/eligibilityScheduleInstances/filterByCurrentUser(on='principal')`).get(),
      bare.api(`${PAG}/assignmentScheduleInstances`).filter(`groupId eq '${GROUP}'`).get(),
      bare.api(`${PAG}/assignmentScheduleRequests`).filter(`groupId eq '${GROUP}'`).get(),
      post(bare, activation()),
    ];
    for (const call of calls) {
      const error = await failure(call);
      expect(error.statusCode).toBe(403);
      expect(error.code).toBe('Authorization_RequestDenied');
    }
    // Read only: may list, may not request.
    const reader = client(userToken(U.alice, ['PrivilegedAssignmentSchedule.Read.AzureADGroup']));
    await reader.api(`${PAG}/assignmentScheduleRequests`).filter(`groupId eq '${GROUP}'`).get();
    expect((await failure(post(reader, activation()))).statusCode).toBe(403);
    // Nobody activates for someone else.
    expect((await failure(post(as(U.bob), activation()))).statusCode).toBe(403);
    // A delegated admin action takes the group's owner or an admin role.
    const notOwner = await failure(
      post(as(U.alice), { accessId: 'member', principalId: U.dave, groupId: GROUP, action: 'adminAssign' }),
    );
    expect(notOwner.statusCode).toBe(403);
    const byOwner = await post(as(U.bob), {
      accessId: 'member',
      principalId: U.dave,
      groupId: GROUP,
      action: 'adminAssign',
      scheduleInfo: { expiration: { type: 'afterDuration', duration: 'PT1H' } },
    });
    expect(byOwner.status).toBe('Provisioned');
  });

  it('answers 404 ResourceNotFound for an unknown request or approval', async () => {
    const graph = as(U.bob);
    const request = await failure(graph.api(`${PAG}/assignmentScheduleRequests/nope`).get());
    expect(request.statusCode).toBe(404);
    expect(request.code).toBe('ResourceNotFound');
    const approval = await failure(graph.api(`${PAG}/assignmentApprovals/nope`).get());
    expect(approval.statusCode).toBe(404);
  });
});
