/**
 * `init`: every question as a flag (non-interactive), the missing ones named
 * together, the group looked up by name when signed in, validation, 0600,
 * no overwrite without --force, and the wizard through a scripted prompter.
 * The config it writes for the emulator passes `doctor`.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { actorContext, CapturedStream } from '../../src/actor-context.js';
import { main } from '../../src/cli/main.js';
import { SEED } from '../../src/emulator/seed.js';
import { completeDeviceCode } from '../../src/emulator/entra/index.js';
import { upnOf, userCodeIn, useHarness, type Harness } from '../support/harness.js';
import { scriptedPrompter } from '../support/scripted-prompter.js';

const h = useHarness({ logins: ['alice'] });

/** Flags that describe the emulator's tenant, as an administrator would type them. */
function emulatorFlags(H: Harness): string[] {
  return [
    '--tenant',
    SEED.tenantId,
    '--client-id',
    SEED.cliAppId,
    '--authority-host',
    H.emu.baseUrl,
    '--graph-url',
    H.emu.baseUrl,
    '--ca-file',
    H.emu.caFile,
    '--requesters',
    `${upnOf('alice')},${upnOf('bob')}`,
    '--approvers',
    upnOf('bob'),
    '--standing',
    upnOf('breakglass'),
    '--oci-domain-url',
    H.emu.baseUrl,
    '--oci-config',
    H.emu.ociConfigFile,
    '--service-principal',
    SEED.ociServicePrincipalId,
    '--job',
    SEED.syncJobId,
    '--automation-client-id',
    SEED.automationAppId,
    '--automation-secret-file',
    H.emu.automationSecretFile,
  ];
}

/** The flags without these options and their values. */
const withoutFlags = (flags: string[], drop: string[]) =>
  flags.filter((_v, i, all) => !drop.includes(all[i]!) && !drop.includes(all[i - 1]!));

const target = (H: Harness, name: string) => path.join(H.root, `init-${name}`, 'config.json');

