/**
 * `completion`: the scripts come from the commander program, so they know
 * every command; the bash script is valid and actually completes (run in a
 * real bash with COMP_WORDS set as bash sets them). zsh and fish are checked
 * for syntax where those shells are installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { actorContext, CapturedStream } from '../../src/actor-context.js';
import { buildProgram, main } from '../../src/cli/main.js';

async function script(shell: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const code = await main(['completion', shell], actorContext({ env: { NO_COLOR: '1' }, stdout, stderr }));
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** The commands people type: `__complete` is hidden, for the scripts. */
const commandNames = () =>
  buildProgram(actorContext({ env: {} }), async () => undefined)
    .commands.map((c) => c.name())
    .filter((name) => !name.startsWith('__'));
const has = (binary: string) => spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ociaccess-completion-'));
});

/**
 * What bash offers for the words typed so far (the last one is being completed).
 * `ociaccess` itself is a shell function here that answers `__complete` with two request ids.
 */
function bashComplete(file: string, typed: string[]): string[] {
  const words = ['ociaccess', ...typed].map((w) => `'${w}'`).join(' ');
  const fake = `ociaccess() { printf 'r-aaaa2222\\nr-bbbb3333\\n'; }`;
  const out = execFileSync(
    'bash',
    [
      '-c',
      `${fake}; source '${file}'; COMP_WORDS=(${words}); COMP_CWORD=${typed.length}; _ociaccess; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return out.split('\n').filter(Boolean);
}

/** The calls bash made to `ociaccess` while completing (each as its arguments joined by |). */
function bashCalls(file: string, typed: string[]): string[] {
  const words = ['ociaccess', ...typed].map((w) => `'${w}'`).join(' ');
  const log = path.join(dir, 'calls.log');
  const fake = `ociaccess() { printf '%s|' "$@" >> '${log}'; echo >> '${log}'; }`;
  execFileSync('bash', [
    '-c',
    `: > '${log}'; ${fake}; source '${file}'; COMP_WORDS=(${words}); COMP_CWORD=${typed.length}; _ociaccess; true`,
  ]);
  return execFileSync('cat', [log], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

describe('bash', () => {
  let file: string;
  beforeAll(async () => {
    const result = await script('bash');
    expect(result.code).toBe(0);
    file = path.join(dir, 'ociaccess.bash');
    await writeFile(file, result.stdout);
  });

  test('is valid bash (bash -n) and mentions every command', async () => {
    expect(spawnSync('bash', ['-n', file]).status).toBe(0);
    const { stdout } = await script('bash');
    const names = commandNames();
    expect(names).toEqual(
      expect.arrayContaining(['init', 'doctor', 'completion', 'login', 'request', 'approve', 'sweep']),
    );
    for (const name of names) expect(stdout).toContain(`    ${name})`);
    expect(stdout).toContain('complete -F _ociaccess ociaccess');
  });

  test('completes commands, their options, global options, choices and files', async () => {
    expect(bashComplete(file, ['do'])).toEqual(['doctor']);
    expect(bashComplete(file, [''])).toEqual(expect.arrayContaining(commandNames()));
    expect(bashComplete(file, ['doctor', '--a'])).toEqual(['--as']);
    expect(bashComplete(file, ['doctor', '--as', ''])).toEqual(['user', 'app']);
    expect(bashComplete(file, ['--json', 'sweep', '--dry'])).toEqual(['--dry-run']);
    expect(bashComplete(file, ['request', '--j'])).toEqual(['--justification', '--json']);
    expect(bashComplete(file, ['ext'])).toEqual(['extend']);
    expect(bashComplete(file, ['extend', '--h'])).toEqual(['--hours', '--help']);
    expect(bashComplete(file, ['completion', ''])).toEqual(expect.arrayContaining(['bash', 'zsh', 'fish']));
    expect(bashComplete(file, ['audit', 'v'])).toEqual(['verify']);
    // After an option that takes a value, the value is not mistaken for the command.
    expect(bashComplete(file, ['--config', 'x.json', 'in'])).toEqual(['init']);
    await writeFile(path.join(dir, 'my-config.json'), '{}');
    expect(bashComplete(file, ['--config', path.join(dir, 'my-con')])).toEqual([path.join(dir, 'my-config.json')]);
  });

  test('asks `ociaccess __complete` for the request id of approve and deny and for the value of -g, and nowhere else', () => {
    // The values as `__complete` printed them (it filters by the word typed, tested in test/commands/complete.test.ts).
    expect(bashComplete(file, ['approve', 'r-a'])).toEqual(['r-aaaa2222', 'r-bbbb3333']);
    expect(bashComplete(file, ['deny', ''])).toEqual(expect.arrayContaining(['r-aaaa2222', 'r-bbbb3333', '--reason']));
    expect(bashCalls(file, ['deny', '-g', 'OCI', 'r-'])).toEqual(['__complete|--|deny|-g|OCI|r-|']);
    expect(bashCalls(file, ['status', '--group', ''])).toEqual(['__complete|--|status|--group||']);
    expect(bashCalls(file, ['approve', 'r-aaaa2222', ''])).toEqual([]);
    expect(bashCalls(file, ['approve', '--re'])).toEqual([]);
    expect(bashCalls(file, ['request', '--hours', ''])).toEqual([]);
    expect(bashCalls(file, ['extend', '-g', ''])).toEqual(['__complete|--|extend|-g||']);
    expect(bashCalls(file, ['extend', ''])).toEqual([]);
    expect(bashCalls(file, ['sw'])).toEqual([]);
  });

  test('attack: a value `__complete` printed is offered as it is, never expanded by bash ($(…), $VAR, globs)', () => {
    const pwned = path.join(dir, 'pwned');
    const hostile = `$(touch ${pwned})`;
    const words = ['ociaccess', 'approve', ''].map((w) => `'${w}'`).join(' ');
    const fake = `ociaccess() { printf '%s\\n' '${hostile}' '$HOME' '*'; }`;
    for (const typed of [words, ['ociaccess', 'status', '-g', ''].map((w) => `'${w}'`).join(' ')]) {
      const count = typed.split(' ').length - 1;
      const out = execFileSync(
        'bash',
        [
          '-c',
          `${fake}; source '${file}'; COMP_WORDS=(${typed}); COMP_CWORD=${count}; _ociaccess; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { encoding: 'utf8', cwd: dir },
      );
      expect(out.split('\n').slice(0, 3)).toEqual([hostile, '$HOME', '*']);
      expect(spawnSync('test', ['-e', pwned]).status).toBe(1);
    }
  });
});

