/**
 * Least privilege in OCI: people's machines need no OCI key, and a key that
 * is declared read-only (oci.access "read", the default) can never change
 * OCI through ociaccess, whatever the key's user may do.
 *
 * - Without an "oci" section, request/approve --wait, status, list and revoke
 *   work and say OCI is "not checked from this machine"; no OCI request leaves
 *   those machines.
 * - The attack: the config on a laptop held a key that writes OCI. With it,
 *   ociaccess's own OCI client could put the requester into the OCI group, and
 *   a sweep run with that config changed OCI. Both are refused now before any
 *   request reaches the domain (OCI_READ_ONLY).
 * - sweep and `doctor --as app` need the section; doctor on a person's machine
 *   warns about a write key.
 */
import { SEED } from '../../src/emulator/seed.js';
import { loadConfig } from '../../src/config/load.js';
import { createOciClient } from '../../src/adapters/oci/client.js';
import { connectionsForCaFile } from '../../src/adapters/http/tls.js';
import { configWith, upnOf, useHarness, type Harness, type RunResult } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob'] });
const ALICE = upnOf('alice');
const MALLORY = upnOf('mallory');
const BREAKGLASS = upnOf('breakglass');

/** People's machines: the emulator's config without the "oci" section. */
const withoutOci = (H: Harness) => configWith(H, 'people-no-oci', (config) => delete config.oci);
/** The config every machine shared before oci.access existed: an OCI key whose role nobody declared. */
const undeclaredKey = (H: Harness) => configWith(H, 'undeclared-key', (config) => delete config.oci.access);

const ociRequestsSince = (H: Harness, mark: number) => H.requestsSince(mark).filter((entry) => entry.service === 'oci');
const ociWritesSince = (H: Harness, mark: number) =>
  H.writesSince(mark)
    .filter((entry) => entry.service === 'oci')
    .map((entry) => `${entry.method} ${entry.path.split('?')[0]}`);

function check(
  result: RunResult,
  id: string,
): { status: string; detail: string; fix: string | null; category: string } {
  const found = result.json?.checks?.find((c: { id: string }) => c.id === id);
  if (!found) throw new Error(`no check "${id}" in ${result.stdout}`);
  return found;
}

