/**
 * Bad input gets a clear error, the documented exit code (2 usage, 3 policy
 * or state), and changes nothing anywhere: no write reaches Graph or OCI,
 * and no record, membership, local state or audit entry changes. Flag values
 * are checked before the config, the sign-in or the network are touched.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SEED } from '../../src/emulator/seed.js';
import { storedRecords, upnOf, useHarness, type Harness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob', 'mallory'] });

/** alice (or `who`) asks for `hours`; returns the request id. */
async function requestAs(H: Harness, who: 'alice' | 'bob', hours = '2'): Promise<string> {
  const result = await H.run(who, [
    'request',
    '--hours',
    hours,
    '--justification',
    'INC-1: restart the DB node',
    '--json',
  ]);
  expect(result.code).toBe(0);
  return result.json.id as string;
}

describe('flag values are refused before the config, the sign-in or the network are touched', () => {
  const cases: [string, string[], string][] = [
    ['hours 0', ['request', '--hours', '0', '--justification', 'x'], 'INVALID_HOURS'],
    ['negative hours', ['request', '--hours', '-1', '--justification', 'x'], 'INVALID_HOURS'],
    ['negative hours (--hours=)', ['request', '--hours=-0.5', '--justification', 'x'], 'INVALID_HOURS'],
    ['hours finer than a minute', ['request', '--hours', '1.0001', '--justification', 'x'], 'INVALID_HOURS'],
    ['non-numeric hours', ['request', '--hours', 'two', '--justification', 'x'], 'INVALID_HOURS'],
    ['hours with an unknown unit', ['request', '--hours', '2w', '--justification', 'x'], 'INVALID_HOURS'],
    ['empty hours', ['request', '--hours', '', '--justification', 'x'], 'HOURS_REQUIRED'],
    ['missing justification', ['request', '--hours', '2'], 'JUSTIFICATION_REQUIRED'],
    ['blank justification', ['request', '--hours', '2', '--justification', '   '], 'JUSTIFICATION_REQUIRED'],
    ['malformed request id', ['approve', 'not-an-id', '--yes'], 'INVALID_REQUEST_ID'],
    ['deny without a reason', ['deny', 'r-abcd2345', '--yes'], 'INVALID_REASON'],
    ['revoke --user that is not a UPN', ['revoke', '--user', 'alice'], 'INVALID_USER'],
    ['sweep --force-oci-after 0', ['sweep', '--force-oci-after', '0'], 'INVALID_DURATION'],
    ['list --all with --pending', ['list', '--all', '--pending'], 'CONFLICTING_FLAGS'],
  ];

  test.each(cases)(
    '%s: exit 2 with its code even when the config file does not exist, and nothing is sent',
    async (_name, argv, code) => {
      const H = h();
      const missingConfig = path.join(H.root, 'no-such-config.json');
      const result = await H.expectNoChange(async () => {
        const mark = H.mark();
        const run = await H.run('alice', [...argv, '--json'], { env: { OCIACCESS_CONFIG: missingConfig } });
        expect(H.requestsSince(mark)).toEqual([]);
        return run;
      });
      expect(result.code).toBe(2);
      expect(result.json.error.code).toBe(code);
      expect(result.json.error.message).toEqual(expect.any(String));
      expect(result.stderr).toBe('');
    },
  );

  test.each(cases)(
    '%s: exit 2 with a valid config too, nothing sent, and a readable message on stderr',
    async (_name, argv, code) => {
      const H = h();
      const result = await H.expectNoChange(async () => {
        const mark = H.mark();
        const run = await H.run('alice', argv);
        expect(H.requestsSince(mark)).toEqual([]);
        return run;
      });
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(new RegExp(`^error: .+\\[${code}\\]`));
    },
  );

  test('hours 1.0001 is explained and the hint rounds it to the minute', async () => {
    const result = await h().run('alice', ['request', '--hours', '1.0001', '--justification', 'x', '--json']);
    expect(result.json).toEqual({
      error: {
        code: 'INVALID_HOURS',
        message: '--hours "1.0001" is not a whole number of minutes.',
        hint: 'Round it to the minute, e.g. --hours 1h.',
      },
    });
  });

  test('a fraction that is a whole number of minutes is accepted (1.5 hours)', async () => {
    const H = h();
    const result = await H.run('alice', [
      'request',
      '--hours',
      '1.5',
      '--justification',
      'INC-2: check a policy',
      '--json',
    ]);
    expect(result.code).toBe(0);
    expect(result.json).toMatchObject({ hours: 1.5, state: 'pending', group: 'OCI-Temp-Admins' });
  });
});

