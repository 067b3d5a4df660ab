/**
 * The record book (src/core/record-book.ts): read by id, or by UPN side by
 * side with resolving the people (decoded once their ids are known), it must
 * hold the same records; addRequesterRecords reads only what it lacks.
 */
import {
  addRequesterRecords,
  loadRecordBook,
  loadRecordBookByUpn,
  type RecordBook,
} from '../../src/core/record-book.js';
import {
  DECISIONS_EXTENSION,
  REQUESTS_EXTENSION,
  encodeDecisions,
  encodeRequests,
  type AccessRequest,
  type Decision,
} from '../../src/core/records.js';
import type { DirectoryPort, DirectoryUser, RecordOwner, RecordPayload } from '../../src/core/ports.js';
import type { GroupConfig } from '../../src/config/schema.js';

const NOW = new Date('2026-11-29T12:00:00Z');
const GROUP = { entraGroupId: 'g-1', autoApproval: undefined } as unknown as GroupConfig;
const person = (name: string): DirectoryUser => ({
  id: `id-${name}`,
  userPrincipalName: `${name}@x.example`,
  displayName: name,
});

function request(id: string, requesterId: string): AccessRequest {
  return {
    id,
    groupId: 'g-1',
    requesterId,
    hours: 2,
    justification: 'j',
    requestedAt: new Date(NOW.getTime() - 3600_000),
  };
}
function decision(requestId: string, requesterId: string, approverId: string): Decision {
  return {
    requestId,
    requesterId,
    groupId: 'g-1',
    kind: 'approved',
    approverId,
    decidedAt: new Date(NOW.getTime() - 1800_000),
    expiresAt: new Date(NOW.getTime() + 3600_000),
    hours: 2,
  };
}

/** Records keyed by owner id and by UPN (Graph takes either), answered in batches of three; `asked` counts the owners read. */
function port(
  records: Map<string, { requests?: RecordPayload; decisions?: RecordPayload }>,
  asked: string[] = [],
): DirectoryPort {
  const readRecords = async (owners: RecordOwner[], extension: string) => {
    asked.push(...owners.map((owner) => owner.id));
    const out = new Map<string, RecordPayload | null>();
    for (let start = 0; start < owners.length; start += 3) {
      await new Promise((resolve) => setImmediate(resolve)); // each batch answers in a later turn
      for (const owner of owners.slice(start, start + 3)) {
        const entry = records.get(owner.id);
        const payload =
          (extension === REQUESTS_EXTENSION
            ? entry?.requests
            : extension === DECISIONS_EXTENSION
              ? entry?.decisions
              : undefined) ?? null;
        out.set(owner.id, payload);
      }
    }
    return out;
  };
  return { readRecords, readRecord: async () => null } as unknown as DirectoryPort;
}

const people = ['ann', 'bob', 'cid', 'dee', 'eve', 'fay', 'gus'].map(person);
const records = new Map<string, { requests?: RecordPayload; decisions?: RecordPayload }>();
for (const [index, p] of people.entries()) {
  const entry = {
    requests: encodeRequests([request(`r-${String(index).padStart(8, '0')}`, p.id)], () => true, NOW),
    decisions: encodeDecisions(
      [
        decision(
          `r-${String((index + 1) % people.length).padStart(8, '0')}`,
          people[(index + 1) % people.length]!.id,
          p.id,
        ),
      ],
      NOW,
    ),
  };
  records.set(p.id, entry);
  records.set(p.userPrincipalName, entry);
}

function plain(book: RecordBook) {
  return { requests: [...book.requestsByUser], decisions: book.decisions, byApprover: [...book.decisionsByApprover] };
}

test('by id and by UPN (resolved while the records are read), the book is the same', async () => {
  const ids = people.map((p) => p.id);
  const upns = people.map((p) => p.userPrincipalName.toUpperCase());
  const byUpn = new Map(people.map((p) => [p.userPrincipalName, p]));
  let resolve: (map: ReadonlyMap<string, DirectoryUser>) => void = () => undefined;
  const late = new Promise<ReadonlyMap<string, DirectoryUser>>((r) => (resolve = r));
  const reading = loadRecordBookByUpn(port(records), GROUP, upns, upns, late);
  await new Promise((r) => setImmediate(r));
  resolve(byUpn);
  const byName = await reading;
  const byId = await loadRecordBook(port(records), GROUP, ids, ids);
  expect(plain(byName)).toEqual(plain(byId));
  expect(byId.decisions).toHaveLength(people.length);
  expect(byId.requestsByUser.get('id-bob')).toEqual([request('r-00000001', 'id-bob')]);
  expect(byName.decisionsByApprover.get('id-ann')).toEqual([decision('r-00000001', 'id-bob', 'id-ann')]);
});

test('addRequesterRecords adds records in the order asked, and reads only those not in the book', async () => {
  const ids = people.map((p) => p.id);
  const book = await loadRecordBook(port(records), GROUP, ['id-ann'], []);
  const first = book.requestsByUser.get('id-ann');
  const asked: string[] = [];
  await addRequesterRecords(port(records, asked), book, ids);
  expect(asked).toEqual(ids.slice(1));
  expect([...book.requestsByUser.keys()]).toEqual(ids);
  expect(book.requestsByUser.get('id-ann')).toBe(first);
  expect(book.requestsByUser.get('id-gus')).toEqual([request('r-00000006', 'id-gus')]);
});
