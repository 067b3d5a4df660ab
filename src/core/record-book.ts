/** Reads every remote record that matters for one group, in batched Graph calls. */
import type { DirectoryPort } from './ports.js';
import { AUTO_APPROVER, DECISIONS_EXTENSION, REQUESTS_EXTENSION, decodeDecisions, decodeRequests, type AccessRequest, type Decision } from './records.js';
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
  const total = requesters.length + approvers.length;
  let requestsRead = 0;
  let decisionsRead = 0;
  const progress = onProgress ? () => onProgress(requestsRead + decisionsRead, total) : undefined;
  const [requestRecords, decisionRecords, autoRecord] = await Promise.all([
    directory.readRecords(requesters.map((id) => ({ kind: 'user' as const, id })), REQUESTS_EXTENSION, progress && ((n) => { requestsRead = n; progress(); })),
    directory.readRecords(approvers.map((id) => ({ kind: 'user' as const, id })), DECISIONS_EXTENSION, progress && ((n) => { decisionsRead = n; progress(); })),
    group.autoApproval ? directory.readRecord({ kind: 'group', id: group.entraGroupId }, DECISIONS_EXTENSION) : Promise.resolve(null),
  ]);
  const requestsByUser = new Map<string, AccessRequest[]>();
  for (const id of requesters) requestsByUser.set(id, decodeRequests(requestRecords.get(id) ?? null, id));
  const decisionsByApprover = new Map<string, Decision[]>();
  for (const id of approvers) decisionsByApprover.set(id, decodeDecisions(decisionRecords.get(id) ?? null, id));
  const autoDecisions = decodeDecisions(autoRecord, AUTO_APPROVER);
  decisionsByApprover.set(AUTO_APPROVER, autoDecisions);
  return { requestsByUser, decisions: [...decisionsByApprover.values()].flat(), decisionsByApprover };
}

/** Finds a request by id across the book; ids are matched case-insensitively (people retype them). */
export function findRequest(book: RecordBook, requestId: string): AccessRequest | undefined {
  const wanted = requestId.trim().toLowerCase();
  for (const requests of book.requestsByUser.values()) {
    const found = requests.find((request) => request.id.toLowerCase() === wanted);
    if (found) return found;
  }
  return undefined;
}

/** Reads more requesters' records into the book (batched), for those it does not hold yet. */
export async function addRequesterRecords(
  directory: DirectoryPort,
  book: RecordBook,
  requesterIds: Iterable<string>,
  onProgress?: (settled: number, total: number) => void,
): Promise<void> {
  const wanted = [...new Set(requesterIds)].filter((id) => !book.requestsByUser.has(id));
  if (wanted.length === 0) return;
  const records = await directory.readRecords(
    wanted.map((id) => ({ kind: 'user' as const, id })),
    REQUESTS_EXTENSION,
    onProgress && ((settled) => onProgress(settled, wanted.length)),
  );
  for (const id of wanted) book.requestsByUser.set(id, decodeRequests(records.get(id) ?? null, id));
}
