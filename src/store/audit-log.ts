/**
 * The per-machine audit log's files: `audit.jsonl`, one JSON object per line,
 * append-only and hash-chained, and `audit.jsonl.head`. This module does the
 * I/O (append, read, repair, the head file, locking); what an entry is and how
 * it is hashed and sealed is audit-entry.ts, checking a whole log is
 * audit-verify.ts (pure), canonical JSON is canonical-json.ts (RFC 8785).
 *
 * Chain: every entry carries `prev` (the previous entry's hash; 64 zeros for the
 * first) and `hash` over `prev` and the canonical JSON of the rest. `seq` counts
 * from 1 without gaps. Editing any field breaks that entry's hash; deleting,
 * inserting or reordering entries breaks the seq sequence or the prev links.
 *
 * Tail anchor: deleting the *last* entries leaves a valid chain, so after each
 * append the {seq, hash} of the newest entry is also written to
 * `audit.jsonl.head` (atomically). verify requires the log to reach the head and
 * to agree with it. The head may lag the log (a crash between the two writes),
 * never lead it. A new log's head ({seq 0}) is written before its first entry,
 * so a log file without a head is never legitimate: verify reports
 * 'head-missing' and append refuses (deleting the head with a truncation must
 * not pass, nor be blessed by the next append's new head).
 *
 * Beyond this machine: `verify({ expectHead })` requires the chain to end at a
 * hash kept elsewhere (catches both files rewritten). With an audit key
 * (audit-key.ts) every entry carries `hmac` = HMAC over its hash and the head
 * carries one over its seq and hash: a log rewritten and re-chained without the
 * key fails. An existing unsealed log is sealed only by an explicit
 * `audit.seal` entry (`ociaccess audit seal`); appends refuse to start sealing
 * on their own, since that would vouch for whatever the unsealed entries had
 * become.
 *
 * Torn lines — the rule: appends write a whole line in one write() under the lock
 * and fsync it, so a complete line (ending in "\n") is always a whole entry. Bytes
 * after the last "\n" are therefore the remains of an append that was interrupted
 * (crash, power loss, full disk) and never acknowledged to its caller. verify
 * reports them as problem 'truncated-line' (not tampering), unless the head says
 * an acknowledged entry should be there, which is 'deleted'. The next append
 * repairs: it copies the partial bytes to `audit.jsonl.torn-<time>` (kept),
 * truncates the log back to the end of the last complete line, and appends an
 * `audit.repair` entry naming that copy before its own entry — so the repair
 * itself is in the chain and nothing is silently lost.
 *
 * Append refuses (AUDIT_UNWRITABLE) when the last complete entry does not verify,
 * the head is ahead of the log, or the lock was lost (this process stalled past
 * the lock's stale time and another may be appending): chaining onto a damaged
 * log would bless it, and two writers would fork the chain.
 */
import path from 'node:path';
import { constants as fsConstants, promises as fs } from 'node:fs';
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
import {
  GENESIS_HASH,
  SEAL_ACTION,
  checkedInput,
  computeEntryHash,
  headText,
  parseHead,
  parseLine,
  sealEntry,
  splitLines,
  type AuditActor,
  type AuditEntry,
  type AuditHead,
  type AuditInput,
} from './audit-entry.js';
import { verifyAuditContent, type AuditVerification, type VerifyOptions } from './audit-verify.js';
import { acquireLock, storeLockOptions, type LockHandle } from './lock.js';
import { timestampForFileName } from './shared.js';

// The audit log's public surface, for callers that import it from here.
export {
  GENESIS_HASH,
  SEAL_ACTION,
  computeEntryHash,
  type AuditActor,
  type AuditEntry,
  type AuditHead,
  type AuditInput,
  type AuditResult,
  type AuditTarget,
} from './audit-entry.js';
export {
  verifyAuditContent,
  type AuditProblem,
  type AuditSeals,
  type AuditVerification,
  type VerifyOptions,
} from './audit-verify.js';
export { canonicalJson } from './canonical-json.js';

export const AUDIT_FILE = 'audit.jsonl';

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

type AppendMode = 'checked' | 'seal';

