/**
 * Issue 15, the CLI's part: every message says what happened. Each test
 * asserts the exit code, the first line on stderr and, where there is one,
 * the --json document.
 */
import { buildProgram } from '../../src/cli/main.js';
import type { Prompter } from '../../src/context.js';
import { SEED } from '../../src/emulator/seed.js';
import { completeDeviceCode } from '../../src/emulator/entra/index.js';
import { storedRecords, upnOf, userCodeIn, useHarness, type Harness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob', 'carol'] });
const ALICE = upnOf('alice');
const firstLine = (text: string) => text.split('\n')[0];

/** A prompter that answers as scripted; `ctrlC` makes the named prompt throw what @inquirer/prompts throws on Ctrl-C. */
function prompter(
  answers: {
    select?: (choices: { value: unknown }[]) => unknown;
    confirm?: boolean;
    input?: string[];
    ctrlC?: 'select' | 'confirm' | 'input';
  } = {},
  asked: string[] = [],
): Prompter {
  const exit = () => Object.assign(new Error('User force closed the prompt with SIGINT'), { name: 'ExitPromptError' });
  const inputs = [...(answers.input ?? [])];
  return {
    interactive: true,
    async select(message, choices) {
      asked.push(`select: ${message}`);
      if (answers.ctrlC === 'select') throw exit();
      return (answers.select ?? ((c) => c[0]!.value))(choices) as never;
    },
    async confirm(message) {
      asked.push(`confirm: ${message}`);
      if (answers.ctrlC === 'confirm') throw exit();
      return answers.confirm ?? true;
    },
    async input(message, options) {
      asked.push(`input: ${message}`);
      if (answers.ctrlC === 'input') throw exit();
      const answer = inputs.shift() ?? options?.default ?? '';
      const valid = options?.validate?.(answer) ?? true;
      if (valid !== true) throw new Error(`the test answered "${answer}" which the prompt refuses: ${valid}`);
      return answer;
    },
  };
}

async function request(H: Harness, hours = '2', who: 'alice' | 'bob' = 'alice'): Promise<string> {
  const result = await H.run(who, [
    'request',
    '--hours',
    hours,
    '--justification',
    'INC-4711: rotate the DB wallet',
    '--json',
  ]);
  expect(result.code).toBe(0);
  return result.json.id;
}

describe('Ctrl-C at a prompt is a cancel: exit 130, "Cancelled; nothing was changed."', () => {
  test.each([
    ['approve, at the pick list', 'approve', 'select'],
    ['approve, at the confirmation', 'approve', 'confirm'],
    ['deny, at the pick list', 'deny', 'select'],
    ['deny, at the reason', 'deny', 'input'],
  ] as const)('%s', async (_name, verb, at) => {
    const H = h();
    await request(H);
    const result = await H.expectNoChange(() => H.run('bob', [verb], { prompter: prompter({ ctrlC: at }) }));
    expect(result.code).toBe(130);
    // approve shows what it is about to decide before its confirmation; the error follows it.
    expect(firstLine(result.stderr.replace(/^Approving .*\n/, ''))).toBe(
      'error: Cancelled; nothing was changed. [CANCELLED]',
    );
    expect(result.stderr).not.toContain('UNEXPECTED');
    const json = await H.expectNoChange(() => H.run('bob', [verb, '--json'], { prompter: prompter({ ctrlC: at }) }));
    expect(json.code).toBe(130);
    expect(json.json).toEqual({ error: { code: 'CANCELLED', message: 'Cancelled; nothing was changed.', hint: null } });
  });

  test('init, at its first question', async () => {
    const H = h();
    const file = `${H.root}/ctrl-c-config.json`;
    const result = await H.run('carol', ['--config', file, 'init'], { prompter: prompter({ ctrlC: 'input' }) });
    expect(result.code).toBe(130);
    // init introduces itself, then the error.
    expect(result.stderr.split('\n').filter((line) => line.startsWith('error:'))).toEqual([
      'error: Cancelled; nothing was changed. [CANCELLED]',
    ]);
    expect(result.stderr).not.toContain('UNEXPECTED');
  });
});

describe('durations', () => {
  test('--hours 20m is requested, stored as 1/3 hour, shown as 20m and approved for exactly 20 minutes', async () => {
    const H = h();
    const asked = await H.run('alice', [
      'request',
      '--hours',
      '20m',
      '--justification',
      'INC-4711: check a policy',
      '--json',
    ]);
    expect(asked.code).toBe(0);
    expect(asked.json).toMatchObject({ hours: 1 / 3, state: 'pending' });
    expect(storedRecords(H, 'alice', 'com.ociaccess.requests')).toEqual([
      expect.objectContaining({ i: asked.json.id, h: 1 / 3 }),
    ]);
    const text = await H.run('bob', ['request', '--hours', '1h30m', '--justification', 'INC-4712: x']);
    expect(text.code).toBe(0);
    expect(firstLine(text.stderr)).toMatch(
      /^✓ Requested 1h 30m in OCI-Temp-Admins as bob@\S+ \(request r-[0-9a-z]{8}\)\.$/,
    );
    const listed = await H.run('carol', ['list', '--pending']);
    expect(
      listed.stdout
        .split('\n')
        .slice(1)
        .map((line) => line.split('\t')[4])
        .sort(),
    ).toEqual(['1.5', '20m']);
    const approved = await H.run('bob', ['approve', asked.json.id, '--yes', '--json']);
    expect(approved.code).toBe(0);
    expect(Date.parse(approved.json.expiresAt) - Date.parse(approved.json.decidedAt)).toBe(20 * 60_000);
  });

  test('--hours 1.01 is refused with a suggestion that is itself accepted', async () => {
    const H = h();
    const refused = await H.run('alice', ['request', '--hours', '1.01', '--justification', 'x', '--json']);
    expect(refused.code).toBe(2);
    expect(refused.json).toEqual({
      error: {
        code: 'INVALID_HOURS',
        message: '--hours "1.01" is not a whole number of minutes.',
        hint: 'Round it to the minute, e.g. --hours 1h1m.',
      },
    });
    const followed = await H.run('alice', ['request', '--hours', '1h1m', '--justification', 'x', '--json']);
    expect(followed.code).toBe(0);
    expect(followed.json.hours).toBe(61 / 60);
  });
});

test('INVALID_TICKET: the hint says a ticket is an id, details stay in the ticket', async () => {
  const result = await h().run('alice', [
    'request',
    '--hours',
    '2',
    '--justification',
    'x',
    '--ticket',
    `INC-4711 ${'the database hangs '.repeat(4)}`,
  ]);
  expect(result.code).toBe(2);
  expect(result.stderr).toBe(
    'error: --ticket is 84 characters; at most 64 fit in the request record. [INVALID_TICKET]\nhint: A ticket is an id such as INC-4711: give the id only, and keep the details in the ticket itself.\n',
  );
});

describe('deny without --reason', () => {
  test('on a terminal: the pick list first, then the reason is asked for, and the denial records it', async () => {
    const H = h();
    const id = await request(H);
    const asked: string[] = [];
    const result = await H.run('bob', ['deny', '--json'], {
      prompter: prompter({ input: ['use the read-only group instead'] }, asked),
    });
    expect(result.code).toBe(0);
    expect(asked).toEqual([
      'select: Which request do you want to deny?',
      `input: Why do you deny ${id}? (shown to the requester)`,
      'confirm: Deny it?',
    ]);
    expect(result.json).toMatchObject({ id, decision: 'denied', reason: 'use the read-only group instead' });
  });

  test('without a terminal: a usage error naming --reason, with a reason as the example', async () => {
    const result = await h().run('bob', ['deny', 'r-abcd2345', '--json']);
    expect(result.code).toBe(2);
    expect(result.json).toEqual({
      error: {
        code: 'INVALID_REASON',
        message: '--reason is required.',
        hint: 'Say why, e.g. --reason "use the read-only group instead".',
      },
    });
  });
});

describe('did you mean', () => {
  test.each([
    [['help', 'nosuch'], "error: unknown command 'nosuch'", '(run with --help for usage)'],
    [['help', 'stauts'], "error: unknown command 'stauts'", '(Did you mean status?)'],
    [['version'], "error: unknown command 'version'", '(Did you mean --version?)'],
  ])('%j: exit 2 and a suggestion', async (argv, first, second) => {
    const result = await h().run('alice', argv);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n').slice(0, 2)).toEqual([first, second]);
  });

  test('an unknown config key names the key it resembles', async () => {
    const H = h();
    const { readFile, writeFile } = await import('node:fs/promises');
    const actor = H.actor('alice');
    const file = actor.env.OCIACCESS_CONFIG!;
    const config = JSON.parse(await readFile(file, 'utf8'));
    config.groups[0].aprovers = config.groups[0].approvers;
    await writeFile(`${H.root}/typo.json`, JSON.stringify(config), { mode: 0o600 });
    const result = await H.run('alice', ['--config', `${H.root}/typo.json`, 'status', '--json']);
    expect(result.code).toBe(2);
    expect(result.json.error.code).toBe('CONFIG_INVALID');
    expect(result.json.error.message).toContain('groups[0]: unknown key "aprovers" (did you mean "approvers"?)');
  });
});

test('no option repeats the default commander prints: approve --help shows (default: "10m") once', async () => {
  const result = await h().run('alice', ['approve', '--help']);
  expect(result.code).toBe(0);
  expect(result.stdout.match(/default/g)).toHaveLength(1);
  expect(result.stdout).toMatch(/--timeout <duration>\s+how long --wait waits \(e\.g\. 30m, 1h\) \(default: "10m"\)/);
  const program = buildProgram({} as never, async () => undefined);
  const all = [program, ...program.commands].flatMap((command) => command.options);
  expect(
    all
      .filter((option) => option.defaultValue !== undefined && /default/i.test(option.description))
      .map((option) => option.long),
  ).toEqual([]);
});

test('whoami after the session was revoked: exit 4 SESSION_EXPIRED, although the cached access token has not expired', async () => {
  const H = h();
  expect((await H.login('carol')).code).toBe(0);
  expect((await H.run('carol', ['whoami'])).code).toBe(0);
  await H.control('tokens/revoke', { user: upnOf('carol') });
  const result = await H.run('carol', ['whoami', '--json']);
  expect(result.code).toBe(4);
  expect(result.json.error).toMatchObject({ code: 'SESSION_EXPIRED', hint: 'Run `ociaccess login`.' });
  const text = await H.run('carol', ['whoami']);
  expect(firstLine(text.stderr)).toMatch(
    /^error: Your sign-in as carol@\S+ has expired or was revoked \(AADSTS50173: .*\)\. \[SESSION_EXPIRED\]$/,
  );
});

test('request by an approver does not name the requester among who can approve', async () => {
  const H = h();
  const result = await H.run('bob', ['request', '--hours', '2', '--justification', 'INC-9: x']);
  expect(result.code).toBe(0);
  expect(result.stderr.split('\n')[1]).toMatch(
    /^Next: an approver \(carol@\S+\) runs `ociaccess approve r-[0-9a-z]{8}`\.$/,
  );
});

describe('times', () => {
  test('on a terminal relative and absolute; piped absolute to the second; never milliseconds', async () => {
    const H = h();
    const id = await request(H);
    const approved = await H.run('bob', ['approve', id, '--yes']);
    expect(approved.code).toBe(0);
    expect(approved.stderr.split('\n')[1]).toMatch(
      new RegExp(
        `^✓ Approved ${id}: ${ALICE} is in OCI-Temp-Admins for 2h; it expires \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\.$`,
      ),
    );
    expect(approved.stdout).toMatch(
      new RegExp(`^${id}\\tapproved\\t${ALICE}\\t\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\n$`),
    );
    const onTerminal = await H.run('alice', ['status'], { tty: true });
    expect(onTerminal.stdout).toMatch(
      new RegExp(
        `${id}\\s+OCI-Temp-Admins\\s+approved\\s+2\\s+in (1h 5\\dm|2h) \\((\\d{4}-\\d\\d-\\d\\d )?\\d\\d:\\d\\d UTC\\)\\s`,
      ),
    );
    const piped = await H.run('alice', ['status']);
    expect(piped.stdout).not.toMatch(/\.\d{3}Z/);
  });
});

describe('sign-in failures show what Entra said', () => {
  test('consent missing at sign-in (device code): AADSTS65001 and the missing permission, not just invalid_grant', async () => {
    const H = h();
    const app = H.emu.world.apps.get(SEED.cliAppId)!;
    const before = app.delegatedPermissions;
    app.delegatedPermissions = before.filter((permission) => permission !== 'User.ReadWrite');
    try {
      const result = await H.login('dave');
      expect(result.code).toBe(4);
      const line = result.stderr.split('\n').find((l) => l.startsWith('error:'));
      expect(line).toMatch(
        /^error: Sign-in failed: AADSTS65001: The user or administrator has not consented to use the application with ID '[^']+' named '[^']+'\. Missing: User\.ReadWrite\. \[LOGIN_FAILED\]$/,
      );
      const debug = await H.run('dave', ['login', '--debug'], {
        during: async (stderr) => {
          for (let tries = 0; !userCodeIn(stderr.text) && tries < 500; tries += 1)
            await new Promise((resolve) => setTimeout(resolve, 20));
          completeDeviceCode(H.emu.world, userCodeIn(stderr.text)!, upnOf('dave'));
        },
      });
      expect(debug.code).toBe(4);
      expect(debug.stderr.split('\n').find((l) => l.startsWith('error:'))).toBe(line);
    } finally {
      app.delegatedPermissions = before;
    }
  });
});
