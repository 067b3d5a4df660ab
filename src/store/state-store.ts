/**
 * This machine's local state: `state.json` in the state directory.
 *
 * It is bookkeeping, not the truth: requests, decisions and expiries live in
 * Entra (see design.md, "Where the truth lives"). What only this file knows is the
 * sweep's ledger (when each member was first seen, removals awaiting OCI).
 *
 * Guarantees
 * - Readers never see a half-written file: every write replaces the file
 *   atomically (atomic-file.ts).
 * - Concurrent updates from several processes never lose each other's changes:
 *   update() holds `state.json.lock` across read–modify–write, and re-checks that
 *   it still holds it just before the rename.
 * - A file that does not parse, has an unknown version or the wrong shape is never
 *   overwritten: read() and update() throw STATE_CORRUPT / STATE_VERSION and keep
 *   a byte-for-byte copy as `state.json.corrupt-<time>`.
 * - Unknown fields inside known objects are preserved (loose objects), so a newer
 *   minor release's additions survive an older release's update.
 */
import path from 'node:path';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { z } from 'zod';
import type { Clock } from '../context.js';
import { StateError } from '../errors.js';
import {
  ensureStateDir,
  inspectStateDir,
  readPrivateFile,
  removeOrphanedTempFiles,
  shellQuote,
  writeFileAtomic,
  writeNewPrivateFile,
} from './atomic-file.js';
import { acquireLock, storeLockOptions } from './lock.js';
import { isRecord, timestampForFileName } from './shared.js';
import type { FailedRemoval, LocalDecision, LocalRequest, PendingRemoval, StatePort } from '../core/ports.js';

export const STATE_FILE = 'state.json';
export const STATE_VERSION = 1;

export type RequestStatus = LocalRequest['status'];

// The shapes of the local records are the core's (ports.ts): the store implements its StatePort.
export type { LocalRequest, LocalDecision, PendingRemoval, FailedRemoval };

export interface SweepLedger {
  /** groupId → userId → ISO time the sweep first saw the member in the group. */
  firstSeen: Record<string, Record<string, string>>;
  /** Keyed by removalKey(groupId, userId). */
  pendingRemovals: Record<string, PendingRemoval>;
  /** Keyed by removalKey(groupId, userId). */
  failedRemovals: Record<string, FailedRemoval>;
  /** groupId → OCI user id → ISO time the sweep first saw that OCI member without an Entra membership or grant (drift). */
  driftSeen?: Record<string, Record<string, string>>;
  /** groupId → grantKey(requestId, requesterId) → ISO time a sweep of this host first saw that approval (bounds the grant). */
  grantsFirstSeen?: Record<string, Record<string, string>>;
}

export interface LocalState {
  version: 1;
  requests: Record<string, LocalRequest>;
  decisions: Record<string, LocalDecision>;
  sweep: SweepLedger;
}

/** The key of pendingRemovals / failedRemovals. */
export function removalKey(groupId: string, userId: string): string {
  return `${groupId}:${userId}`;
}

export function emptyState(): LocalState {
  return { version: 1, requests: {}, decisions: {}, sweep: { firstSeen: {}, pendingRemovals: {}, failedRemovals: {} } };
}

/*
 * The shape of version 1. Objects are loose: unknown fields are left alone (a
 * newer minor release's additions survive). Messages name what was expected
 * and what was there; the path is added where the issues are reported.
 */
const kindOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value);
/** zod's error option: "expected <what>, got <kind of the value>". */
const expected = (what: string) => ({
  error: (issue: { input?: unknown }) => `expected ${what}, got ${kindOf(issue.input)}`,
});

const anyString = z.string(expected('a string'));
const nonEmpty = z.string(expected('a non-empty string')).min(1, expected('a non-empty string'));
const count = z
  .number(expected('a whole number ≥ 0'))
  .int(expected('a whole number ≥ 0'))
  .nonnegative(expected('a whole number ≥ 0'));
const oneOf = <const T extends readonly [string, ...string[]]>(...allowed: T) =>
  z.enum(allowed, expected(`one of ${allowed.join(', ')}`));
/** What toISOString writes, with field ranges checked: every such string is one Date.parse accepts; the regex is the cheaper test of the two (a ledger holds thousands of times). */
const ISO_TIME = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,3})?Z$/;
const isoTime = z
  .string('not an ISO 8601 time')
  .refine((value) => ISO_TIME.test(value) || !Number.isNaN(Date.parse(value)), 'not an ISO 8601 time');
