/**
 * `ociaccess sweep`, run by a cron host as the automation app (app-only
 * token, no sign-in): the deny-by-default rule against real memberships and
 * records, auto-approval, the OCI check with its exit codes (6 while OCI
 * lags, 0 once it caught up), and the extension case where an older grant
 * expiring must not remove a member whose newer grant is live.
 */
import { SEED } from '../../src/emulator/seed.js';
import { storedRecords, upnOf, useHarness, type Harness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob', 'carol'] });
const ALICE = upnOf('alice');
const CAROL = upnOf('carol');
const BREAKGLASS = upnOf('breakglass');

async function request(H: Harness, hours: string, who: 'alice' | 'bob' = 'alice'): Promise<string> {
  const result = await H.run(who, [
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

async function sweep(H: Harness, expectedExit: number, extra: string[] = []): Promise<any> {
  const result = await H.run('cron', ['sweep', ...extra, '--json']);
  if (result.code !== expectedExit)
    throw new Error(`sweep exited ${result.code}, expected ${expectedExit}:\n${result.stdout}\n${result.stderr}`);
  // The seeded config also lists the PIM-governed group; these tests are about the records group.
  const records = result.json.groups.filter((group: any) => group.group === SEED.tempGroupName);
  expect(records).toHaveLength(1);
  return records[0];
}

const upns = (actions: { upn: string }[]) => actions.map((a) => a.upn).sort();

test('removes the expired and the hand-added member, keeps the standing one; exit 6 while OCI lags, 0 once the provisioning cycle ran', async () => {
  const H = h();
  const id = await request(H, '2');
  expect((await H.run('bob', ['approve', id, '--yes'])).code).toBe(0);
  // Someone adds carol by hand in the portal; a provisioning cycle takes both to OCI.
  await H.control(`portal/groups/${SEED.tempGroupId}/members`, { user: CAROL });
  await H.control('provisioning/cycle');
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS, CAROL]);

  // Within alice's grant: only carol goes.
  let mark = H.mark();
  let report = await sweep(H, 6);
  expect(report.kept).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ upn: ALICE, reason: 'grant', requestId: id }),
      expect.objectContaining({ upn: BREAKGLASS, reason: 'standing' }),
    ]),
  );
  expect(report.removed).toEqual([expect.objectContaining({ upn: CAROL, reason: 'no-grant' })]);
  expect(report.pendingInOci).toEqual([expect.objectContaining({ upn: CAROL })]);
  expect(H.entraMembers()).toEqual([ALICE, BREAKGLASS]);
  const sweepWrites = H.writesSince(mark);
  expect(sweepWrites.length).toBeGreaterThan(0);
  // Every change was made as the automation app, and only carol's membership was touched.
  expect(sweepWrites.every((w) => w.principal === SEED.automationAppId)).toBe(true);
  const deleted = sweepWrites.flatMap((w) =>
    (w.batchItems ?? [{ method: w.method, url: w.path, status: w.status }])
      .filter((i) => i.method === 'DELETE')
      .map((i) => i.url),
  );
  expect(deleted).toEqual([expect.stringContaining(`/members/${SEED.users.carol}/$ref`)]);

  // The grant expires.
  await H.advance({ hours: 2, minutes: 1 });
  mark = H.mark();
  report = await sweep(H, 6);
  expect(report.removed).toEqual([expect.objectContaining({ upn: ALICE, reason: 'expired', requestId: id })]);
  expect(report.kept).toEqual([expect.objectContaining({ upn: BREAKGLASS, reason: 'standing' })]);
  expect(report.pendingInOci).toEqual([expect.objectContaining({ upn: ALICE })]);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);
  expect(H.ociMembers()).toContain(ALICE);
  expect(H.writesSince(mark).some((w) => w.path.includes(SEED.users.breakglass))).toBe(false);

  // Entra's provisioning cycle pushes the removal; the next sweep confirms it and is clean.
  await H.control('provisioning/cycle');
  expect(H.ociMembers()).toEqual([BREAKGLASS]);
  report = await sweep(H, 0);
  expect(upns(report.confirmedInOci)).toContain(ALICE);
  expect(report).toMatchObject({ removed: [], pendingInOci: [], stuck: [], failed: [] });

  // Nothing left to do: a further sweep changes nothing.
  mark = H.mark();
  const text = await H.run('cron', ['sweep']);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/outcome: clean/);
  expect(H.writesSince(mark)).toEqual([]);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);
});

test('auto-approval: alice asking for at most 1 hour is approved and added by the sweep, recorded on the group', async () => {
  const H = h();
  const asked = await H.run('alice', ['request', '--hours', '1', '--justification', 'INC-5: quick look', '--json']);
  expect(asked.code).toBe(0);
  const id = asked.json.id;
  expect(asked.json.autoApprovable).toBe(true);
  expect(asked.stderr).toContain('the next sweep approves it');
  expect(H.entraMembers()).toEqual([BREAKGLASS]);

  const report = await sweep(H, 0);
  expect(report.autoApproved).toEqual([
    expect.objectContaining({ upn: ALICE, requestId: id, expiresAt: expect.any(String) }),
  ]);
  expect(H.entraMembers()).toEqual([ALICE, BREAKGLASS]);
  // The decision lives on the managed group (written by the automation only), bounded by the rule.
  expect(storedRecords(H, 'group', 'com.ociaccess.decisions')).toEqual([
    expect.objectContaining({ r: id, u: SEED.users.alice, d: 'a', h: 1 }),
  ]);
  expect(storedRecords(H, 'bob', 'com.ociaccess.decisions')).toEqual([]);

  const status = await H.run('alice', ['status', '--json']);
  expect(status.json.requests).toEqual([expect.objectContaining({ id, state: 'approved', decidedBy: 'auto' })]);

  // The next sweep keeps her; after the hour it removes her. (A provisioning
  // cycle ran during that hour and took her to OCI, so OCI now lags: exit 6.)
  const again = await sweep(H, 0);
  expect(again.kept).toEqual(
    expect.arrayContaining([expect.objectContaining({ upn: ALICE, reason: 'grant', requestId: id })]),
  );
  expect(again.autoApproved).toEqual([]);
  await H.advance({ hours: 1, minutes: 1 });
  expect(H.ociMembers()).toContain(ALICE);
  const expired = await sweep(H, 6);
  expect(expired.removed).toEqual([expect.objectContaining({ upn: ALICE, reason: 'expired', requestId: id })]);
  expect(expired.pendingInOci).toEqual([expect.objectContaining({ upn: ALICE })]);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);
});

