/**
 * `doctor` against emulator states built to fail each check: the right check
 * fails (or warns) with its fix, the others still run, the exit code follows
 * the first failure, and doctor never changes anything.
 */
import { chmod, copyFile, readFile, writeFile } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { SEED } from '../../src/emulator/seed.js';
import { configWith, useHarness, type Harness, type RunResult } from '../support/harness.js';

const h = useHarness({ logins: ['alice'] });

// Graph shows a provisioning job to a signed-in user only with an application-admin role: the
// person running doctor in these tests holds one (the test below without it checks the message).
beforeEach(async () => {
  await h().control(`users/${SEED.users.alice}/roles`, { add: ['Cloud Application Administrator'] });
});

function check(
  result: RunResult,
  id: string,
): { status: string; detail: string; fix: string | null; category: string } {
  const found = result.json?.checks?.find((c: { id: string }) => c.id === id);
  if (!found) throw new Error(`no check "${id}" in ${result.stdout}`);
  return found;
}

const statuses = (result: RunResult) =>
  Object.fromEntries(result.json.checks.map((c: { id: string; status: string }) => [c.id, c.status]));

async function doctor(
  H: Harness,
  who: 'alice' | 'carol' | 'dave' | 'cron',
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<RunResult> {
  return H.expectNoChange(() => H.run(who, ['doctor', ...args, '--json'], { env }));
}

test('a healthy tenant: every check passes, exit 0, nothing written, and the text table has a summary', async () => {
  const H = h();
  const result = await doctor(H, 'alice');
  expect(result.code).toBe(0);
  expect(result.json.ok).toBe(true);
  expect(Object.values(statuses(result)).every((s) => s === 'pass')).toBe(true);
  expect(Object.keys(statuses(result))).toEqual([
    'config',
    'files',
    'authority',
    'sign-in',
    'permissions',
    'groups',
    'people',
    'nested-groups',
    'app-assignment',
    'provisioning-job',
    'pim-policy',
    'oci-config',
    'oci-domain',
    'oci-group',
    'jit',
  ]);
  const text = await H.run('alice', ['doctor']);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^STATUS\tCHECK\tDETAIL\n/);
  expect(text.stdout).toMatch(/pass\tJIT provisioning\ton \(EntraID: Overwrite\)/);
  expect(text.stdout).toContain('15 passed, 0 warning(s), 0 failed, 0 skipped (checked as the signed-in user)');
});

test('no config: config fails with the init hint, everything else is skipped, exit 2', async () => {
  const H = h();
  const result = await H.run('alice', ['doctor', '--json'], {
    env: { OCIACCESS_CONFIG: path.join(H.root, 'none.json') },
  });
  expect(result.code).toBe(2);
  expect(check(result, 'config')).toMatchObject({ status: 'fail', fix: expect.stringContaining('ociaccess init') });
  expect(result.json.summary).toEqual({ pass: 0, warn: 0, fail: 1, skip: 13 });
});

test('not signed in: sign-in fails with `ociaccess login`, Entra checks are skipped, OCI checks still run, exit 4', async () => {
  const H = h();
  const result = await doctor(H, 'carol');
  expect(result.code).toBe(4);
  expect(check(result, 'sign-in')).toMatchObject({
    status: 'fail',
    detail: 'You are not signed in.',
    fix: 'Run `ociaccess login`.',
  });
  expect(statuses(result)).toMatchObject({
    permissions: 'skip',
    groups: 'skip',
    'provisioning-job': 'skip',
    'oci-domain': 'pass',
    jit: 'pass',
  });
  const text = await H.run('carol', ['doctor']);
  expect(text.stdout).toMatch(/FAIL\tsign-in\tYou are not signed in\./);
  expect(text.stdout).toContain('What to do:\n  ✗ sign-in: Run `ociaccess login`.');
});

test('--as app: the automation token lacks the group write permissions → permissions fail naming them and sweep, exit 4', async () => {
  const H = h();
  const app = H.emu.world.apps.get(SEED.automationAppId)!;
  const granted = [...app.applicationPermissions];
  // Group.ReadWrite.All alone would also allow membership changes: remove both.
  app.applicationPermissions = granted.filter((p) => p !== 'GroupMember.ReadWrite.All' && p !== 'Group.ReadWrite.All');
  try {
    const result = await doctor(H, 'cron', ['--as', 'app']);
    expect(result.code).toBe(4);
    expect(result.json.identity).toBe('app');
    const permissions = check(result, 'permissions');
    expect(permissions.status).toBe('fail');
    expect(permissions.detail).toContain('GroupMember.ReadWrite.All (sweep:');
    expect(permissions.detail).toContain("Group.ReadWrite.All (sweep: record auto-approvals on the group's object)");
    expect(permissions.fix).toContain(
      `Add the application permissions GroupMember.ReadWrite.All, Group.ReadWrite.All to the automation app ${SEED.automationAppId} and grant admin consent`,
    );
  } finally {
    app.applicationPermissions = granted;
  }
});