describe('refused by policy or state: exit 3, nothing changes anywhere', () => {
  test('more hours than the group allows (8): DURATION_TOO_LONG before any request is sent', async () => {
    const H = h();
    const result = await H.expectNoChange(async () => {
      const mark = H.mark();
      const run = await H.run('alice', ['request', '--hours', '9', '--justification', 'x', '--json']);
      expect(H.requestsSince(mark)).toEqual([]);
      return run;
    });
    expect(result.code).toBe(3);
    expect(result.json.error).toMatchObject({ code: 'DURATION_TOO_LONG', hint: 'Use --hours 8 or less.' });
    expect(result.json.error.message).toContain('at most 8');
  });

  test('unknown group: exit 2 naming the configured groups, nothing sent', async () => {
    const H = h();
    const result = await H.expectNoChange(async () => {
      const mark = H.mark();
      const run = await H.run('alice', [
        'request',
        '--group',
        'OCI-Prod-Admins',
        '--hours',
        '1',
        '--justification',
        'x',
        '--json',
      ]);
      expect(H.requestsSince(mark)).toEqual([]);
      return run;
    });
    expect(result.code).toBe(2);
    expect(result.json.error).toMatchObject({
      code: 'UNKNOWN_GROUP',
      message: 'Unknown group "OCI-Prod-Admins".',
      hint: 'Configured groups: OCI-Temp-Admins, OCI-Temp-Admins-PIM.',
    });
  });

  test('unknown request id: REQUEST_NOT_FOUND with the hint to list', async () => {
    const H = h();
    const result = await H.expectNoChange(() => H.run('bob', ['approve', 'r-zzzz2222', '--yes', '--json']));
    expect(result.code).toBe(3);
    expect(result.json.error).toMatchObject({
      code: 'REQUEST_NOT_FOUND',
      hint: expect.stringContaining('ociaccess list --pending'),
    });
  });

  test('a non-eligible requester (mallory): NOT_ELIGIBLE, no record written', async () => {
    const H = h();
    const result = await H.expectNoChange(() =>
      H.run('mallory', ['request', '--hours', '1', '--justification', 'let me in', '--json']),
    );
    expect(result.code).toBe(3);
    expect(result.json.error).toMatchObject({
      code: 'NOT_ELIGIBLE',
      message: `${upnOf('mallory')} may not request access to OCI-Temp-Admins.`,
    });
    expect(storedRecords(H, 'mallory', 'com.ociaccess.requests')).toEqual([]);
  });

  test('a second request while one is pending: REQUEST_ALREADY_PENDING', async () => {
    const H = h();
    const id = await requestAs(H, 'alice');
    const result = await H.expectNoChange(() =>
      H.run('alice', ['request', '--hours', '1', '--justification', 'again', '--json']),
    );
    expect(result.code).toBe(3);
    expect(result.json.error.code).toBe('REQUEST_ALREADY_PENDING');
    expect(result.json.error.message).toContain(id);
  });

  test('approving a request twice: REQUEST_NOT_PENDING, the first approval stands', async () => {
    const H = h();
    const id = await requestAs(H, 'alice');
    expect((await H.run('bob', ['approve', id, '--yes'])).code).toBe(0);
    const result = await H.expectNoChange(() => H.run('bob', ['approve', id, '--yes', '--json']));
    expect(result.code).toBe(3);
    expect(result.json.error).toMatchObject({
      code: 'REQUEST_NOT_PENDING',
      message: `Request ${id} is approved by you; only pending requests can be approved.`,
    });
    expect(storedRecords(H, 'bob', 'com.ociaccess.decisions')).toHaveLength(1);
  });

  test('approving a request already denied: REQUEST_NOT_PENDING, the requester stays out', async () => {
    const H = h();
    const id = await requestAs(H, 'alice');
    expect((await H.run('bob', ['deny', id, '--reason', 'use the read-only group', '--yes'])).code).toBe(0);
    const result = await H.expectNoChange(() => H.run('bob', ['approve', id, '--yes', '--json']));
    expect(result.code).toBe(3);
    expect(result.json.error.code).toBe('REQUEST_NOT_PENDING');
    expect(result.json.error.message).toContain('is denied');
    expect(H.entraMembers()).toEqual([upnOf('breakglass')]);
  });

  test('self-approval by an approver (bob approving his own request): SELF_APPROVAL, naming the other approver', async () => {
    const H = h();
    const id = await requestAs(H, 'bob');
    const result = await H.expectNoChange(() => H.run('bob', ['approve', id, '--yes', '--json']));
    expect(result.code).toBe(3);
    expect(result.json.error).toMatchObject({ code: 'SELF_APPROVAL', hint: expect.stringContaining(upnOf('carol')) });
    expect(H.entraMembers()).not.toContain(upnOf('bob'));
  });

  test('self-approval by the requester (alice approving her own request): SELF_APPROVAL', async () => {
    const H = h();
    const id = await requestAs(H, 'alice');
    const result = await H.expectNoChange(() => H.run('alice', ['approve', id, '--yes']));
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`You cannot approve your own request ${id}. [SELF_APPROVAL]`);
  });

  test.each([
    ['approve', ['--yes']],
    ['deny', ['--reason', 'no', '--yes']],
  ])("a non-approver (alice) cannot %s someone else's request: NOT_AN_APPROVER", async (verb, extra) => {
    const H = h();
    const id = await requestAs(H, 'bob');
    const result = await H.expectNoChange(() => H.run('alice', [verb, id, ...extra, '--json']));
    expect(result.code).toBe(3);
    expect(result.json.error).toMatchObject({
      code: 'NOT_AN_APPROVER',
      message: `${upnOf('alice')} is not an approver of OCI-Temp-Admins.`,
    });
  });

  test("a non-approver (alice) cannot revoke someone else's membership: NOT_AN_APPROVER, the member stays", async () => {
    const H = h();
    await H.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf('carol') });
    const result = await H.expectNoChange(() => H.run('alice', ['revoke', '--user', upnOf('carol'), '--json']));
    expect(result.code).toBe(3);
    expect(result.json.error.code).toBe('NOT_AN_APPROVER');
    expect(H.entraMembers()).toContain(upnOf('carol'));
  });

  test('revoking a standing (break-glass) member: STANDING_MEMBER, the member stays', async () => {
    const H = h();
    const result = await H.expectNoChange(() => H.run('bob', ['revoke', '--user', upnOf('breakglass'), '--json']));
    expect(result.code).toBe(3);
    expect(result.json.error.code).toBe('STANDING_MEMBER');
    expect(H.entraMembers()).toEqual([upnOf('breakglass')]);
  });
});