test('an unknown shell is a usage error (exit 2)', async () => {
  const result = await script('powershell');
  expect(result.code).toBe(2);
  expect(result.stderr).toContain(
    "value 'powershell' is invalid for argument 'shell'. Allowed choices are bash, zsh, fish.",
  );
});

test('zsh: a #compdef script that lists every command (syntax-checked where zsh is installed)', async () => {
  const { code, stdout } = await script('zsh');
  expect(code).toBe(0);
  expect(stdout.startsWith('#compdef ociaccess\n')).toBe(true);
  for (const name of commandNames()) expect(stdout).toMatch(new RegExp(`'${name}:`));
  if (has('zsh')) {
    const file = path.join(dir, '_ociaccess');
    await writeFile(file, stdout);
    expect(spawnSync('zsh', ['-n', file], { encoding: 'utf8' }).stderr).toBe('');
  }
});

test('fish: complete lines for every command (syntax-checked where fish is installed)', async () => {
  const { code, stdout } = await script('fish');
  expect(code).toBe(0);
  for (const name of commandNames()) expect(stdout).toContain(`-n '__fish_use_subcommand' -a ${name} `);
  expect(stdout).toContain("complete -c ociaccess -n '__fish_seen_subcommand_from doctor' -l as -x -a 'user app'");
  if (has('fish')) {
    const file = path.join(dir, 'ociaccess.fish');
    await writeFile(file, stdout);
    const checked = spawnSync('fish', ['--no-execute', file], { encoding: 'utf8' });
    expect(checked.stderr).toBe('');
    expect(checked.status).toBe(0);
    const offered = (line: string) =>
      spawnSync('fish', ['--no-config', '-c', `source '${file}'; complete -C '${line}'`], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]);
    expect(offered('ociaccess doc')).toEqual(['doctor']);
    expect(offered('ociaccess doctor --as ')).toEqual(['app', 'user']);
  }
});

test('--json wraps the script in a document', async () => {
  const stdout = new CapturedStream();
  const code = await main(['completion', 'bash', '--json'], actorContext({ env: {}, stdout }));
  expect(code).toBe(0);
  expect(JSON.parse(stdout.text)).toEqual({
    shell: 'bash',
    script: expect.stringContaining('complete -F _ociaccess ociaccess'),
  });
});
