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
 * writes), never lead it. This is tamper-evidence against accidents and casual
 * edits on this machine: someone who can rewrite both files can rewrite history,
 * so ship the log (or at least the head hash) off the machine if that matters.
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
}

export type AuditProblem = 'edited' | 'deleted' | 'inserted' | 'reordered' | 'truncated-line' | 'not-json';

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
}

export interface AuditHead {
  seq: number;
  hash: string;
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
function sealEntry(draft: Omit<AuditEntry, 'hash'>): { entry: AuditEntry; line: string } {
  const details = draft.details === undefined ? undefined : sortedPlainCopy(draft.details);
  if (details === NOT_PLAIN) return sealAnyEntry(draft);
  const quote = JSON.stringify;
  const { action, actor, at, host, prev, reason, result, seq, target } = draft;
  const head =
    `{"action":${quote(action)},"actor":{"id":${quote(actor.id)},"kind":${quote(actor.kind)},"upn":${quote(actor.upn)}},"at":${quote(at)}` +
    (details === undefined ? '' : `,"details":${quote(details)}`);
  const tail =
    `,"host":${quote(host)},"prev":${quote(prev)}${reason === undefined ? '' : `,"reason":${quote(reason)}`}` +
    `,"result":${quote(result)},"seq":${seq},"target":${targetJson(target)}}`;
  const hash = chainHash(prev, head + tail);
  const entry: AuditEntry = {
    action, actor, at, ...(details === undefined ? {} : { details: details as Record<string, unknown> }),
    hash, host, prev, ...(reason === undefined ? {} : { reason }), result, seq, target,
  };
  return { entry, line: `${head},"hash":"${hash}"${tail}` };
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
function sealAnyEntry(draft: Omit<AuditEntry, 'hash'>): { entry: AuditEntry; line: string } {
  const body = JSON.parse(JSON.stringify(draft)) as Omit<AuditEntry, 'hash'>;
  const members = canonicalMembers(body as unknown as Record<string, unknown>);
  const hash = chainHash(body.prev, joinMembers(members));
  const at = members.findIndex(([key]) => key > 'hash');
  const withHash: [string, string][] = [...members];
  withHash.splice(at === -1 ? members.length : at, 0, ['hash', JSON.stringify(hash)]);
  return { entry: { ...body, hash }, line: joinMembers(withHash) };
}

/** Lets other work (answers arriving, requests to send) run between slices of a long loop. */
const breather = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/**
 * Entries handled between two breathers: about a millisecond of work, so that
 * a sweep's thousand-entry append (written while its reads go on) holds up an
 * arriving answer, and the call it frees, by that much at most.
 */
const SLICE = 25;

/** sha256 hex of prev + canonicalJson(entry without its hash). */
export function computeEntryHash(entry: Omit<AuditEntry, 'hash'> | AuditEntry): string {
  const { hash: _hash, ...rest } = entry as AuditEntry;
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
 * - truncated-line: an unterminated last line, i.e. an interrupted append.
 */
export function verifyAuditContent(content: string, head?: AuditHead): AuditVerification {
  const { lines, torn } = splitLines(content);
  const parsed = lines.map(parseLine);
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  const bad = (problem: AuditProblem, firstBadSeq: number | undefined, message: string): AuditVerification => {
    const trusted = firstBadSeq === undefined ? expectedSeq - 1 : Math.min(expectedSeq - 1, firstBadSeq - 1);
    return { ok: false, entries: trusted, lastSeq: expectedSeq - 1, lastHash: prevHash, problem, message, ...(firstBadSeq === undefined ? {} : { firstBadSeq }) };
  };
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
    prevHash = entry.hash;
    expectedSeq += 1;
  }
  const lastSeq = expectedSeq - 1;
  if (head !== undefined && head.seq > lastSeq) {
    return bad('deleted', lastSeq + 1, `The log ends at entry ${lastSeq} but entry ${head.seq} was written${torn === undefined ? '' : ' (the last line is cut short)'}: entries were removed from the end.`);
  }
  if (head !== undefined && head.seq > 0) {
    const atHead = parsed[head.seq - 1] as { entry: AuditEntry };
    if (atHead.entry.hash !== head.hash) {
      return bad('edited', head.seq, `Entry ${head.seq} does not match the recorded head hash: the log was rewritten at or before entry ${head.seq}.`);
    }
  }
  if (torn !== undefined) {
    return bad('truncated-line', lastSeq + 1, `The last line is incomplete (${Buffer.byteLength(torn)} bytes): an append was interrupted. This is not tampering; the next append moves those bytes aside.`);
  }
  return { ok: true, entries: lastSeq, lastSeq, lastHash: prevHash };
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
  verify(): Promise<AuditVerification>;
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
    if (Number.isInteger(value.seq) && value.seq >= 0 && typeof value.hash === 'string') return { seq: value.seq, hash: value.hash };
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

  async function appendNow(given: AuditInput[]): Promise<AuditEntry[]> {
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
    await ensureStateDir(stateDir, fsOptions);
    const lock = await acquireLock(lockFile, lockOptions);
    let handle: fs.FileHandle | undefined;
    try {
      await removeOrphanedTempFiles(headFile);
      const existed = await inspectPrivateFile(file, fsOptions);
      handle = await openPrivateFile(file, fsConstants.O_RDWR | fsConstants.O_APPEND | fsConstants.O_CREAT, fsOptions);
      if (handle === undefined) throw new Error('the file vanished while opening it');
      const { size } = await handle.stat();
      const tail = await readTail(handle, size);

      let lastSeq = 0;
      let lastHash = GENESIS_HASH;
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
      }
      const head = await readHead();
      if (head === 'invalid' || (head !== undefined && (head.seq > lastSeq || (head.seq === lastSeq && head.hash !== lastHash)))) {
        throw new StateError('AUDIT_UNWRITABLE', `The audit log ${file} does not reach or match its head record ${headFile}: entries were removed or rewritten.`, {
          hint: `Run \`ociaccess audit verify\` and keep both files as evidence; to start a new log, move ${shellQuote(file)} and ${shellQuote(headFile)} aside.`,
          details: { path: file },
        });
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
        });
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
      await writeFileAtomic(headFile, `${JSON.stringify({ seq: lastSeq, hash: lastHash })}\n`, fsOptions).catch(() => undefined);
      return entries.slice(entries.length - valid.length);
    } finally {
      await handle?.close();
      await lock.release();
    }
  }

  function enqueue(inputs: AuditInput[]): Promise<AuditEntry[]> {
    const run = queue.then(() => appendNow(inputs)).catch((error: unknown) => {
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

  async function verify(): Promise<AuditVerification> {
    if (!(await inspectStateDir(stateDir, fsOptions))) return verifyAuditContent('');
    // Under the lock so an append cannot land between reading the head and the log.
    const lock = await acquireLock(lockFile, lockOptions);
    try {
      const head = await readHead();
      const content = (await readPrivateFile(file, fsOptions))?.toString('utf8') ?? '';
      if (head === 'invalid') {
        const result = verifyAuditContent(content);
        return { ...result, ok: false, problem: 'edited', message: `The head record ${headFile} is not valid, so the end of the log cannot be checked.` };
      }
      return verifyAuditContent(content, head);
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
