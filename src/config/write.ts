/**
 * Writes a config file for `init`: validated first, then written whole or
 * not at all (temp file, fsync, rename), mode 0600, and never over an
 * existing file unless asked to.
 */
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UsageError, StateError } from '../errors.js';
import { parseConfig } from './load.js';
import type { Config, ConfigInput } from './schema.js';

export async function configExists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Validates `config` with the schema (the same errors as loading it would give) and writes it to `file`. */
export async function writeConfigFile(file: string, config: ConfigInput, options: { force: boolean }): Promise<Config> {
  const text = `${JSON.stringify(config, null, 2)}\n`;
  const parsed = parseConfig(text, file);
  if (!options.force && (await configExists(file))) {
    throw new UsageError(`${file} already exists; init does not overwrite it.`, {
      code: 'CONFIG_EXISTS',
      hint: 'Pass --force to replace it, or --config OTHER_FILE to write somewhere else.',
    });
  }
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const handle = await fs.open(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    try {
      await handle.chmod(0o600);
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (error) {
    await fs.unlink(temp).catch(() => undefined);
    throw new StateError('CONFIG_UNWRITABLE', `Cannot write ${file}: ${(error as Error).message}`, {
      hint: 'Check that you can write to that directory, or pass --config OTHER_FILE.',
      cause: error,
    });
  }
  return parsed;
}