test('--as app: without User.Read.All only that one is named', async () => {
  const H = h();
  const app = H.emu.world.apps.get(SEED.automationAppId)!;
  const granted = [...app.applicationPermissions];
  app.applicationPermissions = granted.filter((p) => p !== 'User.Read.All');
  try {
    const result = await doctor(H, 'cron', ['--as', 'app']);
    expect(result.code).toBe(4);
    expect(check(result, 'permissions').detail).toBe(
      'missing: User.Read.All (sweep: resolve members and read request and decision records)',
    );
  } finally {
    app.applicationPermissions = granted;
  }
});

test('--as app without an "automation" section: exit 2 naming the section', async () => {
  const H = h();
  const file = await configWith(H, 'no-automation', (config) => delete config.automation);
  const result = await doctor(H, 'cron', ['--as', 'app'], { OCIACCESS_CONFIG: file });
  expect(result.code).toBe(2);
  expect(check(result, 'sign-in')).toMatchObject({
    status: 'fail',
    detail: expect.stringContaining('no "automation" section'),
  });
});

test('the configured Entra group does not exist: groups fail, exit 1', async () => {
  const H = h();
  const file = await configWith(H, 'wrong-group', (config) => {
    config.groups[0].entraGroupId = '99999999-9999-4999-8999-999999999999';
  });
  const result = await doctor(H, 'alice', [], { OCIACCESS_CONFIG: file });
  expect(result.code).toBe(1);
  expect(check(result, 'groups')).toMatchObject({
    status: 'fail',
    detail: expect.stringContaining('no Entra group has id 99999999-'),
    fix: expect.stringContaining('ociaccess init'),
  });
  expect(check(result, 'app-assignment').status).toBe('fail');
});

test('the temp group is not assigned to the OCI enterprise app: app-assignment fails with the portal steps', async () => {
  const H = h();
  const sp = H.emu.world.servicePrincipals.get(SEED.ociServicePrincipalId)!;
  sp.assignedGroupIds.delete(SEED.tempGroupId);
  try {
    const result = await doctor(H, 'alice');
    expect(result.code).toBe(1);
    expect(check(result, 'app-assignment')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('not assigned to the OCI enterprise application: OCI-Temp-Admins'),
      fix: expect.stringContaining('Users and groups'),
    });
  } finally {
    sp.assignedGroupIds.add(SEED.tempGroupId);
  }
});

test('the provisioning job is in quarantine: fails with the reason and the next attempt', async () => {
  const H = h();
  await H.control('provisioning/quarantine', {
    on: true,
    reason: 'EncounteredQuarantineException: the OCI SCIM token expired',
  });
  const result = await doctor(H, 'alice');
  expect(result.code).toBe(1);
  const job = check(result, 'provisioning-job');
  expect(job.status).toBe('fail');
  expect(job.detail).toMatch(
    /^in quarantine since \S+: EncounteredQuarantineException: the OCI SCIM token expired; error SystemForCrossDomainIdentityManagementCredentialValidationUnavailable: .+; next attempt \d{4}-\d\d-\d\dT\S+ — no change reaches OCI until a retry succeeds$/,
  );
  expect(job.fix).toContain('Restart provisioning');
  expect(job.fix).toContain('leaves quarantine by itself');
  // The same through the app's eyes.
  const app = await doctor(H, 'cron', ['--as', 'app']);
  expect(check(app, 'provisioning-job').status).toBe('fail');
});