describe('the config file', () => {
  async function writeConfig(H: Harness, name: string, edit: (config: any) => void | string): Promise<string> {
    const config = JSON.parse(await readFile(H.emu.configFile, 'utf8'));
    const replaced = edit(config);
    const file = path.join(H.root, name);
    await writeFile(file, typeof replaced === 'string' ? replaced : JSON.stringify(config, null, 2));
    return file;
  }

  test('missing: exit 2 CONFIG_MISSING naming the file and how to make one; nothing is sent', async () => {
    const H = h();
    const file = path.join(H.root, 'absent', 'config.json');
    const result = await H.expectNoChange(async () => {
      const mark = H.mark();
      const run = await H.run('alice', ['status', '--json'], { env: { OCIACCESS_CONFIG: file } });
      expect(H.requestsSince(mark)).toEqual([]);
      return run;
    });
    expect(result.code).toBe(2);
    expect(result.json.error).toEqual({
      code: 'CONFIG_MISSING',
      message: `No config file at ${file}.`,
      hint: 'Run `ociaccess init`, pass --config FILE, or set OCIACCESS_CONFIG.',
    });
  });

  test('--config pointing at a missing file wins over OCIACCESS_CONFIG', async () => {
    const H = h();
    const file = path.join(H.root, 'elsewhere.json');
    const result = await H.expectNoChange(() => H.run('alice', ['--config', file, 'status', '--json']));
    expect(result.code).toBe(2);
    expect(result.json.error.message).toBe(`No config file at ${file}.`);
  });

  test.each([
    ['an unknown key', (c: any) => void (c.groups[0].aprovers = [upnOf('bob')]), 'groups[0]: unknown key "aprovers"'],
    ['a misspelt top-level key', (c: any) => void (c.defaultGrup = 'x'), '(top level): unknown key "defaultGrup"'],
    [
      'a wrong type',
      (c: any) => void (c.groups[0].maxHours = '8'),
      'groups[0].maxHours: Invalid input: expected number, received string',
    ],
    ['a value out of range', (c: any) => void (c.sweep = { concurrency: 0 }), 'sweep.concurrency'],
    [
      'a bad UPN',
      (c: any) => void (c.groups[0].approvers = ['bob']),
      'groups[0].approvers[0]: must be a user principal name',
    ],
  ])('invalid (%s): exit 2 CONFIG_INVALID naming the field; nothing is sent', async (_name, edit, named) => {
    const H = h();
    const file = await writeConfig(H, 'invalid.json', edit);
    const result = await H.expectNoChange(async () => {
      const mark = H.mark();
      const run = await H.run('bob', ['list', '--pending', '--json'], { env: { OCIACCESS_CONFIG: file } });
      expect(H.requestsSince(mark)).toEqual([]);
      return run;
    });
    expect(result.code).toBe(2);
    expect(result.json.error.code).toBe('CONFIG_INVALID');
    expect(result.json.error.message).toContain(named);
    expect(result.json.error.hint).toContain('docs/configuration.md');
  });

  test('not JSON: exit 2 CONFIG_INVALID saying so', async () => {
    const H = h();
    const file = await writeConfig(H, 'broken.json', () => '{ "version": 1, ');
    const result = await H.expectNoChange(() => H.run('alice', ['status'], { env: { OCIACCESS_CONFIG: file } }));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: Config file .*broken\.json is not valid JSON: .*\[CONFIG_INVALID\]/);
  });
});
