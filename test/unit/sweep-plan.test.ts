import { planGroupSweep, type GroupSweepInput } from '../../src/core/sweep-plan.js';
import {
  GrantViews,
  deriveGrant,
  approvalExpiry,
  lastEndedGrant,
  liveGrant,
  type PolicyContext,
} from '../../src/core/grants.js';
import { AUTO_APPROVER, type AccessRequest, type Decision } from '../../src/core/records.js';
import type { GroupConfig } from '../../src/config/schema.js';

const HOUR = 3600_000;
const T0 = new Date('2026-11-29T08:00:00Z');
const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);

const GROUP: GroupConfig = {
  name: 'OCI-Temp-Admins',
  entraGroupId: '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b',
  ociGroupName: 'OCI-Temp-Admins',
  maxHours: 8,
  defaultHours: 2,
  eligibleRequesters: ['alice@x.example', 'eve@x.example'],
  approvers: ['bob@x.example', 'carol@x.example'],
  standingMembers: ['glass@x.example'],
  autoApproval: { maxHours: 1, requesters: [] },
  pendingTimeoutHours: 24,
};
const user = (id: string) => ({ id, userPrincipalName: `${id}@x.example`, displayName: id });
const POLICY: PolicyContext = {
  group: GROUP,
  approverIds: new Set(['bob', 'carol']),
  autoApprovableIds: new Set(),
  eligibleIds: new Set(['alice', 'eve']),
  maxSkewMs: 5 * 60_000,
};

function request(id: string, requesterId: string, hours: number, requestedAt = T0): AccessRequest {
  return { id, groupId: GROUP.entraGroupId, requesterId, hours, justification: 'j', requestedAt };
}
function approval(
  requestId: string,
  requesterId: string,
  approverId: string,
  decidedAt: Date,
  hours: number,
): Decision {
  return {
    requestId,
    requesterId,
    groupId: GROUP.entraGroupId,
    kind: 'approved',
    approverId,
    decidedAt,
    expiresAt: new Date(decidedAt.getTime() + hours * HOUR),
    hours,
  };
}
function plan(over: Partial<GroupSweepInput>) {
  return planGroupSweep({
    policy: POLICY,
    members: [],
    standingIds: new Set(['glass']),
    eligibleIds: new Set(['alice', 'eve']),
    requestsByUser: new Map(),
    decisions: [],
    firstSeen: {},
    now: at(1),
    ...over,
  });
}
const removedIds = (p: ReturnType<typeof plan>) => p.remove.map((r) => `${r.user.id}:${r.reason}`).sort();
const keptIds = (p: ReturnType<typeof plan>) => p.keep.map((k) => `${k.user.id}:${k.reason}`).sort();

