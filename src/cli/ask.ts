/**
 * "A flag, else a prompt, else a usage error naming the flag" — for commands
 * such as `init` that ask many questions. A flag's value is validated like an
 * answer; without a terminal the missing required flags are collected and
 * reported together, so a script learns everything it must pass in one run.
 */
import type { Prompter } from '../context.js';
import { CancelledError, UsageError, quoteInput } from '../errors.js';
import { parseHours } from './args.js';

/**
 * The prompt library (@inquirer/prompts) throws ExitPromptError when the person
 * presses Ctrl-C at a prompt, and AbortPromptError when the prompt is aborted:
 * both are the person's "stop", so they become CancelledError (exit 130,
 * "Cancelled; nothing was changed.") wherever a prompt is shown. Matched by
 * name: the classes live in a package ociaccess does not depend on directly.
 */
export function isPromptExit(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'ExitPromptError' || name === 'AbortPromptError';
}

export function cancellablePrompter(prompter: Prompter): Prompter {
  const guard = async <T>(ask: () => Promise<T>): Promise<T> => {
    try {
      return await ask();
    } catch (error) {
      if (isPromptExit(error)) throw new CancelledError(undefined, { cause: error });
      throw error;
    }
  };
  return {
    get interactive() {
      return prompter.interactive;
    },
    select: (message, choices) => guard(() => prompter.select(message, choices)),
    confirm: (message, defaultValue) => guard(() => prompter.confirm(message, defaultValue)),
    input: (message, options) => guard(() => prompter.input(message, options)),
  };
}

/** Returns the parsed value, or a message saying what is wrong. */
export type Parse<T> = (raw: string) => { value: T } | { error: string };

export interface Question<T> {
  flag: string;
  message: string;
  parse: Parse<T>;
  /** Shown as the prompt's default and used when neither flag nor answer is given. */
  default?: string;
  /** Without a default, a missing answer is an error (else undefined is returned). */
  required?: boolean;
}

export class Asker {
  readonly missing: string[] = [];
  constructor(private readonly prompter: Prompter) {}

  get interactive(): boolean {
    return this.prompter.interactive;
  }

  async ask<T>(flagValue: string | undefined, question: Question<T>): Promise<T | undefined> {
    if (flagValue !== undefined) {
      const parsed = question.parse(flagValue);
      if ('error' in parsed)
        throw new UsageError(`${question.flag} ${quoteInput(flagValue)}: ${parsed.error}`, { code: 'INVALID_VALUE' });
      return parsed.value;
    }
    if (!this.prompter.interactive) {
      if (question.default !== undefined) return this.fromDefault(question);
      if (question.required) this.missing.push(question.flag);
      return undefined;
    }
    const answer = await this.prompter.input(question.message, {
      default: question.default,
      validate: (raw) => {
        if (raw.trim() === '')
          return question.required && question.default === undefined ? 'An answer is needed.' : true;
        const parsed = question.parse(raw.trim());
        return 'error' in parsed ? parsed.error : true;
      },
    });
    const text = answer.trim();
    if (text === '') return question.default !== undefined ? this.fromDefault(question) : undefined;
    const parsed = question.parse(text);
    if ('error' in parsed) throw new UsageError(`${question.message} ${parsed.error}`, { code: 'INVALID_VALUE' });
    return parsed.value;
  }

  /** One of a few choices: a select list on a terminal. */
  async choose<T extends string>(
    flagValue: string | undefined,
    question: { flag: string; message: string; choices: { name: string; value: T }[]; default: T },
  ): Promise<T> {
    const values = question.choices.map((choice) => choice.value);
    if (flagValue !== undefined) {
      if (!values.includes(flagValue as T))
        throw new UsageError(`${question.flag} ${quoteInput(flagValue)} must be one of ${values.join(', ')}.`, {
          code: 'INVALID_VALUE',
        });
      return flagValue as T;
    }
    if (!this.prompter.interactive) return question.default;
    const first = question.choices.find((choice) => choice.value === question.default);
    const ordered = first ? [first, ...question.choices.filter((choice) => choice !== first)] : question.choices;
    return this.prompter.select(question.message, ordered);
  }

