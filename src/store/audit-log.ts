/**
 * The per-machine audit log: `audit.jsonl`, one JSON object per line, append-only
 * and hash-chained.
 *
 * Chain: every entry carries `prev` (the previous entry's hash; 64 zeros for the
 * first) and `hash` = sha256 hex of `prev + canonicalJson(entry without hash)`,
 * canonical meaning sorted keys and no whitespace. `seq` counts from 1 without gaps.
 * Editing any field breaks that entry's hash; deleting, inserting or reordering
 * entries breaks the seq sequence or the prev links.
 *
 * Tail anchor: deleting the *last* entries leaves a valid chain, so after each
 * append the {seq, hash} of the newest entry is also written to
 * `audit.jsonl.head` (atomically). verifyAudit() requires the log to reach the
 * head and to agree with it. The head may lag the log (a crash between the two
 * writes), never lead it. A new log's head ({seq 0}) is written before its first
 * entry, so a log file without a head is never legitimate: verify reports
 * 'head-missing' and append refuses (deleting the head with a truncation must
 * not pass, nor be blessed by the next append's new head).
 *
 * Beyond this machine: `verify({ expectHead })` requires the chain to end at a
 * hash kept elsewhere (catches both files rewritten). With an audit key
 * (audit-key.ts) every entry carries `hmac` = HMAC over its hash (outside the
 * hash, so unsealed chains verify as before) and the head carries one over its
 * seq and hash: a log rewritten and re-chained without the key fails. An
 * existing unsealed log is sealed only by an explicit `audit.seal` entry
 * (`ociaccess audit seal`); appends refuse to start sealing on their own, since
 * that would vouch for whatever the unsealed entries had become.
 *
 * Torn lines — the rule: appends write a whole line in one write() under the lock
 * and fsync it, so a complete line (ending in "\n") is always a whole entry. Bytes
 * after the last "\n" are therefore the remains of an append that was interrupted
 * (crash, power loss, full disk) and never acknowledged to its caller.
 * verifyAudit() reports them as problem 'truncated-line' (not tampering), unless
 * the head says an acknowledged entry should be there, which is 'deleted'. The
 * next append repairs: it copies the partial bytes to
 * `audit.jsonl.torn-<time>` (kept), truncates the log back to the end of the last
 * complete line, and appends an `audit.repair` entry naming that copy before its
 * own entry — so the repair itself is in the chain and nothing is silently lost.
 *
 * Append refuses (AUDIT_UNWRITABLE) when the last complete entry does not verify
 * or the head is ahead of the log: chaining onto a damaged log would bless it.
 */
import path from 'node:path';
import { hash } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import { z } from 'zod';
import type { Clock } from '../context.js';
import type { AuditKey, AuditKeySource } from './audit-key.js';
import { StateError, isOciAccessError } from '../errors.js';
import {
  ensureStateDir,
  fsyncDirectory,
  inspectPrivateFile,
  inspectStateDir,
  openPrivateFile,
  readPrivateFile,
  removeOrphanedTempFiles,
  shellQuote,
  writeFileAtomic,
  writeNewPrivateFile,
} from './atomic-file.js';
import { acquireLock, storeLockOptions } from './lock.js';

export const AUDIT_FILE = 'audit.jsonl';
export const GENESIS_HASH = '0'.repeat(64);

export interface AuditActor {
  id: string;
  upn: string;
  kind: 'user' | 'app';
}

export interface AuditTarget {
  groupId?: string;
  groupName?: string;
  userId?: string;
  upn?: string;
  requestId?: string;
}

export type AuditResult = 'ok' | 'failed' | 'pending';

/** What a caller provides; seq, at, host, prev and hash are filled in by append. */
export interface AuditInput {
  actor: AuditActor;
  action: string;
  target?: AuditTarget;
  reason?: string;
  result: AuditResult;
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  seq: number;
  at: string;
  actor: AuditActor;
  host: string;
  action: string;
  target: AuditTarget;
  reason?: string;
  result: AuditResult;
  details?: Record<string, unknown>;
  prev: string;
  hash: string;
  /** The entry's seal, when an audit key was configured: HMAC-SHA256 of `hash` (see audit-key.ts). Not part of the hash. */
  hmac?: string;
}

export type AuditProblem =
  | 'edited' | 'deleted' | 'inserted' | 'reordered' | 'truncated-line' | 'not-json'
  | 'head-missing' | 'head-mismatch' | 'unsealed' | 'bad-seal';

/** What verify found about seals: with a key they were checked, without one only counted. */
export interface AuditSeals {
  /** Whether a key was configured, so that every seal was checked. */
  checked: boolean;
  /** Entries that carry a seal. */
  sealed: number;
  /** Entries before the first sealed one (written before the key was configured and accepted by `audit seal`). */
  unsealed: number;
}

export interface AuditVerification {
  ok: boolean;
  /** Entries that verified, from the start (all of them when ok). */
  entries: number;
  /** seq and hash of the last verified entry (0 and 64 zeros when none). */
  lastSeq: number;
  lastHash: string;
  /** The first seq that cannot be trusted. */
  firstBadSeq?: number;
  problem?: AuditProblem;
  /** A sentence for people. */
  message?: string;
  /** What to do about it, when there is something better than "keep the files as evidence". */
  hint?: string;
  /** Present when a key is configured or some entry is sealed. */
  seals?: AuditSeals;
}

