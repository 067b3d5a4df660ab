/**
 * Crash-safe private files in the state directory.
 *
 * The rules every file under the state directory follows:
 * - the directory is 0700 and every file 0600; anything group/other-accessible is
 *   refused (STATE_PERMISSIONS) rather than silently fixed, because a widened mode
 *   means someone else may already have read or replaced it;
 * - the directory belongs to the user running the command (STATE_DIR_NOT_OWNED):
 *   its owner could change everything in it, whatever its mode;
 * - no symlinks, neither the directory nor a file (STATE_SYMLINK): a link planted by
 *   another user would redirect our writes; files are opened with O_NOFOLLOW so the
 *   check cannot be raced;
 * - a file is replaced, never rewritten in place: temp file in the same directory,
 *   write, fsync, rename over the target, fsync the directory. A kill -9 at any
 *   instant leaves either the old complete file or the new complete file, plus at
 *   worst an orphaned `.<name>.tmp-<hex>` that the next writer (under the lock)
 *   removes.
 */
import { constants as fsConstants, promises as fs, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { StateError } from '../errors.js';
import { NOT_PRIVATE_BITS, chmodFix, octal, shellQuote } from '../file-safety.js';

export { shellQuote };

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** O_NOFOLLOW does not exist on Windows; there the lstat check alone applies. */
const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;

export interface PrivateFsOptions {
  /** Mode bits are not meaningful on Windows, so the permission check is skipped there. */
  platform?: NodeJS.Platform;
  /** The effective uid: the state directory must be owned by it. Undefined (Windows) skips the check. */
  uid?: number;
}

export interface WriteAtomicOptions extends PrivateFsOptions {
  mode?: number;
}

export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

async function symlinkError(target: string, kind: 'directory' | 'file'): Promise<StateError> {
  const pointsTo = await fs.readlink(target).catch(() => undefined);
  const where = pointsTo === undefined ? '' : ` (it points to ${pointsTo})`;
  return new StateError(
    'STATE_SYMLINK',
    `The state ${kind} ${target} is a symbolic link${where}; ociaccess does not follow links in its state directory.`,
    {
      hint:
        kind === 'directory'
          ? `Replace the link with a real directory: rm ${shellQuote(target)} && mkdir -m 700 ${shellQuote(target)} (move the old contents in if you need them).`
          : `Replace the link with a real file: rm ${shellQuote(target)}, then copy the file it pointed to in its place if you need it (chmod 600).`,
      details: { path: target, pointsTo },
    },
  );
}

function assertPrivateMode(stats: Stats, target: string, kind: 'directory' | 'file', platform: NodeJS.Platform): void {
  if (platform === 'win32') return;
  if ((stats.mode & NOT_PRIVATE_BITS) === 0) return;
  throw new StateError(
    'STATE_PERMISSIONS',
    `The state ${kind} ${target} is accessible by other users (mode ${octal(stats.mode)}); ` +
      'ociaccess refuses to use it because it holds approvals, the sweep ledger and the audit log.',
    {
      hint: `Check nobody else changed it, then run: ${chmodFix(target, 'private', kind === 'directory')}`,
      details: { path: target, mode: octal(stats.mode) },
    },
  );
}

/**
 * Checks an existing state directory (not a link, a directory, mode 0700).
 * Returns false when it does not exist yet.
 */
export async function inspectStateDir(dir: string, options: PrivateFsOptions = {}): Promise<boolean> {
  let stats: Stats;
  try {
    stats = await fs.lstat(dir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw unreadable(dir, error);
  }
  if (stats.isSymbolicLink()) throw await symlinkError(dir, 'directory');
  if (!stats.isDirectory()) {
    throw new StateError('STATE_NOT_A_DIRECTORY', `The state directory ${dir} exists but is not a directory.`, {
      hint: `Move it aside (mv ${shellQuote(dir)} ${shellQuote(`${dir}.old`)}) and run the command again.`,
      details: { path: dir },
    });
  }
  const platform = options.platform ?? os.platform();
  assertOwnedByUs(stats, dir, platform, options.uid);
  assertPrivateMode(stats, dir, 'directory', platform);
  return true;
}

/**
 * A state directory someone else owns is theirs to change at will (their
 * "approvals", their ledger), even at mode 0700; as root, such a directory is
 * also one its owner could plant links in. Refused, not taken over.
 */
function assertOwnedByUs(stats: Stats, dir: string, platform: NodeJS.Platform, uid: number | undefined): void {
  if (platform === 'win32' || uid === undefined || stats.uid === uid) return;
  throw new StateError(
    'STATE_DIR_NOT_OWNED',
    `The state directory ${dir} is owned by another user (uid ${stats.uid}; you are uid ${uid}); ` +
      'ociaccess refuses to use it because whoever owns it can change the approvals, the sweep ledger and the audit log in it.',
    {
      hint: `If it is yours, run: sudo chown -R ${uid} ${shellQuote(dir)}; otherwise set OCIACCESS_HOME to a directory of your own.`,
      details: { path: dir, ownerUid: stats.uid, uid },
    },
  );
}

/** Creates the state directory (0700) if needed, then checks it like inspectStateDir. */
export async function ensureStateDir(dir: string, options: PrivateFsOptions = {}): Promise<void> {
  let created: string | undefined;
  try {
    created = await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (error) {
    // EEXIST: something that is not a directory (or a dangling link) is in the way;
    // inspectStateDir names it precisely.
    if (errnoCode(error) !== 'EEXIST') {
      throw new StateError(
        'STATE_UNWRITABLE',
        `Cannot create the state directory ${dir}: ${(error as Error).message}`,
        {
          hint: 'Check the permissions of its parent directory, or set OCIACCESS_HOME to a directory you own.',
          details: { path: dir },
          cause: error,
        },
      );
    }
  }
  // mkdir's mode goes through the umask; make the leaf exactly 0700 when we created it.
  if (created !== undefined) await fs.chmod(dir, PRIVATE_DIR_MODE);
  await inspectStateDir(dir, options);
}

function unreadable(target: string, error: unknown): StateError {
  return new StateError('STATE_UNREADABLE', `Cannot read ${target}: ${(error as Error).message}`, {
    hint: `Check that you own ${shellQuote(target)} and can read it.`,
    details: { path: target },
    cause: error,
  });
}

/**
 * Checks that `target` is not a symlink and, if it exists, is a private regular file.
 * Returns false when it does not exist.
 */
export async function inspectPrivateFile(target: string, options: PrivateFsOptions = {}): Promise<boolean> {
  let stats: Stats;
  try {
    stats = await fs.lstat(target);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw unreadable(target, error);
  }
  if (stats.isSymbolicLink()) throw await symlinkError(target, 'file');
  assertPrivateRegularFile(stats, target, options);
  return true;
}

function assertPrivateRegularFile(stats: Stats, target: string, options: PrivateFsOptions): void {
  if (!stats.isFile()) {
    throw new StateError('STATE_NOT_A_FILE', `${target} exists but is not a regular file.`, {
      hint: `Move it aside (mv ${shellQuote(target)} ${shellQuote(`${target}.old`)}) and run the command again.`,
      details: { path: target },
    });
  }
  assertPrivateMode(stats, target, 'file', options.platform ?? os.platform());
}

/**
 * Opens a private file without following links and checks it through the
 * descriptor (so the check and the use concern the same inode).
 * Returns undefined when the file does not exist and `flags` does not create it.
 */
export async function openPrivateFile(
  target: string,
  flags: number,
  options: PrivateFsOptions = {},
): Promise<fs.FileHandle | undefined> {
  // The lstat gives the clear "is a symlink" message; O_NOFOLLOW closes the race.
  if (!(await inspectPrivateFile(target, options)) && (flags & fsConstants.O_CREAT) === 0) return undefined;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(target, flags | O_NOFOLLOW, PRIVATE_FILE_MODE);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw await symlinkError(target, 'file');
    throw unreadable(target, error);
  }
  try {
    assertPrivateRegularFile(await handle.stat(), target, options);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/** The bytes of a private file, or undefined when it does not exist. */
export async function readPrivateFile(target: string, options: PrivateFsOptions = {}): Promise<Buffer | undefined> {
  const handle = await openPrivateFile(target, fsConstants.O_RDONLY, options);
  if (handle === undefined) return undefined;
  try {
    return await handle.readFile();
  } catch (error) {
    throw unreadable(target, error);
  } finally {
    await handle.close();
  }
}

/**
 * Parses a private JSON file. Returns undefined when it does not exist (JSON has
 * no `undefined`, so the two cannot be confused); throws STATE_CORRUPT when it
 * does not parse.
 */
export async function readJsonFile(target: string, options: PrivateFsOptions = {}): Promise<unknown> {
  const bytes = await readPrivateFile(target, options);
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (error) {
    throw new StateError('STATE_CORRUPT', `${target} is not valid JSON (${(error as Error).message}).`, {
      hint: `Restore it from a backup or move it aside: mv ${shellQuote(target)} ${shellQuote(`${target}.bad`)}`,
      details: { path: target },
      cause: error,
    });
  }
}

const TEMP_MARKER = '.tmp-';

/** The temp-file name used while replacing `target`: hidden, same directory, random suffix. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}${TEMP_MARKER}${randomBytes(6).toString('hex')}`);
}

/** fsync on a directory makes a rename or a creation in it durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, fsConstants.O_RDONLY);
    await handle.sync();
  } catch (error) {
    // Windows cannot open or fsync a directory; there the rename itself is all we get.
    const code = errnoCode(error);
    if (os.platform() !== 'win32' && code !== 'EINVAL' && code !== 'ENOTSUP') throw error;
  } finally {
    await handle?.close();
  }
}

/**
 * Replaces `target` with `data` so that, whatever instant the process dies at,
 * the path holds either the previous complete content or the new complete content.
 */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  options: WriteAtomicOptions = {},
): Promise<void> {
  const mode = options.mode ?? PRIVATE_FILE_MODE;
  // rename() would replace a link rather than follow it, but a link here means
  // someone tampered with the directory: say so instead of papering over it.
  await inspectPrivateFile(target, options);
  const temp = tempPathFor(target);
  let renamed = false;
  try {
    const handle = await fs.open(
      temp,
      fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | O_NOFOLLOW,
      mode,
    );
    try {
      await handle.chmod(mode); // the umask may have narrowed or (if odd) widened it
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target);
    renamed = true;
    await fsyncDirectory(path.dirname(target));
  } catch (error) {
    if (!renamed) await fs.unlink(temp).catch(() => undefined);
    if (error instanceof StateError) throw error;
    throw new StateError('STATE_UNWRITABLE', `Cannot write ${target}: ${(error as Error).message}`, {
      hint: 'Check free disk space and that you own the state directory.',
      details: { path: target },
      cause: error,
    });
  }
}

/**
 * Removes the temp files a crashed writer of `target` left behind. Only call it
 * while holding the lock that serializes writers of `target`, otherwise it could
 * delete a live writer's temp file (which would make that writer fail, not corrupt).
 */
export async function removeOrphanedTempFiles(target: string): Promise<string[]> {
  const dir = path.dirname(target);
  const prefix = `.${path.basename(target)}${TEMP_MARKER}`;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const full = path.join(dir, name);
    try {
      await fs.unlink(full);
      removed.push(full);
    } catch {
      // Someone else removed it first; nothing to do.
    }
  }
  return removed;
}

/**
 * Writes `data` to a new file that must not exist yet (O_EXCL), 0600, fsynced.
 * When the name is taken, tries `name-1`, `name-2`, … so nothing is overwritten.
 * Returns the path actually written.
 */
export async function writeNewPrivateFile(target: string, data: string | Uint8Array): Promise<string> {
  for (let attempt = 0; attempt < 1000; attempt += 1) {
    const candidate = attempt === 0 ? target : `${target}-${attempt}`;
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(
        candidate,
        fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | O_NOFOLLOW,
        PRIVATE_FILE_MODE,
      );
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') continue;
      throw error;
    }
    try {
      await handle.chmod(PRIVATE_FILE_MODE);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsyncDirectory(path.dirname(candidate));
    return candidate;
  }
  throw new StateError('STATE_UNWRITABLE', `Too many files named ${target}-N already exist.`, {
    hint: `Clean up old copies in ${shellQuote(path.dirname(target))}.`,
    details: { path: target },
  });
}
