/**
 * Bad input beyond the command-level cases (test/commands): damaged local
 * files, misspelt configuration, look-alike user names, and files other
 * people can read. What must hold:
 *
 * - a corrupt, truncated, unknown-version or symlinked state file gives a clear
 *   error (code, the file named, a hint) and is kept byte for byte, backed up
 *   once, and never overwritten — not by the failing command, not by the next;
 * - a config with an unknown or mistyped key is refused naming the key, before
 *   anything is written or sent;
 * - user names are matched case-insensitively but never across look-alike
 *   characters: "аlice" (Cyrillic а) is someone else, everywhere;
 * - a state directory or token cache that others can read is refused with the
 *   exact chmod that fixes it, and works once that is run;
 * - files that hold authority: a config others can write (or in a directory
 *   others can write), a secret or key others can read, a state directory
 *   someone else owns are refused with the chmod/chown that fixes them;
 * - errors never print the config's content, and quote at most 80 characters
 *   of anything typed;
 * - emulator.controlUrl (it sets the CLI's clock) counts only in the
 *   emulator's own config, over https on loopback, and never sets time back.
 */
import { jest } from '@jest/globals';
import { chmod, chown, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SEED } from '../../src/emulator/seed.js';
import { startHarness, upnOf, type Actor, type Harness } from '../support/harness.js';
import { isWrite } from './support/writes.js';

jest.setTimeout(300_000);

let rig: Harness;
beforeAll(async () => {
  rig = await startHarness({ logins: ['alice', 'bob'] });
});
afterAll(() => rig?.stop());
beforeEach(() => rig.resetTenant());

const STATE = 'state.json';

/** What every "refused" answer looks like: exit code, `error: … [CODE]`, and a hint line. */
function expectRefusal(result: { code: number; stderr: string }, code: string, exit: number): void {
  expect({
    exit: result.code,
    line: new RegExp(`^error: [\\s\\S]+ \\[${code}\\]$`, 'm').test(result.stderr),
    hint: /^hint: \S/m.test(result.stderr),
    stderr: result.stderr,
  }).toEqual({ exit, line: true, hint: true, stderr: result.stderr });
}

async function backups(home: string): Promise<string[]> {
  return (await readdir(home)).filter((name) => name.startsWith(`${STATE}.corrupt-`)).sort();
}

describe('bad input: a damaged state file', () => {
  const valid = () => ({
    version: 1,
    requests: {},
    decisions: {},
    sweep: { firstSeen: {}, pendingRemovals: {}, failedRemovals: {} },
  });
  const cases: { label: string; bytes: () => string; code: string }[] = [
    { label: 'corrupt (not JSON)', bytes: () => '{"version":1,"requests":{}, oops', code: 'STATE_CORRUPT' },
    {
      label: 'truncated (a write cut short)',
      bytes: () => JSON.stringify(valid(), null, 2).slice(0, 40),
      code: 'STATE_CORRUPT',
    },
    { label: 'empty', bytes: () => '', code: 'STATE_CORRUPT' },
    { label: 'of a newer version', bytes: () => JSON.stringify({ ...valid(), version: 2 }), code: 'STATE_VERSION' },
    {
      label: 'of a version no release writes',
      bytes: () => JSON.stringify({ ...valid(), version: '1' }),
      code: 'STATE_VERSION',
    },
    {
      label: 'of the wrong shape',
      bytes: () => JSON.stringify({ ...valid(), sweep: { firstSeen: [] } }),
      code: 'STATE_CORRUPT',
    },
  ];

  it.each(cases)(
    '$label: clear error, the file kept byte for byte and backed up once, never overwritten',
    async ({ bytes, code }) => {
      const cron = await rig.machine('cron');
      const alice = await rig.machine('alice');
      for (const machine of [cron, alice]) await writeFile(path.join(machine.home, STATE), bytes(), { mode: 0o600 });
      await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf('dave') });
      const mark = rig.mark();
      // The sweep reads the state before it changes anything: it stops, nothing is removed.
      for (let i = 0; i < 2; i += 1) {
        const result = await rig.run(cron, ['sweep']);
        expectRefusal(result, code, 1);
        expect(result.stderr).toContain(path.join(cron.home, STATE));
      }
      expect(rig.requestsSince(mark).filter(isWrite)).toEqual([]);
      expect(rig.entraMembers()).toContain(upnOf('dave'));
      // A command that writes the state refuses too.
      const request = await rig.run(alice, ['request', '--hours', '1', '--justification', 'bad state']);
      expectRefusal(request, code, 1);
      for (const machine of [cron, alice]) {
        expect(await readFile(path.join(machine.home, STATE), 'utf8')).toBe(bytes());
        const copies = await backups(machine.home);
        expect(copies).toHaveLength(1); // the same bad file read again is not copied again
        expect(await readFile(path.join(machine.home, copies[0]!), 'utf8')).toBe(bytes());
        expect((await lstat(path.join(machine.home, copies[0]!))).mode & 0o777).toBe(0o600);
      }
    },
  );

  it('symlinked: refused without following it; the link and its target stay as they are', async () => {
    const cron = await rig.machine('cron');
    const target = path.join(rig.root, 'someone-elses-file.json');
    const content = JSON.stringify(valid());
    await writeFile(target, content, { mode: 0o600 });
    await symlink(target, path.join(cron.home, STATE));
    const result = await rig.run(cron, ['sweep']);
    expectRefusal(result, 'STATE_SYMLINK', 1);
    expect(result.stderr).toContain(path.join(cron.home, STATE));
    expect(await readlink(path.join(cron.home, STATE))).toBe(target);
    expect(await readFile(target, 'utf8')).toBe(content);
  });
});

