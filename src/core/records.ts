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
import { hasControls, stripControls } from './text.js';

export const REQUESTS_EXTENSION = 'com.ociaccess.requests';
export const DECISIONS_EXTENSION = 'com.ociaccess.decisions';
/** Graph's limit is 2 KB of custom data per open extension; keep headroom for the envelope. */
export const RECORD_BYTE_BUDGET = 1900;
export const MAX_JUSTIFICATION_LENGTH = 200;
export const MAX_REASON_LENGTH = 120;
export const MAX_TICKET_LENGTH = 64;
/** The longest grant any group may allow (the config schema's ceiling for maxHours). */
export const MAX_GRANT_HOURS = 168;
/** Request ids as randomIds makes them: exact, lower case, eight characters. */
export const REQUEST_ID_PATTERN = /^r-[0-9a-z]{8}$/;
/** Closed records older than this are pruned first when space is needed. */
const PRUNE_AFTER_MS = 24 * 3600_000;
const HOUR = 3600_000;

/**
 * Which input rule of `request` a free text breaks (too long, control
 * characters), or undefined when it is fine. Records are checked against the
 * same rules when read: anyone can write their own.
 */
export function textProblem(text: string, max: number): 'too-long' | 'control-characters' | undefined {
  if (text.length > max) return 'too-long';
  if (hasControls(text)) return 'control-characters';
  return undefined;
}

const describeText = (what: string, text: string, max: number): string | undefined => {
  const problem = textProblem(text, max);
  if (problem === 'too-long') return `${what} is ${text.length} characters (at most ${max})`;
  if (problem === 'control-characters') return `${what} contains control characters`;
  return undefined;
};

export interface AccessRequest {
  id: string;
  groupId: string;
  requesterId: string;
  hours: number;
  justification: string;
  ticket?: string;
  requestedAt: Date;
  /**
   * For an extension (`ociaccess extend`): the id of the request whose live
   * grant this one continues. An extension is approved like any request and
   * counts from its own decision time; it is approved only while that grant
   * is live (docs/records.md, "Extensions").
   */
  continues?: string;
  /** Set when the requester cancelled a pending request or revoked their own grant. */
  withdrawn?: { kind: 'cancelled' | 'revoked'; at: Date };
  /**
   * Set when the record breaks the input rules (id format, hours, text):
   * such a request is shown as invalid and never approved or kept. The
   * other fields then hold what could be read, stripped of control characters.
   */
  invalid?: string;
}

export type DecisionKind = 'approved' | 'denied' | 'revoked';
export const AUTO_APPROVER = 'auto';
/**
 * The approver of the decisions the sweep builds from a PIM group's active
 * assignments (core/pim/sweep-input.ts): Entra's PIM, which holds the real
 * approval. Never read from a record; trusted only for groups whose backend is "pim".
 */
export const PIM_APPROVER = 'pim';

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
  /** Set when an approval breaks the input rules: it never keeps anyone (see grants.ts). */
  invalid?: string;
}

/**
 * Every time in a record is whole Unix seconds (docs/records.md). Decisions
 * need no more: approvals are dated by Graph's Date (whole seconds), two in the
 * same second are ordered by approver id, and a revocation wins whatever its time.
 */
const toSeconds = (date: Date) => Math.floor(date.getTime() / 1000);
const fromSeconds = (value: unknown) =>
  typeof value === 'number' && Number.isFinite(value) ? new Date(Math.round(value * 1000)) : undefined;

interface CompactRequest {
  i: string;
  g: string;
  h: number;
  j: string;
  t?: string;
  a: number;
  /** continues: the request id an extension continues (readers before it ignore the key). */
  c?: string;
  w?: 'c' | 'r';
  wa?: number;
}
interface CompactDecision {
  r: string;
  u: string;
  g: string;
  d: 'a' | 'n' | 'x';
  a: number;
  e?: number;
  h?: number;
  y?: string;
}