test('auto-approval applies only within its rule: alice for 2 hours and bob (not in the rule) stay pending', async () => {
  const H = h();
  const aliceId = await request(H, '2');
  const bob = await H.run('bob', ['request', '--hours', '1', '--justification', 'INC-6: quick look', '--json']);
  expect(bob.json.autoApprovable).toBe(false);
  const mark = H.mark();
  const report = await sweep(H, 0);
  expect(report.autoApproved).toEqual([]);
  expect(H.writesSince(mark)).toEqual([]);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);
  const pending = await H.run('carol', ['list', '--pending', '--json']);
  expect(pending.json.requests.map((r: any) => r.id).sort()).toEqual([aliceId, bob.json.id].sort());
});

test('regression: a grant extended by a second approval keeps the membership when the first one expires', async () => {
  const H = h();
  const first = await request(H, '2');
  expect((await H.run('bob', ['approve', first, '--yes'])).code).toBe(0);
  await H.advance({ hours: 1 });

  const extended = await H.run('alice', [
    'request',
    '--hours',
    '3',
    '--justification',
    'INC-4711: takes longer',
    '--json',
  ]);
  expect(extended.code).toBe(0);
  expect(extended.json.activeGrant).toMatchObject({ requestId: first });
  expect(extended.stderr).toContain('this one would extend it');
  const second = extended.json.id;
  const approved = await H.run('carol', ['approve', second, '--yes', '--json']);
  expect(approved.code).toBe(0);
  expect(approved.json.membership).toBe('already-member');

  // The first grant ends; the second one is live for two more hours.
  await H.advance({ hours: 1, minutes: 1 });
  const status = await H.run('alice', ['status', '--json']);
  expect(Object.fromEntries(status.json.requests.map((r: any) => [r.id, r.state]))).toEqual({
    [first]: 'expired',
    [second]: 'approved',
  });
  const mark = H.mark();
  const report = await sweep(H, 0);
  expect(report.removed).toEqual([]);
  expect(report.kept).toEqual(
    expect.arrayContaining([expect.objectContaining({ upn: ALICE, reason: 'grant', requestId: second })]),
  );
  expect(H.writesSince(mark)).toEqual([]);
  expect(H.entraMembers()).toEqual([ALICE, BREAKGLASS]);

  // Once the second grant ends too, she goes (OCI got her at a provisioning cycle meanwhile: exit 6).
  await H.advance({ hours: 2 });
  const later = await sweep(H, 6);
  expect(later.removed).toEqual([expect.objectContaining({ upn: ALICE, reason: 'expired' })]);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);
});

test('a requester revoking her own grant: marked revoked at once, the sweep removes the membership', async () => {
  const H = h();
  const id = await request(H, '2');
  expect((await H.run('bob', ['approve', id, '--yes'])).code).toBe(0);
  const revoked = await H.run('alice', ['revoke', '--reason', 'done', '--json']);
  expect(revoked.code).toBe(0);
  // She does not own the group, so Graph will not let her remove herself: her record says revoked instead.
  expect(revoked.json).toMatchObject({ user: ALICE, revokedRequests: [id], membership: 'left-for-sweep' });
  expect(revoked.stderr).toContain('the next sweep removes the membership');
  expect(storedRecords(H, 'alice', 'com.ociaccess.requests')).toEqual([expect.objectContaining({ i: id, w: 'r' })]);
  expect((await H.run('alice', ['status', '--json'])).json.requests).toEqual([
    expect.objectContaining({ id, state: 'revoked' }),
  ]);

  const report = await sweep(H, 0);
  expect(report.removed).toEqual([expect.objectContaining({ upn: ALICE, reason: 'revoked', requestId: id })]);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);
});

test('--dry-run prints the plan and changes nothing anywhere', async () => {
  const H = h();
  await H.control(`portal/groups/${SEED.tempGroupId}/members`, { user: CAROL });
  await request(H, '1');
  const result = await H.expectNoChange(() => H.run('cron', ['sweep', '--dry-run', '--json']));
  expect(result.code).toBe(0);
  expect(result.json.dryRun).toBe(true);
  expect(result.json).toMatchObject({ outcome: 'planned', planned: { remove: 1, autoApprove: 1 } });
  expect(result.json.groups[0].removed).toEqual([
    expect.objectContaining({ upn: CAROL, reason: 'no-grant', outcome: 'planned' }),
  ]);
  expect(result.json.groups[0].autoApproved).toEqual([expect.objectContaining({ upn: ALICE, outcome: 'planned' })]);
  expect(H.entraMembers()).toEqual([BREAKGLASS, CAROL]);
});
