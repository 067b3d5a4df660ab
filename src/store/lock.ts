/**
 * Advisory lock files: one holder per path across all processes of a host (and,
 * with a shared home directory, across hosts).
 *
 * Protocol
 * - Acquire: create the lock file with O_CREAT|O_EXCL and write
 *   {pid, hostname, acquiredAt, nonce, purpose}. Exactly one creator wins.
 * - Stale: a lock is stale when its owner is on this host and its pid is not alive,
 *   or it is older than staleAfterMs (covers other hosts and pid reuse), or its
 *   content is unreadable (a crash between create and write) and its mtime is older
 *   than unreadableGraceMs.
 * - Takeover: a stale lock is removed only by a taker that holds the takeover
 *   guard (`<lock>.takeover`, itself O_EXCL), after re-reading the lock and finding
 *   the very file it judged stale (same inode, same bytes — the nonce makes the
 *   bytes unique). The removal is a rename to a unique name followed by a check of
 *   what was moved, so a lock that changed in between is put back rather than
 *   deleted. Then the taker competes with everyone else through O_EXCL again. Two
 *   takers therefore cannot both win: only one holds the guard, and the one that
 *   comes later finds a different file (or none) and re-judges it.
 * - Release: the same rename-and-check, so a holder whose lock was taken over (it
 *   stalled past staleAfterMs) never deletes its successor's lock.
 *
 * Heartbeat locks (for work that runs long, like a sweep, on hosts that come and
 * go, like Kubernetes CronJob pods that each have a new host name)
 * - The holder declares `heartbeatMs` in the lock and beats: it sets the lock
 *   file's mtime to its clock's "now" through a descriptor opened on its own file
 *   (so a beat can never touch a successor's lock), every heartbeatMs.
 * - Any host judges such a lock by its last beat, max(acquiredAt, mtime): stale
 *   after staleAfterMs without one (a few missed beats). The pid rule above still
 *   ends a dead holder on the same host at once.
 * - A takeover also requires the mtime to be unchanged, both when re-read under
 *   the guard and in what was renamed aside: a holder that beat in between keeps
 *   its lock (it is put back).
 * - Before finishing, the holder checks that the lock is still its own
 *   (`isHeld()`); a beat that finds another file reports the lock as lost.
 * - `runWithHeartbeat` is one run (the sweep); a long-running service can keep
 *   the same lock: a standby calls tryAcquire every heartbeat and takes over once
 *   the active one's heartbeat has been missing staleAfterMs, and the active one
 *   steps down when `startHeartbeat(...).lost` fires.
 *
 * Lock files are not fsynced: a lock protects running processes, and after a power
 * loss its content may be empty, which is handled as "unreadable" above.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../context.js';
import { StateError } from '../errors.js';
import { errnoCode, shellQuote } from './atomic-file.js';

const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;

export interface LockOwner {
  pid: number;
  hostname: string;
  /** ISO 8601 time at which the lock was taken (the owner's clock). */
  acquiredAt: string;
  /** Random; makes every lock file's bytes unique so a takeover can tell two locks apart. */
  nonce: string;
  /** What the holder is doing, e.g. "a sweep"; used in messages for whoever waits. */
  purpose?: string;
  /** Set on heartbeat locks: the holder refreshes the file's mtime this often. */
  heartbeatMs?: number;
}

/** A lock as someone who does not hold it sees it. */
export interface LockStatus {
  owner: LockOwner;
  /** ISO 8601: the last heartbeat (acquiredAt for a lock without heartbeats). */
  lastBeatAt: string;
  /** How long ago, on the reader's clock, the lock was taken and last beat. */
  heldForMs: number;
  sinceBeatMs: number;
}

