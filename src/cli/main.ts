/**
 * The program's entry: parses argv with commander, runs one command, and is
 * the only place that turns an error into output and an exit code.
 */
import { Command, CommanderError } from 'commander';
import type { Context } from '../context.js';
import { ExitCode, OciAccessError, capErrorText, capQuotedEchoes, isOciAccessError } from '../errors.js';
import { createOutput, jsonDocument, terminalText, type GlobalOptions, type Output } from './output.js';
import { createCommandEnv, type CommandEnv } from './command-env.js';
import { registerCommands } from './commands/index.js';
import { VERSION } from '../version.js';
import { cancellablePrompter } from './ask.js';
import { didYouMean } from './suggest.js';

export type Handler = (env: CommandEnv) => Promise<number | void>;
/** Wraps a command's action: builds the CommandEnv from the global flags and records the exit code. */
export type Runner = (command: Command, handler: Handler) => Promise<void>;

function globalsOf(command: Command): CommandEnv['globals'] {
  const options = command.optsWithGlobals() as Partial<GlobalOptions> & { config?: string };
  return {
    json: Boolean(options.json),
    color: options.color !== false,
    debug: Boolean(options.debug),
    quiet: Boolean(options.quiet),
    config: options.config,
  };
}

/**
 * Messages and hints can quote Graph's or OCI's own error text; the adapters
 * clean it, and it is cleaned again here (terminalText, jsonDocument) like
 * everything else that is printed.
 */
function renderError(ctx: Context, out: Output, error: OciAccessError, debug: boolean): void {
  const plain = (text: string) => terminalText(text, { colour: false });
  const message = capErrorText(error.message);
  const hint = error.hint === undefined ? undefined : capErrorText(error.hint);
  if (out.json) {
    ctx.stdout.write(`${jsonDocument({ error: { code: error.code, message, hint: hint ?? null } })}\n`);
  } else {
    const style = out.style;
    ctx.stderr.write(`${style.red('error:')} ${plain(message)} ${style.dim(`[${plain(error.code)}]`)}\n`);
    if (hint) ctx.stderr.write(`${style.dim('hint:')} ${plain(hint)}\n`);
  }
  if (debug && error.cause) ctx.stderr.write(`cause: ${plain(String((error.cause as Error)?.stack ?? error.cause))}\n`);
}

/** Usage error (exit 2) for a command that does not exist, with the closest command or --version. */
function rejectUnknownCommand(program: Command, name: string): never {
  const candidates = [
    ...program.commands.flatMap((command) => [command.name(), ...command.aliases()]),
    'help',
    '--version',
  ];
  return program.error(`error: unknown command '${name}'${didYouMean(name, candidates)}`, {
    code: 'commander.unknownCommand',
    exitCode: ExitCode.usage,
  });
}

/** No flag of ours has a name this long; anything longer is refused before the parser sees it. */
const LONGEST_FLAG_NAME = 64;

/**
 * An option-like argument too long to be any of our flags (`--` and no `=`
 * within LONGEST_FLAG_NAME characters), refused as an unknown option before
 * commander reads it: commander tests each unknown `--…` argument with a
 * regular expression, and one over megabytes of input can be stopped by V8
 * mid-match with "Maximum call stack size exceeded" on a loaded machine
 * (exit 1 instead of a usage error). Arguments after `--` are operands.
 */
function rejectOverlongFlag(program: Command, argv: string[]): void {
  for (const arg of argv) {
    if (arg === '--') return;
    if (arg.startsWith('--') && arg.length > LONGEST_FLAG_NAME && !arg.slice(0, LONGEST_FLAG_NAME).includes('=')) {
      program.error(`error: unknown option '${arg}'`, { code: 'commander.unknownOption', exitCode: ExitCode.usage });
    }
  }
}

/**
 * `help <name>` for a name that is no command: commander would print the
 * whole help on stderr and succeed; it is a usage error like `<name>` alone.
 * Returns the name, or undefined when argv asks for no such help.
 */
function unknownHelpSubject(program: Command, argv: string[]): string | undefined {
  const operands: string[] = [];
  for (let index = 0; index < argv.length && operands.length < 2; index += 1) {
    const arg = argv[index]!;
    if (arg === '--') break;
    if (arg === '--config') index += 1;
    else if (!arg.startsWith('-')) operands.push(arg);
  }
  const [first, subject] = operands;
  if (first !== 'help' || subject === undefined || subject === 'help') return undefined;
  return program.commands.some((command) => command.name() === subject || command.aliases().includes(subject))
    ? undefined
    : subject;
}

