/**
 * Issue 16, direct removal: on the sweep host (oci.access "write") a member
 * removed in Entra is removed from the OCI group in the same sweep (one
 * PATCH per group, then one read), SCIM staying the backstop; JIT-created
 * memberships go the same way; Entra's next cycle takes the removal already
 * made as a success; per-group opt-out, a read key refused at load time, OCI
 * unavailable during the removal, and more than 50 members at once.
 */
import { SEED } from '../../src/emulator/seed.js';
import { seedScaleWorld } from '../../src/demo/scale-world.js';
import { configWith, upnOf, useHarness, type Harness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob'] });
const ALICE = upnOf('alice');
const BREAKGLASS = upnOf('breakglass');
const MALLORY = upnOf('mallory');

/** Alice asks for 2 hours (or `hours`) and Bob approves (Entra membership added); returns the request id. */
async function approvedGrant(H: Harness, hours = '2'): Promise<string> {
  const asked = await H.run('alice', [
    'request',
    '--hours',
    hours,
    '--justification',
    'INC-4711: rotate the wallet',
    '--json',
  ]);
  expect(asked.code).toBe(0);
  expect((await H.run('bob', ['approve', asked.json.id, '--yes'])).code).toBe(0);
  return asked.json.id;
}

/** The sweep host's config: the emulator's with a write key (removeDirectly on by default), changed by `change`. */
function sweepHost(H: Harness, change: (config: any) => void = () => undefined): Promise<string> {
  return configWith(H, 'sweep-host', (config) => {
    config.oci.access = 'write';
    change(config);
  });
}

async function sweep(H: Harness, config: string, extra: string[] = []) {
  return H.run('cron', ['sweep', ...extra, '--json'], { env: { OCIACCESS_CONFIG: config } });
}

/** OCI writes and reads since `mark`, as "METHOD /path" (no query). */
function ociCalls(H: Harness, mark: number): string[] {
  return H.requestsSince(mark)
    .filter((entry) => entry.service === 'oci')
    .map((entry) => `${entry.method} ${entry.path.split('?')[0]!.replace(/\/Groups\/[^/]+$/, '/Groups/{id}')}`);
}

async function audit(H: Harness): Promise<any[]> {
  const text = (await H.localFiles('cron'))['audit.jsonl'] ?? '';
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

async function pendingRemovals(H: Harness): Promise<any[]> {
  const state = JSON.parse((await H.localFiles('cron'))['state.json'] ?? '{}');
  return Object.values(state.sweep?.pendingRemovals ?? {});
}

function syncJob(H: Harness) {
  return H.emu.world.servicePrincipals.get(SEED.ociServicePrincipalId)!.synchronizationJobs[0]!;
}

test('expiry: the sweep host removes the member from the OCI group in the same sweep (exit 0), one PATCH and one read, audited as remove-oci; provisionOnDemand is not asked to remove', async () => {
  const H = h();
  const requestId = await approvedGrant(H);
  await H.control('provisioning/cycle');
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
  await H.advance({ hours: 2, minutes: 1 });

  const mark = H.mark();
  const result = await sweep(H, await sweepHost(H), ['--provision-now']);
  expect(result.code).toBe(0);
  expect(result.stderr.split('\n')).toEqual([
    'OCI-Temp-Admins: reading members and records',
    'OCI-Temp-Admins: removing 1 member(s)',
    'OCI-Temp-Admins: checking OCI',
    'OCI-Temp-Admins: removing 1 member(s) from the OCI group',
    // The seeded config's PIM-governed group, with nothing to do.
    'OCI-Temp-Admins-PIM: reading members and records',
    'OCI-Temp-Admins-PIM: checking OCI',
    '',
  ]);
  const report = result.json.groups[0];
  expect(result.json.outcome).toBe('clean');
  expect(report.removed).toEqual([
    { userId: SEED.users.alice, upn: ALICE, reason: 'expired', requestId, outcome: 'removed' },
  ]);
  expect(report.removedInOci).toEqual([
    { userId: SEED.users.alice, upn: ALICE, reason: 'expired', requestId, outcome: 'removed from OCI directly' },
  ]);
  expect(report.pendingInOci).toEqual([]);
  expect(report.problems).toEqual([]);
  // With direct removal on, provisionOnDemand (whose effect on a removed member is undocumented) is not asked.
  expect(report.provisionedOnDemand).toEqual([]);
  expect(H.requestsSince(mark).filter((entry) => entry.path.includes('provisionOnDemand'))).toEqual([]);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);
  expect(H.ociMembers()).toEqual([BREAKGLASS]);
  // The check's read, the group's one PATCH, and the read that confirms it.
  const calls = ociCalls(H, mark);
  expect(calls.filter((call) => call.startsWith('PATCH'))).toEqual(['PATCH /admin/v1/Groups/{id}']);
  expect(calls.slice(calls.indexOf('PATCH /admin/v1/Groups/{id}'))).toEqual([
    'PATCH /admin/v1/Groups/{id}',
    'GET /admin/v1/Groups/{id}',
    // Then the seeded PIM group's check: found by name, read.
    'GET /admin/v1/Groups',
    'GET /admin/v1/Groups/{id}',
  ]);
  expect((await audit(H)).filter((entry) => entry.action === 'remove-oci')).toEqual([
    expect.objectContaining({
      action: 'remove-oci',
      result: 'ok',
      reason: 'expired',
      target: expect.objectContaining({ upn: ALICE, requestId, groupName: SEED.tempGroupName }),
    }),
  ]);
  expect(await pendingRemovals(H)).toEqual([
    expect.objectContaining({ upn: ALICE, status: 'confirmed', requestId, removedInOciAt: expect.any(String) }),
  ]);
});

test("Entra's next cycle after a direct removal: the removal already made counts as a success, the job stays healthy, and a later grant is exported again", async () => {
  const H = h();
  await approvedGrant(H);
  await H.control('provisioning/cycle');
  await H.advance({ hours: 2, minutes: 1 });
  expect((await sweep(H, await sweepHost(H))).code).toBe(0);
  expect(H.ociMembers()).toEqual([BREAKGLASS]);

  const cycle = await H.control('provisioning/cycle');
  expect(cycle.body.cycles).toEqual([
    expect.objectContaining({
      ran: true,
      membersRemoved: [],
      membersAlreadyGone: [{ group: SEED.tempGroupName, user: ALICE }],
    }),
  ]);
  expect(syncJob(H).status).toMatchObject({ code: 'Active', quarantine: null });
  expect(syncJob(H).status.lastSuccessfulExecution).toMatchObject({ state: 'Succeeded' });

  // The engine forgot the export: a new grant reaches OCI at the next cycle.
  await approvedGrant(H);
  await H.control('provisioning/cycle');
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
});

test('a membership JIT created at sign-in before any cycle (which SCIM never removes) is removed the same way; the text report says gone from OCI', async () => {
  const H = h();
  // Alice is new to OCI: no user there yet (an earlier test's cycle may have made and disabled one).
  const earlier = H.emu.world.ociUserByUserName(ALICE);
  if (earlier) H.emu.world.ociUsers.delete(earlier.id);
  // A grant shorter than a provisioning cycle: no cycle runs while it lasts, so SCIM never exports her.
  await approvedGrant(H, '20m');
  const signIn = await H.control('jit/signin', { user: ALICE });
  expect(signIn.body.created).toBe(true);
  expect(signIn.body.groupsAdded).toEqual([SEED.tempGroupName]);
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
  await H.advance({ minutes: 21 });

  const result = await H.run('cron', ['sweep'], { env: { OCIACCESS_CONFIG: await sweepHost(H) } });
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/^ {2}removed {4}alice@contoso\.example {2}\(expired, removed; gone from OCI\)$/m);
  expect(result.stdout).toMatch(/^outcome: clean$/m);
  expect(H.ociMembers()).toEqual([BREAKGLASS]);

  // Provisioning never exported her: its cycle has nothing to remove and nothing fails.
  const cycle = await H.control('provisioning/cycle');
  expect(cycle.body.cycles[0]).toMatchObject({ ran: true, membersRemoved: [], membersAlreadyGone: [] });
  expect(H.ociMembers()).toEqual([BREAKGLASS]);
  expect(syncJob(H).status).toMatchObject({ code: 'Active', quarantine: null });
});

