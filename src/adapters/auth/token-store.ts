/**
 * Where the signed-in user's tokens (MSAL's cache: refresh token, access
 * tokens, account) live between commands.
 *
 * keychain: the cache is encrypted (AES-256-GCM) into a 0600 file under the
 *   state directory, with a random key kept in the OS keychain (macOS
 *   Keychain, Windows Credential Manager, a Linux Secret Service). Only the
 *   32-byte key goes to the keychain because MSAL caches outgrow what some
 *   keychains hold (Windows credentials stop at 2.5 KB).
 * file: the cache as plain JSON in a 0600 file in a 0700 directory. Chosen
 *   when OCIACCESS_TOKEN_STORE=file, or — with a warning shown once per
 *   machine — when no keychain answers (a headless Linux host has no Secret
 *   Service). On Linux the kernel keyring is deliberately not used: it lives
 *   only as long as the login session, so tokens would vanish between SSH
 *   sessions without anyone being told why.
 *
 * Both refuse a directory or file that group or others can reach, or a
 * symbolic link, instead of repairing it (see store/atomic-file.ts).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';
import { AuthError, StateError, UsageError, isOciAccessError, quoteInput } from '../../errors.js';
import {
  ensureStateDir,
  errnoCode,
  inspectPrivateFile,
  readPrivateFile,
  writeFileAtomic,
} from '../../store/atomic-file.js';

export type TokenStoreKind = 'keychain' | 'file';

/** Forces the token store: "keychain", "file", or unset / "auto" to prefer the keychain. */
export const TOKEN_STORE_ENV = 'OCIACCESS_TOKEN_STORE';

const KEYCHAIN_SERVICE = 'ociaccess';
const CACHE_FILE = 'msal-cache.json';
const ENCRYPTED_CACHE_FILE = 'msal-cache.enc';
const WARNED_MARKER = 'file-store-warning-shown';
/** Binds the ciphertext to its purpose, so the key cannot be used to pass off another blob. */
const ASSOCIATED_DATA = Buffer.from('ociaccess token cache v1');

/** The few keychain operations the store needs; @napi-rs/keyring by default, a fake in tests. */
export interface KeyringBackend {
  /** The stored value, or null when there is none; throws when the keychain cannot be reached. */
  get(service: string, account: string): Promise<string | null>;
  set(service: string, account: string, value: string): Promise<void>;
  delete(service: string, account: string): Promise<void>;
}

/** The OS keychain through @napi-rs/keyring, loaded only when a token is needed (so `--help` loads no native code). */
export async function osKeyring(): Promise<KeyringBackend> {
  const { AsyncEntry } = await import('@napi-rs/keyring');
  const entry = (service: string, account: string) =>
    new AsyncEntry(service, account, { linux: { store: 'secret-service' } });
  return {
    get: (service, account) => entry(service, account).getPassword(),
    set: (service, account, value) => entry(service, account).setPassword(value),
    delete: async (service, account) => {
      await entry(service, account).deletePassword();
    },
  };
}

export interface TokenStoreOptions {
  stateDir: string;
  env: Readonly<Record<string, string | undefined>>;
  platform: NodeJS.Platform;
  /** The effective uid: the state directory must be owned by it. */
  uid?: number;
  /** Defaults to osKeyring(). */
  keyring?: () => Promise<KeyringBackend>;
  /**
   * Reads the cache and never writes: no directory, keychain key, cache file or
   * marker is created or changed (shell completion). A refreshed token is then
   * used once and forgotten.
   */
  readOnly?: boolean;
}

export interface TokenStore {
  readonly kind: TokenStoreKind;
  /** For `whoami` / `doctor`: where the tokens are, in words. */
  readonly description: string;
  /** Set when the file store was picked because the keychain failed (not when it was asked for). */
  readonly fallbackReason?: string;
  readonly cachePlugin: ICachePlugin;
  /**
   * The cache's text as stored (decrypted), for a sign-in that is not MSAL's (Okta,
   * adapters/idp/okta/session.ts): the same file, the same keychain key, the same checks.
   */
  readText(): Promise<string | undefined>;
  /** Replaces the cache's text (nothing is written by a read-only store). */
  writeText(text: string): Promise<void>;
  /**
   * The warning about the plain-file fallback, the first time it is asked for
   * on this machine (a marker in the state directory remembers it); undefined
   * afterwards and whenever the keychain is in use or the file was asked for.
   */
  takeFallbackWarning(): Promise<string | undefined>;
  /** Deletes the cached tokens (logout). The keychain key stays: it protects nothing without the file. */
  clear(): Promise<void>;
}