const object = <T extends z.core.$ZodLooseShape>(shape: T) => z.looseObject(shape, expected('an object'));
const recordOf = <T extends z.ZodType>(value: T) => z.record(z.string(), value, expected('an object'));

const requestSchema = object({
  id: nonEmpty,
  groupId: nonEmpty,
  groupName: anyString,
  userId: nonEmpty,
  upn: anyString,
  hours: z.number(expected('a number of hours > 0')).positive(expected('a number of hours > 0')),
  justification: anyString,
  ticket: anyString.optional(),
  requestedAt: isoTime,
  status: oneOf('pending', 'approved', 'denied', 'revoked', 'cancelled', 'expired'),
  expiresAt: isoTime.optional(),
});

const decisionSchema = object({
  requestId: nonEmpty,
  requesterId: nonEmpty,
  requesterUpn: anyString,
  groupId: nonEmpty,
  decision: oneOf('approved', 'denied', 'revoked'),
  decidedAt: isoTime,
  expiresAt: isoTime.optional(),
  reason: anyString.optional(),
  approverId: nonEmpty,
});

const pendingRemovalSchema = object({
  groupId: nonEmpty,
  userId: nonEmpty,
  upn: anyString,
  removedInEntraAt: isoTime,
  reason: anyString,
  attempts: count,
  lastCheckedAt: isoTime.optional(),
  status: oneOf('pending-oci', 'confirmed', 'irrevocable'),
  forcedInOciAt: isoTime.optional(),
  removedInOciAt: isoTime.optional(),
  requestId: anyString.optional(),
  watchingSince: isoTime.optional(),
});

const failedRemovalSchema = object({
  groupId: nonEmpty,
  userId: nonEmpty,
  upn: anyString,
  attempts: count,
  lastError: anyString,
  firstFailedAt: isoTime,
});

/** Version 1 without its version field (checked first, for its own refusal code). */
const stateSchema = object({
  requests: recordOf(requestSchema),
  decisions: recordOf(decisionSchema),
  sweep: object({
    firstSeen: recordOf(recordOf(isoTime)),
    pendingRemovals: recordOf(pendingRemovalSchema),
    failedRemovals: recordOf(failedRemovalSchema),
    driftSeen: recordOf(recordOf(isoTime)).optional(),
    grantsFirstSeen: recordOf(recordOf(isoTime)).optional(),
  }),
});

interface Issue {
  path: PropertyKey[];
  message: string;
}

/** Keys that disagree with their record mean a bug or a hand edit; catching them keeps the sweep from acting on the wrong member. */
function checkKeys(state: LocalState, issues: Issue[]): void {
  for (const [key, request] of Object.entries(state.requests)) {
    if (request.id !== key)
      issues.push({ path: ['requests', key, 'id'], message: `id "${request.id}" does not match its key` });
  }
  for (const table of ['pendingRemovals', 'failedRemovals'] as const) {
    for (const [key, removal] of Object.entries(state.sweep[table])) {
      const expected = removalKey(removal.groupId, removal.userId);
      if (key !== expected) issues.push({ path: ['sweep', table, key], message: `key should be "${expected}"` });
    }
  }
}

type Validation =
  | { ok: true; state: LocalState }
  | { ok: false; code: 'STATE_CORRUPT' | 'STATE_VERSION'; problem: string; newerVersion?: boolean };

/** Checks a parsed document against version 1 of the format. */
export function validateLocalState(value: unknown): Validation {
  if (!isRecord(value)) {
    return { ok: false, code: 'STATE_CORRUPT', problem: 'it is not a JSON object' };
  }
  const version = value.version;
  if (version === undefined) return { ok: false, code: 'STATE_CORRUPT', problem: 'it has no "version" field' };
  if (version !== STATE_VERSION) {
    const newerVersion = typeof version === 'number' && Number.isInteger(version) && version > STATE_VERSION;
    const problem = newerVersion
      ? `it has format version ${version}, written by a newer ociaccess (this one reads version ${STATE_VERSION})`
      : `it has format version ${JSON.stringify(version)}, which no ociaccess release writes (this one reads version ${STATE_VERSION})`;
    return { ok: false, code: 'STATE_VERSION', problem, newerVersion };
  }
  // zod checks a copy; the state returned is the parsed document itself, unknown fields and all.
  const checked = stateSchema.safeParse(value);
  const issues: Issue[] = checked.success ? [] : [...checked.error.issues];
  if (checked.success) checkKeys(value as unknown as LocalState, issues);
  if (issues.length > 0) {
    const first = issues.slice(0, 3).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    return { ok: false, code: 'STATE_CORRUPT', problem: `it does not have the expected shape (${first.join('; ')})` };
  }
  return { ok: true, state: value as unknown as LocalState };
}