test('groups[].removeDirectly false: the SCIM path (exit 6, pending, no OCI write); --force-oci-after still forces', async () => {
  const H = h();
  await approvedGrant(H);
  await H.control('provisioning/cycle');
  await H.advance({ hours: 2, minutes: 1 });
  const config = await sweepHost(H, (c) => (c.groups[0].removeDirectly = false));

  const mark = H.mark();
  const first = await sweep(H, config);
  expect(first.code).toBe(6);
  expect(first.json.groups[0].removedInOci).toEqual([]);
  expect(first.json.groups[0].pendingInOci).toEqual([
    expect.objectContaining({ upn: ALICE, outcome: 'removed in Entra, pending in OCI' }),
  ]);
  expect(ociCalls(H, mark).filter((call) => !call.startsWith('GET'))).toEqual([]);
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);

  await H.advance({ minutes: 31 });
  const forced = await sweep(H, config, ['--force-oci-after', '30m']);
  expect(forced.code).toBe(0);
  expect(forced.json.groups[0].forcedInOci).toEqual([
    expect.objectContaining({ upn: ALICE, outcome: 'removed in OCI directly' }),
  ]);
  expect(forced.json.groups[0].removedInOci).toEqual([]);
  expect(H.ociMembers()).toEqual([BREAKGLASS]);
});

