/** Reads and validates the configuration file; every problem names the field and the fix. */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { configSchema, type Config } from './schema.js';
export { findGroup } from './groups.js';

function describePath(path: PropertyKey[]): string {
  return path.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)), '');
}

export function parseConfig(text: string, file: string): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError('CONFIG_INVALID', `Config file ${file} is not valid JSON: ${(error as Error).message}.`, {
      hint: 'Fix the JSON syntax, or write a new file with `ociaccess init`.',
    });
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const where = describePath(issue.path) || '(top level)';
      if (issue.code === 'unrecognized_keys') {
        return `${where}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
      }
      return `${where}: ${issue.message}`;
    });
    throw new ConfigError('CONFIG_INVALID', `Config file ${file} is invalid:\n  - ${problems.join('\n  - ')}`, {
      hint: 'Correct the fields named above (see docs/configuration.md), or run `ociaccess init` to write a new one.',
      details: { file, problems },
    });
  }
  return result.data;
}

export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConfigError('CONFIG_MISSING', `No config file at ${file}.`, {
        hint: 'Run `ociaccess init`, pass --config FILE, or set OCIACCESS_CONFIG.',
      });
    }
    throw new ConfigError('CONFIG_INVALID', `Config file ${file} cannot be read: ${(error as Error).message}.`, {
      hint: 'Check the file permissions.',
    });
  }
  return parseConfig(text, file);
}

