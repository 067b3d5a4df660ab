/**
 * `init --idp okta`: writes the `idp` section the loader accepts (and doctor
 * then passes on it, for a person and for the automation), names the missing
 * flags, refuses the other identity provider's flags and `--backend pim` by
 * name, and asks for the identity provider first in the wizard.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { actorContext, CapturedStream } from '../../src/actor-context.js';
import { main } from '../../src/cli/main.js';
import { SEED_OKTA } from '../../src/emulator/seed.js';
import { upnOf, useHarness, type Harness } from '../support/harness.js';
import { scriptedPrompter } from '../support/scripted-prompter.js';

const h = useHarness({ idp: 'okta', logins: ['alice'] });

/** Flags that describe the emulator's Okta org, as an administrator would type them. */
function oktaFlags(H: Harness): string[] {
  return [
    '--idp',
    'okta',
    '--org-url',
    H.emu.oktaOrgUrl,
    '--client-id',
    SEED_OKTA.nativeAppClientId,
    '--ca-file',
    H.emu.caFile,
    '--group-id',
    SEED_OKTA.tempGroupId,
    '--oci-group',
    SEED_OKTA.ociGroupName,
    '--requesters',
    `${upnOf('alice')},${upnOf('carol')}`,
    '--approvers',
    `${upnOf('bob')},${upnOf('carol')}`,
    '--standing',
    upnOf('breakglass'),
    '--oci-domain-url',
    H.emu.baseUrl,
    '--oci-config',
    H.emu.ociConfigFile,
    '--automation-client-id',
    SEED_OKTA.serviceAppClientId,
    '--automation-key',
    H.emu.oktaServiceKeyFile,
    '--automation-kid',
    SEED_OKTA.serviceAppKeyId,
    '--oci-app-id',
    SEED_OKTA.ociAppId,
  ];
}

const target = (H: Harness, name: string) => path.join(H.root, `init-okta-${name}`, 'config.json');

test('with flags: writes the Okta config (0600) the loader accepts, and doctor passes on it as a person and as the automation', async () => {
  const H = h();
  const file = target(H, 'flags');
  const result = await H.run('carol', ['--config', file, 'init', ...oktaFlags(H), '--json']);
  expect(result.stderr).not.toMatch(/error/i);
  expect(result.code).toBe(0);
  expect(result.json.configFile).toBe(file);
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  const config = JSON.parse(await readFile(file, 'utf8'));
  expect(config.idp).toEqual({
    type: 'okta',
    orgUrl: H.emu.oktaOrgUrl,
    clientId: SEED_OKTA.nativeAppClientId,
    automation: {
      clientId: SEED_OKTA.serviceAppClientId,
      privateKeyFile: H.emu.oktaServiceKeyFile,
      keyId: SEED_OKTA.serviceAppKeyId,
    },
    ociAppId: SEED_OKTA.ociAppId,
  });
  expect(config).not.toHaveProperty('tenantId');
  expect(config).not.toHaveProperty('provisioning');
  expect(config.groups[0]).toMatchObject({
    name: 'OCI-Temp-Admins',
    oktaGroupId: SEED_OKTA.tempGroupId,
    ociGroupName: SEED_OKTA.ociGroupName,
    approvers: [upnOf('bob'), upnOf('carol')],
  });
  expect(config.groups[0]).not.toHaveProperty('entraGroupId');

  const env = { OCIACCESS_CONFIG: file };
  const app = await H.run('cron', ['doctor', '--as', 'app', '--json'], { env });
  expect(app.json.checks.filter((c: { status: string }) => c.status !== 'pass')).toEqual([]);
  expect(app.code).toBe(0);
  // alice signed in to this org and app before the config was written: the same sign-in serves it.
  const person = await H.run('alice', ['doctor', '--json'], { env });
  expect(person.json.checks.filter((c: { status: string }) => ['fail', 'warn'].includes(c.status))).toEqual([]);
  expect(person.code).toBe(0);
});