test('removeDirectly true with a read key: CONFIG_INVALID (exit 2) naming the key, nothing sent', async () => {
  const H = h();
  for (const [name, change] of [
    ['all-groups', (c: any) => (c.oci.removeDirectly = true)],
    ['one-group', (c: any) => (c.groups[0].removeDirectly = true)],
  ] as const) {
    const config = await configWith(H, `read-key-${name}`, change);
    const result = await H.expectNoChange(() => sweep(H, config));
    expect(result.code).toBe(2);
    expect(result.json.error).toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/removeDirectly: needs oci\.access "write" .*declared read-only/),
    });
    const text = await H.expectNoChange(() => H.run('cron', ['sweep'], { env: { OCIACCESS_CONFIG: config } }));
    expect(text.code).toBe(2);
    expect(text.stderr.split('\n')[0]).toBe(`error: Config file ${config} is invalid:`);
  }
});

test('OCI unavailable during the direct removal: reported (exit 5), the Entra removal recorded, removed by the next sweep', async () => {
  const H = h();
  const requestId = await approvedGrant(H);
  await H.control('provisioning/cycle');
  await H.advance({ hours: 2, minutes: 1 });
  const config = await sweepHost(H);
  await H.control('faults', { service: 'oci', method: 'PATCH', status: 503 });

  const failed = await sweep(H, config);
  expect(failed.code).toBe(5);
  const report = failed.json.groups[0];
  expect(failed.json.outcome).toBe('unavailable');
  expect(report.removed).toEqual([expect.objectContaining({ upn: ALICE, requestId, outcome: 'removed' })]);
  expect(report.removedInOci).toEqual([]);
  expect(report.unavailable).toEqual([
    expect.stringMatching(/^direct OCI removal of alice@contoso\.example failed \(the next sweep tries again\): .*503/),
  ]);
  expect(report.pendingInOci).toEqual([expect.objectContaining({ upn: ALICE })]);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
  expect(await pendingRemovals(H)).toEqual([expect.objectContaining({ upn: ALICE, status: 'pending-oci' })]);
  const entries = await audit(H);
  expect(entries.filter((entry) => entry.action === 'remove')).toEqual([
    expect.objectContaining({ result: 'pending', target: expect.objectContaining({ upn: ALICE, requestId }) }),
    expect.objectContaining({ result: 'ok', target: expect.objectContaining({ upn: ALICE, requestId }) }),
  ]);
  expect(entries.filter((entry) => entry.action === 'remove-oci')).toEqual([
    expect.objectContaining({
      result: 'failed',
      reason: 'expired',
      details: expect.objectContaining({ code: 'OCI_UNAVAILABLE' }),
    }),
  ]);

  await H.control('faults', undefined, { method: 'DELETE' });
  const again = await sweep(H, config);
  expect(again.code).toBe(0);
  expect(again.json.groups[0].removed).toEqual([]);
  expect(again.json.groups[0].removedInOci).toEqual([
    expect.objectContaining({ upn: ALICE, requestId, outcome: 'removed from OCI directly' }),
  ]);
  expect(H.ociMembers()).toEqual([BREAKGLASS]);
});

