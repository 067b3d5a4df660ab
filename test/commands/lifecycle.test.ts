/**
 * The access lifecycle through the commands people type, against the
 * emulator through the real SDKs: request → list → approve → status (with the
 * OCI side after a JIT sign-in) → revoke; deny; a pending request timing out;
 * and two approvers racing on one request. Each step checks the exit code,
 * the output, who wrote what where (the emulator's request log), the remote
 * records and the local state and audit files.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SEED } from '../../src/emulator/seed.js';
import { storedRecords, upnOf, useHarness, type Harness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob', 'carol'] });
const ALICE = upnOf('alice');
const HOUR = 3600_000;

async function localState(H: Harness, who: 'alice' | 'bob' | 'carol'): Promise<any> {
  return JSON.parse(await readFile(path.join(H.actor(who).home, 'state.json'), 'utf8'));
}

async function auditEntries(H: Harness, who: 'alice' | 'bob' | 'carol'): Promise<any[]> {
  const result = await H.run(who, ['audit', '--raw', '--json']);
  expect(result.code).toBe(0);
  return result.json.entries;
}

async function request(H: Harness, hours = '2'): Promise<string> {
  const result = await H.run('alice', [
    'request',
    '--hours',
    hours,
    '--justification',
    'INC-4711: rotate the DB wallet',
    '--json',
  ]);
  expect(result.code).toBe(0);
  return result.json.id;
}

/** Paths written since `mark`, with the object id of the writer's own user object replaced by a name. */
function writes(H: Harness, mark: number): string[] {
  const names = Object.fromEntries(Object.entries(SEED.users).map(([name, id]) => [id, name]));
  return H.writesSince(mark).map(
    (entry) =>
      `${entry.method} ${entry.path.replace(/[0-9a-f-]{36}/g, (id) => names[id] ?? (id === SEED.tempGroupId ? 'temp-group' : id))}`,
  );
}