const KIND_TO_CODE: Record<DecisionKind, CompactDecision['d']> = { approved: 'a', denied: 'n', revoked: 'x' };
const CODE_TO_KIND: Record<CompactDecision['d'], DecisionKind> = { a: 'approved', n: 'denied', x: 'revoked' };

function parseList(payload: RecordPayload | null): unknown[] {
  if (!payload || typeof payload.records !== 'string') return [];
  try {
    const parsed = JSON.parse(payload.records);
    // Anyone can write their own record: keep only objects, so a null or a number cannot crash a reader.
    return Array.isArray(parsed)
      ? parsed.filter((item) => typeof item === 'object' && item !== null && !Array.isArray(item))
      : [];
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
    const justification = typeof r.j === 'string' ? r.j : '';
    const request: AccessRequest = {
      id: stripControls(r.i).slice(0, 40),
      groupId: r.g,
      requesterId,
      hours: r.h,
      justification: stripControls(justification),
      requestedAt,
    };
    if (typeof r.t === 'string') request.ticket = stripControls(r.t);
    if (r.c !== undefined) request.continues = typeof r.c === 'string' ? stripControls(r.c).slice(0, 40) : '';
    if (r.w === 'c' || r.w === 'r')
      request.withdrawn = { kind: r.w === 'c' ? 'cancelled' : 'revoked', at: fromSeconds(r.wa) ?? requestedAt };
    const invalid =
      requestProblem(r.i, r.h, justification, typeof r.t === 'string' ? r.t : undefined) ?? continuesProblem(r.i, r.c);
    if (invalid) request.invalid = invalid;
    out.push(request);
  }
  return out;
}

/** The first input rule a stored request breaks, in words, or undefined. */
function requestProblem(
  id: string,
  hours: number,
  justification: string,
  ticket: string | undefined,
): string | undefined {
  if (!REQUEST_ID_PATTERN.test(id)) return 'its id is not of the form r-xxxxxxxx';
  if (!Number.isFinite(hours) || hours <= 0 || hours > MAX_GRANT_HOURS) return `it asks for ${hours} hours`;
  if (justification.trim() === '') return 'it has no justification';
  return (
    describeText('its justification', justification, MAX_JUSTIFICATION_LENGTH) ??
    (ticket === undefined ? undefined : describeText('its ticket', ticket, MAX_TICKET_LENGTH))
  );
}

/** What is wrong with an extension's `c` (the request it continues), if anything: held to the id rules. */
function continuesProblem(id: string, continues: unknown): string | undefined {
  if (continues === undefined) return undefined;
  if (typeof continues !== 'string' || !REQUEST_ID_PATTERN.test(continues))
    return 'the request it continues is not named r-xxxxxxxx';
  if (continues === id) return 'it continues itself';
  return undefined;
}

export function decodeDecisions(payload: RecordPayload | null, approverId: string): Decision[] {
  const out: Decision[] = [];
  for (const item of parseList(payload)) {
    const d = item as Partial<CompactDecision>;
    const decidedAt = fromSeconds(d.a);
    if (
      typeof d.r !== 'string' ||
      typeof d.u !== 'string' ||
      typeof d.g !== 'string' ||
      !decidedAt ||
      !d.d ||
      !Object.hasOwn(CODE_TO_KIND, d.d)
    )
      continue;
    const decision: Decision = {
      requestId: stripControls(d.r).slice(0, 40),
      requesterId: d.u,
      groupId: d.g,
      kind: CODE_TO_KIND[d.d],
      approverId,
      decidedAt,
    };
    const expiresAt = fromSeconds(d.e);
    if (expiresAt) decision.expiresAt = expiresAt;
    if (typeof d.h === 'number') decision.hours = d.h;
    if (typeof d.y === 'string') decision.reason = stripControls(d.y);
    // Only approvals are held to the input rules: a denial or revocation that breaks them still ends
    // a grant (it can only take access away, and ignoring it would give access back).
    if (decision.kind === 'approved') {
      const invalid = decisionProblem(d.r, d.h, typeof d.y === 'string' ? d.y : undefined);
      if (invalid) decision.invalid = invalid;
    }
    out.push(decision);
  }
  return out;
}

