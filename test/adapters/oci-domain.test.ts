/**
 * The sweep's OCI port (OciDomain) against the emulated identity domain, with
 * the domain as strict as documented: pages shorter than asked, rate limits
 * per second and per minute with no Retry-After, and SCIM's noTarget.
 * Waits are injected: each backoff moves the emulator's virtual clock (on
 * which its rate windows run) instead of sleeping.
 */
import { OciDomain, removalPatch } from '../../src/adapters/oci/oci-domain.js';
import { connectionsForCaFile } from '../../src/adapters/http/tls.js';
import { generateEmulatorKeys, startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { createOciUser } from '../../src/emulator/oci/domain.js';
import { SEED } from '../../src/emulator/seed.js';

const keys = generateEmulatorKeys();
let emu: RunningEmulator;
let slept: number[];
let operations: string[];

function domain(access: 'read' | 'write' = 'write'): OciDomain {
  return new OciDomain({
    domainUrl: emu.baseUrl,
    configFile: emu.ociConfigFile,
    profile: 'DEFAULT',
    access,
    connections: connectionsForCaFile(emu.caFile),
    onRequest: (operation) => operations.push(operation),
    sleep: async (ms) => {
      slept.push(ms);
      emu.world.clockOffsetMs += ms;
    },
  });
}

function ociRequests() {
  return emu.world.requestLog.filter((entry) => entry.service === 'oci');
}

beforeEach(async () => {
  emu = await startEmulator({ keys });
  slept = [];
  operations = [];
});

afterEach(async () => {
  await emu.stop();
});

test('a group above 10,000 members whose domain serves fewer members a page than asked is read whole', async () => {
  const group = emu.world.ociGroupByName(SEED.tempGroupName)!;
  for (let i = 0; i < 10_050; i += 1)
    group.members.add(createOciUser(emu.world, { userName: `m${i}@example.test`, createdBy: 'console' }).id);
  emu.world.oci.maxMemberPageSize = 4_000;
  const members = await domain('read').groupMembers(group.id);
  expect(members).toHaveLength(group.members.size);
  expect(new Set(members.map((member) => member.id))).toEqual(group.members);
});

test('removing a member who is already gone: the 400 noTarget is taken as done only after the group is re-read', async () => {
  const group = emu.world.ociGroupByName(SEED.tempGroupName)!;
  const gone = createOciUser(emu.world, { userName: 'gone@example.test', createdBy: 'console' });
  await domain().removeGroupMember(group.id, gone.id);
  expect(ociRequests().map((entry) => `${entry.method} ${entry.status}`)).toEqual(['PATCH 400', 'GET 200']);
  expect(operations).toEqual(['remove the member from the OCI group', 'read the group members']);
});

test('a 400 on removal while the user is still a member is reported, not taken as done', async () => {
  const group = emu.world.ociGroupByName(SEED.tempGroupName)!;
  const [member] = [...group.members];
  emu.world.faults.push({ status: 400, service: 'oci', method: 'PATCH', remaining: 1 });
  await expect(domain().removeGroupMember(group.id, member!)).rejects.toMatchObject({ code: 'OCI_ERROR' });
  expect(group.members.has(member!)).toBe(true);
});

test('a domain at its per-minute limit (429, no Retry-After): the backoff outlasts the minute and the call gets through', async () => {
  emu.world.oci.limitsOverride = { perSecond: 100, perMinute: 5 };
  const oci = domain('read');
  for (let i = 0; i < 5; i += 1) expect(await oci.findGroup(SEED.tempGroupName)).not.toBeNull();
  expect(slept).toEqual([]);
  // The sixth call of the minute is refused until the window has passed; the waits (virtual) carry it past.
  expect(await oci.findGroup(SEED.tempGroupName)).toMatchObject({ displayName: SEED.tempGroupName });
  const statuses = ociRequests().map((entry) => entry.status);
  expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
  expect(statuses.slice(5, -1).every((status) => status === 429)).toBe(true);
  expect(statuses.slice(5, -1).length).toBeGreaterThan(2);
  expect(statuses.at(-1)).toBe(200);
  expect(slept.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(55_000);
});

describe('removeGroupMembers (the sweep host direct removal)', () => {
  function members(count: number): string[] {
    const group = emu.world.ociGroupByName(SEED.tempGroupName)!;
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) {
      const user = createOciUser(emu.world, { userName: `d${i}@example.test`, createdBy: 'scim' });
      group.members.add(user.id);
      ids.push(user.id);
    }
    return ids;
  }
  const calls = () => ociRequests().map((entry) => `${entry.method} ${entry.status}`);

  test('120 members: three PATCHes of at most 50 remove operations, then one read; everyone else stays', async () => {
    const group = emu.world.ociGroupByName(SEED.tempGroupName)!;
    const others = new Set(group.members);
    const ids = members(120);
    const outcomes = await domain().removeGroupMembers(group.id, ids);
    expect([...outcomes.values()]).toEqual(ids.map(() => 'removed'));
    expect(calls()).toEqual(['PATCH 200', 'PATCH 200', 'PATCH 200', 'GET 200']);
    expect(operations).toEqual([
      'remove members from the OCI group',
      'remove members from the OCI group',
      'remove members from the OCI group',
      'read the group members',
    ]);
    expect(group.members).toEqual(others);
  });

  test('the PATCH only removes: one remove operation per member, named by value, no value to add', () => {
    expect(removalPatch(['a1', 'b"2'])).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      operations: [
        { op: 'REMOVE', path: 'members[value eq "a1"]' },
        { op: 'REMOVE', path: 'members[value eq "b\\"2"]' },
      ],
    });
  });

  test('50 members take one PATCH, 51 take two', async () => {
    const group = emu.world.ociGroupByName(SEED.tempGroupName)!;
    await domain().removeGroupMembers(group.id, members(50));
    expect(calls()).toEqual(['PATCH 200', 'GET 200']);
    emu.world.requestLog.length = 0;
    await domain().removeGroupMembers(group.id, members(51));
    expect(calls()).toEqual(['PATCH 200', 'PATCH 200', 'GET 200']);
  });

  test('one of them already gone: the atomic PATCH fails 400 noTarget, the group is re-read, the rest removed in a second PATCH', async () => {
    const group = emu.world.ociGroupByName(SEED.tempGroupName)!;
    const [kept, gone] = members(2);
    group.members.delete(gone!);
    const outcomes = await domain().removeGroupMembers(group.id, [kept!, gone!]);
    expect(outcomes).toEqual(
      new Map([
        [kept, 'removed'],
        [gone, 'removed'],
      ]),
    );
    expect(calls()).toEqual(['PATCH 400', 'GET 200', 'PATCH 200', 'GET 200']);
    expect(group.members.has(kept!)).toBe(false);
  });

  test('a 400 that is not about a missing member: reported for each, nobody taken as removed', async () => {
    const group = emu.world.ociGroupByName(SEED.tempGroupName)!;
    const ids = members(2);
    emu.world.faults.push({ status: 400, service: 'oci', method: 'PATCH', remaining: 1 });
    const outcomes = await domain().removeGroupMembers(group.id, ids);
    for (const id of ids) expect(outcomes.get(id)).toMatchObject({ code: 'OCI_ERROR' });
    expect(calls()).toEqual(['PATCH 400', 'GET 200', 'GET 200']);
    expect(ids.every((id) => group.members.has(id))).toBe(true);
  });

  test('throttled (429) and failing (503) PATCHes are retried with the backoff; a 503 that lasts is OCI_UNAVAILABLE', async () => {
    const group = emu.world.ociGroupByName(SEED.tempGroupName)!;
    const [first, second] = members(2);
    emu.world.faults.push({ status: 429, service: 'oci', method: 'PATCH', remaining: 1 });
    expect(await domain().removeGroupMembers(group.id, [first!])).toEqual(new Map([[first, 'removed']]));
    expect(calls()).toEqual(['PATCH 429', 'PATCH 200', 'GET 200']);
    expect(slept).toHaveLength(1);

    emu.world.faults.push({ status: 503, service: 'oci', method: 'PATCH', remaining: Number.POSITIVE_INFINITY });
    const failed = await domain().removeGroupMembers(group.id, [second!]);
    expect(failed.get(second!)).toMatchObject({ code: 'OCI_UNAVAILABLE' });
    expect(group.members.has(second!)).toBe(true);
  });

  test('a read-only config refuses before anything is signed or sent', async () => {
    const group = emu.world.ociGroupByName(SEED.tempGroupName)!;
    const ids = members(1);
    const outcomes = await domain('read').removeGroupMembers(group.id, ids);
    expect(outcomes.get(ids[0]!)).toMatchObject({ code: 'OCI_READ_ONLY' });
    expect(ociRequests()).toEqual([]);
    expect(group.members.has(ids[0]!)).toBe(true);
  });
});