test('request → list --pending → approve → status → JIT sign-in → status: the grant is live and OCI catches up', async () => {
  const H = h();

  // alice asks; only her own user object is written.
  let mark = H.mark();
  const asked = await H.run('alice', [
    'request',
    '--hours',
    '2',
    '--justification',
    'INC-4711: rotate the DB wallet',
    '--ticket',
    'INC-4711',
    '--json',
  ]);
  expect(asked.code).toBe(0);
  const id: string = asked.json.id;
  expect(asked.json).toMatchObject({
    id: expect.stringMatching(/^r-[0-9a-z]+$/),
    group: 'OCI-Temp-Admins',
    hours: 2,
    ticket: 'INC-4711',
    state: 'pending',
    autoApprovable: false,
    activeGrant: null,
  });
  expect(asked.stderr).toContain(`runs \`ociaccess approve ${id}\``);
  expect(writes(H, mark).every((w) => w.includes('/users/alice/extensions'))).toBe(true);
  expect(storedRecords(H, 'alice', 'com.ociaccess.requests')).toEqual([
    expect.objectContaining({ i: id, h: 2, j: 'INC-4711: rotate the DB wallet', t: 'INC-4711' }),
  ]);
  expect((await localState(H, 'alice')).requests[id]).toMatchObject({ status: 'pending', hours: 2, upn: ALICE });
  expect(H.entraMembers()).toEqual([upnOf('breakglass')]);

  // bob sees it, without writing anything.
  mark = H.mark();
  const listed = await H.run('bob', ['list', '--pending', '--json']);
  expect(listed.code).toBe(0);
  expect(listed.json.requests).toEqual([
    expect.objectContaining({
      id,
      requester: ALICE,
      state: 'pending',
      hours: 2,
      justification: 'INC-4711: rotate the DB wallet',
      expiresAt: null,
    }),
  ]);
  const table = await H.run('bob', ['list', '--pending']);
  expect(table.stdout.split('\n')[1]!.split('\t').slice(0, 5)).toEqual([id, ALICE, 'OCI-Temp-Admins', 'pending', '2']);
  expect(H.writesSince(mark)).toEqual([]);

  // bob approves: his own decision record, then the membership.
  mark = H.mark();
  const approved = await H.run('bob', ['approve', id, '--reason', 'on call', '--yes', '--json']);
  expect(approved.code).toBe(0);
  expect(approved.json).toMatchObject({
    id,
    requester: ALICE,
    decision: 'approved',
    hours: 2,
    reason: 'on call',
    membership: 'added',
  });
  expect(Date.parse(approved.json.expiresAt) - Date.parse(approved.json.decidedAt)).toBe(2 * HOUR);
  expect(writes(H, mark)).toEqual([
    ...writes(H, mark).filter((w) => w.includes('/users/bob/extensions')),
    'POST /v1.0/groups/temp-group/members/$ref',
  ]);
  expect(writes(H, mark).some((w) => w.includes('/users/alice'))).toBe(false);
  expect(H.entraMembers()).toEqual([ALICE, upnOf('breakglass')]);
  expect(storedRecords(H, 'bob', 'com.ociaccess.decisions')).toEqual([
    expect.objectContaining({ r: id, u: SEED.users.alice, d: 'a', h: 2, y: 'on call' }),
  ]);
  expect((await localState(H, 'bob')).decisions[id]).toMatchObject({
    decision: 'approved',
    requesterUpn: ALICE,
    expiresAt: approved.json.expiresAt,
  });
  expect((await auditEntries(H, 'bob')).map((e) => [e.action, e.result, e.target.requestId])).toEqual([
    ['approve', 'pending', id],
    ['approve', 'ok', id],
  ]);

  // alice's status: approved, about two hours left, no OCI user until she signs in to OCI.
  const status = await H.run('alice', ['status', '--json']);
  expect(status.code).toBe(0);
  expect(status.json.user).toBe(ALICE);
  expect(status.json.requests).toEqual([
    expect.objectContaining({ id, state: 'approved', decidedBy: SEED.users.bob, oci: 'no-user' }),
  ]);
  const left = Date.parse(status.json.requests[0].expiresAt) - H.emu.world.now();
  expect(left).toBeGreaterThan(2 * HOUR - 5 * 60_000);
  expect(left).toBeLessThanOrEqual(2 * HOUR);
  const onTerminal = await H.run('alice', ['status'], { tty: true });
  expect(onTerminal.stdout).toMatch(
    new RegExp(
      `${id}\\s+OCI-Temp-Admins\\s+approved\\s+2\\s+in (1h 5\\dm|2h) \\((\\d{4}-\\d\\d-\\d\\d )?\\d\\d:\\d\\d UTC\\)\\s+no OCI user yet`,
    ),
  );

  // She signs in to the OCI console: SAML JIT creates her and maps the group.
  await H.control('jit/signin', { user: ALICE });
  expect(H.ociMembers()).toEqual([ALICE, upnOf('breakglass')]);
  const after = await H.run('alice', ['status', '--json']);
  expect(after.json.requests).toEqual([expect.objectContaining({ id, state: 'approved', oci: 'member' })]);
  expect((await H.run('alice', ['status', '--no-oci', '--json'])).json.requests[0]).not.toHaveProperty('oci', 'member');
});

test('revoke --user (approver) ends a grant early: removed in Entra, exit 6 while OCI still lists the user, then gone', async () => {
  const H = h();
  const id = await request(H);
  expect((await H.run('bob', ['approve', id, '--yes'])).code).toBe(0);
  await H.control('provisioning/cycle');
  expect(H.ociMembers()).toEqual([ALICE, upnOf('breakglass')]);

  const mark = H.mark();
  const revoked = await H.run('bob', ['revoke', '--user', ALICE, '--reason', 'done early', '--json']);
  expect(revoked.code).toBe(6);
  expect(revoked.json).toEqual({
    user: ALICE,
    group: 'OCI-Temp-Admins',
    revokedRequests: [id],
    membership: 'removed',
    oci: 'member',
    provisionError: null,
    problems: [],
  });
  expect(revoked.stderr).toContain(`OCI still lists ${ALICE}`);
  expect(writes(H, mark)).toEqual([
    ...writes(H, mark).filter((w) => w.includes('/users/bob/extensions')),
    `DELETE /v1.0/groups/temp-group/members/alice/$ref`,
  ]);
  expect(H.entraMembers()).toEqual([upnOf('breakglass')]);
  expect(storedRecords(H, 'bob', 'com.ociaccess.decisions').map((d) => [d.r, d.d])).toEqual([
    [id, 'a'],
    [id, 'x'],
  ]);
  expect((await localState(H, 'bob')).sweep.pendingRemovals[`${SEED.tempGroupId}:${SEED.users.alice}`]).toMatchObject({
    status: 'pending-oci',
    reason: 'revoked',
  });

  const status = await H.run('alice', ['status', '--json']);
  expect(status.json.requests).toEqual([expect.objectContaining({ id, state: 'revoked', oci: 'member' })]);

  await H.control('provisioning/cycle');
  expect(H.ociMembers()).toEqual([upnOf('breakglass')]);
  const later = await H.run('alice', ['status', '--json']);
  expect(later.json.requests[0]).toMatchObject({ state: 'revoked', oci: expect.not.stringMatching(/^member$/) });
  expect((await H.run('bob', ['list', '--all', '--json'])).json.requests).toEqual([
    expect.objectContaining({ id, state: 'revoked' }),
  ]);
});