describe('bad input: a config with unknown or mistyped keys', () => {
  const cases: { label: string; edit: (config: any) => void; names: string }[] = [
    {
      label: 'a misspelt key in a group',
      edit: (c) => {
        c.groups[0].aprovers = c.groups[0].approvers;
        delete c.groups[0].approvers;
      },
      names: 'unknown key "aprovers"',
    },
    {
      label: 'an unknown top-level key',
      edit: (c) => {
        c.automaton = c.automation;
      },
      names: 'unknown key "automaton"',
    },
    {
      label: 'a number given as a string',
      edit: (c) => {
        c.groups[0].maxHours = '8';
      },
      names: 'groups[0].maxHours',
    },
    {
      label: 'a list given as a string',
      edit: (c) => {
        c.groups[0].standingMembers = upnOf('breakglass');
      },
      names: 'groups[0].standingMembers',
    },
    {
      label: 'a secret written into the config',
      edit: (c) => {
        c.automation.clientSecret = 'not-here';
      },
      names: 'unknown key "clientSecret"',
    },
  ];

  it.each(cases)('$label: refused naming it (exit 2), nothing written, nothing sent', async ({ edit, names }) => {
    const config = JSON.parse(await readFile(rig.emu.configFile, 'utf8'));
    edit(config);
    const file = path.join(rig.root, `config-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify(config), { mode: 0o600 });
    for (const [who, argv] of [
      ['cron', ['sweep']],
      ['alice', ['request', '--hours', '1', '--justification', 'x']],
    ] as const) {
      const machine = await rig.machine(who);
      const mark = rig.mark();
      const result = await rig.run(machine, [...argv], { env: { OCIACCESS_CONFIG: file } });
      expectRefusal(result, 'CONFIG_INVALID', 2);
      expect(result.stderr).toContain(names);
      expect(result.stderr).not.toContain('not-here');
      expect(rig.requestsSince(mark)).toEqual([]);
      expect((await readdir(machine.home)).filter((name) => name !== 'auth')).toEqual([]);
    }
  });
});

describe('bad input: look-alike Unicode and odd casing in user names', () => {
  /** Another account whose name looks like a seeded one: Cyrillic а (U+0430) or о (U+043E) for the Latin letter. */
  function addLookAlike(name: string, id: string): string {
    const upn = `${name}@${SEED.domain}`;
    rig.emu.world.users.set(id, {
      id,
      userPrincipalName: upn,
      displayName: name,
      mail: upn,
      accountEnabled: true,
      directoryRoles: new Set(),
      extensions: new Map(),
    });
    return upn;
  }
  const fakeAlice = '\u0430lice'; // "аlice"
  const fakeBob = 'b\u043eb'; // "bоb"

  it('odd casing names the same person; a look-alike names nobody (or someone else)', async () => {
    const alice = await rig.machine('alice');
    const bob = await rig.machine('bob');
    await rig.run(bob, [
      'approve',
      (await rig.run(alice, ['request', '--hours', '2', '--justification', 'case'])).stdout.trim(),
      '--yes',
    ]);
    expect(rig.entraMembers()).toContain(upnOf('alice'));
    const lookAlike = await rig.run(bob, ['revoke', '--user', `${fakeAlice}@${SEED.domain}`]);
    expectRefusal(lookAlike, 'USER_NOT_FOUND', 3);
    expect(rig.entraMembers()).toContain(upnOf('alice'));
    const shouting = await rig.run(bob, ['revoke', '--user', upnOf('alice').toUpperCase()]);
    expect([0, 6]).toContain(shouting.code);
    expect(rig.entraMembers()).not.toContain(upnOf('alice'));
  });

  it('a look-alike account can neither request nor approve, and is removed when added by hand', async () => {
    const aliceLike = addLookAlike(fakeAlice, '77777777-7777-4777-8777-777777777777');
    const bobLike = addLookAlike(fakeBob, '88888888-8888-4888-8888-888888888888');
    const fakeAliceMachine = await rig.machine('cron', 'fake-alice');
    const fakeBobMachine = await rig.machine('cron', 'fake-bob');
    expect((await rig.login(fakeAliceMachine, aliceLike)).code).toBe(0);
    expect((await rig.login(fakeBobMachine, bobLike)).code).toBe(0);
    const alice = await rig.machine('alice');
    const cron = await rig.machine('cron');

    expectRefusal(
      await rig.run(fakeAliceMachine, ['request', '--hours', '1', '--justification', 'let me in']),
      'NOT_ELIGIBLE',
      3,
    );
    const id = (await rig.run(alice, ['request', '--hours', '2', '--justification', 'real one'])).stdout.trim();
    expectRefusal(await rig.run(fakeBobMachine, ['approve', id, '--yes']), 'NOT_AN_APPROVER', 3);
    expect(rig.entraMembers()).not.toContain(upnOf('alice'));

    // The look-alike approver writes an "approval" on its own object anyway, and someone adds both by hand.
    const forged = JSON.stringify([
      {
        r: id,
        u: SEED.users.alice,
        g: SEED.tempGroupId,
        d: 'a',
        a: Math.floor(rig.emu.world.now() / 1000),
        e: Math.floor(rig.emu.world.now() / 1000) + 7200,
        h: 2,
      },
    ]);
    rig.emu.world.users.get('88888888-8888-4888-8888-888888888888')!.extensions.set('com.ociaccess.decisions', {
      extensionName: 'com.ociaccess.decisions',
      creatorAppId: SEED.cliAppId,
      properties: { v: 1, records: forged },
    });
    for (const who of [upnOf('alice'), aliceLike])
      await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: who });
    const sweep = await rig.run(cron, ['sweep', '--json']);
    expect([0, 6]).toContain(sweep.code);
    expect(rig.entraMembers()).toEqual([upnOf('breakglass')]);
  });

  it('config names in odd casing still match; a look-alike in the config matches nobody', async () => {
    const config = JSON.parse(await readFile(rig.emu.configFile, 'utf8'));
    config.groups[0].standingMembers = [upnOf('breakglass').toUpperCase()];
    config.groups[0].approvers = [upnOf('bob').replace('bob', 'BoB'), `${fakeBob}@${SEED.domain}`];
    const file = path.join(rig.root, 'config-casing.json');
    await writeFile(file, JSON.stringify(config), { mode: 0o600 });
    const env = { OCIACCESS_CONFIG: file };
    addLookAlike(fakeBob, '88888888-8888-4888-8888-888888888888');
    const alice = await rig.machine('alice');
    const bob = await rig.machine('bob');
    const cron = await rig.machine('cron');
    const id = (await rig.run(alice, ['request', '--hours', '2', '--justification', 'casing'], { env })).stdout.trim();
    expect((await rig.run(bob, ['approve', id, '--yes'], { env })).code).toBe(0); // "BoB" is bob
    const sweep = await rig.run(cron, ['sweep', '--json'], { env });
    expect([0, 6]).toContain(sweep.code);
    expect(rig.entraMembers()).toEqual([upnOf('alice'), upnOf('breakglass')]); // "BREAKGLASS@…" is breakglass
  });
});

describe('bad input: files other people can read', () => {
  it('a state directory readable by others is refused with the chmod that fixes it', async () => {
    const cron = await rig.machine('cron');
    expect([0, 6]).toContain((await rig.run(cron, ['sweep'])).code);
    await chmod(cron.home, 0o755);
    const mark = rig.mark();
    const refused = await rig.run(cron, ['sweep']);
    expectRefusal(refused, 'STATE_PERMISSIONS', 1);
    expect(rig.requestsSince(mark).filter(isWrite)).toEqual([]);
    const fix = /^hint: .*?(chmod 700 \S+)/m.exec(refused.stderr)?.[1];
    expect(fix).toBe(`chmod 700 ${cron.home}`);
    await chmod(cron.home, 0o700); // what the hint says
    expect([0, 6]).toContain((await rig.run(cron, ['sweep'])).code);
  });

  it.each([
    {
      label: 'the token cache file',
      target: (m: Actor) => path.join(m.home, 'auth', 'msal-cache.json'),
      mode: 0o644,
      fix: '600',
    },
    { label: 'the token cache directory', target: (m: Actor) => path.join(m.home, 'auth'), mode: 0o750, fix: '700' },
  ])(
    '$label readable by others is refused before any sign-in is used, with the chmod that fixes it',
    async ({ target, mode, fix }) => {
      const alice = await rig.machine('alice');
      expect((await rig.run(alice, ['status'])).code).toBe(0);
      await chmod(target(alice), mode);
      const mark = rig.mark();
      const refused = await rig.run(alice, ['status']);
      expectRefusal(refused, 'STATE_PERMISSIONS', 1);
      expect(refused.stderr).toContain(`chmod ${fix} ${target(alice)}`);
      expect(rig.requestsSince(mark).filter((e) => e.service !== 'control')).toEqual([]);
      await chmod(target(alice), fix === '600' ? 0o600 : 0o700);
      expect((await rig.run(alice, ['status'])).code).toBe(0);
    },
  );
});

/** A copy of the emulator's config with `edit` applied, written with `mode`; returns its path. */
async function configCopy(
  name: string,
  edit: (config: any) => void = () => undefined,
  mode = 0o600,
  dir = rig.root,
): Promise<string> {
  const config = JSON.parse(await readFile(rig.emu.configFile, 'utf8'));
  edit(config);
  const file = path.join(dir, `${name}-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(config, null, 2), { mode });
  await chmod(file, mode); // the umask may have narrowed it
  return file;
}

describe('bad input: files that hold authority', () => {
  it('a config file its group can write is refused everywhere (exit 2, the chmod in the hint), before anything is sent; fine once fixed', async () => {
    const file = await configCopy('group-writable', undefined, 0o664);
    for (const [who, argv] of [
      ['cron', ['sweep']],
      ['alice', ['status']],
    ] as const) {
      const machine = await rig.machine(who);
      const mark = rig.mark();
      const refused = await rig.run(machine, [...argv], { env: { OCIACCESS_CONFIG: file } });
      expectRefusal(refused, 'INSECURE_FILE_PERMISSIONS', 2);
      expect(refused.stderr).toContain(`config file ${file} is writable by other users (mode 0664)`);
      expect(refused.stderr).toMatch(new RegExp(`^hint: .*run: chmod go-w ${file}$`, 'm'));
      expect(rig.requestsSince(mark)).toEqual([]);
    }
    await chmod(file, 0o644); // what the hint's chmod go-w does: readable by others is fine, it holds no secret
    expect((await rig.run(await rig.machine('alice'), ['status'], { env: { OCIACCESS_CONFIG: file } })).code).toBe(0);
  });

  it('a config in a directory others can write is refused, naming the directory and its chmod', async () => {
    const dir = path.join(rig.root, 'shared-config-dir');
    await mkdir(dir);
    await chmod(dir, 0o777);
    const file = await configCopy('in-open-dir', undefined, 0o600, dir);
    const refused = await rig.run(await rig.machine('alice'), ['status'], { env: { OCIACCESS_CONFIG: file } });
    expectRefusal(refused, 'INSECURE_FILE_PERMISSIONS', 2);
    expect(refused.stderr).toContain(
      `The directory ${dir}, which holds the config file, is writable by other users (mode 0777)`,
    );
    expect(refused.stderr).toContain(`chmod go-w ${dir}`);
    await chmod(dir, 0o1777); // sticky, like /tmp: others cannot rename or remove the config
    expect((await rig.run(await rig.machine('alice'), ['status'], { env: { OCIACCESS_CONFIG: file } })).code).toBe(0);
  });

  it.each([
    {
      label: 'the automation client secret file, readable by all',
      file: () => rig.emu.automationSecretFile,
      mode: 0o644,
      what: 'automation client secret file',
    },
    {
      label: 'the automation client secret file, readable by its group',
      file: () => rig.emu.automationSecretFile,
      mode: 0o640,
      what: 'automation client secret file',
    },
    {
      label: 'the OCI API key file, readable by all',
      file: () => path.join(rig.emu.dir, 'oci-api-key.pem'),
      mode: 0o644,
      what: 'OCI API key file',
    },
    {
      label: 'the OCI config file, readable by all',
      file: () => rig.emu.ociConfigFile,
      mode: 0o644,
      what: 'OCI config file',
    },
  ])(
    '$label: the sweep is refused (exit 2, chmod 600 in the hint), nothing is removed; it runs once fixed',
    async ({ file, mode, what }) => {
      const cron = await rig.machine('cron');
      await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf('dave') });
      await chmod(file(), mode);
      try {
        const mark = rig.mark();
        const refused = await rig.run(cron, ['sweep']);
        expectRefusal(refused, 'INSECURE_FILE_PERMISSIONS', 2);
        expect(refused.stderr).toContain(`${what} ${file()} is readable by other users`);
        expect(refused.stderr).toMatch(new RegExp(`^hint: .*run: chmod 600 ${file()}$`, 'm'));
        expect(rig.requestsSince(mark).filter(isWrite)).toEqual([]);
        expect(rig.entraMembers()).toContain(upnOf('dave'));
      } finally {
        await chmod(file(), 0o600);
      }
      expect([0, 6]).toContain((await rig.run(cron, ['sweep'])).code);
      expect(rig.entraMembers()).not.toContain(upnOf('dave'));
    },
  );

  it('a state directory owned by another user is refused with the chown that fixes it, before anything is sent', async () => {
    const cron = await rig.machine('cron');
    const alice = await rig.machine('alice');
    const other = 4242;
    for (const machine of [cron, alice]) await chown(machine.home, other, other);
    for (const [machine, argv] of [
      [cron, ['sweep']],
      [alice, ['status']],
      [alice, ['audit', 'verify']],
    ] as const) {
      const mark = rig.mark();
      const refused = await rig.run(machine, [...argv]);
      expectRefusal(refused, 'STATE_DIR_NOT_OWNED', 1);
      expect(refused.stderr).toContain(`The state directory ${machine.home} is owned by another user (uid ${other}`);
      expect(refused.stderr).toContain(`sudo chown -R ${process.geteuid!()} ${machine.home}`);
      expect(rig.requestsSince(mark).filter((e) => e.service !== 'control')).toEqual([]);
    }
    // Running as that user (the uid comes from the context) is fine.
    expect((await rig.run(cron, ['sweep'], { uid: other })).code).not.toBe(1);
  });
});

describe('bad input: small leaks in errors', () => {
  it('a config with a secret pasted inline and a syntax error: the error gives line and column, never the content', async () => {
    const secret = 'Zx9~hunter2-VERY-SECRET-client-secret-value';
    const text = JSON.stringify(JSON.parse(await readFile(rig.emu.configFile, 'utf8')), null, 2).replace(
      '"clientSecretFile"',
      `"clientSecret": ${secret},\n    "clientSecretFile"`,
    );
    const file = path.join(rig.root, 'config-inline-secret.json');
    await writeFile(file, text, { mode: 0o600 });
    const line = text.slice(0, text.indexOf(secret)).split('\n').length;
    const column = text.indexOf(secret) - text.lastIndexOf('\n', text.indexOf(secret));
    for (const json of [false, true]) {
      const refused = await rig.run(await rig.machine('cron'), json ? ['--json', 'sweep'] : ['sweep'], {
        env: { OCIACCESS_CONFIG: file },
      });
      expect(refused.code).toBe(2);
      const shown = refused.stdout + refused.stderr;
      expect(shown).toContain(`line ${line}, column ${column}`);
      for (const part of [secret, 'Zx9', 'hunter2', 'clientSecret"']) expect(shown).not.toContain(part);
    }
  });

  const FIVE_MB = 'G'.repeat(5 * 1024 * 1024);
  it.each([
    {
      label: 'a 5 MB group name',
      argv: ['request', '--group', FIVE_MB, '--hours', '1', '--justification', 'x'],
      code: 'UNKNOWN_GROUP',
    },
    { label: 'a 5 MB --user', argv: ['revoke', '--user', FIVE_MB], code: 'INVALID_USER' },
    { label: 'a 5 MB --hours', argv: ['request', '--hours', FIVE_MB, '--justification', 'x'], code: 'INVALID_HOURS' },
    { label: 'a 5 MB request id', argv: ['approve', `r-${FIVE_MB}`], code: 'INVALID_REQUEST_ID' },
  ])('$label: the error quotes 80 characters and says how long it was (under 1 KB)', async ({ argv, code }) => {
    const alice = await rig.machine('alice');
    const result = await rig.run(alice, argv);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`[${code}]`);
    expect(result.stderr).toContain(`${'G'.repeat(78)}`);
    expect(result.stderr).toMatch(/…" \(\d+ characters\)/);
    expect(Buffer.byteLength(result.stdout + result.stderr)).toBeLessThan(1024);
  });

  it("a 5 MB unknown option or invalid choice (the parser's own messages) is cut the same way", async () => {
    const alice = await rig.machine('alice');
    for (const argv of [
      ['status', `--${FIVE_MB}`],
      ['doctor', '--as', FIVE_MB],
    ]) {
      const result = await rig.run(alice, argv);
      // The exit code with the head of stderr, so that a failure says what went wrong.
      expect({ code: result.code, stderr: result.stderr.slice(0, 600) }).toMatchObject({ code: 2 });
      expect(result.stderr).toMatch(/…' \(\d+ characters\)/);
      expect(Buffer.byteLength(result.stdout + result.stderr)).toBeLessThan(2048);
    }
  });
});

describe('bad input: emulator.controlUrl (it sets the CLI clock)', () => {
  const emulatorOrigin = () => new URL(rig.emu.baseUrl).origin;
  it.each([
    {
      label: 'in a config for the public cloud',
      edit: (c: any) => {
        c.cloud = { authorityHost: 'https://login.microsoftonline.com', graphBaseUrl: 'https://graph.microsoft.com' };
      },
      says: "honoured only in the emulator's own config",
    },
    {
      label: 'in a config whose cloud is another host',
      edit: (c: any) => {
        c.cloud.graphBaseUrl = 'https://graph.example.net';
      },
      says: "honoured only in the emulator's own config",
    },
    {
      label: 'over plain http',
      edit: (c: any) => {
        c.emulator.controlUrl = c.emulator.controlUrl.replace('https://', 'http://');
      },
      says: 'must be an https:// URL',
    },
    {
      label: 'on a host that is not this machine',
      edit: (c: any) => {
        c.emulator.controlUrl = 'https://clock.example.net/_emulator';
      },
      says: 'must be on this machine',
    },
  ])(
    '$label: refused at load (CONFIG_INVALID, exit 2) naming emulator.controlUrl, nothing asked of anyone',
    async ({ edit, says }) => {
      const file = await configCopy('control-url', edit);
      const mark = rig.mark();
      const refused = await rig.run(await rig.machine('alice'), ['status'], { env: { OCIACCESS_CONFIG: file } });
      expectRefusal(refused, 'CONFIG_INVALID', 2);
      expect(refused.stderr).toContain('emulator.controlUrl: ');
      expect(refused.stderr).toContain(says);
      expect(rig.requestsSince(mark)).toEqual([]);
      expect(emulatorOrigin()).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    },
  );

  it('a negative clock offset from the emulator is refused (EMULATOR_CLOCK_INVALID): its clock only moves forward', async () => {
    const cron = await rig.machine('cron');
    await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf('dave') });
    const offset = rig.emu.world.clockOffsetMs;
    rig.emu.world.clockOffsetMs = -3 * 3600_000;
    try {
      const mark = rig.mark();
      const refused = await rig.run(cron, ['sweep']);
      expectRefusal(refused, 'EMULATOR_CLOCK_INVALID', 5);
      expect(rig.requestsSince(mark).filter((e) => e.service !== 'control')).toEqual([]);
      expect(rig.entraMembers()).toContain(upnOf('dave'));
    } finally {
      rig.emu.world.clockOffsetMs = offset;
    }
    expect([0, 6]).toContain((await rig.run(cron, ['sweep'])).code);
  });

  it("the emulator's own config (as `ociaccess emulator` writes it) still works", async () => {
    expect((await rig.run(await rig.machine('alice'), ['status'])).code).toBe(0);
  });
});
