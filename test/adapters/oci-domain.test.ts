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
  for (let i = 0; i < 10_050; i += 1) group.members.add(createOciUser(emu.world, { userName: `m${i}@example.test`, createdBy: 'console' }).id);
  emu.world.oci.maxMemberPageSize = 4_000;
  const members = await domain('read').groupMembers(group.id);
  expect(members).toHaveLength(group.members.size);
  expect(new Set(members.map((member) => member.id))).toEqual(group.members);
});