export interface AuditHead {
  seq: number;
  hash: string;
  /** HMAC of seq and hash, when an audit key was configured. */
  hmac?: string;
}

/** The action of the entry that starts sealing a log that has entries from before the key (`ociaccess audit seal`). */
export const SEAL_ACTION = 'audit.seal';

export interface VerifyOptions {
  /** The log file exists but its head record does not (never legitimate once the log exists: see openAuditLog). */
  headMissing?: boolean;
  /** Check every seal against this key. */
  key?: AuditKey;
  /** The chain must end at exactly this hash (64 lower-case hex digits). */
  expectHead?: string;
}

/**
 * JSON with object keys sorted at every level and no whitespace; undefined members are left out, as JSON.stringify does.
 *
 * Plain JSON data (what JSON.parse gives, which is everything the log hashes)
 * takes one native JSON.stringify of a key-sorted copy; anything else (a Date,
 * a function member, an array with holes, a key V8 would order first because
 * it is an array index) takes the member-by-member path. Both give the same
 * text where both apply; test/store/audit-log.test.ts checks that on random values.
 */
export function canonicalJson(value: unknown): string {
  const sorted = sortedPlainCopy(value);
  return sorted === NOT_PLAIN ? canonicalJsonByMembers(value) : (JSON.stringify(sorted) ?? 'null');
}

