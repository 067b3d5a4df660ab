/**
 * A configured target's URL and secret, read from where the config says
 * (a private file or an environment variable). A webhook URL is a secret:
 * whoever holds it can post to the channel. So it is never in argv or the
 * config, and nothing here puts it (or the signing secret) in a message:
 * errors name the file or the variable, and the URL is shown masked as
 * "https://host/…".
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config, NotifyTargetConfig } from '../../config/schema.js';
import { describeFileProblem, fileSafetyProblems, type FileHost } from '../../file-safety.js';
import type { Audience } from './message.js';

export type TargetKind = NotifyTargetConfig['kind'];

export interface ResolvedTarget {
  kind: TargetKind;
  for: Audience[];
  label: string;
  /** The secret URL: for sending only. */
  url: string;
  /** The signing secret (kind "webhook"). */
  secret?: string;
  /** The URL as messages show it: "https://host/…". */
  masked: string;
  host: string;
}

export interface SourceHost {
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  files: FileHost;
}

/** A target that cannot be used; its message names the source, never the secret. */
export class TargetSourceError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = 'TargetSourceError';
  }
}

/** The label `notify test` and warnings use: the configured name, or the kind and position ("slack#2"). */
export function targetLabel(target: NotifyTargetConfig, index: number): string {
  return target.name ?? `${target.kind}#${index + 1}`;
}

/** "https://host/…": the scheme and host only (the path and query are the secret part). */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}/…`;
  } catch {
    return '(not a URL)';
  }
}

function readSecret(
  kind: 'URL' | 'signing secret',
  file: string | undefined,
  envName: string | undefined,
  host: SourceHost,
  label: string,
): string {
  if (file !== undefined) {
    const full = path.resolve(host.cwd, file);
    const problems = fileSafetyProblems(full, 'private', host.files);
    if (problems.length > 0) {
      throw new TargetSourceError(
        `the ${kind} file of notify target "${label}": ${describeFileProblem(problems[0]!, `notify ${kind} file`)}; it is not used`,
        problems[0]!.fix,
      );
    }
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new TargetSourceError(
        `the ${kind} file ${full} of notify target "${label}" cannot be read (${code})`,
        `Create it (one line, mode 0600) or fix groups[].notify[].${kind === 'URL' ? 'urlFile' : 'secretFile'}.`,
      );
    }
    const value = text.trim();
    if (!value)
      throw new TargetSourceError(
        `the ${kind} file ${full} of notify target "${label}" is empty`,
        `Write the ${kind} into it, on one line.`,
      );
    return value;
  }
  const value = envName === undefined ? undefined : host.env[envName]?.trim();
  if (!value) {
    throw new TargetSourceError(
      `the environment variable ${envName ?? '(none)'}, which should hold the ${kind} of notify target "${label}", is not set`,
      `Set ${envName ?? 'it'} in this machine's (or the scheduler's) environment.`,
    );
  }
  return value;
}

/** The target with its URL (and secret) read; throws TargetSourceError when a source cannot be used. */
export function resolveTarget(target: NotifyTargetConfig, index: number, host: SourceHost): ResolvedTarget {
  const label = targetLabel(target, index);
  const url = readSecret('URL', target.urlFile, target.urlEnv, host, label);
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || parsed.protocol !== 'https:' || !parsed.host) {
    const source =
      target.urlFile !== undefined
        ? `file ${path.resolve(host.cwd, target.urlFile)}`
        : `environment variable ${target.urlEnv}`;
    throw new TargetSourceError(
      `the URL of notify target "${label}" (from ${source}) is not an https:// URL`,
      'Paste the webhook URL exactly as the service gave it (https://…).',
    );
  }
  const secret =
    target.kind === 'webhook'
      ? readSecret('signing secret', target.secretFile, target.secretEnv, host, label)
      : undefined;
  return {
    kind: target.kind,
    for: [...target.for],
    label,
    url,
    ...(secret !== undefined ? { secret } : {}),
    masked: maskUrl(url),
    host: parsed.host,
  };
}

/** For doctor: every target of every group read (not sent to); the problems, naming sources only. */
export function checkNotifyTargets(
  config: Pick<Config, 'groups'>,
  host: SourceHost,
): { checked: number; problems: { message: string; fix: string }[] } {
  const problems: { message: string; fix: string }[] = [];
  let checked = 0;
  for (const group of config.groups) {
    (group.notify ?? []).forEach((target, index) => {
      checked += 1;
      try {
        resolveTarget(target, index, host);
      } catch (error) {
        if (!(error instanceof TargetSourceError)) throw error;
        problems.push({ message: `${group.name}: ${error.message}`, fix: error.fix });
      }
    });
  }
  return { checked, problems };
}
