/**
 * The OCI config file and the API key file its profile names must be private
 * to their owner (as `oci setup repair-file-permissions` makes them). Kept
 * apart from client.ts so that the sweep can check them before it changes
 * anything, without loading the OCI SDK.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertSafeFile, type FileHost } from '../../file-safety.js';

const AT_STAKE =
  "it leads to an API key that can change the identity domain's groups, and other users can read it or swap it";

/**
 * The key_file of `profile` (else of DEFAULT) in an OCI config file, `~/`
 * expanded, as the SDK reads it; undefined when the file, the profile or the
 * key is missing (the SDK then says which).
 */
export function ociKeyFileOf(configFile: string, profile: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(configFile, 'utf8');
  } catch {
    return undefined;
  }
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[(.*)\]$/.exec(line);
    if (header) {
      current = sections.get(header[1]!.trim()) ?? new Map();
      sections.set(header[1]!.trim(), current);
      continue;
    }
    const equals = line.indexOf('=');
    if (current && equals > 0) current.set(line.slice(0, equals).trim(), line.slice(equals + 1).trim());
  }
  const keyFile = sections.get(profile)?.get('key_file') ?? sections.get('DEFAULT')?.get('key_file');
  if (!keyFile) return undefined;
  return keyFile.startsWith('~/') ? path.join(os.homedir(), keyFile.slice(2)) : keyFile;
}

/** Refuses (INSECURE_FILE_PERMISSIONS / INSECURE_FILE_OWNER, exit 2) an OCI config or API key file others can read or swap. */
export function assertOciFilesPrivate(configFile: string, profile: string, files: FileHost): void {
  assertSafeFile(configFile, 'private', files, 'OCI config file', AT_STAKE);
  const keyFile = ociKeyFileOf(configFile, profile);
  if (keyFile) assertSafeFile(keyFile, 'private', files, 'OCI API key file', AT_STAKE);
}