test('without a terminal, the missing Okta flags are named at once (exit 2), and nothing is written', async () => {
  const H = h();
  const file = target(H, 'missing');
  const result = await H.run('carol', ['--config', file, 'init', '--idp', 'okta', '--json']);
  expect(result.code).toBe(2);
  expect(result.json.error.code).toBe('MISSING_FLAGS');
  expect(result.json.error.message).toBe(
    'init needs --org-url, --client-id, --group-id, --requesters, --approvers, --oci-domain-url, --oci-config (there is no terminal to ask on).',
  );
  await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('Entra-only flags and --backend pim are refused with okta, naming them; Okta-only flags with Entra', async () => {
  const H = h();
  const file = target(H, 'refused');
  const cases: [string[], string, string[]][] = [
    [
      [...oktaFlags(H), '--tenant', '22222222-2222-2222-2222-222222222222', '--service-principal', 'x'],
      '--tenant, --service-principal are for Entra ID, not --idp okta.',
      ['--tenant', '--service-principal'],
    ],
    [
      [...oktaFlags(H), '--automation-secret-env', 'SECRET'],
      '--automation-secret-env is for Entra ID, not --idp okta.',
      ['--automation-secret-env'],
    ],
    [
      [...oktaFlags(H), '--backend', 'pim'],
      '--backend pim is Entra PIM for Groups, which Okta does not have.',
      ['--backend'],
    ],
    [
      ['--idp', 'entra', '--org-url', H.emu.oktaOrgUrl, '--oci-app-id', SEED_OKTA.ociAppId],
      '--org-url, --oci-app-id are for Okta, not --idp entra.',
      ['--org-url', '--oci-app-id'],
    ],
  ];
  for (const [flags, message, named] of cases) {
    const result = await H.run('carol', ['--config', file, 'init', ...flags, '--json']);
    expect(result.code).toBe(2);
    expect(result.json.error).toMatchObject({ code: 'FLAG_NOT_FOR_IDP', message });
    expect(result.json.error.hint).toEqual(expect.any(String));
    expect(named.every((flag) => result.json.error.message.includes(flag))).toBe(true);
  }
  await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('an Okta flag implies okta without --idp; bad Okta ids and a group id given as --group are named', async () => {
  const H = h();
  const file = target(H, 'implied');
  const flags = oktaFlags(H).slice(2); // without --idp okta
  const dry = await H.run('carol', ['--config', file, 'init', ...flags, '--dry-run', '--json']);
  expect(dry.code).toBe(0);
  expect(dry.json.config.idp.type).toBe('okta');

  const badClient = await H.run('carol', ['--config', file, 'init', ...flags, '--client-id', 'my-app', '--json']);
  expect(badClient.code).toBe(2);
  expect(badClient.json.error).toMatchObject({
    code: 'INVALID_VALUE',
    message: expect.stringContaining('--client-id "my-app": must be an Okta client id'),
  });
  const groupAsName = await H.run('carol', [
    '--config',
    file,
    'init',
    ...flags,
    '--group',
    SEED_OKTA.tempGroupId,
    '--json',
  ]);
  expect(groupAsName.code).toBe(2);
  expect(groupAsName.json.error.message).toContain(
    "is an Okta group id: give the group's name here and its id as --group-id",
  );
  await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('the wizard asks for the identity provider first, then the Okta questions, and writes the file', async () => {
  const H = h();
  const file = target(H, 'wizard');
  const prompter = scriptedPrompter([
    [/Which identity provider/, 'okta'],
    [/Okta org URL/, H.emu.oktaOrgUrl],
    [/OIDC native app/, SEED_OKTA.nativeAppClientId],
    [/Extra CA/, H.emu.caFile],
    [/Okta group that grants/, ''],
    [/Id of the Okta group "OCI-Temp-Admins"/, SEED_OKTA.tempGroupId],
    [/OCI group Push Groups fills/, SEED_OKTA.ociGroupName],
    [/Who may request access \(Okta logins/, upnOf('alice')],
    [/Who may approve \(Okta logins/, upnOf('bob')],
    [/Break-glass/, upnOf('breakglass')],
    [/Longest grant/, ''],
    [/Default grant/, ''],
    [/Approve short requests automatically/, false],
    [/OCI identity domain URL/, H.emu.baseUrl],
    [/OCI config file/, H.emu.ociConfigFile],
    [/OCI config profile/, ''],
    [/API service app that runs sweep/, SEED_OKTA.serviceAppClientId],
    [/service app's private key/, H.emu.oktaServiceKeyFile],
    [/key's id \(kid\)/, ''],
    [/OCI IAM app in Okta/, ''],
  ]);
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const code = await main(
    ['--config', file, 'init'],
    actorContext({ env: H.actor('carol').env, stdout, stderr, prompter }),
  );
  expect(stderr.text).not.toMatch(/error/i);
  expect(code).toBe(0);
  expect(prompter.asked).toHaveLength(20);
  const config = JSON.parse(await readFile(file, 'utf8'));
  expect(config.idp).toEqual({
    type: 'okta',
    orgUrl: H.emu.oktaOrgUrl,
    clientId: SEED_OKTA.nativeAppClientId,
    automation: { clientId: SEED_OKTA.serviceAppClientId, privateKeyFile: H.emu.oktaServiceKeyFile },
  });
  expect(config.groups[0]).toMatchObject({
    name: 'OCI-Temp-Admins',
    oktaGroupId: SEED_OKTA.tempGroupId,
    maxHours: 8,
    defaultHours: 2,
    eligibleRequesters: [upnOf('alice')],
    autoApproval: null,
  });
});
