/**
 * The optional HMAC key that seals audit entries (see audit-log.ts).
 *
 * Where it comes from, never argv: the environment variable OCIACCESS_AUDIT_KEY
 * (the key itself), or a file named by OCIACCESS_AUDIT_KEY_FILE or by the
 * config's `audit.keyFile`. A key file must not be accessible by group or
 * others: a key that someone else could read lets them re-seal a rewritten log,
 * and one they could replace lets them choose it.
 *
 * The key bytes stay inside the AuditKey's closures, so no error, log line or
 * JSON rendering of it can print them.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ExitCode, OciAccessError } from '../errors.js';
import { shellQuote } from './atomic-file.js';

export const AUDIT_KEY_ENV = 'OCIACCESS_AUDIT_KEY';
export const AUDIT_KEY_FILE_ENV = 'OCIACCESS_AUDIT_KEY_FILE';
/** Bytes of key material at least (after trailing whitespace is dropped): 256 bits. */
export const MIN_KEY_BYTES = 32;

export interface AuditKey {
  /** Where the key came from, for messages: "file /etc/…" or "environment variable OCIACCESS_AUDIT_KEY". */
  readonly source: string;
  /** The seal of an entry: HMAC-SHA256 over its chain hash, hex. */
  sealEntry(entryHash: string): string;
  /** The seal of the head record: HMAC-SHA256 over its seq and hash, hex (a different message from any entry's). */
  sealHead(seq: number, entryHash: string): string;
}

/** Gives the key when one is configured (loading it on first use), undefined when none is. */
export type AuditKeySource = () => Promise<AuditKey | undefined>;

/** A key problem is a configuration problem: exit 2, nothing written. */
export class AuditKeyError extends OciAccessError {
  constructor(
    code: 'AUDIT_KEY_UNREADABLE' | 'AUDIT_KEY_INSECURE' | 'AUDIT_KEY_INVALID' | 'AUDIT_KEY_AMBIGUOUS',
    message: string,
    options: { hint: string; details?: Record<string, unknown> },
  ) {
    super(code, ExitCode.usage, message, options);
  }
}

// Distinct prefixes, so that an entry's seal can never be passed off as a head's.
const ENTRY_DOMAIN = 'ociaccess audit entry v1\n';
const HEAD_DOMAIN = 'ociaccess audit head v1\n';

/** An AuditKey from key material (exported for tests; commands use loadAuditKey). */
export function auditKeyFrom(material: Buffer, source: string): AuditKey {
  const key: KeyObject = createSecretKey(material);
  const mac = (message: string) => createHmac('sha256', key).update(message, 'utf8').digest('hex');
  return {
    source,
    sealEntry: (entryHash) => mac(`${ENTRY_DOMAIN}${entryHash}`),
    sealHead: (seq, entryHash) => mac(`${HEAD_DOMAIN}${seq}\n${entryHash}`),
  };
}

/** Drops trailing spaces, tabs and line ends, so `echo "$key" > file` and a file without a newline give the same key. */
function trimEnd(bytes: Buffer): Buffer {
  let end = bytes.length;
  while (end > 0 && [0x20, 0x09, 0x0a, 0x0d].includes(bytes[end - 1]!)) end -= 1;
  return bytes.subarray(0, end);
}

function checkedMaterial(bytes: Buffer, source: string): Buffer {
  const material = trimEnd(bytes);
  if (material.length < MIN_KEY_BYTES) {
    throw new AuditKeyError(
      'AUDIT_KEY_INVALID',
      `The audit key from ${source} is ${material.length === 0 ? 'empty' : `too short (${material.length} bytes)`}; it needs at least ${MIN_KEY_BYTES} bytes.`,
      {
        hint: 'Make one with: (umask 077; openssl rand -hex 32 > audit.key)',
      },
    );
  }
  return material;
}

