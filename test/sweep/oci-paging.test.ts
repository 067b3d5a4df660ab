/**
 * An OCI group above 10,000 members, which the identity domain refuses to
 * list inline: the sweep still reads every member (through paged Users),
 * finds a pending removal wherever it is, confirms it once it is gone, and
 * reports every hand-made member as drift. Seeded straight into the
 * emulator's world (10,050 console-made OCI users).
 * (The Users-filter fallback, for members listed without a name, is not
 * exercised here: the domain names them.)
 */
import { createOciUser } from '../../src/emulator/oci/domain.js';
import { SEED } from '../../src/emulator/seed.js';
import { upnOf, useHarness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob'] });
const ALICE = upnOf('alice');
const HANDMADE = 10_050;

test('an OCI group of more than 10,000 members: read in pages, the pending removal found and then confirmed, all drift reported', async () => {
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
  await H.advance({ hours: 2, minutes: 1 });
  const world = H.emu.world;
  const ociGroup = world.ociGroupByName(SEED.tempGroupName)!;
  for (let i = 0; i < HANDMADE; i += 1) {
    ociGroup.members.add(createOciUser(world, { userName: `handmade${i}@${SEED.domain}`, createdBy: 'console' }).id);
  }
  expect(ociGroup.members.size).toBe(HANDMADE + 2);

  const mark = H.mark();
  const first = await H.run('cron', ['sweep', '--json']);
  expect(first.code).toBe(6);
  const report = first.json.groups[0];
  expect(report.removed).toEqual([expect.objectContaining({ upn: ALICE, reason: 'expired' })]);
  expect(report.pendingInOci).toEqual([expect.objectContaining({ upn: ALICE })]);
  expect(report.ociGroupMembers).toBe(HANDMADE + 2);
  expect(report.drift).toHaveLength(HANDMADE);
  // The inline read was refused (400), then the members came in pages of 10,000 (as the domain documents).
  // Reads of the temp group's OCI group (the seeded PIM group is checked too, in one read).
  const tempOciGroupId = H.emu.world.ociGroupByName(SEED.tempGroupName)!.id;
  const reads = H.requestsSince(mark).filter(
    (e) => e.service === 'oci' && e.method === 'GET' && e.path.startsWith(`/admin/v1/Groups/${tempOciGroupId}`),
  );
  expect(reads.map((e) => e.status)).toEqual([400, 200, 200]);
  expect(reads.slice(1).map((e) => decodeURIComponent(e.path.split('attributes=')[1]!))).toEqual([
    'members[startIndex=1&count=10000]',
    'members[startIndex=10001&count=10000]',
  ]);

  // Entra's provisioning takes her out of OCI: the next sweep confirms it.
  await H.control('provisioning/cycle');
  expect(ociGroup.members.size).toBe(HANDMADE + 1);
  const second = await H.run('cron', ['sweep', '--json']);
  expect(second.json.groups[0].confirmedInOci).toEqual([
    expect.objectContaining({ upn: ALICE, outcome: 'not in OCI group' }),
  ]);
  expect(second.json.groups[0].pendingInOci).toEqual([]);
});