async function waitForText(read: () => string, text: string): Promise<void> {
  for (let i = 0; i < 500 && !read().includes(text); i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
}

test('without an "oci" section: request --wait, approve --wait, status, list, revoke (own and --user) exit 0, say "not checked from this machine", and send nothing to OCI', async () => {
  const H = h();
  const env = { OCIACCESS_CONFIG: await withoutOci(H) };
  const mark = H.mark();

  // alice asks and waits; bob approves and waits: both waits end at the approval, OCI is not asked.
  let approved: RunResult | undefined;
  const waited = await H.run(
    'alice',
    [
      'request',
      '--hours',
      '2',
      '--justification',
      'INC-4711: rotate the DB wallet',
      '--wait',
      '--timeout',
      '1m',
      '--json',
    ],
    {
      env,
      during: async (stderr) => {
        await waitForText(() => stderr.text, 'waiting for approval');
        const id = /request (r-[a-z0-9]+)/.exec(stderr.text)![1]!;
        approved = await H.run('bob', ['approve', id, '--yes', '--wait', '--timeout', '1m', '--json'], { env });
      },
    },
  );
  expect(approved!.code).toBe(0);
  expect(approved!.json.oci).toEqual({ state: 'not-checked', waitedMs: 0 });
  expect(approved!.stderr).toContain('OCI is not checked from this machine');
  expect(waited.code).toBe(0);
  expect(waited.json).toMatchObject({ state: 'approved', oci: { state: 'not-checked' } });
  expect(H.entraMembers()).toEqual([ALICE, BREAKGLASS]);

  const status = await H.run('alice', ['status', '--json'], { env });
  expect(status.code).toBe(0);
  expect(status.json.requests).toEqual([
    expect.objectContaining({ state: 'approved', oci: 'not-checked', ociSync: null }),
  ]);
  const statusText = await H.run('alice', ['status'], { env });
  expect(statusText.code).toBe(0);
  expect(statusText.stdout).toContain('not checked from this machine');

  const listed = await H.run('bob', ['list', '--json'], { env });
  expect(listed.code).toBe(0);
  expect(listed.json.requests).toEqual([
    expect.objectContaining({ requester: ALICE, state: 'approved', oci: 'not-checked', ociSync: null }),
  ]);
  const listText = await H.run('bob', ['list'], { env });
  expect(listText.stdout).toContain('not checked from this machine');
  // No warning spam: a missing "oci" section is a supported setup, not a failure.
  for (const result of [status, statusText, listed, listText]) expect(result.stderr).not.toMatch(/warn|OCI group|oci/i);

  // bob ends it early for alice; then alice revokes a second grant herself.
  const revoked = await H.run('bob', ['revoke', '--user', ALICE, '--reason', 'done early', '--json'], { env });
  expect(revoked.code).toBe(0);
  expect(revoked.json).toMatchObject({ user: ALICE, membership: 'removed', oci: 'not-checked' });
  expect(H.entraMembers()).toEqual([BREAKGLASS]);
  const again = await H.run(
    'alice',
    ['request', '--hours', '1', '--justification', 'INC-4712: one more look', '--json'],
    { env },
  );
  expect((await H.run('bob', ['approve', again.json.id, '--yes'], { env })).code).toBe(0);
  const own = await H.run('alice', ['revoke', '--reason', 'finished'], { env });
  expect(own.code).toBe(0);
  expect(own.stdout).toMatch(/not-checked$/m);
  expect(own.stderr).toContain('OCI: not checked from this machine');

  expect(ociRequestsSince(H, mark)).toEqual([]);
});

test("attack: with the OCI key of a laptop config, ociaccess's own OCI client can no longer add the requester to the OCI group", async () => {
  const H = h();
  // alice exists in OCI (an earlier grant provisioned her) but is not in the group.
  const added = await H.control(`oci/groups/${SEED.tempGroupName}/members`, { user: ALICE });
  const ociGroup = H.emu.world.ociGroupByName(SEED.tempGroupName)!;
  ociGroup.members.delete(added.body.userId);
  expect(H.ociMembers()).toEqual([BREAKGLASS]);

  // The config on alice's laptop, as every machine had it: an OCI key whose role is not declared.
  const config = await loadConfig(await undeclaredKey(H));
  const client = createOciClient({ ...config.oci!, connections: connectionsForCaFile(config.tls.caFile) });
  const mark = H.mark();
  const attempt = client.patchGroup({
    groupId: ociGroup.id,
    patchOp: {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      operations: [{ op: 'add' as never, path: 'members', value: [{ value: added.body.userId, type: 'User' }] }],
    },
  });
  // The SDK hands the refusal back as a plain {code, message} (OciDomain turns it into the typed error again).
  await expect(attempt).rejects.toMatchObject({
    code: 'OCI_READ_ONLY',
    message: expect.stringContaining('oci.access is "read"'),
  });
  expect(H.ociMembers()).toEqual([BREAKGLASS]);
  expect(ociRequestsSince(H, mark)).toEqual([]);
});

test('attack: a sweep with an undeclared (read) key refuses --fix-drift before any OCI write; the Entra side still runs and the report says why', async () => {
  const H = h();
  await H.control(`oci/groups/${SEED.tempGroupName}/members`, { user: MALLORY });
  const mark = H.mark();
  const result = await H.run('cron', ['sweep', '--fix-drift', '--json'], {
    env: { OCIACCESS_CONFIG: await undeclaredKey(H) },
  });
  expect(result.code).toBe(1);
  expect(result.json.groups[0].drift).toEqual([
    expect.objectContaining({ userName: MALLORY, state: 'failed', code: 'OCI_READ_ONLY' }),
  ]);
  expect(result.stderr).toContain('--fix-drift needs oci.access "write"');
  expect(H.ociMembers()).toEqual([BREAKGLASS, MALLORY]);
  expect(ociWritesSince(H, mark)).toEqual([]);
  // It read OCI: reading is what a read key is for.
  expect(ociRequestsSince(H, mark).length).toBeGreaterThan(0);
});

test('access "read": status shows the OCI state, but a forced OCI removal is refused without an OCI write; "write" lets the sweep host do it', async () => {
  const H = h();
  const asked = await H.run('alice', [
    'request',
    '--hours',
    '2',
    '--justification',
    'INC-4711: rotate the DB wallet',
    '--json',
  ]);
  expect((await H.run('bob', ['approve', asked.json.id, '--yes'])).code).toBe(0);
  await H.control('provisioning/cycle');
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
  // The emulator's config declares a read key: status reads OCI with it.
  const status = await H.run('alice', ['status', '--json']);
  expect(status.json.requests).toEqual([
    expect.objectContaining({ state: 'approved', oci: 'member', ociSync: 'in-oci' }),
  ]);

  await H.advance({ hours: 2, minutes: 1 });
  expect((await H.run('cron', ['sweep', '--json'])).code).toBe(6);
  await H.advance({ minutes: 31 });
  const mark = H.mark();
  const refused = await H.run('cron', ['sweep', '--force-oci-after', '30m', '--json']);
  expect(refused.code).toBe(1);
  expect(refused.json.groups[0].forcedInOci).toEqual([]);
  expect(refused.json.groups[0].problems).toEqual([
    expect.stringMatching(/^direct OCI removal of alice@contoso\.example failed: Refused .*oci\.access is "read"/),
  ]);
  expect(refused.stderr).toContain('Forced OCI removals need oci.access "write"');
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
  expect(ociWritesSince(H, mark)).toEqual([]);

  const sweepHost = await configWith(H, 'sweep-host', (config) => {
    config.oci.access = 'write';
    config.oci.removeDirectly = false;
  });
  const forced = await H.run('cron', ['sweep', '--force-oci-after', '30m', '--json'], {
    env: { OCIACCESS_CONFIG: sweepHost },
  });
  expect(forced.code).toBe(0);
  expect(H.ociMembers()).toEqual([BREAKGLASS]);
  expect(ociWritesSince(H, mark)).toEqual([expect.stringMatching(/^PATCH \/admin\/v1\/Groups\//)]);
});

test('sweep and doctor --as app need the "oci" section: exit 2 naming it', async () => {
  const H = h();
  const env = { OCIACCESS_CONFIG: await withoutOci(H) };
  const swept = await H.expectNoChange(() => H.run('cron', ['sweep', '--json'], { env }));
  expect(swept.code).toBe(2);
  expect(swept.json.error).toMatchObject({
    code: 'CONFIG_INVALID',
    message: expect.stringContaining('no "oci" section'),
    hint: expect.stringContaining('docs/setup-oci.md'),
  });
  const doctor = await H.expectNoChange(() => H.run('cron', ['doctor', '--as', 'app', '--json'], { env }));
  expect(doctor.code).toBe(2);
  expect(check(doctor, 'oci-config')).toMatchObject({
    status: 'fail',
    category: 'config',
    detail: expect.stringContaining('no "oci" section'),
  });
});

test('doctor on a person\'s machine: no "oci" section skips OCI as not checked (exit 0); a write key warns with how to get a read-only one; a read key passes', async () => {
  const H = h();
  // Graph shows the provisioning job to a person only with an application-admin role (doctor.test.ts does the same).
  await H.control(`users/${SEED.users.alice}/roles`, { add: ['Cloud Application Administrator'] });
  const noOci = await H.expectNoChange(async () =>
    H.run('alice', ['doctor', '--json'], { env: { OCIACCESS_CONFIG: await withoutOci(H) } }),
  );
  expect(noOci.code).toBe(0);
  expect(check(noOci, 'oci-config')).toMatchObject({
    status: 'skip',
    detail: expect.stringContaining('not checked from this machine'),
  });
  expect(noOci.json.summary).toMatchObject({ warn: 0, fail: 0 });

  const writeKey = await configWith(H, 'person-write-key', (config) => (config.oci.access = 'write'));
  const warned = await H.expectNoChange(() =>
    H.run('alice', ['doctor', '--json'], { env: { OCIACCESS_CONFIG: writeKey } }),
  );
  expect(warned.code).toBe(0);
  expect(check(warned, 'oci-config')).toMatchObject({
    status: 'warn',
    detail: expect.stringContaining('"access": "write"'),
    fix: expect.stringMatching(/remove the "oci" section.*Audit Administrator.*"access": "read"/),
  });
  const text = await H.run('alice', ['doctor'], { env: { OCIACCESS_CONFIG: writeKey } });
  expect(text.stdout).toMatch(/WARN\s+OCI config and key/);

  const readKey = await H.expectNoChange(() => H.run('alice', ['doctor', '--json']));
  expect(check(readKey, 'oci-config')).toMatchObject({ status: 'pass', detail: expect.stringContaining('read-only') });
  expect(readKey.json.summary.warn).toBe(0);
});