export interface LockOptions {
  clock: Clock;
  /** This process (from Context.pid / Context.hostname). */
  pid: number;
  hostname: string;
  /** Keep retrying until timeoutMs (default false: one attempt). */
  wait?: boolean;
  timeoutMs?: number;
  /** A lock older than this is stale whoever holds it (a heartbeat lock: this long without a beat). */
  staleAfterMs?: number;
  /** Take a heartbeat lock that the holder refreshes this often (see startHeartbeat). */
  heartbeatMs?: number;
  /** Pause between attempts (jittered ±50%). */
  retryMs?: number;
  /** How long an unreadable lock file (owner died between create and write) is given before it counts as stale. */
  unreadableGraceMs?: number;
  /** Whether a pid on this host is running; injected in tests. */
  isProcessAlive?: (pid: number) => boolean;
  /** Written into the lock so a waiter can say e.g. "a sweep is running (pid 12 since …)". */
  purpose?: string;
}

export interface LockHandle {
  readonly path: string;
  readonly owner: LockOwner;
  /** True while the lock file on disk is still ours (false after a takeover by someone else). */
  isHeld(): Promise<boolean>;
  /** Removes the lock if it is still ours; returns whether it was. Safe to call twice. */
  release(): Promise<boolean>;
  /** Refreshes the heartbeat (mtime) if the lock is still ours; returns whether it is. */
  beat(): Promise<boolean>;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
export const DEFAULT_LOCK_STALE_AFTER_MS = 60_000;
export const DEFAULT_LOCK_RETRY_MS = 50;
export const DEFAULT_UNREADABLE_GRACE_MS = 5_000;
/** The takeover guard is held for a few file operations; anything older is a crashed taker. */
const GUARD_STALE_AFTER_MS = 5_000;

/**
 * The heartbeat lock's timings, in one place. A beat every 10 s costs one
 * open+futimes; 3 missed beats (30 s) ride out a long GC pause or a slow
 * shared volume without a false takeover, yet a killed holder's successor
 * (the next CronJob run, or a standby watcher polling every beat) takes over
 * within a minute. A holder older than an hour with a fresh heartbeat is alive
 * but probably stuck: reported, not taken over.
 */
export const HEARTBEAT_DEFAULTS = { everyMs: 10_000, missedBeats: 3, oldAfterMs: 3_600_000 } as const;

export interface HeartbeatTimings {
  everyMs: number;
  missedBeats: number;
  oldAfterMs: number;
}

/**
 * The one place in src/ outside the context that reaches `process`: signal 0
 * checks that a pid exists without touching it. EPERM means it exists but
 * belongs to someone else, which still counts as alive.
 */
export function defaultIsProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === 'EPERM';
  }
}

interface LockFileSnapshot {
  raw: string;
  ino: number;
  mtimeMs: number;
  owner: LockOwner | undefined;
}

export function parseLockOwner(raw: string): LockOwner | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (!Number.isInteger(v.pid) || typeof v.hostname !== 'string' || typeof v.acquiredAt !== 'string') return undefined;
  if (Number.isNaN(Date.parse(v.acquiredAt)) || typeof v.nonce !== 'string') return undefined;
  if (v.purpose !== undefined && typeof v.purpose !== 'string') return undefined;
  if (v.heartbeatMs !== undefined && !(Number.isInteger(v.heartbeatMs) && (v.heartbeatMs as number) > 0))
    return undefined;
  return {
    pid: v.pid as number,
    hostname: v.hostname,
    acquiredAt: v.acquiredAt,
    nonce: v.nonce,
    ...(v.purpose === undefined ? {} : { purpose: v.purpose }),
    ...(v.heartbeatMs === undefined ? {} : { heartbeatMs: v.heartbeatMs as number }),
  };
}

async function snapshot(file: string): Promise<LockFileSnapshot | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, fsConstants.O_RDONLY | O_NOFOLLOW);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw lockError(file, error);
  }
  try {
    const stats = await handle.stat();
    const raw = await handle.readFile('utf8');
    return { raw, ino: stats.ino, mtimeMs: stats.mtimeMs, owner: parseLockOwner(raw) };
  } finally {
    await handle.close();
  }
}