test('more than 50 members: 120 removed from OCI in three PATCHes and one confirming read', async () => {
  const H = h();
  const scale = seedScaleWorld(H.emu.world, { members: 120, grant: () => null });
  expect(H.ociMembers()).toHaveLength(121);

  const mark = H.mark();
  const result = await sweep(H, await sweepHost(H));
  expect(result.code).toBe(0);
  const report = result.json.groups[0];
  expect(report.removed).toHaveLength(120);
  expect(report.removedInOci.map((r: any) => r.upn).sort()).toEqual([...scale.memberUpns].sort());
  expect(H.ociMembers()).toEqual([BREAKGLASS]);
  const calls = ociCalls(H, mark);
  const firstPatch = calls.indexOf('PATCH /admin/v1/Groups/{id}');
  expect(calls.slice(firstPatch)).toEqual([
    'PATCH /admin/v1/Groups/{id}',
    'PATCH /admin/v1/Groups/{id}',
    'PATCH /admin/v1/Groups/{id}',
    'GET /admin/v1/Groups/{id}',
    // Then the seeded PIM group's check: found by name, read.
    'GET /admin/v1/Groups',
    'GET /admin/v1/Groups/{id}',
  ]);
});

test('direct removal touches only members this host removed in Entra: drift in the OCI group stays (reported) without --fix-drift', async () => {
  const H = h();
  await approvedGrant(H);
  await H.control('provisioning/cycle');
  // Someone adds mallory to the OCI group by hand in the OCI console.
  await H.control(`oci/groups/${SEED.tempGroupName}/members`, { user: MALLORY });
  await H.advance({ hours: 2, minutes: 1 });

  const result = await sweep(H, await sweepHost(H));
  expect(result.code).toBe(6);
  const report = result.json.groups[0];
  expect(report.removedInOci).toEqual([expect.objectContaining({ upn: ALICE })]);
  expect(report.drift).toEqual([expect.objectContaining({ userName: MALLORY, state: 'reported' })]);
  expect(H.ociMembers()).toEqual([BREAKGLASS, MALLORY]);
});

test('--dry-run on the sweep host plans the direct removal and changes nothing', async () => {
  const H = h();
  const requestId = await approvedGrant(H);
  await H.control('provisioning/cycle');
  await H.advance({ hours: 2, minutes: 1 });
  const config = await sweepHost(H);
  const result = await H.expectNoChange(() => sweep(H, config, ['--dry-run']));
  expect(result.code).toBe(0);
  expect(result.json.groups[0].removedInOci).toEqual([
    {
      userId: SEED.users.alice,
      upn: ALICE,
      reason: 'expired',
      requestId,
      outcome: 'planned: remove from OCI directly',
    },
  ]);
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
});

test("re-approved before Entra's next cycle: the cycle does not put her back (the engine believes it exported her), her next sign-in (JIT) does", async () => {
  const H = h();
  await approvedGrant(H);
  await H.control('provisioning/cycle');
  await H.advance({ hours: 2, minutes: 1 });
  expect((await sweep(H, await sweepHost(H))).code).toBe(0);
  expect(H.ociMembers()).toEqual([BREAKGLASS]);

  await approvedGrant(H);
  const cycle = await H.control('provisioning/cycle');
  expect(cycle.body.cycles[0]).toMatchObject({ ran: true, membersAdded: [], membersAlreadyGone: [] });
  expect(H.ociMembers()).toEqual([BREAKGLASS]);
  const signIn = await H.control('jit/signin', { user: ALICE });
  expect(signIn.body.groupsAdded).toEqual([SEED.tempGroupName]);
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
});