/** The end of a log file: its last complete line, where that line ends, and any torn bytes after it. */
interface Tail {
  lastLine?: string;
  goodEnd: number;
  torn?: Buffer;
}

/** The newest entry a new one chains to (seq 0 and the genesis hash for an empty log), and whether it is sealed. */
interface ChainEnd {
  seq: number;
  hash: string;
  sealed: boolean;
}

/** The last complete line and any torn bytes after it, read backwards from the end. */
async function readTail(handle: fs.FileHandle, size: number): Promise<Tail> {
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

export function openAuditLog(stateDir: string, host: AuditLogHost, options: AuditLogOptions = {}): AuditLog {
  const file = path.join(stateDir, AUDIT_FILE);
  const headFile = `${file}.head`;
  const lockFile = `${file}.lock`;
  const fsOptions = { platform: host.platform, uid: host.uid };
  const lockOptions = storeLockOptions(host, options, 'an audit log append');
  let queue: Promise<unknown> = Promise.resolve();

  async function readHead(): Promise<AuditHead | undefined | 'invalid'> {
    return parseHead((await readPrivateFile(headFile, fsOptions))?.toString('utf8'));
  }

  /** A refusal to append, naming why (details.reason) and the way out. */
  function refuse(reason: string, message: string, hint: string): StateError {
    return new StateError('AUDIT_UNWRITABLE', message, { hint, details: { path: file, reason } });
  }

  /** Throws unless this process still holds the audit lock: after a stall past its stale time another writer may have taken it, and two writers would fork the chain. */
  async function assertStillHeld(lock: LockHandle, what: string): Promise<void> {
    if (await lock.isHeld()) return;
    throw refuse(
      'AUDIT_LOCK_LOST',
      `Lost the lock on ${file} before ${what} (this process stalled past ${lockOptions.staleAfterMs} ms); the entries were not written.`,
      'Run the command again.',
    );
  }

  /**
   * Where the chain ends (the last complete line), after checking that it can be
   * continued: the last entry verifies, the head does not lead or contradict it,
   * and sealing goes on (or starts, for `audit seal`) only where it may.
   */
  async function chainEnd(
    tail: Tail,
    head: AuditHead | 'invalid' | undefined,
    key: AuditKey | undefined,
    mode: AppendMode,
  ): Promise<ChainEnd> {
    let last: AuditEntry | undefined;
    if (tail.lastLine !== undefined) {
      const parsed = parseLine(tail.lastLine);
      if (parsed.kind !== 'entry' || computeEntryHash(parsed.entry) !== parsed.entry.hash) {
        throw new StateError(
          'AUDIT_UNWRITABLE',
          `The last entry of the audit log ${file} is damaged, so a new entry cannot be chained to it.`,
          {
            hint: `Run \`ociaccess audit verify\` and keep the file as evidence; to start a new log, move it and ${path.basename(headFile)} aside.`,
            details: { path: file },
          },
        );
      }
      last = parsed.entry;
    }
    const end: ChainEnd = { seq: last?.seq ?? 0, hash: last?.hash ?? GENESIS_HASH, sealed: last?.hmac !== undefined };
    if (
      head === 'invalid' ||
      (head !== undefined && (head.seq > end.seq || (head.seq === end.seq && head.hash !== end.hash)))
    ) {
      throw new StateError(
        'AUDIT_UNWRITABLE',
        `The audit log ${file} does not reach or match its head record ${headFile}: entries were removed or rewritten.`,
        {
          hint: `Run \`ociaccess audit verify\` and keep both files as evidence; to start a new log, move ${shellQuote(file)} and ${shellQuote(headFile)} aside.`,
          details: { path: file },
        },
      );
    }
    const evidence = `Run \`ociaccess audit verify\` and keep ${shellQuote(file)} and ${shellQuote(headFile)} as evidence.`;
    if (end.sealed && key === undefined) {
      throw refuse(
        'AUDIT_KEY_MISSING',
        `The audit log ${file} is sealed with an audit key, but no key is configured; entries written now would be unsealed and the log would no longer verify.`,
        'Configure the key that sealed it (OCIACCESS_AUDIT_KEY_FILE, or audit.keyFile in the config; see docs/configuration.md).',
      );
    }
    if (end.sealed && key !== undefined) {
      if (last!.hmac !== key.sealEntry(last!.hash)) {
        throw refuse(
          'AUDIT_BAD_SEAL',
          `The last entry of the audit log ${file} is not sealed with the audit key from ${key.source}: the log was rewritten without the key, or this is another key.`,
          evidence,
        );
      }
      // head is defined here: a missing one was refused before (a log with a sealed entry exists).
      if (head === undefined || head.hmac !== key.sealHead(head.seq, head.hash)) {
        throw refuse(
          'AUDIT_BAD_SEAL',
          `The head record ${headFile} is not sealed with the audit key from ${key.source} although the log is: it was replaced.`,
          evidence,
        );
      }
    }
    if (!end.sealed && end.seq > 0 && key !== undefined && mode !== 'seal') {
      // Sealing onto unsealed entries would vouch for them: someone who rewrote the log without the key would only need to wait for the next append.
      throw refuse(
        'AUDIT_NOT_SEALED',
        `An audit key is configured (${key.source}) but the entries of the audit log ${file} are not sealed; the first sealed entry must be an \`audit seal\` that an admin ran.`,
        'Check the log (`ociaccess audit verify`, and an off-machine copy if you have one), then run `ociaccess audit seal`.',
      );
    }
    if (mode === 'seal') {
      if (key === undefined)
        throw refuse(
          'AUDIT_KEY_MISSING',
          'No audit key is configured, so there is nothing to seal with.',
          'Configure one (see docs/configuration.md#audit-key).',
        );
      if (end.sealed || end.seq === 0) return end;
      const whole = verifyAuditContent((await readPrivateFile(file, fsOptions))?.toString('utf8') ?? '', head);
      if (!whole.ok) {
        throw refuse(
          'AUDIT_BROKEN',
          `The audit log ${file} does not verify (${whole.problem}: ${whole.message ?? ''}); sealing it would vouch for it.`,
          evidence,
        );
      }
    }
    return end;
  }

  /** Moves a torn last line out of the log (kept as `audit.jsonl.torn-<time>`) and returns the `audit.repair` entry that says so. */
  async function repairTornLine(
    handle: fs.FileHandle,
    tail: Tail,
    end: ChainEnd,
    actor: AuditActor,
    now: Date,
  ): Promise<AuditInput> {
    const torn = tail.torn!;
    const savedAs = await writeNewPrivateFile(`${file}.torn-${timestampForFileName(now)}`, torn);
    await handle.truncate(tail.goodEnd);
    await handle.sync();
    return {
      actor,
      action: 'audit.repair',
      target: {},
      reason: 'An earlier append was interrupted; its partial line was moved out of the log.',
      result: 'ok',
      details: { tornBytes: torn.length, savedAs: path.basename(savedAs), afterSeq: end.seq },
    };
  }

  /** The entries chained after `end`, and their lines. */
  function chainEntries(
    inputs: AuditInput[],
    end: ChainEnd,
    key: AuditKey | undefined,
    now: Date,
  ): { entries: AuditEntry[]; bytes: Buffer } {
    const entries: AuditEntry[] = [];
    const lines: string[] = [];
    let prev = end.hash;
    for (const [index, item] of inputs.entries()) {
      const draft = {
        seq: end.seq + index + 1,
        at: now.toISOString(),
        actor: item.actor,
        host: host.hostname,
        action: item.action,
        target: item.target ?? {},
        reason: item.reason,
        result: item.result,
        details: item.details,
        prev,
      };
      const { entry, line } = sealEntry(draft, key);
      entries.push(entry);
      lines.push(`${line}\n`);
      prev = entry.hash;
    }
    return { entries, bytes: Buffer.from(lines.join(''), 'utf8') };
  }

  /**
   * @param mode 'seal': the `ociaccess audit seal` append, which may start sealing
   *   a log whose entries are unsealed (after checking all of it); 'checked': an
   *   ordinary append, which refuses to do that.
   */
  async function appendNow(given: AuditInput[], mode: AppendMode = 'checked'): Promise<AuditEntry[]> {
    const valid = given.map((input) => {
      const checked = checkedInput(input);
      if (checked.ok) return checked.input;
      throw new StateError('AUDIT_INVALID_ENTRY', `Refusing to write an invalid audit entry: ${checked.problem}.`, {
        hint: 'This is a bug in ociaccess; please report it.',
      });
    });
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
          throw refuse(
            'AUDIT_HEAD_MISSING',
            `The audit log ${file} has no head record ${headFile}, so entries may have been removed from its end; a new entry is not chained to it.`,
            `Run \`ociaccess audit verify\` and keep the log as evidence; to start a new log, move ${shellQuote(file)} aside.`,
          );
        }
        // A new log: its head exists before its first entry does, so that a log without a head is never legitimate.
        await assertStillHeld(lock, 'starting the log');
        await writeFileAtomic(headFile, headText(0, GENESIS_HASH, key), fsOptions);
      }
      handle = await openPrivateFile(file, fsConstants.O_RDWR | fsConstants.O_APPEND | fsConstants.O_CREAT, fsOptions);
      if (handle === undefined) throw new Error('the file vanished while opening it');
      const tail = await readTail(handle, (await handle.stat()).size);
      const end = await chainEnd(tail, head, key, mode);
      if (mode === 'seal' && (end.sealed || end.seq === 0)) return [];

      const now = host.clock.now();
      const inputs: AuditInput[] = [];
      if (tail.torn !== undefined) {
        await assertStillHeld(lock, 'repairing a torn line');
        inputs.push(await repairTornLine(handle, tail, end, valid[0]!.actor, now));
      }
      inputs.push(...valid);
      const { entries, bytes } = chainEntries(inputs, end, key, now);
      await assertStillHeld(lock, 'appending');
      // One write under the lock; loop only if the kernel accepts part of it.
      for (let offset = 0; offset < bytes.length;) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
        offset += bytesWritten;
      }
      await handle.sync();
      if (!existed) await fsyncDirectory(stateDir);
      // The entries are durable now. A failed head update only weakens the tail check
      // until the next append (verify accepts a head that lags), so it is not an error.
      const newest = entries[entries.length - 1]!;
      await writeFileAtomic(headFile, headText(newest.seq, newest.hash, key), fsOptions).catch(() => undefined);
      return entries.slice(entries.length - valid.length);
    } finally {
      await handle?.close();
      await lock.release();
    }
  }

  function enqueue(inputs: AuditInput[], mode: AppendMode = 'checked'): Promise<AuditEntry[]> {
    const run = queue
      .then(() => appendNow(inputs, mode))
      .catch((error: unknown) => {
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
    const checks: VerifyOptions = {
      ...(key === undefined ? {} : { key }),
      ...(verifyOptions.expectHead === undefined ? {} : { expectHead: verifyOptions.expectHead }),
    };
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
        return {
          ...result,
          ok: false,
          problem: 'edited',
          message: `The head record ${headFile} is not valid, so the end of the log cannot be checked.`,
        };
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
      const entries = await enqueue(
        [
          {
            actor,
            action: SEAL_ACTION,
            target: {},
            reason:
              'Sealing started: the entries before this one were written before the audit key was configured and were checked when it was sealed.',
            result: 'ok',
          },
        ],
        'seal',
      );
      return entries[0];
    },
  };
}

/** One-shot helpers for callers that do not keep an AuditLog around. */
export function appendAudit(
  stateDir: string,
  host: AuditLogHost,
  input: AuditInput,
  options?: AuditLogOptions,
): Promise<AuditEntry> {
  return openAuditLog(stateDir, host, options).append(input);
}

export function readAudit(
  stateDir: string,
  host: AuditLogHost,
  options: { since?: Date | string } = {},
): Promise<AuditEntry[]> {
  return openAuditLog(stateDir, host).read(options);
}

export function verifyAudit(stateDir: string, host: AuditLogHost): Promise<AuditVerification> {
  return openAuditLog(stateDir, host).verify();
}
