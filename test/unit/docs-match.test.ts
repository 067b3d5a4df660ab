/**
 * The docs and the program name the same things: every command, flag and
 * error code the docs mention exists in the program, and every one the
 * program has is documented. A renamed flag or a new error code without its
 * line in docs/ fails here, not in front of a user.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { actorContext } from '../../src/actor-context.js';
import { buildProgram } from '../../src/cli/main.js';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const docsDir = path.join(root, 'docs');
const docs = Object.fromEntries(
  readdirSync(docsDir)
    .filter((name) => name.endsWith('.md'))
    .map((name) => [name, readFileSync(path.join(docsDir, name), 'utf8')]),
);
docs['README.md'] = readFileSync(path.join(root, 'README.md'), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'emulator' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}
/** The program's own sources: the emulator plays Entra and OCI, whose codes are theirs, not ours. */
const sources = sourceFiles(path.join(root, 'src')).map((file) => readFileSync(file, 'utf8'));

interface CommandInfo {
  /** e.g. "audit verify" */
  path: string;
  flags: Set<string>;
}

function commandsOf(program: Command): CommandInfo[] {
  const out: CommandInfo[] = [];
  const visit = (command: Command, prefix: string[], inherited: Set<string>) => {
    const flags = new Set([...inherited, ...command.options.flatMap((o) => [o.long, o.short]).filter(isString)]);
    if (prefix.length > 0) out.push({ path: prefix.join(' '), flags });
    for (const sub of command.commands) visit(sub, [...prefix, sub.name()], flags);
  };
  visit(program, [], new Set(['--help', '-h', '--version', '-V']));
  return out;
}
const isString = (value: unknown): value is string => typeof value === 'string';

const program = buildProgram(actorContext({ env: {} }), async () => undefined);
const commands = commandsOf(program);
const hidden = new Set(commands.filter((c) => c.path.startsWith('__')).map((c) => c.path));
const byPath = new Map(commands.map((c) => [c.path, c]));
const everyFlag = new Set(commands.flatMap((c) => [...c.flags]));

/** Code spans and the lines of fenced code blocks, from every doc. */
function codeTexts(): { doc: string; text: string }[] {
  const out: { doc: string; text: string }[] = [];
  for (const [doc, text] of Object.entries(docs)) {
    const fences = text.split(/^```.*$/m);
    fences.forEach((part, index) => {
      // A shell line continued with a backslash is one command.
      if (index % 2 === 1) for (const line of part.split(/(?<!\\)\n/)) out.push({ doc, text: line });
      else for (const match of part.matchAll(/`([^`\n]+)`/g)) out.push({ doc, text: match[1]! });
    });
  }
  return out;
}

/** Names of app registrations the setup docs give, not invocations. */
const APP_NAMES = new Set(['ociaccess automation']);

