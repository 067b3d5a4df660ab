import {
  decodeDecisions,
  decodeRequests,
  encodeDecisions,
  encodeRequests,
  RECORD_BYTE_BUDGET,
  type AccessRequest,
  type Decision,
} from '../../src/core/records.js';
import { PolicyError } from '../../src/errors.js';

const T0 = new Date('2026-11-29T08:00:00Z');
const HOUR = 3600_000;

function req(i: number, ageHours = 0): AccessRequest {
  return {
    id: `r-${String(i).padStart(8, '0')}`,
    groupId: '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b',
    requesterId: 'u',
    hours: 2,
    justification: 'x'.repeat(150),
    requestedAt: new Date(T0.getTime() - ageHours * HOUR),
  };
}

test('requests round-trip through the compact encoding', () => {
  const original: AccessRequest = { ...req(1), ticket: 'INC-1', withdrawn: { kind: 'cancelled', at: T0 } };
  const [decoded] = decodeRequests(
    encodeRequests([original], () => true, T0),
    'u',
  );
  expect(decoded).toEqual(original);
});

test('decisions round-trip and take the approver from the record owner, never from the content', () => {
  const decision: Decision = {
    requestId: 'r-00000001',
    requesterId: 'u',
    groupId: 'g',
    kind: 'approved',
    approverId: 'bob',
    decidedAt: T0,
    expiresAt: new Date(T0.getTime() + 2 * HOUR),
    hours: 2,
    reason: 'ok',
  };
  const payload = encodeDecisions([decision], T0);
  expect(decodeDecisions(payload, 'carol')[0]).toEqual({ ...decision, approverId: 'carol' });
});

test('garbage grants nothing', () => {
  expect(decodeDecisions({ records: 'not json' }, 'bob')).toEqual([]);
  expect(
    decodeDecisions(
      { records: JSON.stringify([{ r: 'x' }, 5, null, { r: 'r', u: 'u', g: 'g', d: 'zz', a: 1 }]) },
      'bob',
    ),
  ).toEqual([]);
  expect(decodeRequests(null, 'u')).toEqual([]);
});

test('old closed records are pruned to fit ~2 KB; live ones are never dropped', () => {
  const closed = Array.from({ length: 10 }, (_, i) => req(i, 48 + i));
  const live = [req(100)];
  const payload = encodeRequests([...closed, ...live], (r) => r.id === live[0]!.id, T0);
  expect(Buffer.byteLength(JSON.stringify(payload))).toBeLessThanOrEqual(RECORD_BYTE_BUDGET);
  const kept = decodeRequests(payload, 'u').map((r) => r.id);
  expect(kept).toContain(live[0]!.id);
  expect(kept.length).toBeLessThan(11);
});

test('when live records alone do not fit, the write is refused (RECORD_FULL)', () => {
  const live = Array.from({ length: 12 }, (_, i) => req(i));
  expect(() => encodeRequests(live, () => true, T0)).toThrow(PolicyError);
});

test('decision times are stored in whole Unix seconds, as docs/records.md says (milliseconds are cut, never rounded up)', () => {
  const decidedAt = new Date(T0.getTime() + 999);
  const payload = encodeDecisions(
    [{ requestId: 'r-00000001', requesterId: 'u', groupId: 'g', kind: 'revoked', approverId: 'a', decidedAt }],
    T0,
  );
  const [stored] = JSON.parse(payload.records as string) as { a: number }[];
  expect(stored!.a).toBe(T0.getTime() / 1000);
  expect(Number.isInteger(stored!.a)).toBe(true);
  expect(decodeDecisions(payload, 'a')[0]!.decidedAt).toEqual(T0);
});
