/**
 * Shell completion scripts generated from the commander program itself, so a
 * new command or flag is completed without anyone editing a script: the
 * commands, their subcommands and options (global ones everywhere), file
 * names after options that take a file, and fixed choices where commander
 * knows them. Values only the tenant knows (group names, pending request
 * ids) come from the hidden `__complete` command, called with the words typed
 * so far (see commands/complete.ts).
 */
import type { Argument, Command, Option } from 'commander';
import { GROUP_OPTIONS, PENDING_ID_COMMANDS } from './commands/complete.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface OptionSpec {
  names: string[];
  description: string;
  takesValue: boolean;
  isFile: boolean;
  choices: string[];
  /** Its value is asked of `__complete` (a group name). */
  dynamic: boolean;
}

interface CommandSpec {
  name: string;
  description: string;
  options: OptionSpec[];
  subcommands: CommandSpec[];
  /** Choices of the first positional argument, when commander has them. */
  argumentChoices: string[];
  /** Its first positional argument is asked of `__complete` (a pending request id). */
  dynamicArgument: boolean;
}

const FILE_VALUE = /<(file|path|dir|directory)>/i;

function optionSpec(option: Option): OptionSpec {
  return {
    names: [option.short, option.long].filter((name): name is string => Boolean(name)),
    description: firstLine(option.description),
    takesValue: option.required || option.optional,
    isFile: FILE_VALUE.test(option.flags),
    choices: option.argChoices ?? [],
    dynamic: (option.required || option.optional) && GROUP_OPTIONS.has(option.long ?? ''),
  };
}

function firstLine(text: string | undefined): string {
  const line = (text ?? '').split('\n')[0]!.trim();
  return line.length > 90 ? `${line.slice(0, 87)}...` : line;
}

function commandSpec(command: Command): CommandSpec {
  const args = (command as Command & { registeredArguments?: readonly Argument[] }).registeredArguments ?? [];
  return {
    name: command.name(),
    description: firstLine(command.description()),
    options: command.options.map(optionSpec),
    subcommands: visible(command.commands).map(commandSpec),
    argumentChoices: args[0]?.argChoices ?? [],
    dynamicArgument: PENDING_ID_COMMANDS.has(command.name()),
  };
}

/** Hidden commands (`__complete`) are for the scripts, not for people to complete. */
const visible = (commands: readonly Command[]) =>
  commands.filter((command) => !(command as Command & { _hidden?: boolean })._hidden);

/** The program's shape, plus the help flags commander adds implicitly. */
function programSpec(program: Command): { globals: OptionSpec[]; commands: CommandSpec[] } {
  const help: OptionSpec = {
    names: ['-h', '--help'],
    description: 'show help',
    takesValue: false,
    isFile: false,
    choices: [],
    dynamic: false,
  };
  return { globals: [...program.options.map(optionSpec), help], commands: visible(program.commands).map(commandSpec) };
}

export function completionScript(program: Command, shell: Shell): string {
  const spec = programSpec(program);
  const name = program.name();
  if (shell === 'bash') return bashScript(name, spec);
  if (shell === 'zsh') return zshScript(name, spec);
  return fishScript(name, spec);
}

const words = (options: OptionSpec[]) => options.flatMap((option) => option.names).join(' ');
const fn = (name: string) => `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;

function bashScript(name: string, spec: ReturnType<typeof programSpec>): string {
  const all = [
    spec.globals,
    ...spec.commands.flatMap((c) => [c.options, ...c.subcommands.map((s) => s.options)]),
  ].flat();
  const valued = [...new Set(all.filter((o) => o.takesValue).flatMap((o) => o.names))];
  const files = [...new Set(all.filter((o) => o.isFile).flatMap((o) => o.names))];
  const dynamic = [...new Set(all.filter((o) => o.dynamic).flatMap((o) => o.names))];
  // Read line by line into an array: through compgen -W a value would be expanded ($(…), $VAR) by bash.
  const ask = (into: string) =>
    `mapfile -t ${into} < <(${name} __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)`;
  const choiceCases = all
    .filter((o) => o.choices.length)
    .map((o) => `    ${o.names.join('|')}) COMPREPLY=( $(compgen -W "${o.choices.join(' ')}" -- "$cur") ); return ;;`);
  const commandCases = spec.commands.map((command) => {
    const subs = command.subcommands.map((s) => s.name).join(' ');
    const subCases = command.subcommands.map((s) => `        ${s.name}) opts="${words(s.options)}" ;;`);
    const positional = [subs, command.argumentChoices.join(' ')].filter(Boolean).join(' ');
    return [
      `    ${command.name})`,
      `      opts="${words(command.options)}"`,
      positional ? `      [[ -z "$sub" ]] && opts="$opts ${positional}"` : '',
      command.dynamicArgument ? `      [[ -z "$sub" && "$cur" != -* ]] && ${ask('found')}` : '',
      subCases.length ? `      case "$sub" in\n${subCases.join('\n')}\n      esac` : '',
      '      ;;',
    ]
      .filter(Boolean)
      .join('\n');
  });
  return `# bash completion for ${name} (generated by \`${name} completion bash\`)
# Install: ${name} completion bash > ~/.local/share/bash-completion/completions/${name}
${fn(name)}() {
  local cur prev cmd="" sub="" opts="" i word
  local -a found=()
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in
      ${valued.length ? `${valued.join('|')}) ((i++)); continue ;;` : ''}
      -*) continue ;;
    esac
    if [[ -z "$cmd" ]]; then cmd="$word"; elif [[ -z "$sub" ]]; then sub="$word"; fi
  done
  case "$prev" in