test('revoke --user --provision-now whose provisioning on demand fails (refused: bob has no application-admin role): the revocation stands and is recorded; the failure is a warning', async () => {
  const H = h();
  const id = await request(H);
  expect((await H.run('bob', ['approve', id, '--yes'])).code).toBe(0);
  await H.control('provisioning/cycle');
  const revoked = await H.run('bob', [
    'revoke',
    '--user',
    ALICE,
    '--reason',
    'done early',
    '--provision-now',
    '--json',
  ]);
  expect(revoked.code).toBe(6);
  expect(revoked.json).toMatchObject({
    user: ALICE,
    revokedRequests: [id],
    membership: 'removed',
    oci: 'member',
    provisionError: expect.stringContaining('provision on demand'),
  });
  expect(revoked.stderr).toMatch(/Provisioning on demand did not push the removal/);
  expect(H.entraMembers()).toEqual([upnOf('breakglass')]);
  expect(storedRecords(H, 'bob', 'com.ociaccess.decisions').map((d) => [d.r, d.d])).toEqual([
    [id, 'a'],
    [id, 'x'],
  ]);
  expect((await localState(H, 'bob')).sweep.pendingRemovals[`${SEED.tempGroupId}:${SEED.users.alice}`]).toMatchObject({
    status: 'pending-oci',
    reason: 'revoked',
  });
});

test('deny: the decision is recorded, the requester never becomes a member, and sees why', async () => {
  const H = h();
  const id = await request(H);
  const mark = H.mark();
  const denied = await H.run('bob', ['deny', id, '--reason', 'use the read-only group', '--yes', '--json']);
  expect(denied.code).toBe(0);
  expect(denied.json).toMatchObject({
    id,
    decision: 'denied',
    expiresAt: null,
    membership: null,
    reason: 'use the read-only group',
  });
  expect(writes(H, mark).every((w) => w.includes('/users/bob/extensions'))).toBe(true);
  expect(H.entraMembers()).toEqual([upnOf('breakglass')]);
  expect(storedRecords(H, 'bob', 'com.ociaccess.decisions')).toEqual([
    expect.objectContaining({ r: id, d: 'n', y: 'use the read-only group' }),
  ]);

  const status = await H.run('alice', ['status', '--json']);
  expect(status.json.requests).toEqual([
    expect.objectContaining({ id, state: 'denied', decidedBy: SEED.users.bob, expiresAt: null }),
  ]);
  expect((await H.run('bob', ['list', '--pending', '--json'])).json.requests).toEqual([]);
  // The next sweep leaves the group as it is.
  const sweep = await H.run('cron', ['sweep', '--json']);
  expect(sweep.code).toBe(0);
  expect(sweep.json.groups[0]).toMatchObject({ removed: [], autoApproved: [] });
  expect(H.entraMembers()).toEqual([upnOf('breakglass')]);
  // alice may ask again.
  expect(
    (await H.run('alice', ['request', '--hours', '1.5', '--justification', 'INC-4712: read-only will not do'])).code,
  ).toBe(0);
});