test('a paused provisioning job fails; one that has not run for hours warns', async () => {
  const H = h();
  const job = H.emu.world.servicePrincipals.get(SEED.ociServicePrincipalId)!.synchronizationJobs[0]!;
  job.status.code = 'Paused';
  const paused = await doctor(H, 'alice');
  expect(check(paused, 'provisioning-job')).toMatchObject({
    status: 'fail',
    detail: expect.stringContaining('state Paused'),
    fix: expect.stringContaining('Start provisioning'),
  });
  job.status.code = 'Active';
  const saved = job.status.lastSuccessfulExecution;
  job.status.lastSuccessfulExecution = {
    timeBegan: new Date(H.emu.world.now() - 5 * 3600_000).toISOString(),
    timeEnded: new Date(H.emu.world.now() - 5 * 3600_000).toISOString(),
    state: 'Succeeded',
  };
  try {
    const stale = await doctor(H, 'alice');
    expect(stale.code).toBe(0);
    expect(check(stale, 'provisioning-job')).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(
        /^Active, but its last successful cycle was \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(cycle ~\d+m\)$/,
      ),
    });
  } finally {
    job.status.lastSuccessfulExecution = saved;
  }
});

test('JIT with Merge warns (exit 0); JIT off warns that access waits for the cycle', async () => {
  const H = h();
  const idp = [...H.emu.world.identityProviders.values()][0]!;
  try {
    idp.jitUserProvGroupAssignmentMethod = 'Merge';
    const merge = await doctor(H, 'alice');
    expect(merge.code).toBe(0);
    expect(check(merge, 'jit')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('Merge'),
      fix: expect.stringContaining('Overwrite'),
    });
    idp.jitUserProvEnabled = false;
    const off = await doctor(H, 'alice');
    expect(check(off, 'jit')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('JIT is off on EntraID'),
    });
  } finally {
    idp.jitUserProvGroupAssignmentMethod = 'Overwrite';
    idp.jitUserProvEnabled = true;
  }
});

test('a group nested in the temp group warns: provisioning does not follow it', async () => {
  const H = h();
  const nestedId = 'abababab-abab-4bab-8bab-abababababab';
  H.emu.world.groups.set(nestedId, {
    id: nestedId,
    displayName: 'DBA-Team',
    description: null,
    mailNickname: 'DBATeam',
    securityEnabled: true,
    mailEnabled: false,
    members: new Set([SEED.users.dave]),
    owners: new Set(),
    extensions: new Map(),
  });
  H.emu.world.groups.get(SEED.tempGroupId)!.members.add(nestedId);
  try {
    const result = await doctor(H, 'alice');
    expect(result.code).toBe(0);
    expect(check(result, 'nested-groups')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('OCI-Temp-Admins contains "DBA-Team"'),
    });
  } finally {
    H.emu.world.groups.get(SEED.tempGroupId)!.members.delete(nestedId);
    H.emu.world.groups.delete(nestedId);
  }
});

test('the OCI group does not exist in the domain: oci-group fails, exit 1', async () => {
  const H = h();
  const file = await configWith(H, 'wrong-oci-group', (config) => {
    config.groups[0].ociGroupName = 'OCI-Nope';
  });
  const result = await doctor(H, 'alice', [], { OCIACCESS_CONFIG: file });
  expect(result.code).toBe(1);
  expect(check(result, 'oci-group')).toMatchObject({ status: 'fail', detail: 'not in the identity domain: OCI-Nope' });
});

test('an unknown OCI config profile: oci-config fails, the OCI checks are skipped, exit 2', async () => {
  const H = h();
  const file = await configWith(H, 'wrong-profile', (config) => {
    config.oci.profile = 'NOPE';
  });
  const result = await doctor(H, 'alice', [], { OCIACCESS_CONFIG: file });
  expect(result.code).toBe(2);
  expect(check(result, 'oci-config')).toMatchObject({
    status: 'fail',
    detail: expect.stringContaining('profile NOPE'),
  });
  expect(statuses(result)).toMatchObject({ 'oci-domain': 'skip', 'oci-group': 'skip', jit: 'skip', groups: 'pass' });
});

test('an OCI API key the domain does not know: oci-domain fails as an auth problem, exit 4', async () => {
  const H = h();
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const keyFile = path.join(H.root, 'other-key.pem');
  await writeFile(keyFile, privateKey, { mode: 0o600 });
  const ociConfig = (await readFile(H.emu.ociConfigFile, 'utf8')).replace(/^key_file=.*$/m, `key_file=${keyFile}`);
  const ociConfigFile = path.join(H.root, 'oci-config-other-key');
  await writeFile(ociConfigFile, ociConfig, { mode: 0o600 });
  const file = await configWith(H, 'other-key', (config) => {
    config.oci.configFile = ociConfigFile;
  });
  const result = await doctor(H, 'alice', [], { OCIACCESS_CONFIG: file });
  expect(result.code).toBe(4);
  expect(check(result, 'oci-domain')).toMatchObject({
    status: 'fail',
    category: 'auth',
    fix: expect.stringContaining('API key'),
  });
});