function lockError(file: string, error: unknown): StateError {
  return new StateError('LOCK_UNAVAILABLE', `Cannot use the lock file ${file}: ${(error as Error).message}`, {
    hint: `Check that you own ${shellQuote(path.dirname(file))} and that it is not a symbolic link.`,
    details: { path: file },
    cause: error,
  });
}

/** Who holds the lock at `file`, or null when nobody does (or the holder has not finished writing it). */
export async function readLockOwner(file: string): Promise<LockOwner | null> {
  return (await snapshot(file))?.owner ?? null;
}

/**
 * When the holder last showed it is alive. Only a lock that declares a
 * heartbeat is judged by its mtime: another lock's mtime is just its creation
 * on the system clock, which an offset or fake clock does not follow.
 */
function lastBeatMs(owner: LockOwner, mtimeMs: number): number {
  const acquired = Date.parse(owner.acquiredAt);
  return owner.heartbeatMs === undefined ? acquired : Math.max(acquired, mtimeMs);
}

function statusOf(current: LockFileSnapshot | undefined, clock: Clock): LockStatus | undefined {
  if (current?.owner === undefined) return undefined;
  const now = clock.now().getTime();
  const beat = lastBeatMs(current.owner, current.mtimeMs);
  return {
    owner: current.owner,
    lastBeatAt: new Date(beat).toISOString(),
    heldForMs: now - Date.parse(current.owner.acquiredAt),
    sinceBeatMs: now - beat,
  };
}

/** Who holds the lock at `file` and when it last beat, or null when nobody does (or the holder has not finished writing it). */
export async function readLockStatus(file: string, clock: Clock): Promise<LockStatus | null> {
  return statusOf(await snapshot(file), clock) ?? null;
}

/** "pid 123 on host build-7 since 2025-01-02T03:04:05.000Z" */
export function describeLockOwner(owner: LockOwner): string {
  return `pid ${owner.pid} on host ${owner.hostname} since ${owner.acquiredAt}`;
}

/** "pid 123 on host build-7 since 2025-01-02T03:04:05.000Z, last heartbeat 2025-01-02T04:00:01.000Z (4s ago)" */
export function describeLockStatus(status: LockStatus): string {
  if (status.owner.heartbeatMs === undefined) return describeLockOwner(status.owner);
  return `${describeLockOwner(status.owner)}, last heartbeat ${status.lastBeatAt} (${Math.max(0, Math.round(status.sinceBeatMs / 1000))}s ago)`;
}

async function createExclusive(file: string, content: string, beatAt?: Date): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | O_NOFOLLOW, 0o600);
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    throw lockError(file, error);
  }
  try {
    await handle.writeFile(content);
    // The first beat: from here on the lock is judged by this mtime, on the holder's clock.
    if (beatAt !== undefined) await handle.utimes(beatAt, beatAt);
  } catch (error) {
    await handle.close();
    await fs.unlink(file).catch(() => undefined);
    throw lockError(file, error);
  }
  await handle.close();
  return true;
}

interface Me {
  pid: number;
  hostname: string;
}

const ASIDE = '.removing.';

/** `<file>.removing.<host>.<pid>.<random>`: whoever finds one whose process died may delete it. */
function asidePath(file: string, me: Me): string {
  return `${file}${ASIDE}${encodeURIComponent(me.hostname)}.${me.pid}.${randomBytes(6).toString('hex')}`;
}

/**
 * Removes `file` only if it is still the file we expect (bytes and, if given,
 * inode): rename it aside atomically, look at what we moved, and put it back if it
 * turned out to be someone else's.
 */