describe('the sweep rule (deny by default)', () => {
  test('standing members stay, hand-added members go', () => {
    const p = plan({ members: [user('glass'), user('mallory')] });
    expect(keptIds(p)).toEqual(['glass:standing']);
    expect(removedIds(p)).toEqual(['mallory:no-grant']);
  });

  test('a live approval by an eligible approver keeps the member until it expires', () => {
    const input = {
      members: [user('alice')],
      requestsByUser: new Map([['alice', [request('r-1', 'alice', 2)]]]),
      decisions: [approval('r-1', 'alice', 'bob', T0, 2)],
    };
    expect(keptIds(plan({ ...input, now: at(1.99) }))).toEqual(['alice:grant']);
    expect(removedIds(plan({ ...input, now: at(2) }))).toEqual(['alice:expired']);
  });

  test('self-approval, unknown approvers and other groups grant nothing', () => {
    const decisions = [
      approval('r-1', 'alice', 'alice', T0, 2),
      approval('r-1', 'alice', 'mallory', T0, 2),
      { ...approval('r-1', 'alice', 'bob', T0, 2), groupId: '00000000-0000-4000-8000-000000000000' },
    ];
    const p = plan({
      members: [user('alice')],
      requestsByUser: new Map([['alice', [request('r-1', 'alice', 2)]]]),
      decisions,
    });
    expect(removedIds(p)).toEqual(['alice:no-grant']);
  });

  test('a lengthened approval is bounded by the group maximum and by the hours approved', () => {
    const forged = { ...approval('r-1', 'alice', 'bob', T0, 2), expiresAt: at(100) };
    expect(approvalExpiry(forged, GROUP)).toEqual(at(2));
    const noHours: Decision = { ...forged, hours: undefined };
    expect(approvalExpiry(noHours, GROUP)).toEqual(at(8));
    const p = plan({
      members: [user('alice')],
      requestsByUser: new Map([['alice', [request('r-1', 'alice', 2)]]]),
      decisions: [noHours],
      now: at(8),
    });
    expect(removedIds(p)).toEqual(['alice:expired']);
  });

  test('the local expiry wins when it is earlier than the remote one', () => {
    expect(approvalExpiry(approval('r-1', 'alice', 'bob', T0, 4), GROUP, at(1))).toEqual(at(1));
    expect(approvalExpiry(approval('r-1', 'alice', 'bob', T0, 4), GROUP, at(6))).toEqual(at(4));
  });

  test('an extension keeps the member while the older grant expires (regression: peer tool removed them)', () => {
    const requests = [request('r-1', 'alice', 2), request('r-2', 'alice', 2, at(1.5))];
    const decisions = [approval('r-1', 'alice', 'bob', T0, 2), approval('r-2', 'alice', 'carol', at(1.6), 2)];
    const p = plan({
      members: [user('alice')],
      requestsByUser: new Map([['alice', requests]]),
      decisions,
      now: at(2.5),
    });
    expect(keptIds(p)).toEqual(['alice:grant']);
    expect(p.keep[0]!.requestId).toBe('r-2');
    expect(p.keep[0]!.expiresAt).toEqual(at(3.6));
  });

  test('membership longer than the maximum since the approval began is cut', () => {
    const decisions = [approval('r-1', 'alice', 'bob', T0, 8)];
    const requests = new Map([['alice', [request('r-1', 'alice', 8)]]]);
    // First seen long before the approval: the approval's start counts.
    expect(
      keptIds(
        plan({
          members: [user('alice')],
          requestsByUser: requests,
          decisions,
          firstSeen: { alice: at(-20).toISOString() },
          now: at(7),
        }),
      ),
    ).toEqual(['alice:grant']);
    // First seen after the approval: max duration counts from first seen, and both end at the max.
    expect(
      removedIds(
        plan({
          members: [user('alice')],
          requestsByUser: requests,
          decisions,
          firstSeen: { alice: at(0).toISOString() },
          now: at(8),
        }),
      ),
    ).toEqual(['alice:expired']);
  });

  test('a revocation by an approver ends the grant; a requester revocation too', () => {
    const decisions: Decision[] = [
      approval('r-1', 'alice', 'bob', T0, 4),
      {
        requestId: 'r-1',
        requesterId: 'alice',
        groupId: GROUP.entraGroupId,
        kind: 'revoked',
        approverId: 'carol',
        decidedAt: at(1),
      },
    ];
    expect(
      removedIds(
        plan({
          members: [user('alice')],
          requestsByUser: new Map([['alice', [request('r-1', 'alice', 4)]]]),
          decisions,
          now: at(2),
        }),
      ),
    ).toEqual(['alice:revoked']);
    const withdrawn = { ...request('r-1', 'alice', 4), withdrawn: { kind: 'revoked' as const, at: at(1) } };
    expect(
      removedIds(
        plan({
          members: [user('alice')],
          requestsByUser: new Map([['alice', [withdrawn]]]),
          decisions: [approval('r-1', 'alice', 'bob', T0, 4)],
          now: at(2),
        }),
      ),
    ).toEqual(['alice:revoked']);
  });

  test('an approval survives the requester deleting their own request record', () => {
    const p = plan({
      members: [user('alice')],
      requestsByUser: new Map([['alice', []]]),
      decisions: [approval('r-1', 'alice', 'bob', T0, 2)],
      now: at(1),
    });
    expect(keptIds(p)).toEqual(['alice:grant']);
  });

  test('auto-approval: pending, eligible, within the rule; not over it, not after timeout', () => {
    const requests = new Map([
      ['alice', [request('r-1', 'alice', 1)]],
      ['eve', [request('r-2', 'eve', 2)]],
      ['mallory', [request('r-3', 'mallory', 1)]],
    ]);
    const p = plan({ requestsByUser: requests, now: at(0.5) });
    expect(p.autoApprove.map((r) => r.id)).toEqual(['r-1']);
    const late = plan({ requestsByUser: requests, now: at(25) });
    expect(late.autoApprove).toEqual([]);
    expect(late.timedOut.map((r) => r.id).sort()).toEqual(['r-1', 'r-2', 'r-3']);
  });

  test('auto-approval decisions above the rule maximum are not trusted', () => {
    const auto = { ...approval('r-1', 'alice', AUTO_APPROVER, T0, 4) };
    const view = deriveGrant(request('r-1', 'alice', 4), [auto], POLICY, at(0.5));
    expect(view.state).toBe('pending');
  });

  test('first decision settles a race between approvers', () => {
    const decisions: Decision[] = [
      {
        requestId: 'r-1',
        requesterId: 'alice',
        groupId: GROUP.entraGroupId,
        kind: 'denied',
        approverId: 'carol',
        decidedAt: at(0.1),
      },
      approval('r-1', 'alice', 'bob', at(0.2), 2),
    ];
    expect(deriveGrant(request('r-1', 'alice', 2), decisions, POLICY, at(1)).state).toBe('denied');
  });

  test('the ledger keeps only current members and their first-seen time', () => {
    const p = plan({
      members: [user('glass')],
      firstSeen: { glass: at(-5).toISOString(), gone: at(-1).toISOString() },
    });
    expect(p.firstSeen).toEqual({ glass: at(-5).toISOString() });
  });
});