test('--as with an unknown identity is a usage error', async () => {
  const result = await h().run('alice', ['doctor', '--as', 'robot']);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain("argument 'robot' is invalid. Allowed choices are user, app.");
});

test('reading the app assignment is refused (403): that check only warns, with the manual check as the fix', async () => {
  const H = h();
  await H.control('faults', { service: 'graph', method: 'GET', pathPattern: 'appRoleAssignedTo$', status: 403 });
  const result = await doctor(H, 'alice');
  expect(result.code).toBe(0);
  expect(check(result, 'app-assignment')).toMatchObject({
    status: 'warn',
    detail: expect.stringContaining('Graph denied the read (403)'),
    fix: expect.stringContaining('Enterprise applications → the OCI app → Users and groups'),
  });
});

test('no consent for Application.Read.All: doctor asks for it only for the app-assignment check, which warns naming it and the admin-consent step', async () => {
  const H = h();
  const app = H.emu.world.apps.get(SEED.cliAppId)!;
  const consented = app.delegatedPermissions;
  app.delegatedPermissions = consented.filter((p) => p !== 'Application.Read.All');
  try {
    expect((await H.login('dave')).code).toBe(0);
    const mark = H.mark();
    const result = await doctor(H, 'dave');
    expect(result.code).toBe(0);
    expect(check(result, 'app-assignment')).toEqual({
      id: 'app-assignment',
      title: 'OCI app assignment',
      category: 'auth',
      status: 'warn',
      detail: expect.stringMatching(
        /^reading the groups assigned to the OCI enterprise application needs Application\.Read\.All, and Entra has no consent for it: /,
      ),
      fix: `An administrator adds the delegated permission Application.Read.All to the CLI app ${SEED.cliAppId} and grants admin consent (docs/setup-entra.md), so doctor can check it; or check it by hand: Enterprise applications → the OCI app → Users and groups.`,
    });
    // The other checks got their token without it: nothing else is refused.
    expect(check(result, 'groups').status).toBe('pass');
    expect(check(result, 'permissions').status).toBe('pass');
    expect(H.writesSince(mark)).toEqual([]);
    // Only that one read asked Graph, and it was never sent: Entra refused the token first.
    expect(H.requestsSince(mark).filter((r) => r.path.includes('/appRoleAssignedTo'))).toEqual([]);
  } finally {
    app.delegatedPermissions = consented;
  }
});

test('--as app without Application.Read.All: Graph refuses the read (403); app-assignment and permissions warn naming it (exit 0)', async () => {
  const H = h();
  const app = H.emu.world.apps.get(SEED.automationAppId)!;
  const granted = [...app.applicationPermissions];
  app.applicationPermissions = granted.filter((p) => p !== 'Application.Read.All');
  try {
    const result = await doctor(H, 'cron', ['--as', 'app']);
    expect(result.code).toBe(0);
    expect(check(result, 'app-assignment')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining(
        'Graph denied the read (403): reading the groups assigned to the OCI enterprise application needs Application.Read.All',
      ),
      fix: expect.stringContaining(
        `adds the application permission Application.Read.All to the automation app ${SEED.automationAppId} and grants admin consent (docs/setup-entra.md)`,
      ),
    });
    expect(check(result, 'permissions')).toMatchObject({
      status: 'warn',
      detail:
        'optional features unavailable: Application.Read.All (doctor --as app: check that the groups are assigned to the OCI enterprise application)',
    });
  } finally {
    app.applicationPermissions = granted;
  }
});

test('a sign-in service that does not answer: the authority check fails first, exit 5 (upstream), with the network hint', async () => {
  const H = h();
  const file = await configWith(H, 'no-authority', (config) => {
    config.cloud.authorityHost = 'https://127.0.0.1:9';
    delete config.emulator; // its clock is honoured only in the emulator's own config (whose authority this no longer is)
  });
  const result = await doctor(H, 'alice', [], { OCIACCESS_CONFIG: file });
  expect(result.code).toBe(5);
  expect(check(result, 'authority')).toMatchObject({
    status: 'fail',
    category: 'upstream',
    fix: expect.stringContaining('network or proxy'),
  });
});

test('a config file others can write: the config check fails with the chmod that fixes it, exit 2', async () => {
  const H = h();
  const file = await configWith(H, 'group-writable', () => undefined);
  await chmod(file, 0o664);
  const result = await doctor(H, 'alice', [], { OCIACCESS_CONFIG: file });
  expect(result.code).toBe(2);
  expect(check(result, 'config')).toMatchObject({
    status: 'fail',
    detail: expect.stringContaining(`config file ${file} is writable by other users (mode 0664)`),
    fix: expect.stringContaining(`chmod go-w ${file}`),
  });
});

