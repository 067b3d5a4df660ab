/**
 * `doctor` with an Okta config, through the real Okta adapters to the
 * emulator's org: the seeded org passes; a record attribute people cannot
 * write, a scope the service app lacks, a group id Okta does not know, and a
 * key file others can read each fail with their fix and exit code.
 */
import { chmod, copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SEED_OKTA } from '../../src/emulator/seed.js';
import { approveOktaDevice } from '../../src/emulator/okta/index.js';
import { useHarness, userCodeIn, type Harness, type RunResult } from '../support/harness.js';

const h = useHarness({ idp: 'okta', logins: ['alice', 'bob'] });

function check(result: RunResult, id: string): { status: string; detail: string; fix: string | null } {
  const found = result.json?.checks?.find((c: { id: string }) => c.id === id);
  if (!found) throw new Error(`no check "${id}" in ${result.stdout}\n${result.stderr}`);
  return found;
}

const statuses = (result: RunResult) =>
  Object.fromEntries(result.json.checks.map((c: { id: string; status: string }) => [c.id, c.status]));

async function doctor(
  H: Harness,
  who: 'alice' | 'bob' | 'cron',
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<RunResult> {
  return H.expectNoChange(() => H.run(who, ['doctor', ...args, '--json'], { env }));
}

/** A copy of the Okta config (which names the seeded OCI app) with `change` applied; returns the env that points at it. */
async function oktaConfigWith(H: Harness, name: string, change: (config: any) => void) {
  const config = JSON.parse(await readFile(H.actor('cron').env.OCIACCESS_CONFIG!, 'utf8'));
  expect(config.idp.ociAppId).toBe(SEED_OKTA.ociAppId);
  change(config);
  const file = path.join(H.root, `${name}.json`);
  await writeFile(file, JSON.stringify(config), { mode: 0o600 });
  return { OCIACCESS_CONFIG: file };
}

test('the seeded org: as the automation every check passes; as a person nothing fails, the app-only reads are skipped', async () => {
  const H = h();
  const app = await doctor(H, 'cron', ['--as', 'app']);
  expect(app.code).toBe(0);
  expect(Object.keys(statuses(app))).toEqual([
    'config',
    'files',
    'okta-org',
    'native-app',
    'sign-in',
    'scopes',
    'group',
    'people',
    'schema',
    'push',
    'oci-config',
    'oci-domain',
    'oci-group',
  ]);
  expect(Object.entries(statuses(app)).filter(([, status]) => status !== 'pass')).toEqual([]);
  expect(check(app, 'push').detail).toMatch(/^OCI-Temp-Admins: ACTIVE, last push /);

  const person = await doctor(H, 'bob');
  expect(person.code).toBe(0);
  expect(check(person, 'sign-in').detail).toMatch(/^signed in as bob@contoso\.example/);
  expect(check(person, 'scopes')).toMatchObject({ status: 'pass', detail: expect.stringContaining('an approver') });
  expect(check(person, 'schema')).toMatchObject({ status: 'skip', detail: expect.stringContaining('--as app') });
  expect(
    Object.entries(statuses(person)).filter(([id, status]) => status !== 'pass' && !['schema', 'push'].includes(id)),
  ).toEqual([]);

  const text = await H.run('cron', ['doctor', '--as', 'app'], {});
  expect(text.code).toBe(0);
  expect(text.stdout).toContain('13 passed, 0 warning(s), 0 failed, 0 skipped (checked as the automation app)');
});

test('a record attribute people cannot write (User permission READ_ONLY) fails with the Profile Editor fix', async () => {
  const H = h();
  await H.control('okta/schema/user', { attribute: 'ociaccessRequests', self: 'READ_ONLY' });
  try {
    const result = await doctor(H, 'cron', ['--as', 'app']);
    expect(result.code).toBe(1);
    expect(check(result, 'schema')).toEqual(
      expect.objectContaining({
        status: 'fail',
        detail: expect.stringContaining(
          'user attribute ociaccessRequests has the User permission READ_ONLY, not READ_WRITE',
        ),
        fix: expect.stringContaining(
          'Profile Editor → User (default) → ociaccessRequests → User permission: Read-Write',
        ),
      }),
    );
    expect(statuses(result)).toMatchObject({ group: 'pass', push: 'pass', 'oci-group': 'pass' });
  } finally {
    await H.control('okta/schema/user', { attribute: 'ociaccessRequests', self: 'READ_WRITE' });
  }
});

test('a scope the service app lacks fails the sign-in and the scopes check names it, exit 4', async () => {
  const H = h();
  const service = H.emu.world.okta.apps.get(SEED_OKTA.serviceAppClientId)!;
  const granted = [...service.grantedScopes];
  service.grantedScopes = granted.filter((scope) => scope !== 'okta.groups.manage');
  try {
    const result = await doctor(H, 'cron', ['--as', 'app']);
    expect(result.code).toBe(4);
    expect(check(result, 'sign-in').status).toBe('fail');
    expect(check(result, 'scopes')).toEqual(
      expect.objectContaining({
        status: 'fail',
        detail: expect.stringMatching(/is not granted okta\.groups\.manage, which the sweep needs$/),
        fix: expect.stringContaining('Okta API Scopes → Grant okta.groups.manage'),
      }),
    );
    expect(check(result, 'group').status).toBe('skip');
  } finally {
    service.grantedScopes = granted;
  }
});

test('a scope only doctor uses (okta.schemas.read) is a warning, and the schema check is skipped', async () => {
  const H = h();
  const service = H.emu.world.okta.apps.get(SEED_OKTA.serviceAppClientId)!;
  const granted = [...service.grantedScopes];
  service.grantedScopes = granted.filter((scope) => scope !== 'okta.schemas.read');
  try {
    const result = await doctor(H, 'cron', ['--as', 'app']);
    expect(result.code).toBe(0);
    expect(check(result, 'scopes')).toMatchObject({
      status: 'warn',
      fix: expect.stringContaining('okta.schemas.read'),
    });
    expect(check(result, 'schema').status).toBe('skip');
  } finally {
    service.grantedScopes = granted;
  }
});

test('a group id Okta does not know fails the group check with where to find the id', async () => {
  const H = h();
  const env = await oktaConfigWith(H, 'bad-group', (config) => {
    config.groups[0].oktaGroupId = '00gnosuchgroup000009';
  });
  for (const [who, args] of [
    ['alice', []],
    ['cron', ['--as', 'app']],
  ] as const) {
    const result = await doctor(H, who, [...args], env);
    expect(result.code).toBe(1);
    expect(check(result, 'group')).toEqual(
      expect.objectContaining({
        status: 'fail',
        detail: '"OCI-Temp-Admins": no Okta group has id 00gnosuchgroup000009',
        fix: expect.stringContaining('groups[].oktaGroupId'),
      }),
    );
  }
});

test('a paused push fails with the fix; a native app not allowed the device grant fails too', async () => {
  const H = h();
  await H.control('okta/push', { status: 'INACTIVE' });
  try {
    const result = await doctor(H, 'cron', ['--as', 'app']);
    expect(check(result, 'push')).toEqual(
      expect.objectContaining({ status: 'fail', fix: expect.stringContaining('Activate group push') }),
    );
  } finally {
    await H.control('okta/push', { status: 'ACTIVE' });
  }
  // The service app's id where the native app's belongs: Okta refuses it the device grant.
  const env = await oktaConfigWith(H, 'service-as-native', (config) => {
    config.idp.clientId = SEED_OKTA.serviceAppClientId;
  });
  const result = await doctor(H, 'cron', ['--as', 'app'], env);
  expect(check(result, 'native-app')).toEqual(
    expect.objectContaining({
      status: 'fail',
      detail: expect.stringContaining('unauthorized_client'),
      fix: expect.stringContaining('Device Authorization grant'),
    }),
  );
});

test('a key file others can read is refused: the files check fails with chmod, the sign-in does not use it, exit 2', async () => {
  const H = h();
  const key = path.join(H.root, 'shared-key.pem');
  await copyFile(H.emu.oktaServiceKeyFile, key);
  await chmod(key, 0o644);
  const env = await oktaConfigWith(H, 'shared-key', (config) => {
    config.idp.automation.privateKeyFile = key;
  });
  const result = await doctor(H, 'cron', ['--as', 'app'], env);
  expect(result.code).toBe(2);
  expect(check(result, 'files')).toEqual(
    expect.objectContaining({
      status: 'fail',
      detail: expect.stringContaining('Okta automation key file'),
      fix: expect.stringContaining(`chmod 600 ${key}`),
    }),
  );
  expect(check(result, 'sign-in').status).toBe('fail');
  expect(result.stdout).not.toContain('PRIVATE KEY');
});

test("an approver signed in with a requester's scopes fails the scopes check with the login that fixes it", async () => {
  const H = h();
  const login = await H.run('bob', ['login'], {
    during: async (stderr) => {
      while (!userCodeIn(stderr.text)) await new Promise((resolve) => setTimeout(resolve, 20));
      const done = approveOktaDevice(H.emu.world, userCodeIn(stderr.text)!, 'bob');
      if (typeof done === 'string') throw new Error(done);
    },
  });
  expect(login.code).toBe(0);
  const result = await doctor(H, 'bob');
  expect(result.code).toBe(4);
  expect(check(result, 'scopes')).toEqual(
    expect.objectContaining({
      status: 'fail',
      detail: 'your sign-in does not carry okta.groups.manage, which an approver needs',
      fix: expect.stringContaining('`ociaccess login --role approver`'),
    }),
  );
});

test('without idp.ociAppId the push mapping cannot be read: a warning that says how to add it, exit 0', async () => {
  const H = h();
  const env = await oktaConfigWith(H, 'no-oci-app', (config) => {
    delete config.idp.ociAppId;
  });
  const result = await doctor(H, 'cron', ['--as', 'app'], env);
  expect(result.code).toBe(0);
  expect(check(result, 'push')).toEqual(
    expect.objectContaining({ status: 'warn', fix: expect.stringContaining('Add idp.ociAppId') }),
  );
  expect(check(result, 'oci-group').status).toBe('pass');
});

test('an org URL that is not the org authorization server fails the first Okta check with what idp.orgUrl must be', async () => {
  const H = h();
  const env = await oktaConfigWith(H, 'wrong-org', (config) => {
    config.idp.orgUrl = `${H.emu.baseUrl}/not-okta`;
  });
  const result = await doctor(H, 'cron', ['--as', 'app'], env);
  // The emulator serves nothing there: those requests are the point of this test.
  expect(H.takeUnimplemented().length).toBeGreaterThan(0);
  expect(result.code).toBe(1);
  expect(check(result, 'okta-org')).toEqual(
    expect.objectContaining({
      status: 'fail',
      detail: expect.stringMatching(
        /\/not-okta publishes no authorization server metadata \(\/\.well-known\/openid-configuration answered \d+\)\.$/,
      ),
      fix: expect.stringContaining('idp.orgUrl is the org URL'),
    }),
  );
  expect(result.json.checks.find((c: { status: string }) => c.status === 'fail').id).toBe('okta-org');
});