async function removeIfUnchanged(
  file: string,
  me: Me,
  expectedRaw: string,
  expectedIno?: number,
  expectedMtimeMs?: number,
): Promise<boolean> {
  const aside = asidePath(file, me);
  try {
    await fs.rename(file, aside);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw lockError(file, error);
  }
  const moved = await snapshot(aside);
  if (
    moved !== undefined &&
    moved.raw === expectedRaw &&
    (expectedIno === undefined || moved.ino === expectedIno) &&
    (expectedMtimeMs === undefined || moved.mtimeMs === expectedMtimeMs)
  ) {
    await fs.unlink(aside).catch(() => undefined);
    return true;
  }
  // We displaced a lock that changed (or beat) after we looked. link() restores it without
  // clobbering a lock created in the meantime (then its owner sees isHeld() false).
  try {
    await fs.link(aside, file);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') {
      // A file system without hard links: restore by rename when the name is free.
      if ((await snapshot(file)) === undefined) await fs.rename(aside, file).catch(() => undefined);
    }
  }
  await fs.unlink(aside).catch(() => undefined);
  return false;
}

interface Resolved {
  clock: Clock;
  pid: number;
  hostname: string;
  staleAfterMs: number;
  unreadableGraceMs: number;
  isProcessAlive: (pid: number) => boolean;
  purpose?: string;
  heartbeatMs?: number;
}

function resolve(options: LockOptions): Resolved {
  return {
    clock: options.clock,
    pid: options.pid,
    hostname: options.hostname,
    staleAfterMs: options.staleAfterMs ?? DEFAULT_LOCK_STALE_AFTER_MS,
    unreadableGraceMs: options.unreadableGraceMs ?? DEFAULT_UNREADABLE_GRACE_MS,
    isProcessAlive: options.isProcessAlive ?? defaultIsProcessAlive,
    purpose: options.purpose,
    heartbeatMs: options.heartbeatMs,
  };
}

function isStale(current: LockFileSnapshot, o: Resolved, staleAfterMs: number): boolean {
  const now = o.clock.now().getTime();
  const owner = current.owner;
  // The file's mtime is on the system clock; an offset clock (emulator time) only
  // shifts this grace period for the rare unreadable lock.
  if (owner === undefined) return now - current.mtimeMs > o.unreadableGraceMs;
  if (owner.hostname === o.hostname && !o.isProcessAlive(owner.pid)) return true;
  return now - lastBeatMs(owner, current.mtimeMs) > staleAfterMs;
}

function newOwner(o: Resolved, heartbeatMs?: number): LockOwner {
  return {
    pid: o.pid,
    hostname: o.hostname,
    acquiredAt: o.clock.now().toISOString(),
    nonce: randomBytes(8).toString('hex'),
    ...(o.purpose === undefined ? {} : { purpose: o.purpose }),
    ...(heartbeatMs === undefined ? {} : { heartbeatMs }),
  };
}

/** Serializes takeovers of `file`; returns a release function, or null if another taker is at work. */
async function enterTakeoverGuard(file: string, o: Resolved): Promise<(() => Promise<unknown>) | null> {
  const guardFile = `${file}.takeover`;
  for (let round = 0; round < 2; round += 1) {
    const content = `${JSON.stringify(newOwner(o))}\n`;
    if (await createExclusive(guardFile, content)) return () => removeIfUnchanged(guardFile, o, content);
    const guard = await snapshot(guardFile);
    if (guard === undefined) continue;
    if (!isStale(guard, o, GUARD_STALE_AFTER_MS)) return null;
    await removeIfUnchanged(guardFile, o, guard.raw, guard.ino);
  }
  return null;
}

/**
 * A process killed in the middle of a takeover or a release leaves a renamed-aside
 * file or a takeover guard behind. They block nothing, but they should not pile up:
 * the next holder removes those whose process is gone from this host.
 */