test('an OCI API key others can read: the files check names it with chmod 600, the OCI checks refuse it, exit 2', async () => {
  const H = h();
  const key = path.join(H.root, 'open-oci-key.pem');
  await copyFile(path.join(H.emu.dir, 'oci-api-key.pem'), key);
  await chmod(key, 0o644);
  const ociConfig = path.join(H.root, 'oci-config-open-key');
  await writeFile(
    ociConfig,
    (await readFile(H.emu.ociConfigFile, 'utf8')).replace(/^key_file=.*$/m, `key_file=${key}`),
    { mode: 0o600 },
  );
  const file = await configWith(H, 'open-oci-key', (config) => {
    config.oci.configFile = ociConfig;
  });
  const result = await doctor(H, 'alice', [], { OCIACCESS_CONFIG: file });
  expect(result.code).toBe(2);
  expect(check(result, 'files')).toMatchObject({
    status: 'fail',
    category: 'config',
    detail: expect.stringContaining(`OCI API key file ${key} is readable by other users (mode 0644)`),
    fix: expect.stringContaining(`chmod 600 ${key}`),
  });
  expect(check(result, 'oci-config')).toMatchObject({
    status: 'fail',
    category: 'config',
    fix: expect.stringContaining(`chmod 600 ${key}`),
  });
});

test('a role-assignable group: groups warns and says what changing its members needs, for people and for the automation app', async () => {
  const H = h();
  await H.control(`groups/${SEED.tempGroupId}/role-assignable`, { on: true });
  const person = await doctor(H, 'alice');
  expect(check(person, 'groups')).toMatchObject({
    status: 'warn',
    detail: expect.stringMatching(
      /role-assignable.*RoleManagement\.ReadWrite\.Directory permission and the Privileged Role Administrator role/,
    ),
    fix: expect.stringContaining('not role-assignable'),
  });
  expect(check(person, 'groups').detail).toContain(SEED.tempGroupId);
  const cron = await doctor(H, 'cron', ['--as', 'app']);
  expect(check(cron, 'groups')).toMatchObject({
    status: 'warn',
    detail: expect.stringContaining(
      'RoleManagement.ReadWrite.Directory permission (application permission of the automation app)',
    ),
    fix: expect.stringContaining(
      'grant the automation app the RoleManagement.ReadWrite.Directory application permission',
    ),
  });
});

test('a signed-in user without an application-admin role: provisioning-job warns and names the roles Graph asks for', async () => {
  const H = h();
  await H.control(`users/${SEED.users.alice}/roles`, { remove: ['Cloud Application Administrator'] });
  const result = await doctor(H, 'alice');
  expect(check(result, 'provisioning-job')).toMatchObject({
    status: 'warn',
    detail: expect.stringContaining(
      'Application Administrator, Cloud Application Administrator or Hybrid Identity Administrator',
    ),
    fix: expect.stringContaining('ociaccess doctor --as app'),
  });
  expect(result.code).toBe(0);
});

describe('pim-policy: a group with the pim backend', () => {
  test("shows what the group's PIM policy says", async () => {
    const H = h();
    const result = await doctor(H, 'alice');
    expect(check(result, 'pim-policy')).toMatchObject({
      status: 'pass',
      detail: `${SEED.pimGroupName}: at most 8 h, approval by 2 approver(s), justification required`,
    });
  });

  test('a policy without approval warns: anyone eligible gets the membership at once', async () => {
    const H = h();
    H.emu.world.pim.policies.get(SEED.pimGroupId)!.isApprovalRequired = false;
    const result = await doctor(H, 'alice');
    expect(result.code).toBe(0);
    expect(check(result, 'pim-policy')).toMatchObject({ status: 'warn' });
    expect(check(result, 'pim-policy').detail).toContain('activates without approval');
  });

  test('a group PIM does not govern fails, naming the PIM blade and the records backend', async () => {
    const H = h();
    H.emu.world.pim.policies.delete(SEED.pimGroupId);
    const result = await doctor(H, 'alice');
    expect(result.code).toBe(1);
    const found = check(result, 'pim-policy');
    expect(found.status).toBe('fail');
    expect(found.detail).toContain(`does not govern ${SEED.pimGroupName}`);
    expect(found.fix).toContain('"records"');
  });
});
