/**
 * The CLI against Graph behaviours the emulator models strictly (issue 14): open
 * extension PATCH answered either way, a member removal's 404 that names the group,
 * role-assignable groups, and directory roles for provisioning reads.
 */
import { SEED } from '../../src/emulator/seed.js';
import { storedRecords, useHarness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob'] });

async function request(hours: string): Promise<string> {
  const result = await h().run('alice', ['request', '--hours', hours, '--justification', 'INC-4711: rotate the DB wallet', '--json']);
  expect({ code: result.code, stderr: result.stderr }).toMatchObject({ code: 0 });
  return result.json.id;
}

test('writes records whether Graph answers an extension PATCH with 204 or with 200 and the object', async () => {
  const H = h();
  await H.control('graph/settings', { extensionPatchAnswer: 200 });
  // alice's request record does not exist yet (PATCH 404, then POST); bob's decisions
  // record does (an earlier decision), so approving PATCHes it.
  H.emu.world.users.get(SEED.users.bob)!.extensions.set('com.ociaccess.decisions', {
    extensionName: 'com.ociaccess.decisions',
    creatorAppId: SEED.cliAppId,
    properties: { records: '[]' },
  });
  const id = await request('2');
  const approved = await H.run('bob', ['approve', id, '--yes', '--json']);
  expect({ code: approved.code, stderr: approved.stderr }).toMatchObject({ code: 0 });
  const patches = H.requestsSince(0).filter((entry) => entry.method === 'PATCH' && entry.path.includes('/extensions/'));
  expect(patches.some((entry) => entry.status === 200)).toBe(true);
  expect(storedRecords(H, 'alice', 'com.ociaccess.requests').map((record) => record.i)).toEqual([id]);
  expect(storedRecords(H, 'bob', 'com.ociaccess.decisions').length).toBeGreaterThan(0);
  // Every value the CLI stores is a primitive, as Graph requires.
  for (const owner of ['alice', 'bob'] as const) {
    for (const payload of Object.values(H.records(owner))) {
      for (const value of Object.values(payload as Record<string, unknown>)) expect(['string', 'number', 'boolean']).toContain(typeof value);
    }
  }
});
