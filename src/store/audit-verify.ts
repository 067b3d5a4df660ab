/**
 * Verifying an audit log: pure, no I/O. Takes the log's text and its head
 * record (audit-log.ts reads both under the lock) and says whether the chain
 * holds, and if not, the first entry that cannot be trusted and why.
 */
import type { AuditKey } from './audit-key.js';
import {
  GENESIS_HASH,
  SEAL_ACTION,
  computeEntryHash,
  parseLine,
  splitLines,
  type AuditEntry,
  type AuditHead,
} from './audit-entry.js';

export type AuditProblem =
  | 'edited'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'truncated-line'
  | 'not-json'
  | 'head-missing'
  | 'head-mismatch'
  | 'unsealed'
  | 'bad-seal';

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

export interface VerifyOptions {
  /** The log file exists but its head record does not (never legitimate once the log exists: see openAuditLog). */
  headMissing?: boolean;
  /** Check every seal against this key. */
  key?: AuditKey;
  /** The chain must end at exactly this hash (64 lower-case hex digits). */
  expectHead?: string;
}

/**
 * Verifies log text (and, if known, its head). The file-reading wrapper is
 * AuditLog.verify(). Stops at the first problem, classified as:
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
  const seals = (): { seals?: AuditSeals } =>
    key !== undefined || sealed > 0
      ? { seals: { checked: key !== undefined, sealed, unsealed: key ? unsealed : 0 } }
      : {};
  const bad = (
    problem: AuditProblem,
    firstBadSeq: number | undefined,
    message: string,
    hint?: string,
  ): AuditVerification => {
    const trusted = firstBadSeq === undefined ? expectedSeq - 1 : Math.min(expectedSeq - 1, firstBadSeq - 1);
    return {
      ok: false,
      entries: trusted,
      lastSeq: expectedSeq - 1,
      lastHash: prevHash,
      problem,
      message,
      ...(firstBadSeq === undefined ? {} : { firstBadSeq }),
      ...(hint === undefined ? {} : { hint }),
      ...seals(),
    };
  };
  const rewrittenWithoutKey =
    'Keep audit.jsonl and audit.jsonl.head as evidence and compare them with an off-machine copy; if the key was replaced, configure the key that sealed this log.';
  for (let index = 0; index < parsed.length; index += 1) {
    const line = parsed[index]!;
    const lineNo = index + 1;
    if (line.kind === 'not-json') return bad('not-json', expectedSeq, `Line ${lineNo} is not JSON.`);
    if (line.kind === 'bad-shape')
      return bad(
        'edited',
        expectedSeq,
        `Line ${lineNo} is not a complete audit entry (a field is missing or has the wrong type).`,
      );
    const entry = line.entry;
    if (computeEntryHash(entry) !== entry.hash) {
      return bad(
        'edited',
        expectedSeq,
        `Entry ${expectedSeq} (line ${lineNo}) was changed after it was written: its hash does not match its content.`,
      );
    }
    if (entry.seq !== expectedSeq) {
      if (entry.seq < expectedSeq) {
        // Which of the two lines with this seq is the original cannot be told, so trust neither.
        return bad(
          'inserted',
          entry.seq,
          `Line ${lineNo} repeats seq ${entry.seq}, which an earlier line already has: an entry was inserted or duplicated.`,
        );
      }
      const later = parsed.slice(index + 1).some((p) => p.kind === 'entry' && p.entry.seq === expectedSeq);
      return later
        ? bad(
            'reordered',
            expectedSeq,
            `Line ${lineNo} has seq ${entry.seq} where ${expectedSeq} was expected, and ${expectedSeq} comes later: entries were reordered.`,
          )
        : bad(
            'deleted',
            expectedSeq,
            `Entries ${expectedSeq}${entry.seq - 1 > expectedSeq ? `–${entry.seq - 1}` : ''} are missing before line ${lineNo}.`,
          );
    }
    if (entry.prev !== prevHash) {
      const nextIsSameSeq =
        parsed[index + 1]?.kind === 'entry' && (parsed[index + 1] as { entry: AuditEntry }).entry.seq === entry.seq;
      if (nextIsSameSeq) {
        return bad(
          'inserted',
          expectedSeq,
          `Line ${lineNo} (seq ${entry.seq}) does not chain to the entry before it and the next line has the same seq: an entry was inserted.`,
        );
      }
      const suspect = Math.max(1, expectedSeq - 1);
      return bad(
        'edited',
        suspect,
        `Entry ${expectedSeq} (line ${lineNo}) does not chain to entry ${expectedSeq - 1}: entry ${suspect} was rewritten or replaced.`,
      );
    }
    if (entry.hmac !== undefined) {
      if (key !== undefined && entry.hmac !== key.sealEntry(entry.hash)) {
        return bad(
          'bad-seal',
          expectedSeq,
          `Entry ${expectedSeq} (line ${lineNo}) has a seal that does not match the audit key from ${key.source}: the log was rewritten by someone without the key, or this is not the key that sealed it.`,
          rewrittenWithoutKey,
        );
      }
      if (key !== undefined && sealed === 0 && expectedSeq > 1 && entry.action !== SEAL_ACTION) {
        return bad(
          'unsealed',
          1,
          `Entries 1–${expectedSeq - 1} are not sealed and entry ${expectedSeq}, the first sealed one, is not an ${SEAL_ACTION} entry: unsealed entries were put in front of a sealed log.`,
          rewrittenWithoutKey,
        );
      }
      sealed += 1;
    } else if (key !== undefined) {
      if (sealed > 0) {
        return bad(
          'unsealed',
          expectedSeq,
          `Entry ${expectedSeq} (line ${lineNo}) is not sealed although ${sealed} entr${sealed === 1 ? 'y' : 'ies'} before it ${sealed === 1 ? 'is' : 'are'}: it was written or rewritten without the audit key.`,
          rewrittenWithoutKey,
        );
      }
      unsealed += 1;
    }
    prevHash = entry.hash;
    expectedSeq += 1;
  }
  const lastSeq = expectedSeq - 1;
  if (key !== undefined && lastSeq > 0 && sealed === 0) {
    return bad(
      'unsealed',
      1,
      `An audit key is configured (${key.source}) but none of the ${lastSeq} entries is sealed, so the log cannot be told from one rewritten without the key.`,
      'If the key was configured only now, check the log another way (an off-machine copy, `--expect-head`), then run `ociaccess audit seal`; otherwise keep the files as evidence.',
    );
  }
  if (options.headMissing) {
    return bad(
      'head-missing',
      lastSeq + 1,
      `The head record audit.jsonl.head is missing but the log exists (${lastSeq} entr${lastSeq === 1 ? 'y' : 'ies'}): entries may have been removed from its end, and nothing here can tell.`,
      'Keep audit.jsonl as evidence. If you shipped the head hash off this machine, compare: `ociaccess audit verify --expect-head HASH`. To start a new log, move audit.jsonl aside (the next command writes a new log and head).',
    );
  }
  if (head !== undefined && head.seq > lastSeq) {
    return bad(
      'deleted',
      lastSeq + 1,
      `The log ends at entry ${lastSeq} but entry ${head.seq} was written${torn === undefined ? '' : ' (the last line is cut short)'}: entries were removed from the end.`,
    );
  }
  if (head !== undefined && head.seq > 0) {
    const atHead = parsed[head.seq - 1] as { entry: AuditEntry };
    if (atHead.entry.hash !== head.hash) {
      return bad(
        'edited',
        head.seq,
        `Entry ${head.seq} does not match the recorded head hash: the log was rewritten at or before entry ${head.seq}.`,
      );
    }
  }
  // Once a log is sealed its head is too; an unsealed or forged head could otherwise hide a cut-back log (a head may lag).
  if (key !== undefined && sealed > 0 && head !== undefined && head.hmac !== key.sealHead(head.seq, head.hash)) {
    return bad(
      'bad-seal',
      Math.min(head.seq + 1, lastSeq),
      `The head record audit.jsonl.head is ${head.hmac === undefined ? 'not sealed' : 'sealed with another key'} although the log is sealed: it was replaced by someone without the audit key (from ${key.source}).`,
      rewrittenWithoutKey,
    );
  }
  if (torn !== undefined) {
    return bad(
      'truncated-line',
      lastSeq + 1,
      `The last line is incomplete (${Buffer.byteLength(torn)} bytes): an append was interrupted. This is not tampering; the next append moves those bytes aside.`,
    );
  }
  if (options.expectHead !== undefined && options.expectHead !== prevHash) {
    const at = parsed.findIndex((line) => line.kind === 'entry' && line.entry.hash === options.expectHead);
    return at === -1
      ? bad(
          'head-mismatch',
          1,
          `The log ends at entry ${lastSeq} with hash ${prevHash}, and the expected head ${options.expectHead} is nowhere in it: the log was rewritten, or that hash is of another machine's log.`,
          'Keep audit.jsonl and audit.jsonl.head as evidence and compare them with the off-machine copy.',
        )
      : bad(
          'head-mismatch',
          at + 2,
          `The expected head is entry ${at + 1}, but the log goes on to entry ${lastSeq}: entries 1–${at + 1} match it; the ${lastSeq - at - 1} after it are not covered by that anchor.`,
          `Check entries ${at + 2}–${lastSeq} another way, then anchor on the current head: --expect-head sha256:${prevHash}`,
        );
  }
  return { ok: true, entries: lastSeq, lastSeq, lastHash: prevHash, ...seals() };
}
