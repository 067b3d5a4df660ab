/** Reads and validates the configuration file; every problem names the field and the fix. */
import { readFile } from 'node:fs/promises';
import { ConfigError, quoteInput } from '../errors.js';
import { assertSafeFile, type FileHost } from '../file-safety.js';
import { jsonSyntaxErrorAt } from './json-syntax.js';
import { configSchema, type Config } from './schema.js';
import { similarWords } from '../cli/suggest.js';
export { findGroup } from './groups.js';

function describePath(path: PropertyKey[]): string {
  return path.reduce<string>(
    (text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)),
    '',
  );
}

interface SchemaNode {
  _zod?: {
    def?: {
      type?: string;
      shape?: Record<string, unknown>;
      innerType?: unknown;
      element?: unknown;
      in?: unknown;
      options?: unknown[];
    };
  };
}

/** The keys the schema allows in the object at `path` (for "did you mean"), or [] when it cannot tell. */
export function knownKeysAt(schema: unknown, path: readonly PropertyKey[]): string[] {
  let nodes: unknown[] = [schema];
  const unwrap = (node: unknown): unknown[] => {
    const def = (node as SchemaNode)?._zod?.def;
    if (!def) return [];
    if (def.innerType !== undefined) return unwrap(def.innerType);
    if (def.type === 'pipe') return unwrap(def.in);
    if (def.type === 'union' && Array.isArray(def.options)) return def.options.flatMap(unwrap);
    return [node];
  };
  nodes = nodes.flatMap(unwrap);
  for (const part of path) {
    nodes = nodes.flatMap((node) => {
      const def = (node as SchemaNode)._zod!.def!;
      if (typeof part === 'number') return def.type === 'array' ? unwrap(def.element) : [];
      return def.type === 'object' && def.shape && Object.hasOwn(def.shape, part)
        ? unwrap(def.shape[part as string])
        : [];
    });
  }
  return [
    ...new Set(
      nodes.flatMap((node) => {
        const def = (node as SchemaNode)._zod!.def!;
        return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
      }),
    ),
  ];
}

/** " (did you mean "x"?)" for a mistyped key, or "". */
function keySuggestion(key: string, known: readonly string[]): string {
  const similar = similarWords(key, known);
  return similar.length ? ` (did you mean ${similar.map((word) => `"${word}"`).join(' or ')}?)` : '';
}

/** A config with thousands of problems is listed this far; the rest are counted. */
const MAX_PROBLEMS_LISTED = 20;

export function parseConfig(text: string, file: string): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // Only the position: JSON.parse's message quotes the text near the error, which may be a pasted secret.
    const at = jsonSyntaxErrorAt(text);
    const where = at ? `a syntax error at line ${at.line}, column ${at.column}` : 'a syntax error';
    throw new ConfigError('CONFIG_INVALID', `Config file ${file} is not valid JSON: ${where}.`, {
      hint: 'Fix the JSON syntax there (an editor shows the position), or write a new file with `ociaccess init`. Secrets do not belong in the config: see automation.clientSecretFile.',
      details: { file, ...(at ?? {}) },
    });
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const where = describePath(issue.path) || '(top level)';
      if (issue.code === 'unrecognized_keys') {
        const known = knownKeysAt(configSchema, issue.path);
        return `${where}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `${quoteInput(k)}${keySuggestion(k, known)}`).join(', ')}`;
      }
      return `${where}: ${issue.message}`;
    });
    const listed =
      problems.length > MAX_PROBLEMS_LISTED
        ? [...problems.slice(0, MAX_PROBLEMS_LISTED), `… and ${problems.length - MAX_PROBLEMS_LISTED} more`]
        : problems;
    throw new ConfigError('CONFIG_INVALID', `Config file ${file} is invalid:\n  - ${listed.join('\n  - ')}`, {
      hint: 'Correct the fields named above (see docs/configuration.md), or run `ociaccess init` to write a new one.',
      details: { file, problems },
    });
  }
  return result.data;
}

/**
 * Reads the config after checking who can change it: it names the approvers
 * and standing members, so a file (or a directory above it) that others can
 * write is refused on every machine. Being readable by others is fine: it
 * holds no secret.
 */
export async function loadConfig(file: string, host?: FileHost): Promise<Config> {
  if (host)
    assertSafeFile(
      file,
      'owner-writes',
      host,
      'config file',
      'whoever can change it can name approvers and standing members',
    );
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
