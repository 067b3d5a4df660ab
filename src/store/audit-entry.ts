/**
 * What an audit entry is: its fields, its hash, its seal, its line, and the
 * head record. No I/O: audit-log.ts reads and writes the files, and
 * audit-verify.ts checks a whole log.
 *
 * An entry's `hash` is sha256 hex of `prev` followed by the canonical JSON
 * (canonical-json.ts, RFC 8785) of the entry without `hash` and `hmac`; `prev`
 * is the previous entry's hash, 64 zeros for the first. With an audit key
 * (audit-key.ts) `hmac` seals the hash; it is outside the hash, so unsealed
 * chains verify as before. A line is the canonical JSON of the whole entry.
 */
import { hash } from 'node:crypto';
import { z } from 'zod';
import type { AuditKey } from './audit-key.js';
import { canonicalJson, jsonCopy, type JsonValue } from './canonical-json.js';

export const GENESIS_HASH = '0'.repeat(64);

/** The action of the entry that starts sealing a log that has entries from before the key (`ociaccess audit seal`). */
export const SEAL_ACTION = 'audit.seal';

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

export interface AuditHead {
  seq: number;
  hash: string;
  /** HMAC of seq and hash, when an audit key was configured. */
  hmac?: string;
}

const RESULTS = ['ok', 'failed', 'pending'] as const;
const actorSchema = z.object({ id: z.string(), upn: z.string(), kind: z.enum(['user', 'app']) });

/** A caller's input. Not loose: only the known fields are copied into the entry (an unknown target field is dropped). */
const inputSchema = z.object({
  actor: actorSchema,
  action: z.string().min(1),
  target: z
    .object({ groupId: z.string(), groupName: z.string(), userId: z.string(), upn: z.string(), requestId: z.string() })
    .partial()
    .optional(),
  reason: z.string().optional(),
  result: z.enum(RESULTS),
  details: z.record(z.string(), z.unknown()).optional(),
});

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
/** A line read back. Loose: fields added by a newer release are kept, and hashed, as written. */
const entrySchema = z.looseObject({
  seq: z.number().int().positive(),
  at: z.string(),
  actor: actorSchema.loose(),
  host: z.string(),
  action: z.string().min(1),
  target: z.looseObject({}),
  reason: z.string().optional(),
  result: z.enum(RESULTS),
  details: z.record(z.string(), z.unknown()).optional(),
  prev: hex64,
  hash: hex64,
  hmac: hex64.optional(),
});

const headSchema = z.object({ seq: z.number().int().nonnegative(), hash: z.string(), hmac: z.string().optional() });

/** What a caller asked to append, with only the known fields; the problem as a sentence when it is not an entry. */
export function checkedInput(input: AuditInput): { ok: true; input: AuditInput } | { ok: false; problem: string } {
  const parsed = inputSchema.safeParse(input);
  // details as given: zod's copy of a record leaves out a "__proto__" key, which JSON keeps.
  if (parsed.success)
    return { ok: true, input: { ...parsed.data, ...(input.details === undefined ? {} : { details: input.details }) } };
  const issue = parsed.error.issues[0]!;
  return { ok: false, problem: `${issue.path.join('.') || 'the entry'}: ${issue.message}` };
}

/** sha256 hex of prev + the canonical JSON of the entry without its hash and its seal. */
export function computeEntryHash(entry: Omit<AuditEntry, 'hash'> | AuditEntry): string {
  const { hash: _hash, hmac: _hmac, ...body } = entry as AuditEntry;
  return chainHash(entry.prev, canonicalJson(body as unknown as JsonValue));
}

function chainHash(prev: string, canonicalBody: string): string {
  return hash('sha256', prev + canonicalBody, 'hex');
}

/**
 * A new entry (with its hash and, with a key, its seal) and its line. The draft
 * is first turned into what a reader will parse back (a Date in details becomes
 * its string, NaN null), so the hash written is the one a verifier computes.
 */
export function sealEntry(
  draft: Omit<AuditEntry, 'hash' | 'hmac'>,
  key?: AuditKey,
): { entry: AuditEntry; line: string } {
  const body = jsonCopy(draft) as unknown as Omit<AuditEntry, 'hash' | 'hmac'>;
  const entryHash = chainHash(body.prev, canonicalJson(body as unknown as JsonValue));
  const hmac = key?.sealEntry(entryHash);
  const entry: AuditEntry = { ...body, hash: entryHash, ...(hmac === undefined ? {} : { hmac }) };
  return { entry, line: canonicalJson(entry as unknown as JsonValue) };
}

export type ParsedLine = { kind: 'entry'; entry: AuditEntry } | { kind: 'not-json' } | { kind: 'bad-shape' };

export function parseLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: 'not-json' };
  }
  // Hash the value as it appears in the file, not zod's copy of it.
  return entrySchema.safeParse(value).success ? { kind: 'entry', entry: value as AuditEntry } : { kind: 'bad-shape' };
}

/** Splits log text into complete lines and the bytes after the last newline (a torn append), if any. */
export function splitLines(content: string): { lines: string[]; torn?: string } {
  if (content.length === 0) return { lines: [] };
  const parts = content.split('\n');
  const last = parts.pop() as string;
  return last.length > 0 ? { lines: parts, torn: last } : { lines: parts };
}

/** The head file's text: seq and hash of the newest entry, sealed when there is a key. */
export function headText(seq: number, entryHash: string, key: AuditKey | undefined): string {
  const record: AuditHead = {
    seq,
    hash: entryHash,
    ...(key === undefined ? {} : { hmac: key.sealHead(seq, entryHash) }),
  };
  return `${JSON.stringify(record)}\n`;
}

/** The head file's record; undefined when there is no file, 'invalid' when it is not a head. */
export function parseHead(text: string | undefined): AuditHead | undefined | 'invalid' {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'invalid';
  }
  const parsed = headSchema.safeParse(value);
  return parsed.success ? parsed.data : 'invalid';
}