/** The member-by-member canonical JSON, for any value (exported for the test that it agrees with canonicalJson). */
export function canonicalJsonByMembers(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJsonByMembers(item))).join(',')}]`;
  return joinMembers(canonicalMembers(value as Record<string, unknown>, canonicalJsonByMembers));
}

/** The fields of an AuditTarget, in sorted key order (targetJson writes them in this order). */
const TARGET_FIELDS = ['groupId', 'groupName', 'requestId', 'upn', 'userId'] as const;

const NOT_PLAIN = Symbol('not plain JSON data');
/** An object key V8 keeps ahead of the others whatever the insertion order (an array index). */
const INDEX_LIKE_KEY = /^(?:0|[1-9][0-9]*)$/;

/**
 * A deep copy of plain JSON data with object keys inserted in sorted order and
 * undefined members left out, so that one JSON.stringify gives the canonical
 * text and JSON.parse of that text gives the copy back; NOT_PLAIN for anything
 * JSON would change or V8 would order otherwise (functions, symbols, bigints,
 * NaN, ±Infinity, -0, undefined or missing array items, objects that are not
 * plain, "__proto__" and array-index keys).
 */
function sortedPlainCopy(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : NOT_PLAIN;
    case 'object':
      break;
    default:
      return NOT_PLAIN; // undefined (outside an object member), functions, symbols, bigints
  }
  if (value === null) return null;
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    for (let index = 0; index < value.length; index += 1) {
      const item = index in value ? sortedPlainCopy(value[index]) : NOT_PLAIN;
      if (item === NOT_PLAIN) return NOT_PLAIN;
      copy.push(item);
    }
    return copy;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN; // a Date, a Map, a class instance
  const record = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(record).sort()) {
    if (INDEX_LIKE_KEY.test(key) || key === '__proto__') return NOT_PLAIN;
    const member = record[key];
    if (member === undefined) continue;
    const sorted = sortedPlainCopy(member);
    if (sorted === NOT_PLAIN) return NOT_PLAIN;
    copy[key] = sorted;
  }
  return copy;
}

/** The object text of canonical members. */
function joinMembers(members: [string, string][]): string {
  return `{${members.map(([key, json]) => `${JSON.stringify(key)}:${json}`).join(',')}}`;
}

/** An entry's hash, from its prev and the canonical JSON of the entry without its hash. */
function chainHash(prev: string, canonicalBody: string): string {
  // The one-shot hash (Node ≥ 20.12): no Hash object per entry, half the cost for a sweep's thousand entries.
  return hash('sha256', prev + canonicalBody, 'hex');
}

/** The members of canonicalJson(record), in order: [key, canonical JSON of the value]. */
function canonicalMembers(record: Record<string, unknown>, valueJson: (value: unknown) => string = canonicalJson): [string, string][] {
  return Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
    .map((key) => [key, valueJson(record[key])]);
}

/**
 * An entry (with its hash) and its line, canonicalJson of the entry.
 *
 * What appendNow seals has a fixed shape (checkedInput made fresh actor and
 * target objects of string fields), so the canonical text is written member by
 * member in sorted key order, and only `details` (any JSON) goes through
 * canonicalJson: a sweep seals a thousand entries at once, and copying and
 * stringifying each whole entry twice was most of that append. Details that
 * JSON would change (a Date, NaN) take the general path: the entry is turned
 * into what a reader will parse back first. The property test in
 * test/store/audit-log.test.ts checks every line against canonicalJsonByMembers.
 */
function sealEntry(draft: Omit<AuditEntry, 'hash' | 'hmac'>, key?: AuditKey): { entry: AuditEntry; line: string } {
  const details = draft.details === undefined ? undefined : sortedPlainCopy(draft.details);
  if (details === NOT_PLAIN) return sealAnyEntry(draft, key);
  const quote = JSON.stringify;
  const { action, actor, at, host, prev, reason, result, seq, target } = draft;
  const head =
    `{"action":${quote(action)},"actor":{"id":${quote(actor.id)},"kind":${quote(actor.kind)},"upn":${quote(actor.upn)}},"at":${quote(at)}` +
    (details === undefined ? '' : `,"details":${quote(details)}`);
  const tail =
    `,"host":${quote(host)},"prev":${quote(prev)}${reason === undefined ? '' : `,"reason":${quote(reason)}`}` +
    `,"result":${quote(result)},"seq":${seq},"target":${targetJson(target)}}`;
  const hash = chainHash(prev, head + tail);
  const hmac = key?.sealEntry(hash);
  const entry: AuditEntry = {
    action, actor, at, ...(details === undefined ? {} : { details: details as Record<string, unknown> }),
    hash, ...(hmac === undefined ? {} : { hmac }), host, prev, ...(reason === undefined ? {} : { reason }), result, seq, target,
  };
  // "hmac" sorts between "hash" and "host", so the line stays canonical JSON.
  return { entry, line: `${head},"hash":"${hash}"${hmac === undefined ? '' : `,"hmac":"${hmac}"`}${tail}` };
}

/** A target's canonical JSON: its string fields in sorted key order. */
function targetJson(target: AuditTarget): string {
  let members = '';
  for (const field of TARGET_FIELDS) {
    const value = target[field];
    if (value !== undefined) members += `${members === '' ? '' : ','}"${field}":${JSON.stringify(value)}`;
  }
  return `{${members}}`;
}

/** sealEntry for any draft: the JSON round trip first, then the members in sorted order with the hash in its place. */
function sealAnyEntry(draft: Omit<AuditEntry, 'hash' | 'hmac'>, key?: AuditKey): { entry: AuditEntry; line: string } {
  const body = JSON.parse(JSON.stringify(draft)) as Omit<AuditEntry, 'hash'>;
  const members = canonicalMembers(body as unknown as Record<string, unknown>);
  const hash = chainHash(body.prev, joinMembers(members));
  const hmac = key?.sealEntry(hash);
  const at = members.findIndex(([name]) => name > 'hash');
  const withHash: [string, string][] = [...members];
  withHash.splice(at === -1 ? members.length : at, 0, ['hash', JSON.stringify(hash)], ...(hmac === undefined ? [] : [['hmac', JSON.stringify(hmac)] as [string, string]]));
  return { entry: { ...body, hash, ...(hmac === undefined ? {} : { hmac }) }, line: joinMembers(withHash) };
}

/** Lets other work (answers arriving, requests to send) run between slices of a long loop. */
const breather = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/**
 * Entries handled between two breathers: about a millisecond of work, so that
 * a sweep's thousand-entry append (written while its reads go on) holds up an
 * arriving answer, and the call it frees, by that much at most.
 */
const SLICE = 25;

/** sha256 hex of prev + canonicalJson(entry without its hash and its seal). */
export function computeEntryHash(entry: Omit<AuditEntry, 'hash'> | AuditEntry): string {
  const { hash: _hash, hmac: _hmac, ...rest } = entry as AuditEntry;
  return chainHash(entry.prev, canonicalJson(rest));
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const entrySchema = z.looseObject({
  seq: z.number().int().positive(),
  at: z.string(),
  actor: z.looseObject({ id: z.string(), upn: z.string(), kind: z.enum(['user', 'app']) }),
  host: z.string(),
  action: z.string().min(1),
  target: z.looseObject({}),
  reason: z.string().optional(),
  result: z.enum(['ok', 'failed', 'pending']),
  details: z.record(z.string(), z.unknown()).optional(),
  prev: hex64,
  hash: hex64,
  hmac: hex64.optional(),
});

const RESULTS: readonly AuditResult[] = ['ok', 'failed', 'pending'];

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * What a caller asked to append, checked and copied with only the known fields
 * (a sweep appends a thousand at once; a schema library took a fifth of that
 * append). Returns the problem as a sentence when the input is not an entry.
 */
function checkedInput(input: AuditInput): { ok: true; input: AuditInput } | { ok: false; problem: string } {
  const given = input as unknown as Record<string, unknown>;
  if (!isRecord(given)) return { ok: false, problem: 'it is not an object' };
  const actor = given.actor;
  if (!isRecord(actor) || typeof actor.id !== 'string' || typeof actor.upn !== 'string' || (actor.kind !== 'user' && actor.kind !== 'app')) {
    return { ok: false, problem: 'actor needs id and upn (strings) and kind "user" or "app"' };
  }
  if (typeof given.action !== 'string' || given.action.length === 0) return { ok: false, problem: 'action must be a non-empty string' };
  if (!RESULTS.includes(given.result as AuditResult)) return { ok: false, problem: `result must be one of ${RESULTS.join(', ')}` };
  if (given.reason !== undefined && typeof given.reason !== 'string') return { ok: false, problem: 'reason must be a string' };
  if (given.details !== undefined && !isRecord(given.details)) return { ok: false, problem: 'details must be an object' };
  let target: AuditTarget | undefined;
  if (given.target !== undefined) {
    if (!isRecord(given.target)) return { ok: false, problem: 'target must be an object' };
    const copy: Record<string, string> = {};
    for (const field of TARGET_FIELDS) {
      const value = given.target[field];
      if (value === undefined) continue;
      if (typeof value !== 'string') return { ok: false, problem: `target.${field} must be a string` };
      copy[field] = value;
    }
    target = copy;
  }
  return {
    ok: true,
    input: {
      actor: { id: actor.id, upn: actor.upn, kind: actor.kind },
      action: given.action,
      ...(target === undefined ? {} : { target }),
      ...(given.reason === undefined ? {} : { reason: given.reason }),
      result: given.result as AuditResult,
      ...(given.details === undefined ? {} : { details: given.details }),
    },
  };
}

type ParsedLine = { kind: 'entry'; entry: AuditEntry } | { kind: 'not-json' } | { kind: 'bad-shape' };

function parseLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: 'not-json' };
  }
  const parsed = entrySchema.safeParse(value);
  // Hash the value as it appears in the file, not zod's copy of it.
  return parsed.success ? { kind: 'entry', entry: value as AuditEntry } : { kind: 'bad-shape' };
}

/** Splits log text into complete lines and the bytes after the last newline (a torn append), if any. */
function splitLines(content: string): { lines: string[]; torn?: string } {
  if (content.length === 0) return { lines: [] };
  const parts = content.split('\n');
  const last = parts.pop() as string;
  return last.length > 0 ? { lines: parts, torn: last } : { lines: parts };
}

/**
 * Verifies log text (and, if known, its head). Pure: the file-reading wrapper is
 * verifyAudit(). Stops at the first problem, classified as:
 * - not-json: a complete line that is not JSON;
 * - edited: an entry whose hash does not match its content, a missing field, or an
 *   entry that does not chain to the one before it although its seq is right (the
 *   one before was rewritten), or a head that disagrees with the log;
 * - deleted: a gap in seq with the missing seq nowhere later, or a log that ends
 *   before its head;
 * - reordered: a gap in seq whose missing entry appears later;
 * - inserted: a seq that was already used (a duplicate or a forged entry);
 * - truncated-line: an unterminated last line, i.e. an interrupted append;
 * - head-missing: the log exists but its head record does not (options.headMissing):
 *   the end of the log cannot be checked, which is what deleting the head with a
 *   truncation looks like;
 * - bad-seal: with options.key, an entry's or the head's seal does not match;
 * - unsealed: with options.key, an entry after the first sealed one has no seal,
 *   a log with entries has none sealed, or unsealed entries are not followed by
 *   an `audit.seal` entry (only `ociaccess audit seal` starts sealing an old log);
 * - head-mismatch: the chain does not end at options.expectHead.
 */
export function verifyAuditContent(content: string, head?: AuditHead, options: VerifyOptions = {}): AuditVerification {
  const { lines, torn } = splitLines(content);
  const parsed = lines.map(parseLine);
  const key = options.key;
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let sealed = 0;
  let unsealed = 0;
  const seals = (): { seals?: AuditSeals } => (key !== undefined || sealed > 0 ? { seals: { checked: key !== undefined, sealed, unsealed: key ? unsealed : 0 } } : {});
  const bad = (problem: AuditProblem, firstBadSeq: number | undefined, message: string, hint?: string): AuditVerification => {
    const trusted = firstBadSeq === undefined ? expectedSeq - 1 : Math.min(expectedSeq - 1, firstBadSeq - 1);
    return {
      ok: false, entries: trusted, lastSeq: expectedSeq - 1, lastHash: prevHash, problem, message,
      ...(firstBadSeq === undefined ? {} : { firstBadSeq }), ...(hint === undefined ? {} : { hint }), ...seals(),
    };
  };
  const rewrittenWithoutKey = 'Keep audit.jsonl and audit.jsonl.head as evidence and compare them with an off-machine copy; if the key was replaced, configure the key that sealed this log.';
  for (let index = 0; index < parsed.length; index += 1) {
    const line = parsed[index]!;
    const lineNo = index + 1;
    if (line.kind === 'not-json') return bad('not-json', expectedSeq, `Line ${lineNo} is not JSON.`);
    if (line.kind === 'bad-shape') return bad('edited', expectedSeq, `Line ${lineNo} is not a complete audit entry (a field is missing or has the wrong type).`);
    const entry = line.entry;
    if (computeEntryHash(entry) !== entry.hash) {
      return bad('edited', expectedSeq, `Entry ${expectedSeq} (line ${lineNo}) was changed after it was written: its hash does not match its content.`);
    }
    if (entry.seq !== expectedSeq) {
      if (entry.seq < expectedSeq) {
        // Which of the two lines with this seq is the original cannot be told, so trust neither.
        return bad('inserted', entry.seq, `Line ${lineNo} repeats seq ${entry.seq}, which an earlier line already has: an entry was inserted or duplicated.`);
      }
      const later = parsed.slice(index + 1).some((p) => p.kind === 'entry' && p.entry.seq === expectedSeq);
      return later
        ? bad('reordered', expectedSeq, `Line ${lineNo} has seq ${entry.seq} where ${expectedSeq} was expected, and ${expectedSeq} comes later: entries were reordered.`)
        : bad('deleted', expectedSeq, `Entries ${expectedSeq}${entry.seq - 1 > expectedSeq ? `–${entry.seq - 1}` : ''} are missing before line ${lineNo}.`);
    }
    if (entry.prev !== prevHash) {
      const nextIsSameSeq = parsed[index + 1]?.kind === 'entry' && (parsed[index + 1] as { entry: AuditEntry }).entry.seq === entry.seq;
      if (nextIsSameSeq) {
        return bad('inserted', expectedSeq, `Line ${lineNo} (seq ${entry.seq}) does not chain to the entry before it and the next line has the same seq: an entry was inserted.`);
      }
      const suspect = Math.max(1, expectedSeq - 1);
      return bad('edited', suspect, `Entry ${expectedSeq} (line ${lineNo}) does not chain to entry ${expectedSeq - 1}: entry ${suspect} was rewritten or replaced.`);
    }
    if (entry.hmac !== undefined) {
      if (key !== undefined && entry.hmac !== key.sealEntry(entry.hash)) {
        return bad('bad-seal', expectedSeq, `Entry ${expectedSeq} (line ${lineNo}) has a seal that does not match the audit key from ${key.source}: the log was rewritten by someone without the key, or this is not the key that sealed it.`, rewrittenWithoutKey);
      }
      if (key !== undefined && sealed === 0 && expectedSeq > 1 && entry.action !== SEAL_ACTION) {
        return bad('unsealed', 1, `Entries 1–${expectedSeq - 1} are not sealed and entry ${expectedSeq}, the first sealed one, is not an ${SEAL_ACTION} entry: unsealed entries were put in front of a sealed log.`, rewrittenWithoutKey);
      }
      sealed += 1;
    } else if (key !== undefined) {
      if (sealed > 0) {
        return bad('unsealed', expectedSeq, `Entry ${expectedSeq} (line ${lineNo}) is not sealed although ${sealed} entr${sealed === 1 ? 'y' : 'ies'} before it ${sealed === 1 ? 'is' : 'are'}: it was written or rewritten without the audit key.`, rewrittenWithoutKey);
      }
      unsealed += 1;
    }
    prevHash = entry.hash;
    expectedSeq += 1;
  }
  const lastSeq = expectedSeq - 1;
  if (key !== undefined && lastSeq > 0 && sealed === 0) {
    return bad('unsealed', 1, `An audit key is configured (${key.source}) but none of the ${lastSeq} entries is sealed, so the log cannot be told from one rewritten without the key.`,
      'If the key was configured only now, check the log another way (an off-machine copy, `--expect-head`), then run `ociaccess audit seal`; otherwise keep the files as evidence.');
  }
  if (options.headMissing) {
    return bad('head-missing', lastSeq + 1, `The head record audit.jsonl.head is missing but the log exists (${lastSeq} entr${lastSeq === 1 ? 'y' : 'ies'}): entries may have been removed from its end, and nothing here can tell.`,
      'Keep audit.jsonl as evidence. If you shipped the head hash off this machine, compare: `ociaccess audit verify --expect-head HASH`. To start a new log, move audit.jsonl aside (the next command writes a new log and head).');
  }  if (head !== undefined && head.seq > lastSeq) {
    return bad('deleted', lastSeq + 1, `The log ends at entry ${lastSeq} but entry ${head.seq} was written${torn === undefined ? '' : ' (the last line is cut short)'}: entries were removed from the end.`);
  }
  if (head !== undefined && head.seq > 0) {
    const atHead = parsed[head.seq - 1] as { entry: AuditEntry };
    if (atHead.entry.hash !== head.hash) {
      return bad('edited', head.seq, `Entry ${head.seq} does not match the recorded head hash: the log was rewritten at or before entry ${head.seq}.`);
    }
  }
  // Once a log is sealed its head is too; an unsealed or forged head could otherwise hide a cut-back log (a head may lag).
  if (key !== undefined && sealed > 0 && head !== undefined && head.hmac !== key.sealHead(head.seq, head.hash)) {
    return bad('bad-seal', Math.min(head.seq + 1, lastSeq), `The head record audit.jsonl.head is ${head.hmac === undefined ? 'not sealed' : 'sealed with another key'} although the log is sealed: it was replaced by someone without the audit key (from ${key.source}).`, rewrittenWithoutKey);
  }
  if (torn !== undefined) {
    return bad('truncated-line', lastSeq + 1, `The last line is incomplete (${Buffer.byteLength(torn)} bytes): an append was interrupted. This is not tampering; the next append moves those bytes aside.`);
  }
  if (options.expectHead !== undefined && options.expectHead !== prevHash) {
    const at = parsed.findIndex((line) => line.kind === 'entry' && line.entry.hash === options.expectHead);
    return at === -1
      ? bad('head-mismatch', 1, `The log ends at entry ${lastSeq} with hash ${prevHash}, and the expected head ${options.expectHead} is nowhere in it: the log was rewritten, or that hash is of another machine's log.`,
        'Keep audit.jsonl and audit.jsonl.head as evidence and compare them with the off-machine copy.')
      : bad('head-mismatch', at + 2, `The expected head is entry ${at + 1}, but the log goes on to entry ${lastSeq}: entries 1–${at + 1} match it; the ${lastSeq - at - 1} after it are not covered by that anchor.`,
        `Check entries ${at + 2}–${lastSeq} another way, then anchor on the current head: --expect-head sha256:${prevHash}`);
  }
  return { ok: true, entries: lastSeq, lastSeq, lastHash: prevHash, ...seals() };
}