export interface StateStoreHost {
  clock: Clock;
  pid: number;
  hostname: string;
  platform?: NodeJS.Platform;
  /** The effective uid: the state directory must be owned by it. */
  uid?: number;
}

export interface StateStoreOptions {
  /** How long update() waits for another process's update (default 15 s). */
  lockTimeoutMs?: number;
  /** An update lock older than this is abandoned (default 60 s; updates take milliseconds). */
  lockStaleAfterMs?: number;
  isProcessAlive?: (pid: number) => boolean;
}

export interface StateStore {
  readonly file: string;
  /** The current state; an empty state when the file does not exist yet. */
  read(): Promise<LocalState>;
  /**
   * Read–modify–write under the lock. The mutator edits the draft in place; its
   * result is validated before it is written (an invalid result throws
   * STATE_INVALID_UPDATE and leaves the file as it was). Returns the written state.
   */
  update(mutator: (state: LocalState) => void | Promise<void>): Promise<LocalState>;
}

async function sha256File(file: string): Promise<string | undefined> {
  try {
    return createHash('sha256')
      .update(await fs.readFile(file))
      .digest('hex');
  } catch {
    return undefined;
  }
}

/**
 * Keeps a copy of a bad state file. If an identical copy already exists (the same
 * bad file read again), that copy is reused instead of piling up duplicates.
 */