test('a pending request times out after pendingTimeoutHours (24): not listed as pending, cannot be approved, reported by the sweep', async () => {
  const H = h();
  const id = await request(H);
  await H.advance({ hours: 24, minutes: 1 });

  const pending = await H.run('bob', ['list', '--pending', '--json']);
  expect(pending.code).toBe(0);
  expect(pending.json.requests).toEqual([]);
  const all = await H.run('bob', ['list', '--all', '--json']);
  expect(all.json.requests).toEqual([expect.objectContaining({ id, state: 'timed-out', expiresAt: null })]);
  expect((await H.run('alice', ['status', '--json'])).json.requests).toEqual([
    expect.objectContaining({ id, state: 'timed-out' }),
  ]);

  const approve = await H.expectNoChange(() => H.run('bob', ['approve', id, '--yes', '--json']));
  expect(approve.code).toBe(3);
  expect(approve.json.error).toMatchObject({
    code: 'REQUEST_NOT_PENDING',
    message: expect.stringContaining('is timed-out'),
    hint: 'The requester can make a new request.',
  });
  expect(H.entraMembers()).toEqual([upnOf('breakglass')]);

  const sweep = await H.run('cron', ['sweep', '--json']);
  expect(sweep.code).toBe(0);
  expect(sweep.json.groups[0].timedOut).toEqual([
    expect.objectContaining({ upn: ALICE, requestId: id, reason: 'pending-timeout' }),
  ]);
  expect(sweep.json.groups[0].autoApproved).toEqual([]);

  // The requester can ask again.
  const again = await H.run('alice', [
    'request',
    '--hours',
    '2',
    '--justification',
    'INC-4711: still needed',
    '--json',
  ]);
  expect(again.code).toBe(0);
  expect(again.json.id).not.toBe(id);
});

describe('two approvers racing on one request', () => {
  test('at the same moment: one wins, the other gets REQUEST_NOT_PENDING; one approval on record, one membership add', async () => {
    const H = h();
    const id = await request(H);
    const mark = H.mark();
    const [bob, carol] = await Promise.all([
      H.run('bob', ['approve', id, '--yes', '--json']),
      H.run('carol', ['approve', id, '--yes', '--json']),
    ]);
    const outcomes = [bob, carol].map((r) => (r.code === 0 ? 'won' : r.json?.error?.code));
    // Graph has no compare-and-swap on extensions: if one approver reads its
    // decision back before the other's write lands AND the other's decision is
    // earlier, both go ahead. Then both records hold an approval, the same one
    // settles on every machine, and the membership is the same; nobody is
    // told "approved" about a grant that does not exist.
    if (outcomes.every((o) => o === 'won')) {
      const status = await H.run('alice', ['status', '--json']);
      expect(status.json.requests).toEqual([expect.objectContaining({ id, state: 'approved' })]);
      expect(H.entraMembers()).toEqual([ALICE, upnOf('breakglass')]);
      return;
    }
    expect(outcomes.sort()).toEqual(['REQUEST_NOT_PENDING', 'won']);
    const [winner, loser] = bob.code === 0 ? (['bob', 'carol'] as const) : (['carol', 'bob'] as const);
    const loserResult = loser === 'bob' ? bob : carol;
    expect(loserResult.code).toBe(3);
    expect(loserResult.json.error.message).toContain(`Request ${id} is approved by another approver`);

    // Only the winner's approval stands in Entra; the loser's record holds no decision for it.
    expect(storedRecords(H, winner, 'com.ociaccess.decisions')).toEqual([expect.objectContaining({ r: id, d: 'a' })]);
    expect(storedRecords(H, loser, 'com.ociaccess.decisions').filter((d) => d.r === id)).toEqual([]);
    expect(writes(H, mark).filter((w) => w.startsWith('POST /v1.0/groups/temp-group/members/$ref'))).toHaveLength(1);
    expect(H.entraMembers()).toEqual([ALICE, upnOf('breakglass')]);
    // The loser's machine does not believe it approved.
    expect((await H.localFiles(loser))['state.json'] ?? '{}').not.toContain(`"decision":"approved"`);
    const status = await H.run('alice', ['status', '--json']);
    expect(status.json.requests).toEqual([
      expect.objectContaining({ id, state: 'approved', decidedBy: SEED.users[winner] }),
    ]);
  });

  test('one after the other: the second approver is told who decided, nothing changes', async () => {
    const H = h();
    const id = await request(H);
    expect((await H.run('carol', ['approve', id, '--yes'])).code).toBe(0);
    const second = await H.expectNoChange(() => H.run('bob', ['approve', id, '--yes', '--json']));
    expect(second.code).toBe(3);
    expect(second.json.error).toMatchObject({
      code: 'REQUEST_NOT_PENDING',
      message: `Request ${id} is approved by another approver; only pending requests can be approved.`,
    });
  });
});