/** Each `ociaccess …` invocation in the docs: the command path it names and the flags it passes. */
function invocations(): { doc: string; text: string; command: string; flags: string[] }[] {
  const out: { doc: string; text: string; command: string; flags: string[] }[] = [];
  for (const { doc, text } of codeTexts()) {
    if (APP_NAMES.has(text)) continue;
    for (const match of text.matchAll(/(?:^|[\s$(|;&])ociaccess((?:\s+[^\s|;&)]+)*)/g)) {
      const words = match[1]!.trim().split(/\s+/).filter(Boolean);
      // Global flags may come before the command.
      const firstCommand = words.findIndex((w) => !w.startsWith('-') && !/^<|\[|^\$/.test(w));
      let command = '';
      for (let i = Math.max(0, firstCommand); firstCommand >= 0 && i < words.length; i++) {
        const candidate = command ? `${command} ${words[i]}` : words[i]!;
        if (byPath.has(candidate)) command = candidate;
        else break;
      }
      const flags = words.filter((w) => /^--?[a-zA-Z]/.test(w)).map((w) => w.replace(/[=,.:`'"]+.*$/, ''));
      if (firstCommand < 0 && flags.length === 0) continue;
      out.push({ doc, text, command, flags });
    }
  }
  return out;
}

describe('docs and program name the same commands, flags and error codes', () => {
  it('every `ociaccess <command>` in the docs is a command of the program', () => {
    const unknown = invocations()
      .filter(({ text, command }) => {
        const afterName = text.split(/ociaccess\s+/)[1] ?? '';
        const first = afterName.split(/\s+/).find((w) => !w.startsWith('-')) ?? '';
        return command === '' && first !== '' && /^[a-z][a-z-]*$/.test(first) && first !== 'help';
      })
      .map(({ doc, text }) => `${doc}: ${text}`);
    expect(unknown).toEqual([]);
  });

  it('every flag passed to an `ociaccess` command in the docs is a flag of that command', () => {
    const wrong = invocations()
      .filter(({ command }) => command !== '')
      .flatMap(({ doc, text, command, flags }) =>
        flags.filter((flag) => !byPath.get(command)!.flags.has(flag)).map((flag) => `${doc}: ${flag} in "${text}"`),
      );
    expect(wrong).toEqual([]);
  });

  it('every other `--flag` the docs name is a flag of some command (or of a tool the docs name beside it)', () => {
    const foreignTools =
      /\b(npm|npx|node|jq|kubectl|openssl|curl|systemctl|git|docker|az|oci|jest|ln|chmod|tar|journalctl)\b/;
    const wrong = codeTexts()
      .filter(({ text }) => !/ociaccess/.test(text) && !foreignTools.test(text))
      .flatMap(({ doc, text }) =>
        [...text.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/g)]
          .map((m) => m[1]!)
          .filter((flag) => !everyFlag.has(flag))
          .map((flag) => `${doc}: ${flag} in "${text}"`),
      );
    expect(wrong).toEqual([]);
  });

  it('every command and every flag of the program is documented in commands.md', () => {
    const text = docs['commands.md']!;
    const missing = commands
      .filter((c) => !hidden.has(c.path) && ![...hidden].some((h) => c.path.startsWith(`${h} `)))
      .flatMap((c) => [
        ...(text.includes(`ociaccess ${c.path}`) || new RegExp(`^#+ .*\\b${c.path}\\b`, 'm').test(text)
          ? []
          : [`command: ${c.path}`]),
        ...[...c.flags]
          .filter((flag) => flag.startsWith('--') && !text.includes(`\`${flag}`) && !text.includes(` ${flag}`))
          .map((flag) => `${c.path}: ${flag}`),
      ]);
    expect([...new Set(missing)]).toEqual([]);
  });

  /** Codes the program raises: the first argument of an error's constructor, and every `code: '…'`. */
  const programCodes = new Set<string>();
  for (const source of sources) {
    for (const m of source.matchAll(/new \w*(?:Error|Warning)\(\s*([^,()]*)/g))
      for (const code of m[1]!.matchAll(/'([A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Z]{4,})'/g)) programCodes.add(code[1]!);
    for (const m of source.matchAll(/\bcode:\s*'([A-Z][A-Z0-9_]{3,})'/g)) programCodes.add(m[1]!);
    for (const m of source.matchAll(/super\(\s*'([A-Z][A-Z0-9_]{3,})'/g)) programCodes.add(m[1]!);
  }
  /** Node's own system error codes (ECONNRESET…) are causes, not ours. */
  for (const code of programCodes) if (/^E[A-Z]+$/.test(code)) programCodes.delete(code);

  it('every error code the program raises is in docs/exit-codes.md', () => {
    const text = docs['exit-codes.md']!;
    expect(programCodes.size).toBeGreaterThan(50);
    const missing = [...programCodes].filter((code) => !text.includes(`\`${code}\``)).sort();
    expect(missing).toEqual([]);
  });

  it('every error code in the tables of docs/exit-codes.md is one the program can raise', () => {
    const text = docs['exit-codes.md']!;
    const tableCodes = new Set(
      text
        .split('\n')
        .filter((line) => line.startsWith('|'))
        .flatMap((line) => {
          const cells = line.split('|').slice(1, 3);
          return cells.flatMap((cell) =>
            [...cell.matchAll(/`([A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Z]{4,})`/g)].map((m) => m[1]!),
          );
        }),
    );
    expect(tableCodes.size).toBeGreaterThan(50);
    const everySource = sources.join('\n');
    const unknown = [...tableCodes].filter((code) => !everySource.includes(`'${code}'`)).sort();
    expect(unknown).toEqual([]);
  });

  it('the exit codes in the main --help are those of docs/exit-codes.md', () => {
    let help = '';
    program.configureOutput({ writeOut: (text) => (help += text), writeErr: () => undefined });
    program.outputHelp();
    const summary = help.slice(help.indexOf('Exit codes:'));
    const inHelp = [...summary.matchAll(/(?:^|[:,\s])(\d{1,3}) [a-zA-Z]/g)]
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const exitTable = docs['exit-codes.md']!.split('## Error codes')[0]!;
    const documented = [...exitTable.matchAll(/^\| (\d{1,3}) \|/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
    expect(documented.length).toBeGreaterThan(5);
    expect(inHelp).toEqual(documented);
  });

  it('every link between the docs leads to a file that exists and, with an #anchor, to one of its headings', () => {
    /** GitHub's heading anchors: lower case, punctuation dropped, each space a hyphen. */
    const slug = (heading: string) =>
      heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-');
    const anchorsOf = (text: string) =>
      new Set(
        text
          .replace(/^```[\s\S]*?^```/gm, '')
          .split('\n')
          .filter((line) => /^#{1,6} /.test(line))
          .map((line) => slug(line.replace(/^#+ /, ''))),
      );
    const broken: string[] = [];
    for (const [doc, text] of Object.entries(docs)) {
      // Links are read from the prose, not from code (a code span may show Markdown as text).
      const prose = text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
      for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const [file, anchor] = target.split('#') as [string, string | undefined];
        const base = doc === 'README.md' ? root : docsDir;
        const targetName = file === '' ? doc : path.relative(docsDir, path.resolve(base, file));
        const targetText =
          file === '' ? text : (docs[targetName] ?? (existsSync(path.resolve(base, file)) ? '' : undefined));
        if (targetText === undefined) broken.push(`${doc}: ${target} (no such file)`);
        else if (anchor && targetName.endsWith('.md') && !anchorsOf(targetText).has(anchor))
          broken.push(`${doc}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });
});