function decisionProblem(requestId: string, hours: unknown, reason: string | undefined): string | undefined {
  if (!REQUEST_ID_PATTERN.test(requestId)) return 'its request id is not of the form r-xxxxxxxx';
  if (
    hours !== undefined &&
    (typeof hours !== 'number' || !Number.isFinite(hours) || hours <= 0 || hours > MAX_GRANT_HOURS)
  )
    return `it grants ${String(hours)} hours`;
  return reason === undefined ? undefined : describeText('its reason', reason, MAX_REASON_LENGTH);
}

function encodeRequest(request: AccessRequest): CompactRequest {
  const compact: CompactRequest = {
    i: request.id,
    g: request.groupId,
    h: request.hours,
    j: request.justification,
    a: toSeconds(request.requestedAt),
  };
  if (request.ticket) compact.t = request.ticket;
  if (request.continues !== undefined) compact.c = request.continues;
  if (request.withdrawn) {
    compact.w = request.withdrawn.kind === 'cancelled' ? 'c' : 'r';
    compact.wa = toSeconds(request.withdrawn.at);
  }
  return compact;
}

function encodeDecision(decision: Decision): CompactDecision {
  const compact: CompactDecision = {
    r: decision.requestId,
    u: decision.requesterId,
    g: decision.groupId,
    d: KIND_TO_CODE[decision.kind],
    a: toSeconds(decision.decidedAt),
  };
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
function fit<T>(
  items: T[],
  encode: (item: T) => unknown,
  isLive: (item: T) => boolean,
  isOld: (item: T) => boolean,
  ageOf: (item: T) => number,
  what: string,
): RecordPayload {
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
    throw new PolicyError(
      'RECORD_FULL',
      `Your ${what} record is full (it holds about 2 KB: an open extension in Entra, a profile attribute in Okta); nothing was written.`,
      {
        hint:
          what === 'decisions'
            ? 'It keeps live approvals, and denials and revocations while the grants they end could still be live; wait for some of them to age out, or use a shorter --reason.'
            : 'Wait for some open requests or grants (and your revocations of them) to end, or shorten the justification.',
      },
    );
  }
  return payload;
}

/**
 * How long a record that ends a grant must be kept, by group id: while the
 * grant it ends could still be live. Dropping it earlier would bring that
 * grant back. Without a config to ask, the longest any group allows.
 */
export type RetentionOf = (groupId: string) => number;
export const LONGEST_RETENTION: RetentionOf = () => MAX_GRANT_HOURS * HOUR;

export function encodeRequests(
  requests: AccessRequest[],
  isLive: (request: AccessRequest) => boolean,
  now: Date,
  retention: RetentionOf = LONGEST_RETENTION,
): RecordPayload {
  // A requester's own revocation ends their grant: kept while the approval it ends could be live.
  const mustKeep = (r: AccessRequest) =>
    isLive(r) || (r.withdrawn?.kind === 'revoked' && now.getTime() - r.withdrawn.at.getTime() < retention(r.groupId));
  return fit(
    requests,
    encodeRequest,
    mustKeep,
    (r) => now.getTime() - r.requestedAt.getTime() > PRUNE_AFTER_MS,
    (r) => r.requestedAt.getTime(),
    'requests',
  );
}

export function encodeDecisions(
  decisions: Decision[],
  now: Date,
  retention: RetentionOf = LONGEST_RETENTION,
): RecordPayload {
  // A denial or revocation is kept while the grant it ends could still be live: once dropped, an
  // approval in another approver's record would count again.
  const isLive = (d: Decision) =>
    d.kind === 'approved'
      ? (d.expiresAt?.getTime() ?? 0) > now.getTime()
      : now.getTime() - d.decidedAt.getTime() < retention(d.groupId);
  const isOld = (d: Decision) => now.getTime() - (d.expiresAt ?? d.decidedAt).getTime() > PRUNE_AFTER_MS;
  return fit(decisions, encodeDecision, isLive, isOld, (d) => d.decidedAt.getTime(), 'decisions');
}