describe("GrantViews: each grant derived once, shared by the sweep's questions", () => {
  const decisions = [
    approval('r-1', 'alice', 'bob', at(0), 2),
    approval('r-2', 'eve', 'eve', at(0), 2), // self-approval: not trusted
    { ...approval('r-3', 'eve', 'carol', at(-10), 2) }, // expired
    {
      requestId: 'r-1',
      requesterId: 'alice',
      groupId: GROUP.entraGroupId,
      kind: 'revoked' as const,
      approverId: 'carol',
      decidedAt: at(0.5),
    },
  ];

  test('answers as deriveGrant does, for request records and for requests known only from a decision', () => {
    const views = new GrantViews(decisions, POLICY, at(1));
    const requests = [request('r-1', 'alice', 2), request('r-2', 'eve', 2), request('r-9', 'zoe', 2, at(-100))];
    for (const r of requests) {
      expect(views.of(r)).toEqual(deriveGrant(r, decisions, POLICY, at(1)));
      expect(views.of(r)).toBe(views.of(r)); // derived once
    }
    for (const d of decisions) {
      expect(views.ofDecidedRequest(d)).toEqual(
        deriveGrant(
          { id: d.requestId, requesterId: d.requesterId, requestedAt: d.decidedAt },
          decisions,
          POLICY,
          at(1),
        ),
      );
    }
    expect(views.ofDecidedRequest(decisions[0]!).state).toBe('revoked');
    expect(views.ofDecidedRequest(decisions[2]!).state).toBe('expired');
  });

  test('a plan uses the views it is given, unless they are of other decisions or another time', () => {
    class Counting extends GrantViews {
      asked = 0;
      override of(r: AccessRequest) {
        this.asked += 1;
        return super.of(r);
      }
    }
    const input = {
      members: [user('alice')],
      requestsByUser: new Map([['alice', [request('r-1', 'alice', 2)]]]),
      decisions: [approval('r-1', 'alice', 'bob', at(0), 2)],
      now: at(1),
    };
    const shared = new Counting(input.decisions, POLICY, at(1));
    expect(keptIds(plan({ ...input, grants: shared }))).toEqual(['alice:grant']);
    expect(shared.asked).toBeGreaterThan(0);
    const stale = new Counting([], POLICY, at(1));
    expect(keptIds(plan({ ...input, grants: stale }))).toEqual(['alice:grant']);
    const later = new Counting(input.decisions, POLICY, at(5));
    expect(keptIds(plan({ ...input, grants: later }))).toEqual(['alice:grant']);
    expect([stale.asked, later.asked]).toEqual([0, 0]);
  });
});

