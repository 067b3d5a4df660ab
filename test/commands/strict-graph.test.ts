/**
 * The CLI against Graph behaviours the emulator models strictly (issue 14): open
 * extension PATCH answered either way, a member removal's 404 that names the group,
 * role-assignable groups, and directory roles for provisioning reads.
 */
import { GraphDirectory } from '../../src/adapters/graph/graph-directory.js';
import { connectionsForCaFile, fetchWithCa } from '../../src/adapters/http/tls.js';
import { systemClock } from '../../src/context.js';
import { SEED } from '../../src/emulator/seed.js';
import { issueToken } from '../../src/emulator/tokens.js';
import { OciAccessError } from '../../src/errors.js';
import { storedRecords, upnOf, useHarness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob'] });

async function request(hours: string): Promise<string> {
  const result = await h().run('alice', [
    'request',
    '--hours',
    hours,
    '--justification',
    'INC-4711: rotate the DB wallet',
    '--json',
  ]);
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
      for (const value of Object.values(payload as Record<string, unknown>))
        expect(['string', 'number', 'boolean']).toContain(typeof value);
    }
  }
});

describe('a 404 on member removal: no such group vs not a member', () => {
  const WRONG_GROUP = '0badc0de-0000-4000-8000-000000000000';
  function directory(batching: boolean): GraphDirectory {
    const emu = h().emu;
    const token = issueToken(emu.world, {
      principalType: 'app',
      appId: SEED.automationAppId,
      roles: ['GroupMember.ReadWrite.All'],
    }).token;
    return new GraphDirectory({
      graphBaseUrl: emu.baseUrl,
      getToken: async () => token,
      connections: connectionsForCaFile(emu.caFile),
      clock: systemClock,
      identity: 'app',
      batching,
    });
  }

  it('the emulator names the group when the group is missing and the member when they are not one', async () => {
    const H = h();
    const token = issueToken(H.emu.world, {
      principalType: 'app',
      appId: SEED.automationAppId,
      roles: ['GroupMember.ReadWrite.All'],
    }).token;
    const remove = async (groupId: string) => {
      const answer = await fetchWithCa(H.emu.caFile)(
        `${H.emu.baseUrl}/v1.0/groups/${groupId}/members/${SEED.users.alice}/$ref`,
        { method: 'DELETE', headers: { authorization: `Bearer ${token}` } },
      );
      return { status: answer.status, body: (await answer.json()) as { error: { code: string; message: string } } };
    };
    const noGroup = await remove(WRONG_GROUP);
    expect(noGroup.status).toBe(404);
    expect(noGroup.body.error).toMatchObject({
      code: 'Request_ResourceNotFound',
      message: expect.stringContaining(WRONG_GROUP),
    });
    const notMember = await remove(SEED.tempGroupId);
    expect(notMember.status).toBe(404);
    expect(notMember.body.error.message).toContain(SEED.users.alice);
    expect(notMember.body.error.message).not.toContain(SEED.tempGroupId);
  });

  it.each([false, true])('never reports a wrong group id as "already removed" (batching %s)', async (batching) => {
    const graph = directory(batching);
    expect(await graph.removeGroupMember(SEED.tempGroupId, SEED.users.alice)).toBe('not-member');
    const single = await graph.removeGroupMember(WRONG_GROUP, SEED.users.alice).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(single).toBeInstanceOf(OciAccessError);
    expect(single).toMatchObject({ code: 'GRAPH_GROUP_NOT_FOUND', message: expect.stringContaining(WRONG_GROUP) });
    const bulk = await graph.removeGroupMembers(WRONG_GROUP, [SEED.users.alice, SEED.users.bob]);
    for (const result of bulk.values())
      expect(result).toMatchObject({ code: 'GRAPH_GROUP_NOT_FOUND', message: expect.stringContaining(WRONG_GROUP) });
    const real = await graph.removeGroupMembers(SEED.tempGroupId, [SEED.users.alice, SEED.users.breakglass]);
    expect(real.get(SEED.users.alice)).toBe('not-member');
    expect(real.get(SEED.users.breakglass)).toBe('removed');
  });
});

describe('role-assignable groups', () => {
  it("an owner's approval is refused by Graph (403) and the error names RoleManagement.ReadWrite.Directory and Privileged Role Administrator", async () => {
    const H = h();
    await H.control(`groups/${SEED.tempGroupId}/role-assignable`, { on: true });
    const id = await request('2');
    const approved = await H.run('bob', ['approve', id, '--yes', '--json']);
    expect(approved.code).toBe(4);
    expect(approved.json.error.hint).toMatch(
      /RoleManagement\.ReadWrite\.Directory and the Privileged Role Administrator role/,
    );
    expect(H.entraMembers()).toEqual([upnOf('breakglass')]);
  });
});

describe('provisioning as a signed-in user', () => {
  it('approve --provision-now by an owner without an application-admin role: the refusal names the roles', async () => {
    const H = h();
    const id = await request('2');
    const approved = await H.run('bob', ['approve', id, '--yes', '--provision-now', '--json']);
    const text = JSON.stringify(approved.json ?? approved.stderr);
    expect(text).toContain(
      'Application Administrator, Cloud Application Administrator or Hybrid Identity Administrator',
    );
  });
});