test('without a terminal, every missing required flag is named at once (exit 2), and nothing is written', async () => {
  const H = h();
  const file = target(H, 'missing');
  const result = await H.run('carol', ['--config', file, 'init', '--json']);
  expect(result.code).toBe(2);
  expect(result.json.error.code).toBe('MISSING_FLAGS');
  expect(result.json.error.message).toBe(
    'init needs --tenant, --client-id, --requesters, --approvers, --oci-domain-url, --oci-config (there is no terminal to ask on).',
  );
  await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('with flags: writes a valid config, mode 0600, prints the path; doctor then passes on it', async () => {
  const H = h();
  // Graph shows the provisioning job to a person only with an application-admin role (doctor.test.ts does the same).
  await H.control(`users/${SEED.users.alice}/roles`, { add: ['Cloud Application Administrator'] });
  const file = target(H, 'flags');
  const result = await H.run('carol', [
    '--config',
    file,
    'init',
    ...emulatorFlags(H),
    '--group-id',
    SEED.tempGroupId,
    '--max-hours',
    '4',
    '--auto-approve-hours',
    '1',
  ]);
  expect(result.code).toBe(0);
  expect(result.stdout).toBe(`${file}\n`);
  expect(result.stderr).toContain(`Wrote ${file} (mode 0600).`);
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  const config = JSON.parse(await readFile(file, 'utf8'));
  expect(config).toMatchObject({
    version: 1,
    tenantId: SEED.tenantId,
    clientId: SEED.cliAppId,
    cloud: { authorityHost: H.emu.baseUrl, graphBaseUrl: H.emu.baseUrl },
    tls: { caFile: H.emu.caFile },
    automation: { clientId: SEED.automationAppId, clientSecretFile: H.emu.automationSecretFile },
    defaultGroup: 'OCI-Temp-Admins',
    groups: [
      {
        name: 'OCI-Temp-Admins',
        entraGroupId: SEED.tempGroupId,
        ociGroupName: 'OCI-Temp-Admins',
        maxHours: 4,
        defaultHours: 2,
        eligibleRequesters: [upnOf('alice'), upnOf('bob')],
        approvers: [upnOf('bob')],
        standingMembers: [upnOf('breakglass')],
        autoApproval: { maxHours: 1, requesters: [] },
      },
    ],
    oci: { domainUrl: H.emu.baseUrl, configFile: H.emu.ociConfigFile, profile: 'DEFAULT' },
    provisioning: { servicePrincipalId: SEED.ociServicePrincipalId, jobId: SEED.syncJobId, provisionOnDemand: false },
  });
  // The written config works: alice (signed in to this tenant and app) and the automation both pass doctor.
  const user = await H.run('alice', ['--config', file, 'doctor', '--json']);
  expect(user.json.summary).toEqual({ pass: 14, warn: 0, fail: 0, skip: 0 });
  const app = await H.run('cron', ['--config', file, 'doctor', '--as', 'app', '--json']);
  expect(app.code).toBe(0);
});

test('signed in, the group is looked up by name; not signed in, --group-id is required', async () => {
  const H = h();
  const file = target(H, 'lookup');
  const found = await H.run('alice', ['--config', file, 'init', ...emulatorFlags(H), '--group', 'OCI-Temp-Admins']);
  expect(found.code).toBe(0);
  expect(found.stderr).toContain(`Found the Entra group "OCI-Temp-Admins": ${SEED.tempGroupId}.`);
  expect(JSON.parse(await readFile(file, 'utf8')).groups[0].entraGroupId).toBe(SEED.tempGroupId);

  const unknown = await H.run('alice', [
    '--config',
    target(H, 'unknown'),
    'init',
    ...emulatorFlags(H),
    '--group',
    'No-Such-Group',
    '--json',
  ]);
  expect(unknown.code).toBe(2);
  expect(unknown.json.error).toMatchObject({
    code: 'GROUP_NOT_FOUND',
    message: 'No Entra group is called "No-Such-Group".',
  });

  const anonymous = await H.run('carol', ['--config', target(H, 'anonymous'), 'init', ...emulatorFlags(H), '--json']);
  expect(anonymous.code).toBe(2);
  expect(anonymous.json.error.code).toBe('MISSING_FLAGS');
  expect(anonymous.json.error.message).toContain('init needs --group-id');
});

describe("the backend: read from the group's PIM policy when signed in", () => {
  /** The emulator's flags without the people lists (a pim group may leave them out). */
  const withoutLists = (H: Harness) => withoutFlags(emulatorFlags(H), ['--requesters', '--approvers']);
  /** `init` run by `who`, writing `file`. */
  const runInit = (H: Harness, who: 'alice' | 'carol' | 'dave', file: string, flags: string[]) =>
    H.run(who, ['--config', file, 'init', ...flags]);

  test('PIM governs the group: init writes "backend": "pim", prints the policy, and doctor passes on it', async () => {
    const H = h();
    const file = target(H, 'pim-detected');
    const result = await runInit(H, 'alice', file, [
      ...withoutLists(H),
      '--group',
      SEED.pimGroupName,
      '--backend',
      'pim',
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      `PIM for Groups governs "${SEED.pimGroupName}" (at most 8 h, approval by 2 approver(s), justification required): writing the pim backend`,
    );
    const group = JSON.parse(await readFile(file, 'utf8')).groups[0];
    expect(group).toMatchObject({
      entraGroupId: SEED.pimGroupId,
      backend: 'pim',
      eligibleRequesters: [],
      approvers: [],
    });
    const doctor = await H.run('alice', ['--config', file, 'doctor', '--json']);
    expect(doctor.json.checks.find((c: { id: string }) => c.id === 'pim-policy')).toMatchObject({ status: 'pass' });

    // Left out, the backend is detected the same way (the lists given are kept for a switch back to records).
    const detected = await runInit(H, 'alice', target(H, 'pim-auto'), [
      ...emulatorFlags(H),
      '--group',
      SEED.pimGroupName,
    ]);
    expect(detected.code).toBe(0);
    expect(JSON.parse(await readFile(target(H, 'pim-auto'), 'utf8')).groups[0].backend).toBe('pim');
  });

  test('--backend records for a group PIM governs is refused (exit 3): the sweep would remove what PIM activates', async () => {
    const H = h();
    const file = target(H, 'pim-as-records');
    const result = await runInit(H, 'alice', file, [
      ...emulatorFlags(H),
      '--group',
      SEED.pimGroupName,
      '--backend',
      'records',
      '--json',
    ]);
    expect(result.code).toBe(3);
    expect(result.json.error.code).toBe('PIM_GOVERNS_GROUP');
    expect(result.json.error.hint).toContain('the sweep would remove every member PIM activates');
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a group PIM does not govern: records by default, --backend pim refused (exit 3)', async () => {
    const H = h();
    const file = target(H, 'records-detected');
    const records = await runInit(H, 'alice', file, [...emulatorFlags(H), '--group', 'OCI-Temp-Admins']);
    expect(records.code).toBe(0);
    expect(records.stderr).toContain('PIM for Groups does not govern "OCI-Temp-Admins": writing the records backend.');
    expect(JSON.parse(await readFile(file, 'utf8')).groups[0].backend).toBeUndefined();

    const refused = await runInit(H, 'alice', target(H, 'records-as-pim'), [
      ...withoutLists(H),
      '--group',
      'OCI-Temp-Admins',
      '--backend',
      'pim',
      '--json',
    ]);
    expect(refused.code).toBe(3);
    expect(refused.json.error).toMatchObject({
      code: 'PIM_NOT_GOVERNED',
      message: 'PIM for Groups does not govern "OCI-Temp-Admins", so it cannot use the pim backend.',
    });
    await expect(stat(target(H, 'records-as-pim'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('nobody signed in: --backend pim is written as given, without the people lists; left out, records, said unchecked', async () => {
    const H = h();
    const file = target(H, 'pim-anonymous');
    const result = await runInit(H, 'carol', file, [
      ...withoutLists(H),
      '--group',
      SEED.pimGroupName,
      '--group-id',
      SEED.pimGroupId,
      '--backend',
      'pim',
    ]);
    expect(result.code).toBe(0);
    expect(JSON.parse(await readFile(file, 'utf8')).groups[0]).toMatchObject({ backend: 'pim', approvers: [] });

    const unchecked = await runInit(H, 'carol', target(H, 'unchecked'), [
      ...emulatorFlags(H),
      '--group-id',
      SEED.tempGroupId,
    ]);
    expect(unchecked.code).toBe(0);
    expect(unchecked.stderr).toContain(
      'was not checked: writing the records backend (pass --backend pim if PIM governs it',
    );

    // Without --backend pim the lists are still required.
    const missing = await runInit(H, 'carol', target(H, 'no-lists'), [
      ...withoutLists(H),
      '--group-id',
      SEED.tempGroupId,
      '--json',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.json.error.message).toBe('init needs --requesters, --approvers (there is no terminal to ask on).');
  });

  test('a tenant that has not consented to reading PIM policies: a warning, and the records backend, unchecked', async () => {
    const H = h();
    const app = H.emu.world.apps.get(SEED.cliAppId)!;
    const consented = app.delegatedPermissions;
    app.delegatedPermissions = consented.filter((p) => p !== 'RoleManagementPolicy.Read.AzureADGroup');
    try {
      // dave signs in with a records-only config, so his sign-in asks for nothing the tenant refuses.
      const recordsOnly = target(H, 'records-only');
      await runInit(H, 'carol', recordsOnly, [...emulatorFlags(H), '--group-id', SEED.tempGroupId]);
      const login = await H.run('dave', ['--config', recordsOnly, 'login'], {
        during: async (stderr) => {
          for (let tries = 0; tries < 1500 && !userCodeIn(stderr.text); tries += 1)
            await new Promise((resolve) => setTimeout(resolve, 20));
          completeDeviceCode(H.emu.world, userCodeIn(stderr.text)!, upnOf('dave'));
        },
      });
      expect(login.code).toBe(0);
      const file = target(H, 'no-pim-consent');
      const result = await runInit(H, 'dave', file, [...emulatorFlags(H), '--group', SEED.pimGroupName]);
      expect(result.code).toBe(0);
      expect(result.stderr).toContain(`warning: Could not read the PIM for Groups policy of "${SEED.pimGroupName}"`);
      expect(result.stderr).toContain('RoleManagementPolicy.Read.AzureADGroup');
      expect(JSON.parse(await readFile(file, 'utf8')).groups[0].backend).toBeUndefined();
    } finally {
      app.delegatedPermissions = consented;
    }
  });
});

test("init's lookup asks for no more than a requester's sign-in did: a tenant consenting only to those finds the group", async () => {
  const H = h();
  const app = H.emu.world.apps.get(SEED.cliAppId)!;
  const consented = app.delegatedPermissions;
  // A least-privilege tenant: a requester's permissions (Group.Read.All included) and what sign-in needs.
  app.delegatedPermissions = [
    'openid',
    'profile',
    'offline_access',
    'User.Read',
    'User.ReadWrite',
    'User.Read.All',
    'Group.Read.All',
    // The emulator's config also lists a pim group: its requesters activate there, so these are a requester's too.
    'RoleManagementPolicy.Read.AzureADGroup',
    'PrivilegedEligibilitySchedule.Read.AzureADGroup',
    'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
  ];
  try {
    expect((await H.login('dave')).code).toBe(0);
    const file = target(H, 'least-privilege');
    const found = await H.run('dave', ['--config', file, 'init', ...emulatorFlags(H), '--group', 'OCI-Temp-Admins']);
    expect(found.code).toBe(0);
    expect(found.stderr).toContain(`Found the Entra group "OCI-Temp-Admins": ${SEED.tempGroupId}.`);
    const daveTokens = [...H.emu.world.tokens.values()].filter((t) => t.userId === SEED.users.dave);
    expect(daveTokens.length).toBeGreaterThan(0);
    for (const token of daveTokens) {
      expect(token.scopes).not.toContain('GroupMember.ReadWrite.All');
      expect(token.scopes).not.toContain('Synchronization.ReadWrite.All');
    }
  } finally {
    app.delegatedPermissions = consented;
  }
});

test('an existing file is not overwritten without --force (exit 2, unchanged); with --force it is replaced', async () => {
  const H = h();
  const file = target(H, 'exists');
  await H.run('carol', ['--config', file, 'init', ...emulatorFlags(H), '--group-id', SEED.tempGroupId]);
  await writeFile(file, '{"keep": "me"}\n');
  const refused = await H.run('carol', ['--config', file, 'init', ...emulatorFlags(H), '--group-id', SEED.tempGroupId]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain(`error: ${file} already exists; init does not overwrite it. [CONFIG_EXISTS]`);
  expect(refused.stderr).toContain('hint: Pass --force to replace it');
  expect(await readFile(file, 'utf8')).toBe('{"keep": "me"}\n');
  const forced = await H.run('carol', [
    '--config',
    file,
    'init',
    ...emulatorFlags(H),
    '--group-id',
    SEED.tempGroupId,
    '--force',
  ]);
  expect(forced.code).toBe(0);
  expect(JSON.parse(await readFile(file, 'utf8')).version).toBe(1);
});

test.each([
  [['--tenant', 'contoso'], '--tenant "contoso": must be a GUID'],
  [['--approvers', 'bob'], '--approvers "bob": "bob" is not a user principal name'],
  [['--default-hours', '9'], '--default-hours "9": must be at most 8'],
  [['--oci-domain-url', 'http://idcs.example'], '--oci-domain-url "http://idcs.example": must be an https:// URL'],
  [['--auto-approve-hours', '30'], '--auto-approve-hours "30": must be at most 8'],
])('a bad value is a usage error naming the flag: %j', async (extra, message) => {
  const H = h();
  const file = target(H, 'bad');
  const argv = [...emulatorFlags(H), '--group-id', SEED.tempGroupId];
  // Later flags win in commander, so the bad value replaces the good one.
  const result = await H.run('carol', ['--config', file, 'init', ...argv, ...extra, '--json']);
  expect(result.code).toBe(2);
  expect(result.json.error.message).toContain(message);
  await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('--cloud takes only the known clouds (commander checks the choice, exit 2)', async () => {
  const H = h();
  const result = await H.run('carol', ['--config', target(H, 'mars'), 'init', '--cloud', 'mars']);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain(
    "argument 'mars' is invalid. Allowed choices are public, usgov, usgov-dod, china, custom.",
  );
});

test('--cloud usgov picks the US Government hosts; --dry-run prints the config and writes nothing', async () => {
  const H = h();
  const file = target(H, 'dry');
  const flags = withoutFlags(emulatorFlags(H), ['--authority-host', '--graph-url']);
  const result = await H.run('carol', [
    '--config',
    file,
    'init',
    ...flags,
    '--cloud',
    'usgov',
    '--group-id',
    SEED.tempGroupId,
    '--dry-run',
  ]);
  expect(result.code).toBe(0);
  expect(JSON.parse(result.stdout).cloud).toEqual({
    authorityHost: 'https://login.microsoftonline.us',
    graphBaseUrl: 'https://graph.microsoft.us',
  });
  await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('the wizard: asks each question on a terminal, offers the defaults, looks the group up, writes the file', async () => {
  const H = h();
  const file = target(H, 'wizard');
  const prompter = scriptedPrompter([
    [/Which identity provider/, 'entra'],
    [/tenant/, SEED.tenantId],
    [/client\) id/, SEED.cliAppId],
    [/Which Microsoft cloud/, 'custom'],
    [/authority host/, H.emu.baseUrl],
    [/Graph base URL/, H.emu.baseUrl],
    [/Extra CA/, H.emu.caFile],
    [/Entra group that grants/, ''],
    [/OCI group it is provisioned to/, ''],
    [/Who may request/, `${upnOf('alice')}, ${upnOf('carol')}`],
    [/Who may approve/, upnOf('bob')],
    [/Break-glass/, ''],
    [/Longest grant/, '6'],
    [/Default grant/, ''],
    [/Approve short requests automatically/, true],
    [/Auto-approve requests of at most/, '1'],
    [/Only for these requesters/, upnOf('alice')],
    [/OCI identity domain URL/, H.emu.baseUrl],
    [/OCI config file/, H.emu.ociConfigFile],
    [/OCI config profile/, ''],
    [/service principal/, SEED.ociServicePrincipalId],
    [/Provisioning job id/, SEED.syncJobId],
    [/rule id/, SEED.syncRuleId],
    [/Provision each change/, true],
    [/automation app that runs sweep/, SEED.automationAppId],
    [/automation app's credential/, 'secret-env'],
    [/Environment variable/, ''],
  ]);
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const alice = H.actor('alice');
  const code = await main(['--config', file, 'init'], actorContext({ env: alice.env, stdout, stderr, prompter }));
  expect(stderr.text).toContain(`Found the Entra group "OCI-Temp-Admins": ${SEED.tempGroupId}.`);
  expect(code).toBe(0);
  expect(prompter.asked).toHaveLength(27);
  const config = JSON.parse(await readFile(file, 'utf8'));
  expect(config.groups[0]).toMatchObject({
    name: 'OCI-Temp-Admins',
    entraGroupId: SEED.tempGroupId,
    maxHours: 6,
    defaultHours: 2,
    eligibleRequesters: [upnOf('alice'), upnOf('carol')],
    autoApproval: { maxHours: 1, requesters: [upnOf('alice')] },
  });
  expect(config.provisioning).toEqual({
    servicePrincipalId: SEED.ociServicePrincipalId,
    jobId: SEED.syncJobId,
    ruleId: SEED.syncRuleId,
    provisionOnDemand: true,
  });
  expect(config.automation).toEqual({ clientId: SEED.automationAppId, clientSecretEnv: 'OCIACCESS_CLIENT_SECRET' });
  expect(config.oci.profile).toBe('DEFAULT');
});

test('the wizard without a sign-in: declining to sign in asks for the group id instead', async () => {
  const H = h();
  const file = target(H, 'wizard-anonymous');
  const flags = [...emulatorFlags(H), '--max-hours', '8', '--default-hours', '2', '--oci-profile', 'DEFAULT'];
  const prompter = scriptedPrompter([
    [/Entra group that grants/, 'OCI-Temp-Admins'],
    [/OCI group it is provisioned to/, ''],
    [/Approve short requests automatically/, false],
    [/rule id/, ''],
    [/Provision each change/, false],
    [/Sign in now to look up "OCI-Temp-Admins"/, false],
    [/Object id of the Entra group "OCI-Temp-Admins"/, SEED.tempGroupId],
  ]);
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const code = await main(
    ['--config', file, 'init', ...flags],
    actorContext({ env: H.actor('carol').env, stdout, stderr, prompter }),
  );
  expect(stderr.text).not.toContain('error');
  expect(code).toBe(0);
  expect(prompter.asked.some((m) => /tenant/.test(m))).toBe(false); // answered by flags, not asked
  expect(JSON.parse(await readFile(file, 'utf8')).groups[0]).toMatchObject({
    entraGroupId: SEED.tempGroupId,
    autoApproval: null,
  });
});
