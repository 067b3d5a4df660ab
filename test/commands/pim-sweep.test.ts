/**
 * `ociaccess sweep` over a pim group (OCI-Temp-Admins-PIM), as the automation
 * app against the emulator's PIM: a hand-added member is removed and an
 * activated one kept; PIM ends the activation on the virtual clock and the
 * sweep finds OCI clean; an admin's permanent assignment is bounded by the
 * group's maxHours and ended with adminRemove, not a DELETE of the membership.
 */
import { SEED } from '../../src/emulator/seed.js';
import { upnOf, useHarness, userIdOf, type Harness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob', 'carol'] });
const PIM = SEED.pimGroupName;
const ALICE = upnOf('alice');
const CAROL = upnOf('carol');
const PAG = '/v1.0/identityGovernance/privilegedAccess/group';

const pimMembers = (H: Harness) => [...(H.emu.world.groups.get(SEED.pimGroupId)?.members ?? [])];
/** Graph writes since `mark`, a $batch's items each as its own line. */
const graphWrites = (H: Harness, mark: number) =>
  H.writesSince(mark)
    .filter((w) => w.path.startsWith('/v1.0'))
    .flatMap((w) =>
      w.batchItems
        ? w.batchItems.filter((i) => i.method !== 'GET').map((i) => `${i.method} /v1.0${i.url.replace(/^\/v1\.0/, '')}`)
        : [`${w.method} ${w.path}`],
    );
const ociPimMembers = (H: Harness) => [...(H.emu.world.ociGroupByName(PIM)?.members ?? [])];

async function sweepPim(H: Harness, expected: number[]): Promise<any> {
  const result = await H.run('cron', ['sweep', '--json']);
  if (!expected.includes(result.code))
    throw new Error(`sweep exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  const groups = result.json.groups.filter((group: any) => group.group === PIM);
  expect(groups).toHaveLength(1);
  return groups[0];
}

async function activateAlice(H: Harness, hours = '2'): Promise<string> {
  const asked = await H.run('alice', [
    'request',
    '-g',
    PIM,
    '-H',
    hours,
    '-j',
    'INC-4711: rotate the wallet',
    '--json',
  ]);
  expect(asked.code).toBe(0);
  expect((await H.run('bob', ['approve', asked.json.id, '--yes'])).code).toBe(0);
  return asked.json.id;
}

test('removes a hand-added member of a pim group, keeps the activated one; PIM ends the activation and OCI catches up', async () => {
  const H = h();
  await activateAlice(H);
  await H.control(`portal/groups/${SEED.pimGroupId}/members`, { user: CAROL });
  await H.control('provisioning/cycle');

  let mark = H.mark();
  let report = await sweepPim(H, [0, 6]);
  expect(report.kept).toEqual([expect.objectContaining({ upn: ALICE, reason: 'grant' })]);
  expect(report.removed).toEqual([expect.objectContaining({ upn: CAROL, reason: 'no-grant', outcome: 'removed' })]);
  // carol was never PIM's: removed from the group directly; alice's activation untouched.
  expect(graphWrites(H, mark)).toEqual([`DELETE /v1.0/groups/${SEED.pimGroupId}/members/${userIdOf('carol')}/$ref`]);
  expect(pimMembers(H)).toEqual([userIdOf('alice')]);

  // Two hours on, PIM ends the activation itself (and the provisioning cycle due meanwhile takes it to OCI).
  await H.advance({ hours: 2, minutes: 1 });
  expect(pimMembers(H)).toEqual([]);
  expect(ociPimMembers(H)).toEqual([]);
  // The sweep has nothing to remove, finds no drift in OCI, and exits clean.
  mark = H.mark();
  report = await sweepPim(H, [0]);
  expect(report.kept).toEqual([]);
  expect(report.removed).toEqual([]);
  expect(report.drift).toEqual([]);
  expect(graphWrites(H, mark)).toEqual([]);
});

test("an admin's permanent assignment is bounded by maxHours and ended with adminRemove", async () => {
  const H = h();
  const world = H.emu.world;
  const carol = userIdOf('carol');
  // An admin assigns carol permanently in the portal's PIM blade.
  world.pim.assignments.set('admin-carol', {
    id: 'admin-carol',
    groupId: SEED.pimGroupId,
    principalId: carol,
    startDateTime: world.now(),
    assignmentType: 'Assigned',
    requestId: 'portal',
    addedMember: true,
  });
  world.groups.get(SEED.pimGroupId)!.members.add(carol);

  let report = await sweepPim(H, [0, 6]);
  expect(report.kept).toEqual([expect.objectContaining({ upn: CAROL, reason: 'grant' })]);
  expect(report.removed).toEqual([]);

  // The group allows 8 hours at most: past them the assignment keeps nobody.
  await H.advance({ hours: 8, minutes: 1 });
  const mark = H.mark();
  report = await sweepPim(H, [0, 6]);
  expect(report.removed).toEqual([expect.objectContaining({ upn: CAROL, outcome: 'removed' })]);
  expect(graphWrites(H, mark)).toEqual([`POST ${PAG}/assignmentScheduleRequests`]);
  expect(pimMembers(H)).not.toContain(carol);
});

test('a pending PIM request covers nobody: a hand-added requester is removed', async () => {
  const H = h();
  const asked = await H.run('alice', ['request', '-g', PIM, '-H', '1', '-j', 'pending only', '--json']);
  expect(asked.code).toBe(0);
  await H.control(`portal/groups/${SEED.pimGroupId}/members`, { user: ALICE });
  const report = await sweepPim(H, [0, 6]);
  expect(report.removed).toEqual([expect.objectContaining({ upn: ALICE, reason: 'no-grant' })]);
  expect(pimMembers(H)).toEqual([]);
});
