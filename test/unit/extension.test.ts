/**
 * Extensions (records backend), the pure parts: the record key `c` (decoded,
 * validated, tolerated by readers that do not know it, within the byte
 * budget); the rule that an extension is approvable only while the grant it
 * continues is live, to the second; and the sweep's rule over a chain of
 * grants: one membership for as long as each grant was approved before the
 * previous ended, each grant still bounded by its own maximum.
 */
import { planGroupSweep, type GroupSweepInput } from '../../src/core/sweep-plan.js';
import { GrantViews, type PolicyContext } from '../../src/core/grants.js';
import { isLapsedExtension, refuseLapsedExtension } from '../../src/core/extension.js';
import {
  RECORD_BYTE_BUDGET,
  decodeRequests,
  encodeRequests,
  type AccessRequest,
  type Decision,
} from '../../src/core/records.js';
import type { GroupConfig } from '../../src/config/schema.js';
import type { RecordPayload } from '../../src/core/ports.js';

const HOUR = 3600_000;
const SECOND = 1000;
const T0 = new Date('2026-11-29T08:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

const GROUP: GroupConfig = {
  name: 'OCI-Temp-Admins',
  entraGroupId: '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b',
  ociGroupName: 'OCI-Temp-Admins',
  maxHours: 8,
  defaultHours: 2,
  eligibleRequesters: ['alice@x.example'],
  approvers: ['bob@x.example'],
  standingMembers: [],
  autoApproval: { maxHours: 1, requesters: [] },
  pendingTimeoutHours: 24,
};
const POLICY: PolicyContext = {
  group: GROUP,
  approverIds: new Set(['bob']),
  autoApprovableIds: new Set(),
  eligibleIds: new Set(['alice']),
  maxSkewMs: 5 * 60_000,
};
const ALICE = { id: 'alice', userPrincipalName: 'alice@x.example', displayName: 'alice', kind: 'user' as const };

function request(id: string, hours: number, requestedAt: Date, continues?: string): AccessRequest {
  return {
    id,
    groupId: GROUP.entraGroupId,
    requesterId: 'alice',
    hours,
    justification: 'j',
    requestedAt,
    ...(continues ? { continues } : {}),
  };
}
function approval(requestId: string, decidedAt: Date, hours: number, expiresAt?: Date): Decision {
  return {
    requestId,
    requesterId: 'alice',
    groupId: GROUP.entraGroupId,
    kind: 'approved',
    approverId: 'bob',
    decidedAt,
    expiresAt: expiresAt ?? new Date(decidedAt.getTime() + hours * HOUR),
    hours,
  };
}
const payload = (records: unknown[]): RecordPayload => ({ v: 1, records: JSON.stringify(records) });
const compact = { i: 'r-aaaaaaa2', g: GROUP.entraGroupId, h: 2, j: 'more time', a: 1795940361 };

describe('the record key c (the request an extension continues)', () => {
  test('round trip: written as c, read back as continues; a plain request has neither', () => {
    const ext = request('r-aaaaaaa2', 2, at(0), 'r-aaaaaaa1');
    const written = encodeRequests([ext, request('r-aaaaaaa3', 1, at(0))], () => true, at(0));
    const stored = JSON.parse(written.records as string);
    expect(stored[0]).toMatchObject({ i: 'r-aaaaaaa2', c: 'r-aaaaaaa1' });
    expect(stored[1]).not.toHaveProperty('c');
    const [read, plain] = decodeRequests(written, 'alice');
    expect(read).toMatchObject({ id: 'r-aaaaaaa2', continues: 'r-aaaaaaa1' });
    expect(read!.invalid).toBeUndefined();
    expect(plain!.continues).toBeUndefined();
  });

  test.each([
    ['not an id', 'R-AAAAAAA1', 'the request it continues is not named r-xxxxxxxx'],
    ['a number', 7, 'the request it continues is not named r-xxxxxxxx'],
    ['empty', '', 'the request it continues is not named r-xxxxxxxx'],
    ['itself', 'r-aaaaaaa2', 'it continues itself'],
  ])('held to the id rules like the other fields: %s is invalid', (_what, c, problem) => {
    const [read] = decodeRequests(payload([{ ...compact, c }]), 'alice');
    expect(read!.invalid).toBe(problem);
  });

  test('readers ignore keys they do not know, as readers before c ignore c: such a record is a plain request to them', () => {
    // The decoder takes its fields by name: a key from a later version (zz here, c for older readers) changes nothing.
    const [withLaterKey] = decodeRequests(payload([{ ...compact, zz: 'later', c: 'r-aaaaaaa1' }]), 'alice');
    expect(withLaterKey).toMatchObject({ id: 'r-aaaaaaa2', hours: 2, continues: 'r-aaaaaaa1' });
    expect(withLaterKey!.invalid).toBeUndefined();
  });

  test('the byte budget counts it: live extensions that do not fit are refused (RECORD_FULL), never written over budget', () => {
    const long = 'x'.repeat(200);
    const extensions = Array.from({ length: 12 }, (_, n) => ({
      ...request(`r-aaaaaa${String(n).padStart(2, '0')}`, 2, at(0), 'r-bbbbbbbb'),
      justification: long,
    }));
    let fitted = 0;
    for (let n = 1; n <= extensions.length; n += 1) {
      try {
        const written = encodeRequests(extensions.slice(0, n), () => true, at(0));
        expect(Buffer.byteLength(JSON.stringify(written))).toBeLessThanOrEqual(RECORD_BYTE_BUDGET);
        fitted = n;
      } catch (error) {
        expect((error as { code?: string }).code).toBe('RECORD_FULL');
      }
    }
    expect(fitted).toBeGreaterThanOrEqual(4);
    expect(fitted).toBeLessThan(extensions.length);
  });
});

describe('an extension is approvable only while the grant it continues is live', () => {
  const first = request('r-aaaaaaa1', 2, at(0));
  const ext = request('r-aaaaaaa2', 2, at(HOUR), 'r-aaaaaaa1');
  const T = 2 * HOUR; // the first grant ends at T0 + 2h
  const views = (now: number, decisions: Decision[] = [approval('r-aaaaaaa1', at(0), 2)]) =>
    new GrantViews(decisions, POLICY, at(now));

  test('to the second: live at T-1s, lapsed at T and after', () => {
    expect(isLapsedExtension(views(T - SECOND), ext, [first, ext])).toBe(false);
    expect(isLapsedExtension(views(T), ext, [first, ext])).toBe(true);
    expect(isLapsedExtension(views(T + SECOND), ext, [first, ext])).toBe(true);
    expect(refuseLapsedExtension(views(T - SECOND), ext, [first, ext], 'alice@x.example')?.requestId).toBe(
      'r-aaaaaaa1',
    );
    expect(() => refuseLapsedExtension(views(T + SECOND), ext, [first, ext], 'alice@x.example')).toThrow(
      expect.objectContaining({ code: 'EXTENSION_LAPSED', exitCode: 3 }),
    );
  });

  test('a revoked, never-approved or unknown grant is no live grant; a plain request is no extension', () => {
    const revoked: Decision = { ...approval('r-aaaaaaa1', at(HOUR), 0), kind: 'revoked' };
    delete revoked.expiresAt;
    delete revoked.hours;
    expect(
      isLapsedExtension(views(HOUR + SECOND, [approval('r-aaaaaaa1', at(0), 2), revoked]), ext, [first, ext]),
    ).toBe(true);
    expect(isLapsedExtension(views(HOUR, []), ext, [first, ext])).toBe(true);
    expect(isLapsedExtension(views(HOUR), { ...ext, continues: 'r-zzzzzzzz' }, [first, ext])).toBe(true);
    expect(isLapsedExtension(views(T + HOUR), first, [first, ext])).toBe(false);
  });
});

describe('the sweep over a chain of grants', () => {
  const plan = (over: Partial<GroupSweepInput>) =>
    planGroupSweep({
      policy: POLICY,
      members: [ALICE],
      standingIds: new Set(),
      eligibleIds: new Set(['alice']),
      requestsByUser: new Map(),
      decisions: [],
      firstSeen: { alice: at(0).toISOString() },
      now: at(0),
      ...over,
    });
  // Three 8-hour grants, each approved 6 minutes before the one before it ends: one membership of ~24 hours.
  const r1 = request('r-aaaaaaa1', 8, at(0));
  const r2 = request('r-aaaaaaa2', 8, at(7 * HOUR), 'r-aaaaaaa1');
  const r3 = request('r-aaaaaaa3', 8, at(15 * HOUR), 'r-aaaaaaa2');
  const chain = [
    approval('r-aaaaaaa1', at(0), 8),
    approval('r-aaaaaaa2', at(7.9 * HOUR), 8),
    approval('r-aaaaaaa3', at(15.8 * HOUR), 8),
  ];
  const requestsByUser = new Map([['alice', [r1, r2, r3]]]);
  // Each approval first seen by a sweep when it was made.
  const grantsFirstSeen = Object.fromEntries(chain.map((d) => [`${d.requestId}:alice`, d.decidedAt.toISOString()]));

  test('kept past the group maximum since the membership was first seen, by the newest grant', () => {
    for (const [hours, by] of [
      [8, 'r-aaaaaaa2'],
      [16, 'r-aaaaaaa3'],
      [23.7, 'r-aaaaaaa3'],
    ] as const) {
      const p = plan({ now: at(hours * HOUR), decisions: chain, requestsByUser, grantsFirstSeen });
      expect(p.remove).toEqual([]);
      expect(p.keep).toEqual([expect.objectContaining({ reason: 'grant', requestId: by })]);
    }
  });

  test('each grant still ends by its own maximum: a lengthened expiry on the last buys nothing', () => {
    const lengthened = [...chain.slice(0, 2), approval('r-aaaaaaa3', at(15.8 * HOUR), 8, at(60 * HOUR))];
    const p = plan({
      now: at(15.8 * HOUR + 8 * HOUR + SECOND),
      decisions: lengthened,
      requestsByUser,
      grantsFirstSeen,
    });
    expect(p.keep).toEqual([]);
    expect(p.remove).toEqual([expect.objectContaining({ reason: 'expired', requestId: 'r-aaaaaaa3' })]);
  });

  test('an approval first seen earlier than it is dated is bounded from when it was first seen (max-duration)', () => {
    const seenEarly = { ...grantsFirstSeen, 'r-aaaaaaa3:alice': at(12 * HOUR).toISOString() };
    const p = plan({ now: at(20 * HOUR + SECOND), decisions: chain, requestsByUser, grantsFirstSeen: seenEarly });
    expect(p.remove).toEqual([expect.objectContaining({ reason: 'max-duration', requestId: 'r-aaaaaaa3' })]);
  });

  test('the auto-approval rule approves an extension while its grant is live, never one that has lapsed', () => {
    const first = request('r-aaaaaaa1', 2, at(0));
    const ext = request('r-aaaaaaa2', 1, at(HOUR), 'r-aaaaaaa1'); // within the rule's hour
    const input = {
      decisions: [approval('r-aaaaaaa1', at(0), 2)],
      requestsByUser: new Map([['alice', [first, ext]]]),
    };
    const inTime = plan({ ...input, now: at(2 * HOUR - SECOND) });
    expect(inTime.autoApprove.map((r) => r.id)).toEqual(['r-aaaaaaa2']);
    const late = plan({ ...input, now: at(2 * HOUR) });
    expect(late.autoApprove).toEqual([]);
    expect(late.remove).toEqual([expect.objectContaining({ reason: 'expired', requestId: 'r-aaaaaaa1' })]);
    // A plain request in the same place is auto-approved as before.
    const plain = plan({
      ...input,
      requestsByUser: new Map([['alice', [first, { ...ext, continues: undefined }]]]),
      now: at(2 * HOUR),
    });
    expect(plain.autoApprove.map((r) => r.id)).toEqual(['r-aaaaaaa2']);
  });
});
