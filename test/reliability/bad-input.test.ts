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
 *   exact chmod that fixes it, and works once that is run.
 */
import { jest } from '@jest/globals';
import { chmod, lstat, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SEED } from '../../src/emulator/seed.js';
import { startRig, upnOf, type Machine, type Rig } from './support/rig.js';
import { isWrite } from './support/writes.js';

jest.setTimeout(300_000);

let rig: Rig;
beforeAll(async () => {
  rig = await startRig({ logins: ['alice', 'bob'] });
});
afterAll(() => rig?.stop());
beforeEach(() => rig.resetTenant());

const STATE = 'state.json';

/** What every "refused" answer looks like: exit code, `error: … [CODE]`, and a hint line. */
function expectRefusal(result: { code: number; stderr: string }, code: string, exit: number): void {
  expect({ exit: result.code, line: new RegExp(`^error: [\\s\\S]+ \\[${code}\\]$`, 'm').test(result.stderr), hint: /^hint: \S/m.test(result.stderr), stderr: result.stderr })
    .toEqual({ exit, line: true, hint: true, stderr: result.stderr });
}

async function backups(home: string): Promise<string[]> {
  return (await readdir(home)).filter((name) => name.startsWith(`${STATE}.corrupt-`)).sort();
}

describe('bad input: a damaged state file', () => {
  const valid = () => ({ version: 1, requests: {}, decisions: {}, sweep: { firstSeen: {}, pendingRemovals: {}, failedRemovals: {} } });
  const cases: { label: string; bytes: () => string; code: string }[] = [
    { label: 'corrupt (not JSON)', bytes: () => '{"version":1,"requests":{}, oops', code: 'STATE_CORRUPT' },
    { label: 'truncated (a write cut short)', bytes: () => JSON.stringify(valid(), null, 2).slice(0, 40), code: 'STATE_CORRUPT' },
    { label: 'empty', bytes: () => '', code: 'STATE_CORRUPT' },
    { label: 'of a newer version', bytes: () => JSON.stringify({ ...valid(), version: 2 }), code: 'STATE_VERSION' },
    { label: 'of a version no release writes', bytes: () => JSON.stringify({ ...valid(), version: '1' }), code: 'STATE_VERSION' },
    { label: 'of the wrong shape', bytes: () => JSON.stringify({ ...valid(), sweep: { firstSeen: [] } }), code: 'STATE_CORRUPT' },
  ];

  it.each(cases)('$label: clear error, the file kept byte for byte and backed up once, never overwritten', async ({ bytes, code }) => {
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
    expect(rig.members()).toContain(upnOf('dave'));
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
  });

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
    { label: 'a misspelt key in a group', edit: (c) => { c.groups[0].aprovers = c.groups[0].approvers; delete c.groups[0].approvers; }, names: 'unknown key "aprovers"' },
    { label: 'an unknown top-level key', edit: (c) => { c.automaton = c.automation; }, names: 'unknown key "automaton"' },
    { label: 'a number given as a string', edit: (c) => { c.groups[0].maxHours = '8'; }, names: 'groups[0].maxHours' },
    { label: 'a list given as a string', edit: (c) => { c.groups[0].standingMembers = upnOf('breakglass'); }, names: 'groups[0].standingMembers' },
    { label: 'a secret written into the config', edit: (c) => { c.automation.clientSecret = 'not-here'; }, names: 'unknown key "clientSecret"' },
  ];

  it.each(cases)('$label: refused naming it (exit 2), nothing written, nothing sent', async ({ edit, names }) => {
    const config = JSON.parse(await readFile(rig.emu.configFile, 'utf8'));
    edit(config);
    const file = path.join(rig.root, `config-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify(config), { mode: 0o600 });
    for (const [who, argv] of [['cron', ['sweep']], ['alice', ['request', '--hours', '1', '--justification', 'x']]] as const) {
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
      id, userPrincipalName: upn, displayName: name, mail: upn, accountEnabled: true, directoryRoles: new Set(), extensions: new Map(),
    });
    return upn;
  }
  const fakeAlice = '\u0430lice'; // "аlice"
  const fakeBob = 'b\u043eb'; // "bоb"

  it('odd casing names the same person; a look-alike names nobody (or someone else)', async () => {
    const alice = await rig.machine('alice');
    const bob = await rig.machine('bob');
    await rig.run(bob, ['approve', (await rig.run(alice, ['request', '--hours', '2', '--justification', 'case'])).stdout.trim(), '--yes']);
    expect(rig.members()).toContain(upnOf('alice'));
    const lookAlike = await rig.run(bob, ['revoke', '--user', `${fakeAlice}@${SEED.domain}`]);
    expectRefusal(lookAlike, 'USER_NOT_FOUND', 3);
    expect(rig.members()).toContain(upnOf('alice'));
    const shouting = await rig.run(bob, ['revoke', '--user', upnOf('alice').toUpperCase()]);
    expect([0, 6]).toContain(shouting.code);
    expect(rig.members()).not.toContain(upnOf('alice'));
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

    expectRefusal(await rig.run(fakeAliceMachine, ['request', '--hours', '1', '--justification', 'let me in']), 'NOT_ELIGIBLE', 3);
    const id = (await rig.run(alice, ['request', '--hours', '2', '--justification', 'real one'])).stdout.trim();
    expectRefusal(await rig.run(fakeBobMachine, ['approve', id, '--yes']), 'NOT_AN_APPROVER', 3);
    expect(rig.members()).not.toContain(upnOf('alice'));

    // The look-alike approver writes an "approval" on its own object anyway, and someone adds both by hand.
    const forged = JSON.stringify([{ r: id, u: SEED.users.alice, g: SEED.tempGroupId, d: 'a', a: Math.floor(rig.emu.world.now() / 1000), e: Math.floor(rig.emu.world.now() / 1000) + 7200, h: 2 }]);
    rig.emu.world.users.get('88888888-8888-4888-8888-888888888888')!.extensions.set('com.ociaccess.decisions', {
      extensionName: 'com.ociaccess.decisions', creatorAppId: SEED.cliAppId, properties: { v: 1, records: forged },
    });
    for (const who of [upnOf('alice'), aliceLike]) await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: who });
    const sweep = await rig.run(cron, ['sweep', '--json']);
    expect([0, 6]).toContain(sweep.code);
    expect(rig.members()).toEqual([upnOf('breakglass')]);
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
    expect(rig.members()).toEqual([upnOf('alice'), upnOf('breakglass')]); // "BREAKGLASS@…" is breakglass
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
    { label: 'the token cache file', target: (m: Machine) => path.join(m.home, 'auth', 'msal-cache.json'), mode: 0o644, fix: '600' },
    { label: 'the token cache directory', target: (m: Machine) => path.join(m.home, 'auth'), mode: 0o750, fix: '700' },
  ])('$label readable by others is refused before any sign-in is used, with the chmod that fixes it', async ({ target, mode, fix }) => {
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
  });
});