async function removeLeftovers(file: string, o: Resolved): Promise<void> {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(`${base}${ASIDE}`) && !name.startsWith(`${base}.takeover${ASIDE}`)) continue;
    const parts = name.slice(name.lastIndexOf(ASIDE) + ASIDE.length).split('.');
    const pid = Number(parts[parts.length - 2]);
    const hostname = decodeURIComponent(parts.slice(0, -2).join('.'));
    if (hostname === o.hostname && !o.isProcessAlive(pid)) await fs.unlink(path.join(dir, name)).catch(() => undefined);
  }
  const guard = await snapshot(`${file}.takeover`);
  if (guard !== undefined && isStale(guard, o, GUARD_STALE_AFTER_MS)) {
    await removeIfUnchanged(`${file}.takeover`, o, guard.raw, guard.ino);
  }
}

type Attempt = { handle: LockHandle } | { heldBy: LockStatus | undefined };

async function attemptOnce(file: string, o: Resolved): Promise<Attempt> {
  let lastSeen: LockFileSnapshot | undefined;
  // A few rounds: the lock may vanish or be taken over between our steps.
  for (let round = 0; round < 3; round += 1) {
    const owner = newOwner(o, o.heartbeatMs);
    const content = `${JSON.stringify(owner)}\n`;
    if (await createExclusive(file, content, o.heartbeatMs === undefined ? undefined : o.clock.now())) {
      await removeLeftovers(file, o);
      return { handle: makeHandle(file, owner, content, o.clock) };
    }
    const current = await snapshot(file);
    if (current === undefined) continue;
    lastSeen = current;
    if (!isStale(current, o, o.staleAfterMs)) return { heldBy: statusOf(current, o.clock) };
    const leaveGuard = await enterTakeoverGuard(file, o);
    if (leaveGuard === null) return { heldBy: statusOf(current, o.clock) };
    try {
      const again = await snapshot(file);
      // Only the exact file we judged stale may go, not even one that beat since;
      // anything else is re-judged next round.
      if (
        again !== undefined &&
        again.raw === current.raw &&
        again.ino === current.ino &&
        again.mtimeMs === current.mtimeMs
      ) {
        await removeIfUnchanged(file, o, current.raw, current.ino, current.mtimeMs);
      }
    } finally {
      await leaveGuard();
    }
  }
  return { heldBy: statusOf(lastSeen, o.clock) };
}

/**
 * Sets the lock file's mtime to `now` through a descriptor on the file itself,
 * so a holder that lost its lock touches only its own (unlinked or aside) file,
 * never the successor's; then checks that the file at `file` is still ours.
 */
async function beatOnce(file: string, content: string, now: Date): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, fsConstants.O_RDWR | O_NOFOLLOW);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw lockError(file, error);
  }
  try {
    if ((await handle.readFile('utf8')) !== content) return false;
    await handle.utimes(now, now);
  } finally {
    await handle.close();
  }
  return (await snapshot(file))?.raw === content;
}

function makeHandle(file: string, owner: LockOwner, content: string, clock: Clock): LockHandle {
  let released = false;
  return {
    async beat() {
      return !released && beatOnce(file, content, clock.now());
    },
    path: file,
    owner,
    async isHeld() {
      return !released && (await snapshot(file))?.raw === content;
    },
    async release() {
      if (released) return false;
      released = true;
      if ((await snapshot(file))?.raw !== content) return false;
      return removeIfUnchanged(file, owner, content);
    },
  };
}

function heldMessage(file: string, owner: LockOwner | undefined): string {
  if (owner === undefined) return `The lock ${file} is being taken by another process.`;
  const who = describeLockOwner(owner);
  return owner.purpose === undefined
    ? `Another ociaccess process holds the lock ${file} (${who}).`
    : `${owner.purpose.charAt(0).toUpperCase()}${owner.purpose.slice(1)} is running (${who}).`;
}