function authDirOf(stateDir: string): string {
  return path.join(stateDir, 'auth');
}

/** Re-words the store's generic permission errors: what is at stake here is the user's sign-in. */
async function guarded<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof StateError && error.code === 'STATE_PERMISSIONS') {
      const where = String(error.details?.path ?? '');
      throw new StateError(
        'STATE_PERMISSIONS',
        `The token cache ${where} is accessible by other users (mode ${String(error.details?.mode ?? '?')}); ociaccess refuses to use it because it holds your sign-in tokens.`,
        { hint: error.hint, details: error.details, cause: error },
      );
    }
    throw error;
  }
}

function fileStoreWarning(file: string, reason: string): string {
  return (
    `No OS keychain is reachable (${reason}), so your sign-in tokens are kept unencrypted in ${file}, readable only by you (mode 0600). ` +
    `Set ${TOKEN_STORE_ENV}=file to accept this and silence the warning, or run a Secret Service (gnome-keyring, KeePassXC) to use the keychain.`
  );
}

function describeKeyringFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, ' ').trim().slice(0, 200) || 'unknown error';
}

/** Gets this state directory's cache key from the keychain, creating it on first use; throws when the keychain is unusable. */
async function keychainKey(keyring: KeyringBackend, account: string): Promise<Buffer> {
  const existing = await keyring.get(KEYCHAIN_SERVICE, account);
  if (existing) {
    const key = Buffer.from(existing, 'base64');
    if (key.length === 32) return key;
  }
  const key = randomBytes(32);
  const encoded = key.toString('base64');
  await keyring.set(KEYCHAIN_SERVICE, account, encoded);
  // Some stores accept a write and keep nothing (a locked collection); only a read-back proves it.
  if ((await keyring.get(KEYCHAIN_SERVICE, account)) !== encoded)
    throw new Error('the keychain did not keep the entry it was given');
  return key;
}

function encrypt(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(ASSOCIATED_DATA);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return JSON.stringify({
    version: 1,
    cipher: 'aes-256-gcm',
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  });
}

