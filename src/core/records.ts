/**
 * Remote records: requests live in an open extension on the requester's own
 * user object (a user may write only their own object), decisions in one on
 * the approver's own user object (so a requester can neither forge nor lengthen
 * an approval), and auto-approvals in one on the managed group (written by the
 * automation app only). Open extensions hold at most ~2 KB each, so records are
 * compact and closed ones are pruned before writing.
 */
import { PolicyError } from '../errors.js';
import type { RecordPayload } from './ports.js';

export const REQUESTS_EXTENSION = 'com.ociaccess.requests';
export const DECISIONS_EXTENSION = 'com.ociaccess.decisions';
/** Graph's limit is 2 KB of custom data per open extension; keep headroom for the envelope. */
export const RECORD_BYTE_BUDGET = 1900;
export const MAX_JUSTIFICATION_LENGTH = 200;
export const MAX_REASON_LENGTH = 120;
/** Closed records older than this are pruned first when space is needed. */
const PRUNE_AFTER_MS = 24 * 3600_000;

export interface AccessRequest {
  id: string;
  groupId: string;
  requesterId: string;
  hours: number;
  justification: string;
  ticket?: string;
  requestedAt: Date;
  /** Set when the requester cancelled a pending request or revoked their own grant. */
  withdrawn?: { kind: 'cancelled' | 'revoked'; at: Date };
}

export type DecisionKind = 'approved' | 'denied' | 'revoked';
export const AUTO_APPROVER = 'auto';

export interface Decision {
  requestId: string;
  requesterId: string;
  groupId: string;
  kind: DecisionKind;
  /** Object id of the approver (the owner of the record), or AUTO_APPROVER for the group's rule. */
  approverId: string;
  decidedAt: Date;
  /** For approvals: when the grant ends. */
  expiresAt?: Date;
  hours?: number;
  reason?: string;
}

const toSeconds = (date: Date) => Math.floor(date.getTime() / 1000);
/** Decision times keep milliseconds: two approvers deciding in the same second must still be ordered. */
const toMillisecondSeconds = (date: Date) => date.getTime() / 1000;
const fromSeconds = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? new Date(Math.round(value * 1000)) : undefined);

interface CompactRequest { i: string; g: string; h: number; j: string; t?: string; a: number; w?: 'c' | 'r'; wa?: number }
interface CompactDecision { r: string; u: string; g: string; d: 'a' | 'n' | 'x'; a: number; e?: number; h?: number; y?: string }

const KIND_TO_CODE: Record<DecisionKind, CompactDecision['d']> = { approved: 'a', denied: 'n', revoked: 'x' };
const CODE_TO_KIND: Record<CompactDecision['d'], DecisionKind> = { a: 'approved', n: 'denied', x: 'revoked' };

function parseList(payload: RecordPayload | null): unknown[] {
  if (!payload || typeof payload.records !== 'string') return [];
  try {
    const parsed = JSON.parse(payload.records);
    // Anyone can write their own record: keep only objects, so a null or a number cannot crash a reader.
    return Array.isArray(parsed) ? parsed.filter((item) => typeof item === 'object' && item !== null && !Array.isArray(item)) : [];
  } catch {
    // A record that does not parse is treated as empty: it grants nothing (deny by default).
    return [];
  }
}

export function decodeRequests(payload: RecordPayload | null, requesterId: string): AccessRequest[] {
  const out: AccessRequest[] = [];
  for (const item of parseList(payload)) {
    const r = item as Partial<CompactRequest>;
    const requestedAt = fromSeconds(r.a);
    if (typeof r.i !== 'string' || typeof r.g !== 'string' || typeof r.h !== 'number' || !requestedAt) continue;
    const request: AccessRequest = {
      id: r.i,
      groupId: r.g,
      requesterId,
      hours: r.h,
      justification: typeof r.j === 'string' ? r.j : '',
      requestedAt,
    };
    if (typeof r.t === 'string') request.ticket = r.t;
    if (r.w === 'c' || r.w === 'r') request.withdrawn = { kind: r.w === 'c' ? 'cancelled' : 'revoked', at: fromSeconds(r.wa) ?? requestedAt };
    out.push(request);
  }
  return out;
}

