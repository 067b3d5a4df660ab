/**
 * Who may read or change the files that hold authority. One place decides it
 * for all of them; each caller turns a problem into its own typed error:
 *
 * - the config names approvers and standing members: only its owner (or root)
 *   may change it, and no directory above it may let someone else swap it
 *   (rule `owner-writes`); reading it is fine, it holds no secret;
 * - secrets and keys (the automation's client secret or private key, the OCI
 *   config and its API key) and the local state: owner only, no group or
 *   other bits at all (rule `private`), in directories only the owner (or
 *   root) can change.
 *
 * Mode bits and owners mean nothing on Windows: every check is skipped there.
 * A file that does not exist has no problem here (its reader says so).
 */
import { realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './errors.js';

export type FileRule = 'private' | 'owner-writes';

/** What the checks need to know about the machine, from the context. */
export interface FileHost {
  platform: NodeJS.Platform;
  /** The effective uid; undefined (Windows) skips the owner checks. */
  uid?: number;
}

export interface FileProblem {
  code: 'INSECURE_FILE_PERMISSIONS' | 'INSECURE_FILE_OWNER';
  /** The file or directory at fault (the file itself, or a directory above it). */
  path: string;
  isDirectory: boolean;
  mode: string;
  ownerUid: number;
  /** In words, after the path: "is writable by other users (mode 0664)". */
  problem: string;
  /** The exact command that fixes it. */
  fix: string;
}

/** Quotes a path for a POSIX shell, so a hint can be pasted as is. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** Group and other bits a private file or directory must not have. */
export const NOT_PRIVATE_BITS = 0o077;
const WRITABLE_BY_OTHERS = 0o022;
const STICKY = 0o1000;

/** The mode problem of `stats` under `rule`, in words, or undefined. */
export function modeProblem(
  stats: Pick<Stats, 'mode'> & { isDirectory(): boolean },
  rule: FileRule,
): string | undefined {
  const mode = stats.mode;
  if (rule === 'private') {
    if ((mode & NOT_PRIVATE_BITS) === 0) return undefined;
    const readable = (mode & 0o044) !== 0;
    return `is ${readable ? 'readable' : 'accessible'} by other users (mode ${octal(mode)})`;
  }
  if ((mode & WRITABLE_BY_OTHERS) === 0) return undefined;
  // In a sticky directory (/tmp) others may add entries but cannot rename or remove ours.
  if (stats.isDirectory() && (mode & STICKY) !== 0) return undefined;
  return `is writable by other users (mode ${octal(mode)})`;
}

/** The chmod that ends a mode problem, keeping what the owner chose for themselves where it can. */
export function chmodFix(target: string, rule: FileRule, isDirectory: boolean): string {
  if (rule === 'owner-writes') return `chmod go-w ${shellQuote(target)}`;
  return `chmod ${isDirectory ? '700' : '600'} ${shellQuote(target)}`;
}

function problemOf(target: string, stats: Stats, rule: FileRule, host: FileHost): FileProblem[] {
  const problems: FileProblem[] = [];
  const base = { path: target, isDirectory: stats.isDirectory(), mode: octal(stats.mode), ownerUid: stats.uid };
  // Root owns system directories and may own a service's config; anyone else could change it at will.
  if (host.uid !== undefined && stats.uid !== host.uid && stats.uid !== 0) {
    problems.push({
      ...base,
      code: 'INSECURE_FILE_OWNER',
      problem: `is owned by another user (uid ${stats.uid}, you are uid ${host.uid})`,
      fix: `sudo chown ${host.uid} ${shellQuote(target)}`,
    });
  }
  const mode = modeProblem(stats, rule);
  if (mode)
    problems.push({
      ...base,
      code: 'INSECURE_FILE_PERMISSIONS',
      problem: mode,
      fix: chmodFix(target, rule, stats.isDirectory()),
    });
  return problems;
}

function statOrUndefined(target: string): Stats | undefined {
  try {
    return statSync(target);
  } catch {
    return undefined;
  }
}

/**
 * Every problem of `target` (links followed) under `rule`, then of each
 * directory above it (and above the link, when it is one) under
 * `owner-writes`. Empty when all is well, when the file does not exist, and on
 * Windows.
 */
export function fileSafetyProblems(target: string, rule: FileRule, host: FileHost): FileProblem[] {
  if (host.platform === 'win32') return [];
  let real: string;
  try {
    real = realpathSync(target);
  } catch {
    return [];
  }
  const stats = statOrUndefined(real);
  if (!stats) return [];
  const problems = problemOf(real, stats, rule, host);
  const seen = new Set<string>();
  const parents = [path.dirname(real)];
  try {
    parents.push(realpathSync(path.dirname(path.resolve(target))));
  } catch {
    // The link's own directory vanished meanwhile; the file's directories are checked anyway.
  }
  for (const start of parents) {
    for (let dir = start; !seen.has(dir); dir = path.dirname(dir)) {
      seen.add(dir);
      const dirStats = statOrUndefined(dir);
      if (dirStats) problems.push(...problemOf(dir, dirStats, 'owner-writes', host));
    }
  }
  return problems;
}

/** What a problem means in one sentence, for errors and `doctor`. */
export function describeFileProblem(problem: FileProblem, what: string): string {
  const subject = problem.isDirectory
    ? `The directory ${problem.path}, which holds the ${what},`
    : `The ${what} ${problem.path}`;
  return `${subject} ${problem.problem}`;
}

/**
 * Throws a ConfigError (exit 2) naming the first problem and every fix, when
 * `target` breaks `rule`. `what` names the file ("config file"), `why` says
 * what is at stake ("it names the approvers").
 */
export function assertSafeFile(target: string, rule: FileRule, host: FileHost, what: string, why: string): void {
  const problems = fileSafetyProblems(target, rule, host);
  const first = problems[0];
  if (!first) return;
  const fixes = [...new Set(problems.map((problem) => problem.fix))];
  throw new ConfigError(first.code, `${describeFileProblem(first, what)}; ociaccess refuses it because ${why}.`, {
    hint: `Check that nobody else changed it, then run: ${fixes.join(' && ')}`,
    details: {
      path: first.path,
      file: target,
      mode: first.mode,
      ownerUid: first.ownerUid,
      problems: problems.map((p) => ({ code: p.code, path: p.path, fix: p.fix })),
    },
  });
}
