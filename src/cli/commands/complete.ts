/**
 * `ociaccess __complete <words…>` (hidden): the values the installed
 * completion scripts cannot know by themselves, one per line: the managed
 * groups' names after -g/--group (from the config), and the pending requests'
 * ids as the id of `approve` and `deny` (read as the signed-in user).
 *
 * A shell calls it on every Tab, so it never asks anything, never signs in
 * and never writes (the token cache is opened read-only); without a config
 * or a session, or when anything fails, it offers nothing and exits 0.
 */
import type { Command } from 'commander';
import type { Runner } from '../main.js';
import type { CommandEnv } from '../command-env.js';
import { ExitCode } from '../../errors.js';

/** What a completion may offer: letters, digits and . _ @ : + = , - (no space, quote, $, backtick, glob or control). */
const SHELL_SAFE_WORD = /^[A-Za-z0-9._@:+=,-]+$/;

/** Options whose value is a managed group's name. */
export const GROUP_OPTIONS = new Set(['-g', '--group']);
/** Commands whose positional argument is a pending request's id. */
export const PENDING_ID_COMMANDS = new Set(['approve', 'deny']);

interface Typed {
  command?: Command;
  /** Positional words given after the command (before the one being completed). */
  positionals: string[];
  previous?: string;
  group?: string;
}

const takesValue = (command: Command | undefined, flag: string) =>
  [...(command?.options ?? []), ...(command?.parent?.options ?? [])].some(
    (option) => (option.short === flag || option.long === flag) && (option.required || option.optional),
  );

/** Reads the words before the one being completed as commander would: command, option values, positionals. */
function readTyped(program: Command, before: string[]): Typed {
  const typed: Typed = { positionals: [] };
  for (let index = 0; index < before.length; index += 1) {
    const word = before[index]!;
    const scope = typed.command ?? program;
    if (word.startsWith('-')) {
      const [flag, inline] = word.split('=', 2) as [string, string | undefined];
      if (inline === undefined && takesValue(scope, flag)) {
        index += 1;
        if (GROUP_OPTIONS.has(flag)) typed.group = before[index];
      } else if (GROUP_OPTIONS.has(flag)) typed.group = inline;
    } else if (!typed.command) typed.command = program.commands.find((c) => c.name() === word);
    else typed.positionals.push(word);
  }
  typed.previous = before.at(-1);
  return typed;
}

async function groupNames(env: CommandEnv): Promise<string[]> {
  return (await env.config()).groups.map((group) => group.name);
}

async function pendingIds(env: CommandEnv, groupName: string | undefined): Promise<string[]> {
  const config = await env.config();
  const groups = config.groups.filter((group) => groupName === undefined || group.name === groupName);
  const services = await env.services({ readOnly: true });
  const { listRequestsFor } = await import('../../core/access.js');
  const pending = await listRequestsFor(await services.userDeps(), { groups, states: new Set(['pending']) });
  return pending.map((view) => view.request.id);
}

export async function completionValues(env: CommandEnv, program: Command, words: string[]): Promise<string[]> {
  const current = words.at(-1) ?? '';
  const typed = readTyped(program, words.slice(0, -1));
  let values: string[] = [];
  // init's --group names a group to create, not one of the config's.
  if (typed.previous !== undefined && GROUP_OPTIONS.has(typed.previous) && typed.command?.name() !== 'init')
    values = await groupNames(env);
  else if (
    typed.command &&
    PENDING_ID_COMMANDS.has(typed.command.name()) &&
    typed.positionals.length === 0 &&
    !current.startsWith('-')
  )
    values = await pendingIds(env, typed.group);
  // Values from Graph or the config reach a shell: only plain words, never one a shell could expand.
  return values.filter((value) => SHELL_SAFE_WORD.test(value) && value.startsWith(current));
}

export function registerComplete(program: Command, run: Runner): void {
  program
    .command('__complete', { hidden: true })
    .description('values for the shell completion scripts (internal)')
    .argument('[words...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (words: string[], _options: unknown, command: Command) =>
      run(command, async (env) => {
        let values: string[] = [];
        try {
          values = await completionValues(env, program, words);
        } catch {
          // A shell is waiting for words: no session, no config or no network means no suggestions, not an error.
        }
        if (values.length > 0) env.ctx.stdout.write(`${values.join('\n')}\n`);
        return ExitCode.ok;
      }),
    );
}