/** undefined when the blob does not decrypt (the keychain entry was replaced or the file damaged): the user signs in again. */
function decrypt(key: Buffer, blob: string): string | undefined {
  try {
    const parsed = JSON.parse(blob) as { version: number; iv: string; tag: string; data: string };
    if (parsed.version !== 1) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parsed.iv, 'base64'));
    decipher.setAAD(ASSOCIATED_DATA);
    decipher.setAuthTag(Buffer.from(parsed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(parsed.data, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

function cachePluginOver(
  read: () => Promise<string | undefined>,
  write: ((serialized: string) => Promise<void>) | undefined,
): ICachePlugin {
  return {
    async beforeCacheAccess(context: TokenCacheContext) {
      const serialized = await read();
      if (serialized !== undefined) context.tokenCache.deserialize(serialized);
    },
    async afterCacheAccess(context: TokenCacheContext) {
      if (context.cacheHasChanged && write) await write(context.tokenCache.serialize());
    },
  };
}

/** The keychain's key for this cache, if there is one: a read-only store never creates it. */
async function existingKeychainKey(keyring: KeyringBackend, account: string): Promise<Buffer | undefined> {
  const existing = await keyring.get(KEYCHAIN_SERVICE, account);
  const key = existing ? Buffer.from(existing, 'base64') : undefined;
  return key?.length === 32 ? key : undefined;
}

function requestedKind(env: Readonly<Record<string, string | undefined>>): TokenStoreKind | 'auto' {
  const value = (env[TOKEN_STORE_ENV] ?? '').trim().toLowerCase();
  if (value === '' || value === 'auto') return 'auto';
  if (value === 'file' || value === 'keychain') return value;
  throw new UsageError(`${TOKEN_STORE_ENV}=${quoteInput(env[TOKEN_STORE_ENV])} is not a token store.`, {
    code: 'TOKEN_STORE_INVALID',
    hint: `Set ${TOKEN_STORE_ENV} to "keychain" or "file", or unset it to let ociaccess choose.`,
  });
}

/** Picks and opens the token store for this state directory (see the module comment for the rules). */
export async function openTokenStore(options: TokenStoreOptions): Promise<TokenStore> {
  const requested = requestedKind(options.env);
  const authDir = authDirOf(options.stateDir);
  const fsOptions = { platform: options.platform, uid: options.uid };
  const readOnly = options.readOnly ?? false;
  // The state directory first: one owned by someone else is theirs, whatever its auth/ looks like.
  if (!readOnly) {
    await ensureStateDir(options.stateDir, fsOptions);
    await guarded(() => ensureStateDir(authDir, fsOptions));
  }
  const plainFile = path.join(authDir, CACHE_FILE);
  const encryptedFile = path.join(authDir, ENCRYPTED_CACHE_FILE);
  // Check both up front so a widened mode is reported before any sign-in happens.
  await guarded(() => inspectPrivateFile(plainFile, fsOptions));
  await guarded(() => inspectPrivateFile(encryptedFile, fsOptions));

  const clear = async () => {
    for (const file of [plainFile, encryptedFile]) {
      await fs.unlink(file).catch((error: unknown) => {
        if (errnoCode(error) !== 'ENOENT') throw error;
      });
    }
  };

  let fallbackReason: string | undefined;
  if (requested !== 'file') {
    const keyAccount = `token-cache-key:${authDir}`;
    try {
      const keyring = await (options.keyring ?? osKeyring)();
      const key = readOnly ? await existingKeychainKey(keyring, keyAccount) : await keychainKey(keyring, keyAccount);
      const readEncrypted = async () => {
        const blob = key && (await guarded(() => readPrivateFile(encryptedFile, fsOptions)));
        return key && blob ? decrypt(key, blob.toString('utf8')) : undefined;
      };
      const writeEncrypted =
        readOnly || !key
          ? undefined
          : (serialized: string) => guarded(() => writeFileAtomic(encryptedFile, encrypt(key, serialized), fsOptions));
      return {
        kind: 'keychain',
        description: `OS keychain (service "${KEYCHAIN_SERVICE}") + encrypted ${encryptedFile}`,
        cachePlugin: cachePluginOver(readEncrypted, writeEncrypted),
        readText: readEncrypted,
        writeText: async (text) => writeEncrypted?.(text),
        takeFallbackWarning: async () => undefined,
        clear,
      };
    } catch (error) {
      if (isOciAccessError(error)) throw error;
      const reason = describeKeyringFailure(error);
      if (requested === 'keychain') {
        throw new AuthError(
          'TOKEN_STORE_UNAVAILABLE',
          `${TOKEN_STORE_ENV}=keychain, but no OS keychain is reachable: ${reason}.`,
          {
            hint: `Start or unlock a Secret Service (gnome-keyring, KeePassXC), or set ${TOKEN_STORE_ENV}=file to keep tokens in a 0600 file.`,
          },
        );
      }
      fallbackReason = reason;
    }
  }

  const marker = path.join(authDir, WARNED_MARKER);
  const readPlain = async () => (await guarded(() => readPrivateFile(plainFile, fsOptions)))?.toString('utf8');
  const writePlain = readOnly
    ? undefined
    : (serialized: string) => guarded(() => writeFileAtomic(plainFile, serialized, fsOptions));
  return {
    kind: 'file',
    description: `file ${plainFile} (mode 0600, not encrypted)`,
    fallbackReason,
    cachePlugin: cachePluginOver(readPlain, writePlain),
    readText: readPlain,
    writeText: async (text) => writePlain?.(text),
    takeFallbackWarning: async () => {
      if (fallbackReason === undefined || readOnly) return undefined;
      if (await guarded(() => inspectPrivateFile(marker, fsOptions))) return undefined;
      await guarded(() => writeFileAtomic(marker, `${fallbackReason}\n`, fsOptions));
      return fileStoreWarning(plainFile, fallbackReason!);
    },
    clear,
  };
}
