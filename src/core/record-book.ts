/** Reads every remote record that matters for one group, in batched Graph calls. */
import type { DirectoryPort, DirectoryUser, RecordPayload } from './ports.js';
import {
  AUTO_APPROVER,
  DECISIONS_EXTENSION,
  REQUESTS_EXTENSION,
  decodeDecisions,
  decodeRequests,
  type AccessRequest,
  type Decision,
} from './records.js';
import type { GroupConfig } from '../config/schema.js';

export interface RecordBook {
  requestsByUser: Map<string, AccessRequest[]>;
  /** Decisions from the configured approvers' own records and from the group's auto-approval record. */
  decisions: Decision[];
  /** Raw decisions per approver id (to rewrite one's own record). */
  decisionsByApprover: Map<string, Decision[]>;
}

export async function loadRecordBook(
  directory: DirectoryPort,
  group: GroupConfig,
  requesterIds: Iterable<string>,
  approverIds: Iterable<string>,
  /** Told how many of the records have been read so far, out of how many. */
  onProgress?: (settled: number, total: number) => void,
): Promise<RecordBook> {
  const requesters = [...new Set(requesterIds)];
  const approvers = [...new Set(approverIds)];
  const raw = await readBook(directory, group, requesters, approvers, onProgress);
  return decodeBook(
    raw,
    requesters.map((id) => [id, id]),
    approvers.map((id) => [id, id]),
  );
}

/**
 * The same book, read before anyone's object id is known: Graph takes a user
 * principal name wherever it takes a user id, so the records are read by UPN
 * side by side with resolving the people (one round of calls instead of two),
 * and decoded once the ids are in. Records of people who do not resolve are
 * left out, as those people are.
 */
export async function loadRecordBookByUpn(
  directory: DirectoryPort,
  group: GroupConfig,
  requesterUpns: Iterable<string>,
  approverUpns: Iterable<string>,
  people: Promise<ReadonlyMap<string, DirectoryUser>>,
  onProgress?: (settled: number, total: number) => void,
): Promise<RecordBook> {
  const lower = (upns: Iterable<string>) => [...new Set([...upns].map((upn) => upn.toLowerCase()))];
  const requesters = lower(requesterUpns);
  const approvers = lower(approverUpns);
  const [raw, byUpn] = await Promise.all([readBook(directory, group, requesters, approvers, onProgress), people]);
  const resolved = (upns: string[]) =>
    upns.flatMap((upn): [string, string][] => {
      const user = byUpn.get(upn);
      return user ? [[upn, user.id]] : [];
    });
  return decodeBook(raw, resolved(requesters), resolved(approvers));
}

interface RawBook {
  requestRecords: Map<string, RecordPayload | null>;
  decisionRecords: Map<string, RecordPayload | null>;
  autoRecord: RecordPayload | null;
}

/** The requesters' and approvers' records (owners named by id or UPN) and the group's auto-approval record, side by side. */
async function readBook(
  directory: DirectoryPort,
  group: GroupConfig,
  requesters: string[],
  approvers: string[],
  onProgress?: (settled: number, total: number) => void,
): Promise<RawBook> {
  // The group's own record (its auto-approvals) goes with the approvers' records, as one more item of their batches.
  const groupOwner = group.autoApproval ? [{ kind: 'group' as const, id: group.entraGroupId }] : [];
  const total = requesters.length + approvers.length + groupOwner.length;
  let requestsRead = 0;
  let decisionsRead = 0;
  const progress = onProgress ? () => onProgress(requestsRead + decisionsRead, total) : undefined;
  const [requestRecords, decisionRecords] = await Promise.all([
    directory.readRecords(
      requesters.map((id) => ({ kind: 'user' as const, id })),
      REQUESTS_EXTENSION,
      progress &&
        ((n) => {
          requestsRead = n;
          progress();
        }),
    ),
    directory.readRecords(
      [...approvers.map((id) => ({ kind: 'user' as const, id })), ...groupOwner],
      DECISIONS_EXTENSION,
      progress &&
        ((n) => {
          decisionsRead = n;
          progress();
        }),
    ),
  ]);
  const autoRecord = groupOwner.length > 0 ? (decisionRecords.get(group.entraGroupId) ?? null) : null;
  return { requestRecords, decisionRecords, autoRecord };
}

/** Decodes the raw records; each pair is [the key the record was read under, the owner's object id]. */
function decodeBook(raw: RawBook, requesters: [string, string][], approvers: [string, string][]): RecordBook {
  const requestsByUser = new Map<string, AccessRequest[]>();
  for (const [key, id] of requesters) requestsByUser.set(id, decodeRequests(raw.requestRecords.get(key) ?? null, id));
  const decisionsByApprover = new Map<string, Decision[]>();
  for (const [key, id] of approvers)
    decisionsByApprover.set(id, decodeDecisions(raw.decisionRecords.get(key) ?? null, id));
  decisionsByApprover.set(AUTO_APPROVER, decodeDecisions(raw.autoRecord, AUTO_APPROVER));
  return { requestsByUser, decisions: [...decisionsByApprover.values()].flat(), decisionsByApprover };
}

/**
 * Every request with this exact id across the book. Ids are lower case by
 * construction (REQUEST_ID_PATTERN), so a retyped id is lowered first; but
 * nothing stops a requester from copying another's id into their own record,
 * so the caller must not take the first hit (see lifecycle's locate).
 */
export function findRequests(book: RecordBook, requestId: string): AccessRequest[] {
  const wanted = requestId.trim().toLowerCase();
  const found: AccessRequest[] = [];
  for (const requests of book.requestsByUser.values()) {
    for (const request of requests) if (request.id === wanted) found.push(request);
  }
  return found;
}

/** Reads more requesters' records into the book (batched), for those it does not hold yet. */
export async function addRequesterRecords(
  directory: DirectoryPort,
  book: RecordBook,
  requesterIds: Iterable<string>,
): Promise<void> {
  const wanted = [...new Set(requesterIds)].filter((id) => !book.requestsByUser.has(id));
  if (wanted.length === 0) return;
  const records = await directory.readRecords(
    wanted.map((id) => ({ kind: 'user' as const, id })),
    REQUESTS_EXTENSION,
  );
  for (const id of wanted) book.requestsByUser.set(id, decodeRequests(records.get(id) ?? null, id));
}