export interface AuditLogHost {
  clock: Clock;
  pid: number;
  hostname: string;
  platform?: NodeJS.Platform;
  /** The effective uid: the state directory must be owned by it. */
  uid?: number;
}

export interface AuditLogOptions {
  /** The audit key, when one is configured: every entry and the head are then sealed, and verify checks the seals. */
  key?: AuditKeySource;
  lockTimeoutMs?: number;
  lockStaleAfterMs?: number;
  isProcessAlive?: (pid: number) => boolean;
}

export interface AuditLog {
  readonly file: string;
  /** Appends one entry (fsynced before returning). Throws StateError AUDIT_UNWRITABLE when it cannot. */
  append(input: AuditInput): Promise<AuditEntry>;
  /**
   * Appends several entries under one lock and one fsync (a sweep of a big
   * group audits thousands of actions; one fsync each would take minutes).
   * All or none: the entries are written in one write().
   */
  appendMany(inputs: AuditInput[]): Promise<AuditEntry[]>;
  /** The complete entries, oldest first; `since` keeps those at or after that time. Throws AUDIT_CORRUPT on a line that is not an entry. */
  read(options?: { since?: Date | string }): Promise<AuditEntry[]>;
  /** Checks the chain, the head, the seals (with a key) and, if given, that the chain ends at expectHead. */
  verify(options?: { expectHead?: string }): Promise<AuditVerification>;
  /**
   * Starts sealing a log that has entries from before the key was configured:
   * checks the whole log (chain and head) and appends a sealed `audit.seal`
   * entry, after which every entry must be sealed. Returns undefined when there
   * is nothing to do (the log is empty or already sealed). Needs a key.
   */
  seal(actor: AuditActor): Promise<AuditEntry | undefined>;
}

