/**
 * The sweep's OCI port (OciDomain) against the emulated identity domain, with
 * the domain as strict as documented: pages shorter than asked, rate limits
 * per second and per minute with no Retry-After, and SCIM's noTarget.
 * Waits are injected: each backoff moves the emulator's virtual clock (on
 * which its rate windows run) instead of sleeping.
 */
import { OciDomain } from '../../src/adapters/oci/oci-domain.js';
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