export function decodeDecisions(payload: RecordPayload | null, approverId: string): Decision[] {
  const out: Decision[] = [];
  for (const item of parseList(payload)) {
    const d = item as Partial<CompactDecision>;
    const decidedAt = fromSeconds(d.a);
    if (typeof d.r !== 'string' || typeof d.u !== 'string' || typeof d.g !== 'string' || !decidedAt || !d.d || !Object.hasOwn(CODE_TO_KIND, d.d)) continue;
    const decision: Decision = { requestId: d.r, requesterId: d.u, groupId: d.g, kind: CODE_TO_KIND[d.d], approverId, decidedAt };
    const expiresAt = fromSeconds(d.e);
    if (expiresAt) decision.expiresAt = expiresAt;
    if (typeof d.h === 'number') decision.hours = d.h;
    if (typeof d.y === 'string') decision.reason = d.y;
    out.push(decision);
  }
  return out;
}

function encodeRequest(request: AccessRequest): CompactRequest {
  const compact: CompactRequest = { i: request.id, g: request.groupId, h: request.hours, j: request.justification, a: toSeconds(request.requestedAt) };
  if (request.ticket) compact.t = request.ticket;
  if (request.withdrawn) {
    compact.w = request.withdrawn.kind === 'cancelled' ? 'c' : 'r';
    compact.wa = toSeconds(request.withdrawn.at);
  }
  return compact;
}

function encodeDecision(decision: Decision): CompactDecision {
  const compact: CompactDecision = { r: decision.requestId, u: decision.requesterId, g: decision.groupId, d: KIND_TO_CODE[decision.kind], a: toMillisecondSeconds(decision.decidedAt) };
  if (decision.expiresAt) compact.e = toSeconds(decision.expiresAt);
  if (decision.hours !== undefined) compact.h = decision.hours;
  if (decision.reason) compact.y = decision.reason;
  return compact;
}

function payloadOf(items: unknown[]): RecordPayload {
  return { v: 1, records: JSON.stringify(items) };
}

const byteSize = (payload: RecordPayload) => Buffer.byteLength(JSON.stringify(payload), 'utf8');

/**
 * Encodes records into one extension payload, dropping the least useful ones
 * (closed and old first, then closed, oldest first) until it fits. Records that
 * still matter (pending requests, live grants) are never dropped: if they alone
 * do not fit, the write is refused.
 */
function fit<T>(items: T[], encode: (item: T) => unknown, isLive: (item: T) => boolean, isOld: (item: T) => boolean, ageOf: (item: T) => number, what: string): RecordPayload {
  let kept = [...items];
  const dropOrder = [...items]
    .filter((item) => !isLive(item))
    .sort((a, b) => Number(isOld(b)) - Number(isOld(a)) || ageOf(a) - ageOf(b));
  let payload = payloadOf(kept.map(encode));
  while (byteSize(payload) > RECORD_BYTE_BUDGET && dropOrder.length > 0) {
    const victim = dropOrder.shift()!;
    kept = kept.filter((item) => item !== victim);
    payload = payloadOf(kept.map(encode));
  }
  if (byteSize(payload) > RECORD_BYTE_BUDGET) {
    throw new PolicyError('RECORD_FULL', `Your ${what} record in Entra is full (open extensions hold about 2 KB).`, {
      hint: 'Wait for some open requests or grants to end, or shorten the justification.',
    });
  }
  return payload;
}

export function encodeRequests(requests: AccessRequest[], isLive: (request: AccessRequest) => boolean, now: Date): RecordPayload {
  return fit(requests, encodeRequest, isLive, (r) => now.getTime() - r.requestedAt.getTime() > PRUNE_AFTER_MS, (r) => r.requestedAt.getTime(), 'requests');
}

export function encodeDecisions(decisions: Decision[], now: Date): RecordPayload {
  const isLive = (d: Decision) => d.kind === 'approved' && (d.expiresAt?.getTime() ?? 0) > now.getTime();
  const isOld = (d: Decision) => now.getTime() - (d.expiresAt ?? d.decidedAt).getTime() > PRUNE_AFTER_MS;
  return fit(decisions, encodeDecision, isLive, isOld, (d) => d.decidedAt.getTime(), 'decisions');
}