async function keepCorruptCopy(file: string, bytes: Buffer, now: Date): Promise<string> {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.corrupt-`;
  const digest = createHash('sha256').update(bytes).digest('hex');
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.startsWith(prefix)).sort()) {
    if ((await sha256File(path.join(dir, name))) === digest) return path.join(dir, name);
  }
  return writeNewPrivateFile(`${file}.corrupt-${timestampForFileName(now)}`, bytes);
}

function parseStateBytes(bytes: Buffer): Validation {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    const what = bytes.length === 0 ? 'it is empty' : `it is not valid JSON (${(error as Error).message})`;
    return { ok: false, code: 'STATE_CORRUPT', problem: what };
  }
  return validateLocalState(value);
}

export function openStateStore(stateDir: string, host: StateStoreHost, options: StateStoreOptions = {}): StateStore {
  const file = path.join(stateDir, STATE_FILE);
  const lockFile = `${file}.lock`;
  const fsOptions = { platform: host.platform, uid: host.uid };
  const lockOptions = storeLockOptions(host, options, 'a state update');
  // Updates from this process queue here instead of polling the lock file.
  let queue: Promise<unknown> = Promise.resolve();

  async function load(): Promise<LocalState> {
    const bytes = await readPrivateFile(file, fsOptions);
    if (bytes === undefined) return emptyState();
    const result = parseStateBytes(bytes);
    if (result.ok) return result.state;
    const copy = await keepCorruptCopy(file, bytes, host.clock.now()).catch(() => undefined);
    const kept = copy === undefined ? 'Could not save a copy of it.' : `A copy was kept as ${copy}.`;
    const hint = result.newerVersion
      ? `Upgrade ociaccess on this machine. ${kept}`
      : `Restore ${shellQuote(file)} from a backup, or move it aside (mv ${shellQuote(file)} ${shellQuote(`${file}.bad`)}) to start an empty one. ` +
        "Requests and decisions live in the identity provider (Entra or Okta), so moving it aside loses only this machine's ledger: the sweep then counts current members as first seen now, " +
        `and removals still awaiting OCI are re-discovered by the next sweep. ${kept}`;
    throw new StateError(result.code, `The local state file ${file} cannot be used: ${result.problem}.`, {
      hint,
      details: { path: file, ...(copy === undefined ? {} : { copy }) },
    });
  }

  async function read(): Promise<LocalState> {
    if (!(await inspectStateDir(stateDir, fsOptions))) return emptyState();
    return load();
  }

  async function updateNow(mutator: (state: LocalState) => void | Promise<void>): Promise<LocalState> {
    await ensureStateDir(stateDir, fsOptions);
    const lock = await acquireLock(lockFile, lockOptions);
    try {
      // Any temp file present while we hold the lock belongs to a writer that died.
      await removeOrphanedTempFiles(file);
      // load() parses the file afresh each time: the draft is nobody else's (no copy needed, and for a big ledger a copy costs memory).
      const draft = await load();
      await mutator(draft);
      const checked = validateLocalState(draft);
      if (!checked.ok) {
        throw new StateError(
          'STATE_INVALID_UPDATE',
          `Refusing to write ${file}: the updated state is invalid (${checked.problem}).`,
          {
            hint: 'This is a bug in ociaccess; the file was left unchanged. Please report it with --debug output.',
            details: { path: file },
          },
        );
      }
      if (!(await lock.isHeld())) {
        throw new StateError(
          'STATE_LOCK_LOST',
          `Lost the lock on ${file} while updating it (this process stalled past ${lockOptions.staleAfterMs} ms); the update was not written.`,
          {
            hint: 'Run the command again.',
            details: { path: file },
          },
        );
      }
      await writeFileAtomic(file, `${JSON.stringify(checked.state, null, 2)}\n`, fsOptions);
      return checked.state;
    } finally {
      await lock.release();
    }
  }

  return {
    file,
    read,
    update(mutator) {
      const run = queue.then(() => updateNow(mutator));
      queue = run.catch(() => undefined);
      return run;
    },
  };
}

/**
 * The core's StatePort (its bookkeeping as operations) over a store of this
 * file: every operation is one read, or one locked update (one durable write).
 * Removal maps are keyed by removalKey(groupId, userId) in the file, by user id
 * in the port.
 */
export function stateLedger(store: Pick<StateStore, 'read' | 'update'>): StatePort {
  return {
    async readLocal() {
      const state = await store.read();
      return { requests: state.requests, decisions: state.decisions };
    },
    async recordRequest(request) {
      await store.update((state) => {
        state.requests[request.id] = request;
      });
    },
    async recordDecisions(decisions, options = {}) {
      await store.update((state) => {
        for (const decision of decisions) {
          if (options.keepExisting && state.decisions[decision.requestId]) continue;
          state.decisions[decision.requestId] = decision;
        }
      });
    },
    async recordRevocation(requestIds, removal) {
      await store.update((state) => {
        for (const id of requestIds) if (state.requests[id]) state.requests[id]!.status = 'revoked';
        if (removal) state.sweep.pendingRemovals[removalKey(removal.groupId, removal.userId)] = removal;
      });
    },
    async readGroupLedger(groupId) {
      const { sweep } = await store.read();
      const ofGroup = <T extends { groupId: string; userId: string }>(all: Record<string, T>) =>
        new Map(
          Object.values(all)
            .filter((entry) => entry.groupId === groupId)
            .map((entry) => [entry.userId, entry]),
        );
      return {
        firstSeen: sweep.firstSeen[groupId] ?? {},
        grantsFirstSeen: sweep.grantsFirstSeen?.[groupId] ?? {},
        driftSeen: sweep.driftSeen?.[groupId] ?? {},
        pendingRemovals: ofGroup(sweep.pendingRemovals),
        failedRemovals: ofGroup(sweep.failedRemovals),
      };
    },
    async writeGroupLedger(groupId, changes) {
      await store.update(({ sweep }) => {
        const replace = (all: Record<string, Record<string, string>>, value: Record<string, string>) => {
          if (Object.keys(value).length > 0) all[groupId] = value;
          else delete all[groupId];
        };
        if (changes.firstSeen) sweep.firstSeen[groupId] = changes.firstSeen;
        if (changes.grantsFirstSeen) replace((sweep.grantsFirstSeen ??= {}), changes.grantsFirstSeen);
        if (changes.driftSeen) replace((sweep.driftSeen ??= {}), changes.driftSeen);
        for (const userId of changes.clearedFailures) delete sweep.failedRemovals[removalKey(groupId, userId)];
        for (const [userId, failure] of changes.failures) sweep.failedRemovals[removalKey(groupId, userId)] = failure;
        for (const [userId, removal] of changes.removals) sweep.pendingRemovals[removalKey(groupId, userId)] = removal;
        for (const userId of changes.forgottenRemovals) delete sweep.pendingRemovals[removalKey(groupId, userId)];
      });
    },
  };
}