async function readKeyFile(file: string, platform: NodeJS.Platform): Promise<Buffer> {
  let stats;
  try {
    // stat, not lstat: a key mounted through a link (a Kubernetes secret volume) is fine; its target is what is checked.
    stats = await fs.stat(file);
  } catch (error) {
    throw new AuditKeyError(
      'AUDIT_KEY_UNREADABLE',
      `The audit key file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}).`,
      {
        hint: `Check the path (${AUDIT_KEY_FILE_ENV} or the config's audit.keyFile) and that this user can read the file.`,
        details: { file },
      },
    );
  }
  if (!stats.isFile()) {
    throw new AuditKeyError('AUDIT_KEY_UNREADABLE', `The audit key file ${file} is not a regular file.`, {
      hint: 'Point the setting at the key file itself.',
      details: { file },
    });
  }
  if (platform !== 'win32' && (stats.mode & 0o077) !== 0) {
    const mode = (stats.mode & 0o7777).toString(8).padStart(4, '0');
    throw new AuditKeyError(
      'AUDIT_KEY_INSECURE',
      `The audit key file ${file} is accessible by other users (mode ${mode}); ociaccess refuses a key that others could read or replace.`,
      {
        hint: `Check nobody else read or changed it (if in doubt, make a new key and run \`ociaccess audit seal\`), then run: chmod 600 ${shellQuote(file)}`,
        details: { file, mode },
      },
    );
  }
  try {
    return await fs.readFile(file);
  } catch (error) {
    throw new AuditKeyError(
      'AUDIT_KEY_UNREADABLE',
      `The audit key file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}).`,
      {
        hint: 'Check that this user can read the file.',
        details: { file },
      },
    );
  }
}

export interface AuditKeySettings {
  env: Readonly<Record<string, string | undefined>>;
  /** The config's audit.keyFile, if any. */
  configKeyFile?: string;
  /** Relative paths are taken from here (as the config's other file paths are). */
  cwd: string;
  platform: NodeJS.Platform;
}

/** Whether any key setting is present, without reading anything. */
export function auditKeyConfigured(settings: Pick<AuditKeySettings, 'env' | 'configKeyFile'>): boolean {
  return Boolean(settings.env[AUDIT_KEY_ENV] || settings.env[AUDIT_KEY_FILE_ENV] || settings.configKeyFile);
}

/**
 * Loads the configured key, or undefined when none is configured. The
 * environment wins over the config (as OCIACCESS_CONFIG does); both
 * environment variables at once is refused rather than guessed.
 */
export async function loadAuditKey(settings: AuditKeySettings): Promise<AuditKey | undefined> {
  const inline = settings.env[AUDIT_KEY_ENV];
  const envFile = settings.env[AUDIT_KEY_FILE_ENV];
  if (inline && envFile) {
    throw new AuditKeyError(
      'AUDIT_KEY_AMBIGUOUS',
      `Both ${AUDIT_KEY_ENV} and ${AUDIT_KEY_FILE_ENV} are set; ociaccess will not guess which audit key is meant.`,
      {
        hint: `Unset one of them (prefer ${AUDIT_KEY_FILE_ENV}: a file is not inherited by every child process).`,
      },
    );
  }
  if (inline) {
    const source = `environment variable ${AUDIT_KEY_ENV}`;
    return auditKeyFrom(checkedMaterial(Buffer.from(inline, 'utf8'), source), source);
  }
  const file = envFile || settings.configKeyFile;
  if (!file) return undefined;
  const resolved = path.resolve(settings.cwd, file);
  const source = `file ${resolved}`;
  return auditKeyFrom(checkedMaterial(await readKeyFile(resolved, settings.platform), source), source);
}

/** A source that loads the key once, on first use (a command that writes no audit entry reads no key). */
export function auditKeySource(settings: AuditKeySettings): AuditKeySource {
  let loading: Promise<AuditKey | undefined> | undefined;
  return () => (loading ??= loadAuditKey(settings));
}