function heldError(
  code: 'LOCK_HELD' | 'LOCK_TIMEOUT',
  file: string,
  status: LockStatus | undefined,
  o: Resolved,
  waitedMs?: number,
): StateError {
  const owner = status?.owner;
  const waited = waitedMs === undefined ? '' : ` Gave up after waiting ${Math.round(waitedMs / 100) / 10}s.`;
  const sameHost = owner !== undefined && owner.hostname === o.hostname;
  const hint =
    owner === undefined
      ? 'Run the command again in a moment.'
      : sameHost
        ? `Wait for pid ${owner.pid} to finish and try again. If it is stuck, stop it (kill ${owner.pid}); a lock whose process is gone is taken over automatically.`
        : owner.heartbeatMs === undefined
          ? `Wait for it to finish on ${owner.hostname} and try again; a lock older than ${Math.round(o.staleAfterMs / 1000)}s is taken over automatically.`
          : `Wait for it to finish on ${owner.hostname} and try again; a lock whose heartbeat stops for ${Math.round(o.staleAfterMs / 1000)}s is taken over automatically.`;
  const { nonce: _nonce, ...shown } = owner ?? ({} as Partial<LockOwner>);
  const beat = owner?.heartbeatMs === undefined ? {} : { lastBeatAt: status!.lastBeatAt };
  return new StateError(code, `${heldMessage(file, owner)}${waited}`, {
    hint,
    details: { path: file, ...shown, ...beat },
  });
}

/** One attempt (including the takeover of a stale lock); null when someone else holds it. */
export async function tryAcquire(file: string, options: LockOptions): Promise<LockHandle | null> {
  const result = await attemptOnce(file, resolve(options));
  return 'handle' in result ? result.handle : null;
}

/**
 * Takes the lock, waiting up to timeoutMs when `wait` is set. Throws StateError
 * LOCK_HELD (no wait) or LOCK_TIMEOUT, whose message names the holder.
 * Waiting is measured on options.clock, whose sleep() must advance now().
 */
export async function acquireLock(file: string, options: LockOptions): Promise<LockHandle> {
  const o = resolve(options);
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const retryMs = Math.max(1, options.retryMs ?? DEFAULT_LOCK_RETRY_MS);
  const started = o.clock.now().getTime();
  // Backstop against a clock whose sleep does not move time.
  const maxAttempts = 2 * Math.ceil(timeoutMs / retryMs) + 1;
  for (let attempt = 1; ; attempt += 1) {
    const result = await attemptOnce(file, o);
    if ('handle' in result) return result.handle;
    if (!options.wait) throw heldError('LOCK_HELD', file, result.heldBy, o);
    const waited = o.clock.now().getTime() - started;
    if (waited >= timeoutMs || attempt >= maxAttempts) throw heldError('LOCK_TIMEOUT', file, result.heldBy, o, waited);
    await o.clock.sleep(Math.min(retryMs * (0.5 + Math.random()), Math.max(1, timeoutMs - waited)));
  }
}

/** Runs `fn` while holding the lock; always releases it. */
export async function withLock<T>(
  file: string,
  options: LockOptions,
  fn: (lock: LockHandle) => Promise<T>,
): Promise<T> {
  const lock = await acquireLock(file, options);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}

/**
 * Lock options for the store's short read-modify-write sections (state
 * updates, audit appends): wait up to 15 s, a lock older than 60 s is stale.
 */
export function storeLockOptions(
  host: { clock: Clock; pid: number; hostname: string },
  options: { lockTimeoutMs?: number; lockStaleAfterMs?: number; isProcessAlive?: (pid: number) => boolean },
  purpose: string,
): LockOptions {
  return {
    clock: host.clock,
    pid: host.pid,
    hostname: host.hostname,
    wait: true,
    timeoutMs: options.lockTimeoutMs ?? 15_000,
    staleAfterMs: options.lockStaleAfterMs ?? 60_000,
    retryMs: 20,
    purpose,
    ...(options.isProcessAlive ? { isProcessAlive: options.isProcessAlive } : {}),
  };
}

/** Options for a heartbeat lock: timings default to HEARTBEAT_DEFAULTS (tests pass shorter ones). */
export interface HeartbeatLockOptions extends LockOptions {
  heartbeatMs: number;
  staleAfterMs: number;
  /** A live holder older than this is reported as probably stuck (not taken over). */
  oldAfterMs: number;
}