describe('members that are not users (nested groups, service principals, devices)', () => {
  const other = (id: string, kind: 'group' | 'servicePrincipal' | 'device' | 'other') => ({
    id,
    userPrincipalName: '',
    displayName: `the ${id}`,
    kind,
  });

  test.each(['group', 'servicePrincipal', 'device', 'other'] as const)(
    'a %s member is removed as not-a-user',
    (kind) => {
      const p = plan({ members: [user('glass'), other('x1', kind)] });
      expect(removedIds(p)).toEqual(['x1:not-a-user']);
      expect(p.remove[0]!.user).toMatchObject({ kind, displayName: 'the x1' });
      expect(keptIds(p)).toEqual(['glass:standing']);
    },
  );

  test('one listed as standing (by object id) stays, reported with its kind', () => {
    const p = plan({
      members: [other('robot', 'servicePrincipal'), other('kiosk', 'device')],
      standingIds: new Set(['glass', 'robot']),
    });
    expect(keptIds(p)).toEqual(['robot:standing']);
    expect(p.keep[0]!.user.kind).toBe('servicePrincipal');
    expect(removedIds(p)).toEqual(['kiosk:not-a-user']);
  });

  test('an approval naming a non-user member keeps nothing: only a user can hold a grant', () => {
    // Even a decision by a real approver whose requester id is a nested group's (a forged or mistaken record).
    const input = {
      members: [other('contractors', 'group')],
      eligibleIds: new Set(['alice', 'contractors']),
      requestsByUser: new Map([['contractors', [request('r-1', 'contractors', 2)]]]),
      decisions: [approval('r-1', 'contractors', 'bob', at(0.5), 2)],
    };
    const p = plan(input);
    expect(removedIds(p)).toEqual(['contractors:not-a-user']);
    expect(p.keep).toEqual([]);
  });

  test('a member whose kind is "user" (or not given) follows the grant rule as before', () => {
    const input = {
      members: [{ ...user('alice'), kind: 'user' as const }, user('eve')],
      requestsByUser: new Map([['alice', [request('r-1', 'alice', 2)]]]),
      decisions: [approval('r-1', 'alice', 'bob', T0, 2)],
    };
    const p = plan(input);
    expect(keptIds(p)).toEqual(['alice:grant']);
    expect(removedIds(p)).toEqual(['eve:no-grant']);
  });

  test('the ledger of first sightings covers every member, users or not', () => {
    const p = plan({ members: [user('glass'), other('kiosk', 'device')], firstSeen: { kiosk: at(-3).toISOString() } });
    expect(p.firstSeen).toEqual({ glass: at(1).toISOString(), kiosk: at(-3).toISOString() });
  });
});

describe('approvals that keep nobody although a trusted approver wrote them (issue 12)', () => {
  const members = [user('alice')];
  const requestsByUser = new Map([['alice', [request('r-1', 'alice', 2)]]]);
  const SKEW = POLICY.maxSkewMs;

  test.each([
    ['just inside the skew', SKEW, 'keep'],
    ['a moment past the skew', SKEW + 1000, 'remove'],
    ['an hour ahead', HOUR, 'remove'],
    ['a year ahead', 365 * 24 * HOUR, 'remove'],
  ] as const)('dated %s: %s', (_what, aheadMs, outcome) => {
    const now = at(1);
    const p = plan({
      members,
      requestsByUser,
      decisions: [approval('r-1', 'alice', 'bob', new Date(now.getTime() + aheadMs), 2)],
      now,
    });
    if (outcome === 'keep') {
      expect(keptIds(p)).toEqual(['alice:grant']);
      expect(p.untrusted).toEqual([]);
    } else {
      expect(removedIds(p)).toEqual(['alice:no-grant']);
      expect(p.untrusted.map((u) => u.problem)).toEqual(['future-dated']);
    }
  });

  test('an auto-approval dated ahead keeps nobody either, and is reported', () => {
    const now = at(1);
    const auto = { ...approval('r-1', 'alice', AUTO_APPROVER, new Date(now.getTime() + 20 * HOUR), 1) };
    // The request asks for more than the rule allows, so this sweep does not approve it itself.
    const p = plan({
      members,
      requestsByUser: new Map([['alice', [request('r-1', 'alice', 2)]]]),
      decisions: [auto],
      now,
    });
    expect(p.keep).toEqual([]);
    expect(p.untrusted).toEqual([{ decision: auto, problem: 'future-dated' }]);
  });

  test('a grant ends hours after the first sweep that saw it, even when its date is later (max-duration)', () => {
    const decidedAt = at(0.05); // 3 minutes after T0: inside the skew at T0
    const input = { members, requestsByUser, decisions: [approval('r-1', 'alice', 'bob', decidedAt, 2)] };
    const first = plan({ ...input, now: T0 });
    expect(keptIds(first)).toEqual(['alice:grant']);
    expect(first.grantsFirstSeen).toEqual({ 'r-1:alice': T0.toISOString() });
    // Two hours after the first sighting: over, although decidedAt + 2 h is three minutes away.
    const later = plan({ ...input, now: at(2), grantsFirstSeen: first.grantsFirstSeen });
    expect(removedIds(later)).toEqual(['alice:max-duration']);
    // Without the ledger (another host's first sweep) the decision's own dates still bound it.
    expect(keptIds(plan({ ...input, now: at(2) }))).toEqual(['alice:grant']);
    expect(removedIds(plan({ ...input, now: at(2.05) }))).toEqual(['alice:expired']);
  });

  test('an approval for someone who is not an eligible requester keeps nobody; reported while it would keep a member', () => {
    const decisions = [approval('r-5', 'mallory', 'bob', at(0), 2), approval('r-6', 'dave', 'bob', at(-10), 2)];
    const p = plan({ members: [user('mallory'), user('dave')], decisions });
    expect(removedIds(p)).toEqual(['dave:no-grant', 'mallory:no-grant']);
    expect(p.untrusted.map((u) => `${u.decision.requesterId}:${u.problem}`)).toEqual(['mallory:not-eligible']);
    // Not a member: nothing it could keep, nothing to report.
    expect(plan({ members: [], decisions }).untrusted).toEqual([]);
  });

  test('an invalid request record is never kept or auto-approved; an invalid approval keeps nobody', () => {
    const invalid = { ...request('r-1', 'alice', 1), invalid: 'its justification contains control characters' };
    const withApproval = plan({
      members,
      requestsByUser: new Map([['alice', [invalid]]]),
      decisions: [approval('r-1', 'alice', 'bob', at(0), 1)],
    });
    expect(withApproval.keep).toEqual([]);
    expect(plan({ members: [], requestsByUser: new Map([['alice', [invalid]]]) }).autoApprove).toEqual([]);
    const badApproval = {
      ...approval('r-1', 'alice', 'bob', at(0), 2),
      invalid: 'its reason contains control characters',
    };
    const p = plan({ members, requestsByUser, decisions: [badApproval] });
    expect(p.keep).toEqual([]);
    expect(p.untrusted.map((u) => u.problem)).toEqual(['invalid']);
  });
});