${choiceCases.join('\n')}
    ${dynamic.length ? `${dynamic.join('|')}) ${ask('COMPREPLY')}; return ;;` : ''}
    ${files.length ? `${files.join('|')}) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;` : ''}
    ${valued.length ? `${valued.join('|')}) COMPREPLY=(); return ;;` : ''}
  esac
  case "$cmd" in
    "") opts="${spec.commands.map((c) => c.name).join(' ')}" ;;
${commandCases.join('\n')}
  esac
  COMPREPLY=( "\${found[@]}" $(compgen -W "$opts ${words(spec.globals)}" -- "$cur") )
}
complete -F ${fn(name)} ${name}
`;
}

/** zsh's _arguments specs: [ ] and : are syntax inside a description. */
const zshText = (text: string) =>
  text.replace(/\\/g, '\\\\').replace(/'/g, `'\\''`).replace(/\[/g, '(').replace(/\]/g, ')').replace(/:/g, '\\:');

/** `values`: the zsh function that asks `__complete` (for options whose value only the tenant knows). */
function zshOption(option: OptionSpec, values: string): string[] {
  const action = !option.takesValue
    ? ''
    : option.choices.length
      ? `:value:(${option.choices.join(' ')})`
      : option.isFile
        ? ':file:_files'
        : option.dynamic
          ? `:value:{${values}}`
          : ':value: ';
  return option.names.map((flag) => `'${flag}[${zshText(option.description)}]${action}'`);
}

function zshScript(name: string, spec: ReturnType<typeof programSpec>): string {
  const values = `${fn(name)}_values`;
  const globals = spec.globals.flatMap((option) => zshOption(option, values));
  const commandCases = spec.commands.map((command) => {
    const positional = [...command.subcommands.map((s) => s.name), ...command.argumentChoices];
    const specs = [
      ...command.options.flatMap((option) => zshOption(option, values)),
      ...(positional.length ? [`'1:argument:(${positional.join(' ')})'`] : []),
      ...(command.dynamicArgument ? [`'1:request id:{${values}}'`] : []),
    ];
    return `        ${command.name}) _arguments -s "\${globals[@]}" ${specs.join(' ')} ;;`;
  });
  return `#compdef ${name}
# zsh completion for ${name} (generated by \`${name} completion zsh\`)
# Install: ${name} completion zsh > "\${fpath[1]}/_${name}"  (then restart zsh)
${values}() {
  local -a found
  found=(\${(f)"$(${name} __complete -- "\${(@)words[1,CURRENT]}" 2>/dev/null)"})
  compadd -a found
}
${fn(name)}() {
  local -a globals commands
  local state
  globals=(${globals.join(' ')})
  commands=(${spec.commands.map((c) => `'${zshText(c.name)}:${zshText(c.description)}'`).join(' ')})
  _arguments -C -s "\${globals[@]}" '1: :->command' '*:: :->args'
  case $state in
    command) _describe -t commands '${name} command' commands ;;
    args)
      case $words[1] in
${commandCases.join('\n')}
      esac
      ;;
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  ${fn(name)} "$@"
else
  compdef ${fn(name)} ${name}
fi
`;
}

const fishText = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** What fish runs for a value only the tenant knows: `__complete` with the words typed so far. */
const fishAsk = (name: string) => `(${name} __complete -- (commandline -opc)[2..-1] (commandline -ct))`;

function fishOption(name: string, option: OptionSpec, condition: string | null): string {
  const parts = [`complete -c ${name}`];
  if (condition) parts.push(`-n ${fishText(condition)}`);
  for (const flag of option.names) parts.push(flag.startsWith('--') ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`);
  if (option.takesValue)
    parts.push(
      option.choices.length
        ? `-x -a ${fishText(option.choices.join(' '))}`
        : option.isFile
          ? '-r -F'
          : option.dynamic
            ? `-x -a ${fishText(fishAsk(name))}`
            : '-x',
    );
  parts.push(`-d ${fishText(option.description)}`);
  return parts.join(' ');
}

function fishScript(name: string, spec: ReturnType<typeof programSpec>): string {
  const lines = [
    `# fish completion for ${name} (generated by \`${name} completion fish\`)`,
    `# Install: ${name} completion fish > ~/.config/fish/completions/${name}.fish`,
    `complete -c ${name} -f`,
    ...spec.globals.map((option) => fishOption(name, option, null)),
  ];
  for (const command of spec.commands) {
    lines.push(`complete -c ${name} -n '__fish_use_subcommand' -a ${command.name} -d ${fishText(command.description)}`);
    const seen = `__fish_seen_subcommand_from ${command.name}`;
    for (const option of command.options) lines.push(fishOption(name, option, seen));
    for (const sub of command.subcommands)
      lines.push(`complete -c ${name} -n ${fishText(seen)} -a ${sub.name} -d ${fishText(sub.description)}`);
    if (command.argumentChoices.length)
      lines.push(`complete -c ${name} -n ${fishText(seen)} -a ${fishText(command.argumentChoices.join(' '))}`);
    if (command.dynamicArgument) lines.push(`complete -c ${name} -n ${fishText(seen)} -a ${fishText(fishAsk(name))}`);
  }
  return `${lines.join('\n')}\n`;
}