  /** Yes or no: a boolean flag when given, else a confirmation on a terminal, else the default. */
  async yesNo(flagValue: boolean | undefined, question: { message: string; default: boolean }): Promise<boolean> {
    if (flagValue !== undefined) return flagValue;
    if (!this.prompter.interactive) return question.default;
    return this.prompter.confirm(question.message, question.default);
  }

  private fromDefault<T>(question: Question<T>): T | undefined {
    if (question.default === '') return undefined;
    const parsed = question.parse(question.default!);
    return 'error' in parsed ? undefined : parsed.value;
  }

  /** Throws one usage error naming every required flag that was neither given nor askable. */
  assertComplete(command: string): void {
    if (this.missing.length === 0) return;
    throw new UsageError(`${command} needs ${this.missing.join(', ')} (there is no terminal to ask on).`, {
      code: 'MISSING_FLAGS',
      hint: `Pass ${this.missing.map((flag) => `${flag} …`).join(' ')}, or run \`ociaccess ${command}\` in a terminal to be asked.`,
      details: { missing: [...this.missing] },
    });
  }
}

// Parsers shared by the questions.

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const UPN = /^[^\s@,]+@[^\s@,]+$/;

export const parseGuid: Parse<string> = (raw) =>
  GUID.test(raw.trim())
    ? { value: raw.trim().toLowerCase() }
    : { error: 'must be a GUID such as 0c1a5e7e-2b6d-4f3a-8c9e-1d2f3a4b5c6d' };

export const parseText: Parse<string> = (raw) => (raw.trim() ? { value: raw.trim() } : { error: 'must not be empty' });

export const parseHttpsUrl: Parse<string> = (raw) => {
  try {
    const url = new URL(raw.trim());
    if (url.protocol !== 'https:') return { error: 'must be an https:// URL' };
    return { value: raw.trim().replace(/\/+$/, '') };
  } catch {
    return { error: 'must be a URL such as https://idcs-abc123.identity.oraclecloud.com' };
  }
};

export const parseUpnList: Parse<string[]> = (raw) => {
  const items = raw
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter(Boolean);
  const bad = items.filter((item) => !UPN.test(item));
  if (bad.length)
    return {
      error: `${bad.map((b) => `"${b}"`).join(', ')} ${bad.length > 1 ? 'are not user principal names' : 'is not a user principal name'} (alice@contoso.com)`,
    };
  return { value: [...new Set(items.map((item) => item.toLowerCase()))] };
};

export function parseHoursUpTo(max: number): Parse<number> {
  return (raw) => {
    let hours: number;
    try {
      hours = parseHours(raw, 'it');
    } catch (error) {
      // The same rules and the same suggestion as --hours ("e.g. it 1h1m" → "e.g. 1h1m").
      const suggestion = /e\.g\. it (\S+)\.$/.exec((error as UsageError).hint ?? '')?.[1];
      return {
        error: suggestion
          ? `must be a whole number of minutes, e.g. ${suggestion}`
          : 'must be a positive number of hours (2, 1.5) or a duration (90m, 1h30m)',
      };
    }
    if (hours > max) return { error: `must be at most ${max} hours` };
    return { value: hours };
  };
}

export const parseBoolean: Parse<boolean> = (raw) => {
  const text = raw.trim().toLowerCase();
  if (['y', 'yes', 'true', 'on', '1'].includes(text)) return { value: true };
  if (['n', 'no', 'false', 'off', '0'].includes(text)) return { value: false };
  return { error: 'must be yes or no' };
};

export function parseChoice<T extends string>(choices: readonly T[]): Parse<T> {
  return (raw) =>
    choices.includes(raw.trim() as T) ? { value: raw.trim() as T } : { error: `must be one of ${choices.join(', ')}` };
}
