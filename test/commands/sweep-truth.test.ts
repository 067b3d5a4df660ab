/**
 * Issue 15, "every message true", for the sweep: what the report, the exit
 * code and the audit log say must be what Entra, OCI and the records say, on
 * every host — a requester's own revoke, the reason and request of a removal,
 * a dry run, the --json document when there is no report, an ended grant a
 * newer one covers, a removal stuck because JIT put the member in OCI, and a
 * decisions record two sweeps create at once.
 */
import { SEED } from '../../src/emulator/seed.js';
import { configWith, storedRecords, upnOf, useHarness, type Actor, type Harness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob', 'carol'] });
const ALICE = upnOf('alice');
const CAROL = upnOf('carol');
const BREAKGLASS = upnOf('breakglass');
const FIRST_PROGRESS_LINE = 'OCI-Temp-Admins: reading members and records';

async function request(H: Harness, hours: string): Promise<string> {
  const result = await H.run('alice', ['request', '--hours', hours, '--justification', 'INC-4711: rotate', '--json']);
  expect(result.code).toBe(0);
  return result.json.id;
}

async function approvedGrant(H: Harness, hours = '2'): Promise<string> {
  const id = await request(H, hours);
  expect((await H.run('bob', ['approve', id, '--yes'])).code).toBe(0);
  return id;
}

async function sweep(H: Harness, host: Actor | 'cron', expectedExit: number, extra: string[] = []) {
  const result = await H.run(host, ['sweep', ...extra, '--json']);
  if (result.code !== expectedExit)
    throw new Error(`sweep exited ${result.code}, expected ${expectedExit}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

const firstLine = (text: string) => text.split('\n')[0];

test("a requester's own revoke: the first sweep after it, on any host, says pending in OCI (exit 6), not clean", async () => {
  const H = h();
  const id = await approvedGrant(H);
  await H.control('provisioning/cycle');
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
  const revoked = await H.run('alice', ['revoke', '--reason', 'done', '--json']);
  expect(revoked.json).toMatchObject({ membership: 'left-for-sweep', oci: 'member' });

  // Host A removes her in Entra and waits for OCI.
  const hostA = await H.machine('cron', 'host-a');
  const first = await sweep(H, hostA, 6);
  expect(firstLine(first.stderr)).toBe(FIRST_PROGRESS_LINE);
  expect(first.json.outcome).toBe('pending');
  expect(first.json.groups[0].removed).toEqual([
    expect.objectContaining({ upn: ALICE, reason: 'revoked', requestId: id, outcome: 'removed' }),
  ]);
  expect(first.json.groups[0].pendingInOci).toEqual([
    expect.objectContaining({
      upn: ALICE,
      reason: 'revoked',
      requestId: id,
      outcome: 'removed in Entra, pending in OCI',
    }),
  ]);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);

  // Host B never removed her and has no ledger entry: the records say her grant ended, OCI still lists her.
  const hostB = await H.machine('cron', 'host-b');
  const second = await sweep(H, hostB, 6);
  expect(firstLine(second.stderr)).toBe(FIRST_PROGRESS_LINE);
  expect(second.json).toMatchObject({ outcome: 'pending' });
  expect(second.json.groups[0]).toMatchObject({
    removed: [],
    drift: [],
    pendingInOci: [
      expect.objectContaining({
        upn: ALICE,
        reason: 'revoked',
        requestId: id,
        outcome: 'removed in Entra, pending in OCI',
      }),
    ],
  });
  const text = await H.run(hostB, ['sweep']);
  expect(text.code).toBe(6);
  expect(text.stdout).toContain(`pending    ${ALICE}  removed in Entra, pending in OCI (revoked, ${id})`);
  expect(text.stdout).toContain('outcome: pending');

  // Once provisioning takes her out of OCI, host B confirms it and is clean.
  await H.control('provisioning/cycle');
  const after = await sweep(H, hostB, 0);
  expect(after.json.groups[0].confirmedInOci).toEqual([expect.objectContaining({ upn: ALICE, reason: 'revoked' })]);
  expect((await sweep(H, hostB, 0)).json.groups[0].confirmedInOci).toEqual([]);
});

test("a requester's own revoke removed in Entra by another host: a sweep host with direct removal takes her out of OCI at once", async () => {
  const H = h();
  const id = await approvedGrant(H);
  await H.control('provisioning/cycle');
  expect((await H.run('alice', ['revoke', '--json'])).json.membership).toBe('left-for-sweep');
  await sweep(H, await H.machine('cron', 'host-a'), 6);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);

  const writer = await configWith(H, 'write-key', (config) => {
    config.oci.access = 'write';
  });
  const hostB = await H.machine('cron', 'host-b');
  const result = await H.run(hostB, ['sweep', '--json'], { env: { OCIACCESS_CONFIG: writer } });
  expect(result.code).toBe(0);
  expect(firstLine(result.stderr)).toBe(FIRST_PROGRESS_LINE);
  expect(result.json.outcome).toBe('clean');
  expect(result.json.groups[0]).toMatchObject({
    removed: [],
    drift: [],
    removedInOci: [expect.objectContaining({ upn: ALICE, reason: 'revoked', requestId: id })],
  });
  expect(H.ociMembers()).toEqual([BREAKGLASS]);
});

test("the removal after a requester's revoke names the revoked request and reason (report and audit log), not an older expired grant", async () => {
  const H = h();
  const older = await approvedGrant(H);
  await H.advance({ hours: 2, minutes: 1 });
  const expired = await sweep(H, 'cron', 6);
  expect(expired.json.groups[0].removed).toEqual([
    expect.objectContaining({ upn: ALICE, reason: 'expired', requestId: older }),
  ]);

  const newer = await approvedGrant(H);
  expect((await H.run('alice', ['revoke', '--reason', 'done', '--json'])).json.membership).toBe('left-for-sweep');
  const result = await sweep(H, 'cron', 6);
  expect(firstLine(result.stderr)).toBe(FIRST_PROGRESS_LINE);
  expect(result.json.groups[0].removed).toEqual([
    expect.objectContaining({ upn: ALICE, reason: 'revoked', requestId: newer, outcome: 'removed' }),
  ]);
  const audit = await H.run('cron', ['audit', '--raw', '--json']);
  const removals = audit.json.entries.filter((e: any) => e.action === 'remove');
  expect(removals.at(-1)).toMatchObject({ reason: 'revoked', target: { upn: ALICE, requestId: newer } });
});

test('--dry-run that would change something: outcome planned with counts, "would remove" lines, exit 0, nothing changed', async () => {
  const H = h();
  await H.control(`portal/groups/${SEED.tempGroupId}/members`, { user: CAROL });
  await request(H, '1');
  const planned = await H.expectNoChange(() => H.run('cron', ['sweep', '--dry-run', '--json']));
  expect(planned.code).toBe(0);
  expect(firstLine(planned.stderr)).toBe(FIRST_PROGRESS_LINE);
  expect(planned.json).toMatchObject({
    dryRun: true,
    outcome: 'planned',
    planned: { remove: 1, autoApprove: 1, removeInOci: 0, fixDrift: 0 },
  });
  const text = await H.expectNoChange(() => H.run('cron', ['sweep', '--dry-run']));
  expect(text.code).toBe(0);
  expect(text.stdout).toContain(`would remove ${CAROL}  (no-grant)`);
  expect(text.stdout).toContain(`would approve ${ALICE}`);
  expect(text.stdout).toContain('outcome: planned (dry run: would remove 1, auto-approve 1; nothing changed)');
  expect(text.stdout).not.toMatch(/outcome: clean/);

  // With nothing to do, a dry run is clean.
  await H.run('cron', ['sweep']);
  const nothing = await H.run('cron', ['sweep', '--dry-run', '--json']);
  expect(nothing.code).toBe(0);
  expect(nothing.json).toMatchObject({ outcome: 'clean', planned: { remove: 0, autoApprove: 0 } });
});

test('--json prints the report shape with the error inside when the sweep fails before its report', async () => {
  const H = h();
  await H.control('faults', {
    service: 'graph',
    method: 'GET',
    pathPattern: `/groups/${SEED.tempGroupId}/members`,
    status: 403,
    code: 'Authorization_RequestDenied',
    message: 'Insufficient privileges to complete the operation.',
  });
  try {
    const denied = await H.run('cron', ['sweep', '--json']);
    expect(denied.code).toBe(4);
    expect(firstLine(denied.stderr)).toBe(FIRST_PROGRESS_LINE);
    // As for every command's --json errors (commands.md, JSON errors): the error is in the document only.
    expect(denied.stderr).not.toMatch(/^error: /m);
    expect(denied.json).toEqual({
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
      dryRun: false,
      outcome: 'failed',
      groups: [],
      error: { code: 'PERMISSION_DENIED', message: expect.any(String), hint: expect.any(String) },
    });
  } finally {
    await H.control('faults', undefined, { method: 'DELETE' });
  }

  // Before any network call: a config without the OCI section.
  const noOci = await configWith(H, 'no-oci', (config) => delete config.oci);
  const config = await H.run('cron', ['sweep', '--json'], { env: { OCIACCESS_CONFIG: noOci } });
  expect(config.code).toBe(2);
  expect(config.stderr).toBe('');
  expect(config.json).toMatchObject({ outcome: 'failed', groups: [], error: { code: expect.any(String) } });

  // Without --json the error is said as every command says it.
  const plain = await H.run('cron', ['sweep'], { env: { OCIACCESS_CONFIG: noOci } });
  expect(plain.code).toBe(2);
  expect(plain.stdout).toBe('');
  expect(firstLine(plain.stderr)).toMatch(/^error: /);
});

test('an ended grant whose member a newer live grant keeps in OCI is "covered by" that grant, not pending', async () => {
  const H = h();
  const older = await approvedGrant(H, '2');
  await H.advance({ hours: 1 });
  const newer = await approvedGrant(H, '4');
  await H.control('provisioning/cycle');
  await H.advance({ hours: 1, minutes: 1 });
  const result = await sweep(H, 'cron', 0);
  expect(firstLine(result.stderr)).toBe(FIRST_PROGRESS_LINE);
  expect(result.json.outcome).toBe('clean');
  expect(result.json.groups[0]).toMatchObject({
    removed: [],
    pendingInOci: [],
    kept: expect.arrayContaining([expect.objectContaining({ upn: ALICE, requestId: newer })]),
    covered: [
      expect.objectContaining({
        upn: ALICE,
        reason: 'expired',
        requestId: older,
        coveredBy: newer,
        outcome: `ended, covered by ${newer}`,
      }),
    ],
  });
  const text = await H.run('cron', ['sweep']);
  expect(text.stdout).toContain(`covered    ${ALICE}  ${older} ended, covered by ${newer}`);
});

test('a removal another host made long after the grant ended is watched from when this host learns of it: not called stuck at once, stuck two cycles later', async () => {
  const H = h();
  const CYCLE_MS = 40 * 60_000;
  await approvedGrant(H);
  await H.control('provisioning/cycle');
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
  // The sweep hosts were down: her grant ended 100 minutes (between two and three cycles) before host A removes her.
  await H.advance({ hours: 2, minutes: 100 });
  await sweep(H, await H.machine('cron', 'host-a'), 6);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);

  const hostB = await H.machine('cron', 'host-b');
  const learnt = await sweep(H, hostB, 6);
  expect(learnt.json.groups[0].stuck).toEqual([]);
  expect(learnt.json.groups[0].pendingInOci).toEqual([
    expect.objectContaining({ upn: ALICE, outcome: 'removed in Entra, pending in OCI' }),
  ]);
  // OCI still holds her two cycles after host B learnt of the removal (provisioning held back): stuck, on host B too.
  await H.control('provisioning/interval', { ms: 10 * 3600_000 });
  try {
    await H.advance({ minutes: 85 });
    const stuck = await sweep(H, hostB, 1);
    expect(stuck.json.groups[0].stuck).toEqual([expect.objectContaining({ upn: ALICE })]);
  } finally {
    await H.control('provisioning/interval', { ms: CYCLE_MS });
  }
});

test('a removal stuck because JIT put the member in OCI before any provisioning cycle names the cause and the fix', async () => {
  const H = h();
  const CYCLE_MS = 40 * 60_000;
  // No provisioning cycle runs between her grant and its end.
  await H.control('provisioning/interval', { ms: 10 * 3600_000 });
  try {
    await approvedGrant(H);
    // A fresh tenant: provisioning never created her in OCI (earlier tests of this file did).
    const world = H.emu.world;
    const ociUser = world.ociUserByUserName(ALICE);
    if (ociUser) world.ociUsers.delete(ociUser.id);
    // She signs in to the console: JIT creates her and gives her the OCI group.
    await H.control('jit/signin', { user: ALICE });
    expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
    await H.advance({ hours: 2, minutes: 1 });
    await sweep(H, 'cron', 6);
  } finally {
    await H.control('provisioning/interval', { ms: CYCLE_MS });
  }
  // Provisioning never exported her membership, so its cycles never remove it.
  for (let cycle = 0; cycle < 2; cycle += 1) {
    await H.control('provisioning/cycle');
    await H.advance({ minutes: 45 });
  }
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
  const stuck = await sweep(H, 'cron', 1);
  expect(firstLine(stuck.stderr)).toBe(FIRST_PROGRESS_LINE);
  expect(stuck.json.groups[0].stuck).toEqual([
    expect.objectContaining({
      upn: ALICE,
      outcome: expect.stringMatching(/^still in OCI \d+ min after removal in Entra$/),
      hint: expect.stringContaining('joined the OCI group through JIT'),
    }),
  ]);
  expect(stuck.json.groups[0].stuck[0].hint).toContain('--force-oci-after');
  expect(stuck.json.groups[0].stuck[0].hint).toContain('oci.removeDirectly');
  const text = await H.run('cron', ['sweep']);
  expect(text.code).toBe(1);
  expect(text.stdout).toMatch(
    new RegExp(
      `STUCK      ${ALICE}  still in OCI \\d+ min after removal in Entra\\. Likely cause: the user joined the OCI group through JIT`,
    ),
  );
});

test("two sweeps creating the group's decisions record at once: the one whose create is refused (409) re-reads and patches", async () => {
  const H = h();
  const id = await request(H, '1');
  // The other host's create wins the race: this sweep's create answers 409 once.
  await H.control('faults', {
    service: 'graph',
    method: 'POST',
    pathPattern: `/groups/${SEED.tempGroupId}/extensions$`,
    status: 409,
    code: 'Request_BadRequest',
    message: 'An extension already exists with given id.',
    count: 1,
  });
  try {
    const result = await sweep(H, 'cron', 0);
    expect(firstLine(result.stderr)).toBe(FIRST_PROGRESS_LINE);
    expect(result.json.groups[0]).toMatchObject({
      failed: [],
      autoApproved: [expect.objectContaining({ upn: ALICE, requestId: id, outcome: 'added' })],
    });
  } finally {
    await H.control('faults', undefined, { method: 'DELETE' });
  }
  expect(storedRecords(H, 'group', 'com.ociaccess.decisions')).toEqual([
    expect.objectContaining({ r: id, u: SEED.users.alice, d: 'a' }),
  ]);
});