function unwritable(file: string, error: unknown): StateError {
  if (isOciAccessError(error) && error.code === 'AUDIT_UNWRITABLE') return error as StateError;
  const inner = isOciAccessError(error) ? error : undefined;
  return new StateError('AUDIT_UNWRITABLE', `Cannot write the audit log ${file}: ${(error as Error).message}`, {
    hint: inner?.hint ?? 'Check free disk space and that you own the state directory.',
    details: { path: file, ...(inner ? { reason: inner.code } : {}) },
    cause: error,
  });
}

function parseHead(bytes: Buffer | undefined): AuditHead | undefined | 'invalid' {
  if (bytes === undefined) return undefined;
  try {
    const value = JSON.parse(bytes.toString('utf8')) as AuditHead;
    if (value.hmac !== undefined && typeof value.hmac !== 'string') return 'invalid';
    if (Number.isInteger(value.seq) && value.seq >= 0 && typeof value.hash === 'string') {
      return { seq: value.seq, hash: value.hash, ...(value.hmac === undefined ? {} : { hmac: value.hmac }) };
    }
  } catch {
    // fall through
  }
  return 'invalid';
}

/** The last complete line and any torn bytes after it, read backwards from the end. */
async function readTail(handle: fs.FileHandle, size: number): Promise<{ lastLine?: string; goodEnd: number; torn?: Buffer }> {
  let pos = size;
  let chunk = Buffer.alloc(0);
  while (pos > 0) {
    const length = Math.min(64 * 1024, pos);
    pos -= length;
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, pos);
    chunk = Buffer.concat([buffer, chunk]);
    const last = chunk.lastIndexOf(10);
    if (last > 0 && chunk.lastIndexOf(10, last - 1) !== -1) break;
  }
  const last = chunk.lastIndexOf(10);
  if (last === -1) return chunk.length > 0 ? { goodEnd: 0, torn: chunk } : { goodEnd: 0 };
  const before = last === 0 ? -1 : chunk.lastIndexOf(10, last - 1);
  const lastLine = chunk.subarray(before + 1, last).toString('utf8');
  const torn = chunk.subarray(last + 1);
  return { lastLine, goodEnd: pos + last + 1, ...(torn.length > 0 ? { torn } : {}) };
}