export function buildProgram(ctx: Context, runHandler: Runner): Command {
  const program = new Command('ociaccess')
    .description('Time-bound administrator access to Oracle Cloud (OCI) through Microsoft Entra ID or Okta.')
    .version(VERSION, '-V, --version', 'print the version')
    .option('--json', 'print one JSON document on stdout (errors too)')
    .option('--no-color', 'no colour (also NO_COLOR=1)')
    .option('--config <file>', 'config file (default: $OCIACCESS_CONFIG or ~/.config/ociaccess/config.json)')
    .option('-q, --quiet', 'only data and warnings')
    .option('--debug', 'stack traces and redacted HTTP traces on stderr')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
      outputError: (text, write) => write(capQuotedEchoes(text)),
    })
    .addHelpText(
      'after',
      `
Examples:
  $ ociaccess login
  $ ociaccess request --hours 2 --justification "INC-123: restart the DB node"
  $ ociaccess approve                 # pick a pending request
  $ ociaccess status
  $ ociaccess revoke
  $ ociaccess sweep --json            # from cron, as the automation app
  $ ociaccess demo                    # the whole story on the embedded emulator

Exit codes: 0 done, 1 failed (read the report) or unexpected, 2 usage (nothing
changed), 3 refused by policy/state, 4 sign-in/permission, 5 Entra/Okta/OCI
unavailable, 6 done in Entra or Okta but pending in OCI, 7 done with a problem
(see the warnings), 130 cancelled. docs/exit-codes.md has every code.`,
    );
  registerCommands(program, runHandler);
  // An unknown command gets commander's "Did you mean …?", with --version among the candidates (people type `ociaccess version`).
  program.on('command:*', (operands: string[]) => rejectUnknownCommand(program, operands[0] ?? ''));
  for (const command of program.commands) {
    command.exitOverride();
    command.configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
      outputError: (text, write) => write(capQuotedEchoes(text)),
    });
    command.showHelpAfterError('(run with --help for usage)');
  }
  return program;
}

export async function main(argv: string[], givenCtx: Context): Promise<number> {
  // Ctrl-C at any prompt is a cancel (exit 130), not an unexpected failure.
  const ctx: Context = { ...givenCtx, prompter: cancellablePrompter(givenCtx.prompter) };
  let exitCode: number = ExitCode.ok;
  let lastOut: Output | undefined;
  let lastDebug = false;
  const runHandler: Runner = async (command, handler) => {
    const globals = globalsOf(command);
    const out = createOutput(ctx, globals);
    lastOut = out;
    lastDebug = globals.debug;
    const env = createCommandEnv(ctx, out, globals);
    try {
      const result = await handler(env);
      exitCode = typeof result === 'number' ? result : ExitCode.ok;
    } finally {
      await env.settle();
    }
  };
  const program = buildProgram(ctx, runHandler);
  try {
    rejectOverlongFlag(program, argv);
    const helpSubject = unknownHelpSubject(program, argv);
    if (helpSubject !== undefined) rejectUnknownCommand(program, helpSubject);
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return ExitCode.ok;
      // commander already printed its message on stderr; with --json the
      // promised error document still goes to stdout. Usage errors exit 2.
      if (argv.includes('--json')) {
        const message = capQuotedEchoes(error.message.replace(/^error:\s*/, ''));
        ctx.stdout.write(
          `${JSON.stringify({ error: { code: 'USAGE', message, hint: 'Run with --help for usage.' } }, null, 2)}\n`,
        );
      }
      return ExitCode.usage;
    }
    const jsonWanted = argv.includes('--json');
    const out =
      lastOut ??
      createOutput(ctx, { json: jsonWanted, color: !argv.includes('--no-color'), debug: false, quiet: false });
    if (isOciAccessError(error)) {
      renderError(ctx, out, error, lastDebug || argv.includes('--debug'));
      return error.exitCode;
    }
    const unexpected = new OciAccessError(
      'UNEXPECTED',
      ExitCode.unexpected,
      `Unexpected failure: ${(error as Error)?.message ?? String(error)}`,
      {
        hint: 'Run again with --debug for the stack trace, and report it if it persists.',
        cause: error,
      },
    );
    renderError(ctx, out, unexpected, lastDebug || argv.includes('--debug'));
    return ExitCode.unexpected;
  }
}