describe('the grant that ended last, and grants a live one covers (grants.ts)', () => {
  const withdrawn = (r: AccessRequest, hours: number): AccessRequest => ({
    ...r,
    withdrawn: { kind: 'revoked', at: at(hours) },
  });
  const older = request('r-older', 'alice', 2);
  const newer = request('r-newer', 'alice', 4, at(3));
  const decisions = [approval('r-older', 'alice', 'bob', at(0), 2), approval('r-newer', 'alice', 'bob', at(3), 4)];

  it("a requester's own revoke of the newer grant is the grant that ended last, not the older expiry", () => {
    const grants = new GrantViews(decisions, POLICY, at(5), undefined);
    const all = grants.grantsOf('alice', [older, withdrawn(newer, 4)]);
    const last = lastEndedGrant(all);
    expect(last?.requestId).toBe('r-newer');
    expect(last?.view).toMatchObject({ state: 'revoked', endedAt: at(4) });
    expect(liveGrant(all)).toBeUndefined();
    expect(all.every((g) => g.view.coveredBy === undefined)).toBe(true);
    // The plan says the same: removed as revoked, for the newer request.
    const planned = plan({
      members: [user('alice')],
      requestsByUser: new Map([['alice', [older, withdrawn(newer, 4)]]]),
      decisions,
      now: at(5),
    });
    expect(planned.remove).toEqual([expect.objectContaining({ reason: 'revoked', requestId: 'r-newer' })]);
  });

  it('an ended older grant is covered by the live newer one; a revoke of a request never approved ended no grant', () => {
    const grants = new GrantViews(decisions, POLICY, at(4), undefined);
    const all = grants.grantsOf('alice', [older, newer, withdrawn(request('r-pending', 'alice', 1, at(3)), 3.5)]);
    expect(liveGrant(all)?.requestId).toBe('r-newer');
    expect(all.find((g) => g.requestId === 'r-older')?.view).toMatchObject({
      state: 'expired',
      endedAt: at(2),
      coveredBy: 'r-newer',
    });
    expect(all.find((g) => g.requestId === 'r-pending')?.view).toEqual({ state: 'revoked' });
  });

  it("approvals whose request record is gone still count (the approver's record is the proof)", () => {
    const grants = new GrantViews(decisions, POLICY, at(4), undefined);
    expect(liveGrant(grants.grantsOf('alice', []))?.requestId).toBe('r-newer');
    // The requester's own record says revoked: the approval alone does not make her a holder.
    expect(liveGrant(grants.grantsOf('alice', [older, withdrawn(newer, 3.5)]))).toBeUndefined();
  });
});