/** The head file's text: seq and hash of the newest entry, sealed when there is a key. */
function headRecord(seq: number, entryHash: string, key: AuditKey | undefined): string {
  const record: AuditHead = { seq, hash: entryHash, ...(key === undefined ? {} : { hmac: key.sealHead(seq, entryHash) }) };
  return `${JSON.stringify(record)}\n`;
}

function timestampForFileName(date: Date): string {
  return date.toISOString().replace(/:/g, '-');
}

export function openAuditLog(stateDir: string, host: AuditLogHost, options: AuditLogOptions = {}): AuditLog {
  const file = path.join(stateDir, AUDIT_FILE);
  const headFile = `${file}.head`;
  const lockFile = `${file}.lock`;
  const fsOptions = { platform: host.platform, uid: host.uid };
  const lockOptions = storeLockOptions(host, options, 'an audit log append');
  let queue: Promise<unknown> = Promise.resolve();

  async function readHead(): Promise<AuditHead | undefined | 'invalid'> {
    return parseHead(await readPrivateFile(headFile, fsOptions));
  }

  /** A refusal to append, naming why (details.reason) and the way out. */
  function refuse(reason: string, message: string, hint: string): StateError {
    return new StateError('AUDIT_UNWRITABLE', message, { hint, details: { path: file, reason } });
  }

  /**
   * @param mode 'seal': the `ociaccess audit seal` append, which may start sealing
   *   a log whose entries are unsealed (after checking all of it); 'checked': an
   *   ordinary append, which refuses to do that.
   */
  async function appendNow(given: AuditInput[], mode: 'checked' | 'seal' = 'checked'): Promise<AuditEntry[]> {
    const valid: AuditInput[] = [];
    for (const input of given) {
      if (valid.length > 0 && valid.length % SLICE === 0) await breather();
      const checked = checkedInput(input);
      if (!checked.ok) {
        throw new StateError('AUDIT_INVALID_ENTRY', `Refusing to write an invalid audit entry: ${checked.problem}.`, {
          hint: 'This is a bug in ociaccess; please report it.',
        });
      }
      valid.push(checked.input);
    }
    if (valid.length === 0) return [];
    const key = await options.key?.();
    await ensureStateDir(stateDir, fsOptions);
    const lock = await acquireLock(lockFile, lockOptions);
    let handle: fs.FileHandle | undefined;
    try {
      await removeOrphanedTempFiles(headFile);
      const existed = await inspectPrivateFile(file, fsOptions);
      const head = await readHead();
      if (head === undefined) {
        if (existed) {
          // Deleting the head with a truncation would look exactly like this; a new head here would bless the cut.
          throw refuse('AUDIT_HEAD_MISSING', `The audit log ${file} has no head record ${headFile}, so entries may have been removed from its end; a new entry is not chained to it.`,
            `Run \`ociaccess audit verify\` and keep the log as evidence; to start a new log, move ${shellQuote(file)} aside.`);
        }
        // A new log: its head exists before its first entry does, so that a log without a head is never legitimate.
        await writeFileAtomic(headFile, headRecord(0, GENESIS_HASH, key), fsOptions);
      }
      handle = await openPrivateFile(file, fsConstants.O_RDWR | fsConstants.O_APPEND | fsConstants.O_CREAT, fsOptions);
      if (handle === undefined) throw new Error('the file vanished while opening it');
      const { size } = await handle.stat();
      const tail = await readTail(handle, size);

      let lastSeq = 0;
      let lastHash = GENESIS_HASH;
      let lastSealed = false;
      if (tail.lastLine !== undefined) {
        const parsed = parseLine(tail.lastLine);
        if (parsed.kind !== 'entry' || computeEntryHash(parsed.entry) !== parsed.entry.hash) {
          throw new StateError('AUDIT_UNWRITABLE', `The last entry of the audit log ${file} is damaged, so a new entry cannot be chained to it.`, {
            hint: `Run \`ociaccess audit verify\` and keep the file as evidence; to start a new log, move it and ${path.basename(headFile)} aside.`,
            details: { path: file },
          });
        }
        lastSeq = parsed.entry.seq;
        lastHash = parsed.entry.hash;
        lastSealed = parsed.entry.hmac !== undefined;
      }
      if (head === 'invalid' || (head !== undefined && (head.seq > lastSeq || (head.seq === lastSeq && head.hash !== lastHash)))) {
        throw new StateError('AUDIT_UNWRITABLE', `The audit log ${file} does not reach or match its head record ${headFile}: entries were removed or rewritten.`, {
          hint: `Run \`ociaccess audit verify\` and keep both files as evidence; to start a new log, move ${shellQuote(file)} and ${shellQuote(headFile)} aside.`,
          details: { path: file },
        });
      }
      const evidence = `Run \`ociaccess audit verify\` and keep ${shellQuote(file)} and ${shellQuote(headFile)} as evidence.`;
      if (lastSealed && key === undefined) {
        throw refuse('AUDIT_KEY_MISSING', `The audit log ${file} is sealed with an audit key, but no key is configured; entries written now would be unsealed and the log would no longer verify.`,
          'Configure the key that sealed it (OCIACCESS_AUDIT_KEY_FILE, or audit.keyFile in the config; see docs/configuration.md).');
      }
      if (lastSealed && key !== undefined) {
        const last = (parseLine(tail.lastLine!) as { entry: AuditEntry }).entry;
        if (last.hmac !== key.sealEntry(last.hash)) {
          throw refuse('AUDIT_BAD_SEAL', `The last entry of the audit log ${file} is not sealed with the audit key from ${key.source}: the log was rewritten without the key, or this is another key.`, evidence);
        }
        // head is defined here: a missing one was refused above (a log with a sealed entry exists).
        const sealedHead = head as AuditHead | undefined;
        if (sealedHead === undefined || sealedHead.hmac !== key.sealHead(sealedHead.seq, sealedHead.hash)) {
          throw refuse('AUDIT_BAD_SEAL', `The head record ${headFile} is not sealed with the audit key from ${key.source} although the log is: it was replaced.`, evidence);
        }
      }
      if (!lastSealed && lastSeq > 0 && key !== undefined && mode !== 'seal') {
        // Sealing onto unsealed entries would vouch for them: someone who rewrote the log without the key would only need to wait for the next append.
        throw refuse('AUDIT_NOT_SEALED', `An audit key is configured (${key.source}) but the entries of the audit log ${file} are not sealed; the first sealed entry must be an \`audit seal\` that an admin ran.`,
          'Check the log (`ociaccess audit verify`, and an off-machine copy if you have one), then run `ociaccess audit seal`.');
      }
      if (mode === 'seal') {
        if (key === undefined) throw refuse('AUDIT_KEY_MISSING', 'No audit key is configured, so there is nothing to seal with.', 'Configure one (see docs/configuration.md#audit-key).');
        if (lastSealed || lastSeq === 0) return [];
        const whole = verifyAuditContent((await readPrivateFile(file, fsOptions))?.toString('utf8') ?? '', head);
        if (!whole.ok) {
          throw refuse('AUDIT_BROKEN', `The audit log ${file} does not verify (${whole.problem}: ${whole.message ?? ''}); sealing it would vouch for it.`, evidence);
        }
      }

      const now = host.clock.now();
      const inputs: AuditInput[] = [];
      if (tail.torn !== undefined) {
        const savedAs = await writeNewPrivateFile(`${file}.torn-${timestampForFileName(now)}`, tail.torn);
        await handle.truncate(tail.goodEnd);
        await handle.sync();
        inputs.push({
          actor: valid[0]!.actor,
          action: 'audit.repair',
          target: {},
          reason: 'An earlier append was interrupted; its partial line was moved out of the log.',
          result: 'ok',
          details: { tornBytes: tail.torn.length, savedAs: path.basename(savedAs), afterSeq: lastSeq },
        });
      }
      inputs.push(...valid);

      const entries: AuditEntry[] = [];
      const lines: string[] = [];
      const at = now.toISOString();
      for (const item of inputs) {
        if (entries.length > 0 && entries.length % SLICE === 0) await breather();
        const sealed = sealEntry({
          seq: lastSeq + 1,
          at,
          actor: item.actor,
          host: host.hostname,
          action: item.action,
          target: item.target ?? {},
          reason: item.reason,
          result: item.result,
          details: item.details,
          prev: lastHash,
        }, key);
        const entry = sealed.entry;
        entries.push(entry);
        lines.push(`${sealed.line}\n`);
        lastSeq = entry.seq;
        lastHash = entry.hash;
      }
      const bytes = Buffer.from(lines.join(''), 'utf8');
      // One write under the lock; loop only if the kernel accepts part of it.
      for (let offset = 0; offset < bytes.length; ) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
        offset += bytesWritten;
      }
      await handle.sync();
      if (!existed) await fsyncDirectory(stateDir);
      // The entry is durable now. A failed head update only weakens the tail check
      // until the next append (verify accepts a head that lags), so it is not an error.
      await writeFileAtomic(headFile, headRecord(lastSeq, lastHash, key), fsOptions).catch(() => undefined);
      return entries.slice(entries.length - valid.length);
    } finally {
      await handle?.close();
      await lock.release();
    }
  }

  function enqueue(inputs: AuditInput[], mode: 'checked' | 'seal' = 'checked'): Promise<AuditEntry[]> {
    const run = queue.then(() => appendNow(inputs, mode)).catch((error: unknown) => {
      throw unwritable(file, error);
    });
    queue = run.catch(() => undefined);
    return run;
  }

  async function readContent(): Promise<string> {
    if (!(await inspectStateDir(stateDir, fsOptions))) return '';
    return (await readPrivateFile(file, fsOptions))?.toString('utf8') ?? '';
  }

  async function read(readOptions: { since?: Date | string } = {}): Promise<AuditEntry[]> {
    const { lines } = splitLines(await readContent());
    const since = readOptions.since === undefined ? undefined : new Date(readOptions.since).getTime();
    const entries: AuditEntry[] = [];
    lines.forEach((line, index) => {
      const parsed = parseLine(line);
      if (parsed.kind !== 'entry') {
        throw new StateError('AUDIT_CORRUPT', `Line ${index + 1} of the audit log ${file} is not an audit entry.`, {
          hint: 'Run `ociaccess audit verify` to see what changed.',
          details: { path: file, line: index + 1 },
        });
      }
      if (since === undefined || Date.parse(parsed.entry.at) >= since) entries.push(parsed.entry);
    });
    return entries;
  }

  async function verify(verifyOptions: { expectHead?: string } = {}): Promise<AuditVerification> {
    const key = await options.key?.();
    const checks: VerifyOptions = { ...(key === undefined ? {} : { key }), ...(verifyOptions.expectHead === undefined ? {} : { expectHead: verifyOptions.expectHead }) };
    // No state directory: nothing was ever written here (or all of it was removed, which only an anchor kept elsewhere can tell).
    if (!(await inspectStateDir(stateDir, fsOptions))) return verifyAuditContent('', undefined, checks);
    // Under the lock so an append cannot land between reading the head and the log.
    const lock = await acquireLock(lockFile, lockOptions);
    try {
      const head = await readHead();
      const bytes = await readPrivateFile(file, fsOptions);
      const content = bytes?.toString('utf8') ?? '';
      if (head === 'invalid') {
        const result = verifyAuditContent(content, undefined, checks);
        return { ...result, ok: false, problem: 'edited', message: `The head record ${headFile} is not valid, so the end of the log cannot be checked.` };
      }
      return verifyAuditContent(content, head, { ...checks, headMissing: head === undefined && bytes !== undefined });
    } finally {
      await lock.release();
    }
  }

  return {
    file,
    append(input) {
      return enqueue([input]).then((entries) => entries[0]!);
    },
    appendMany(inputs) {
      return enqueue(inputs);
    },
    read,
    verify,
    async seal(actor) {
      const entries = await enqueue([{
        actor,
        action: SEAL_ACTION,
        target: {},
        reason: 'Sealing started: the entries before this one were written before the audit key was configured and were checked when it was sealed.',
        result: 'ok',
      }], 'seal');
      return entries[0];
    },
  };
}

/** One-shot helpers for callers that do not keep an AuditLog around. */
export function appendAudit(stateDir: string, host: AuditLogHost, input: AuditInput, options?: AuditLogOptions): Promise<AuditEntry> {
  return openAuditLog(stateDir, host, options).append(input);
}

export function readAudit(stateDir: string, host: AuditLogHost, options: { since?: Date | string } = {}): Promise<AuditEntry[]> {
  return openAuditLog(stateDir, host).read(options);
}

export function verifyAudit(stateDir: string, host: AuditLogHost): Promise<AuditVerification> {
  return openAuditLog(stateDir, host).verify();
}
