/**
 * WholeHttpClient (src/adapters/oci/http-client.ts): the OCI SDK's requests,
 * signed by the SDK's own signer and sent with requestWhole, against the
 * emulator, which checks every signature (and a PATCH's body hash) as the
 * identity domain does. Through the real oci-identitydomains client that
 * createOciClient builds.
 */
import { jest } from '@jest/globals';
import { Readable } from 'node:stream';
import * as common from 'oci-common';
import * as identitydomains from 'oci-identitydomains';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { SEED } from '../../src/emulator/seed.js';
import { connectionsForCaFile, fetchWithCa } from '../../src/adapters/http/tls.js';
import { createOciClient } from '../../src/adapters/oci/client.js';
import { WholeHttpClient } from '../../src/adapters/oci/http-client.js';
import { postControl } from '../support/emulator-control.js';

let emu: RunningEmulator;

beforeAll(async () => {
  emu = await startEmulator();
});

afterAll(async () => {
  await emu?.stop();
});

afterEach(async () => {
  await fetchWithCa(emu.caFile)(`${emu.baseUrl}/_emulator/faults`, { method: 'DELETE' });
  jest.restoreAllMocks();
});

/** Connections of their own (a timeout no other test uses), so that their agent counts only this test's connections. */
function freshConnections(timeoutMs: number) {
  const connections = connectionsForCaFile(emu.caFile, { timeoutMs });
  const agent = connections.agentFor(new URL(emu.baseUrl));
  const opened = jest.spyOn(
    agent as unknown as { createConnection: (...args: unknown[]) => unknown },
    'createConnection',
  );
  return { connections, opened };
}

it('signed calls are accepted, and calls made one after another share one connection', async () => {
  const { connections, opened } = freshConnections(30_001);
  const client = createOciClient({
    domainUrl: emu.baseUrl,
    configFile: emu.ociConfigFile,
    profile: 'DEFAULT',
    connections,
  });
  const found = await client.listGroups({
    filter: 'displayName eq "OCI-Temp-Admins"',
    attributes: 'displayName',
    count: 2,
  });
  expect(found.groups.resources.map((group) => group.displayName)).toEqual(['OCI-Temp-Admins']);
  const group = await client.getGroup({ groupId: found.groups.resources[0]!.id!, attributes: 'members' });
  expect(group.group.displayName).toBe('OCI-Temp-Admins');
  const users = await client.listUsers({ filter: `userName eq "breakglass@${SEED.domain}"` });
  expect(users.users.totalResults).toBe(1);
  expect(opened).toHaveBeenCalledTimes(1);
});

it("a PATCH with a body is signed with its body hash and accepted; a refused call is the SDK's OciError with the status", async () => {
  const { connections } = freshConnections(30_002);
  // A client for writing (oci.access "write", the sweep host's); a read-only one refuses the PATCH (test/commands/oci-access.test.ts).
  const client = createOciClient({
    domainUrl: emu.baseUrl,
    configFile: emu.ociConfigFile,
    profile: 'DEFAULT',
    access: 'write',
    connections,
  });
  const groupId = (await client.listGroups({ filter: 'displayName eq "OCI-Temp-Admins"', count: 1 })).groups
    .resources[0]!.id!;
  const userId = (await client.listUsers({ filter: `userName eq "breakglass@${SEED.domain}"` })).users.resources[0]!
    .id!;
  const memberIds = async () =>
    ((await client.getGroup({ groupId, attributes: 'members' })).group.members ?? []).map((member) => member.value);
  const patch = (op: identitydomains.models.Operations.Op, value?: unknown) =>
    client.patchGroup({
      groupId,
      patchOp: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        operations: [
          op === identitydomains.models.Operations.Op.Add
            ? { op, path: 'members', value }
            : { op, path: `members[value eq "${userId}"]` },
        ],
      },
    });
  await patch(identitydomains.models.Operations.Op.Add, [{ value: userId, type: 'User' }]);
  expect(await memberIds()).toContain(userId);
  await patch(identitydomains.models.Operations.Op.Remove);
  expect(await memberIds()).not.toContain(userId);
  // The SCIM error body has no code/message pair: the SDK then takes the status line's reason, as it did over fetch.
  await expect(client.getGroup({ groupId: 'no-such-group' })).rejects.toMatchObject({
    statusCode: 404,
    message: expect.stringMatching(/Not Found/),
  });
});

it("every answer is shown to onAnswer: a 429's Retry-After is there to read", async () => {
  const { connections } = freshConnections(30_003);
  const seen: { status: number; retryAfter: string | null }[] = [];
  const client = createOciClient({
    domainUrl: emu.baseUrl,
    configFile: emu.ociConfigFile,
    profile: 'DEFAULT',
    connections,
    onAnswer: (status, headers) => seen.push({ status, retryAfter: headers.get('retry-after') }),
  });
  await postControl(fetchWithCa(emu.caFile), emu.baseUrl, 'faults', {
    service: 'oci',
    status: 429,
    retryAfterSeconds: 3,
    count: 1,
  });
  await expect(client.listUsers({ count: 1 })).rejects.toMatchObject({ statusCode: 429 });
  await client.listUsers({ count: 1 });
  expect(seen).toEqual([
    { status: 429, retryAfter: '3' },
    { status: 200, retryAfter: null },
  ]);
});

it("a streamed body is read whole, signed once and sent on the one path (never the SDK's FetchHttpClient)", async () => {
  const fetchClient = jest.spyOn(common.FetchHttpClient.prototype, 'send');
  const signed: unknown[] = [];
  const signer = { signHttpRequest: jest.fn(async (request: { body?: unknown }) => void signed.push(request.body)) };
  const client = new WholeHttpClient(signer as unknown as common.RequestSigner, connectionsForCaFile(emu.caFile));
  const request = {
    method: 'PUT' as common.Method,
    headers: new Headers(),
    uri: `${emu.baseUrl}/admin/v1/Groups/x`,
    body: Readable.from(['{', '}']),
  };
  const mark = emu.world.requestLog.at(-1)?.seq ?? 0;
  const answer = await client.send(request);
  expect(fetchClient).not.toHaveBeenCalled();
  expect(signed).toEqual(['{}']);
  // The emulator got it (and refused its unsigned request, as it should).
  expect(
    emu.world.requestLog
      .filter((entry) => entry.seq > mark)
      .map((entry) => `${entry.method} ${entry.path} ${entry.status}`),
  ).toEqual([`PUT /admin/v1/Groups/x ${answer.status}`]);
  fetchClient.mockRestore();
});