export function heartbeatLockOptions(
  host: { clock: Clock; pid: number; hostname: string },
  purpose: string,
  timings: Partial<HeartbeatTimings> & { isProcessAlive?: (pid: number) => boolean } = {},
): HeartbeatLockOptions {
  const everyMs = timings.everyMs ?? HEARTBEAT_DEFAULTS.everyMs;
  return {
    clock: host.clock,
    pid: host.pid,
    hostname: host.hostname,
    purpose,
    heartbeatMs: everyMs,
    staleAfterMs: everyMs * (timings.missedBeats ?? HEARTBEAT_DEFAULTS.missedBeats),
    oldAfterMs: timings.oldAfterMs ?? HEARTBEAT_DEFAULTS.oldAfterMs,
    ...(timings.isProcessAlive ? { isProcessAlive: timings.isProcessAlive } : {}),
  };
}

export interface Heartbeat {
  /** Aborted when a beat finds the lock is no longer ours: stop acting as the holder. */
  readonly lost: AbortSignal;
  /** Beats that failed with an I/O error so far (each one brings a takeover closer). */
  readonly failedBeats: number;
  /** Stops beating (does not release the lock); resolves once no beat is in flight. */
  stop(): Promise<void>;
}

/** Beats `lock` every `everyMs` on `clock` until stopped or the lock is found lost. */
export function startHeartbeat(lock: LockHandle, clock: Clock, everyMs: number): Heartbeat {
  const stopper = new AbortController();
  const lost = new AbortController();
  let failedBeats = 0;
  const loop = (async () => {
    for (;;) {
      await clock.sleep(everyMs, stopper.signal);
      if (stopper.signal.aborted) return;
      try {
        if (!(await lock.beat())) {
          lost.abort();
          return;
        }
      } catch {
        // A missed beat (e.g. the shared volume hiccupped): try again next time;
        // only staleAfterMs of them in a row let someone take over.
        failedBeats += 1;
      }
    }
  })();
  return {
    lost: lost.signal,
    get failedBeats() {
      return failedBeats;
    },
    async stop() {
      stopper.abort();
      await loop;
    },
  };
}

export type HeartbeatRun<T> =
  | {
      ran: true;
      value: T;
      owner: LockOwner;
      /** False when another holder took the lock over while fn ran (this one stalled). */ stillHeld: boolean;
    }
  | {
      ran: false;
      /** Null when the lock vanished or was half-written as we looked. */ holder: LockStatus | null;
      /** The holder is alive but has held the lock longer than oldAfterMs. */ old: boolean;
    };

/**
 * One attempt to take a heartbeat lock; if taken, runs fn while beating and,
 * before releasing, checks that the lock is still ours. fn gets the signal that
 * fires if the lock is lost while it runs.
 */
export async function runWithHeartbeat<T>(
  file: string,
  options: HeartbeatLockOptions,
  fn: (lost: AbortSignal) => Promise<T>,
): Promise<HeartbeatRun<T>> {
  const o = resolve(options);
  const attempt = await attemptOnce(file, o);
  if (!('handle' in attempt)) {
    const holder = attempt.heldBy ?? null;
    return { ran: false, holder, old: holder !== null && holder.heldForMs > options.oldAfterMs };
  }
  const lock = attempt.handle;
  const heartbeat = startHeartbeat(lock, options.clock, options.heartbeatMs);
  let value: T;
  try {
    value = await fn(heartbeat.lost);
  } catch (error) {
    await heartbeat.stop();
    await lock.release().catch(() => undefined);
    throw error;
  }
  await heartbeat.stop();
  const stillHeld = !heartbeat.lost.aborted && (await lock.isHeld());
  await lock.release();
  return { ran: true, value, owner: lock.owner, stillHeld };
}
