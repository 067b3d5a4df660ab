/**
 * The OCI identity domain emulator and the provisioning engine, driven by the
 * real oci-identitydomains + oci-common SDK over HTTPS, as ociaccess drives
 * the real service.
 */
import { generateKeyPairSync, createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as common from 'oci-common';
import * as identitydomains from 'oci-identitydomains';
import type { Dispatcher } from 'undici';
import { generateEmulatorKeys, startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { SEED, SEED_OKTA } from '../../src/emulator/seed.js';
import { referenceDispatcher } from '../support/reference-fetch.js';
import { provisionOnDemand, runDueProvisioningCycles } from '../../src/emulator/provisioning.js';
import { createOciUser } from '../../src/emulator/oci/domain.js';

/** Made once: this file starts an emulator per test, and RSA key generation is slow. */
const keys = generateEmulatorKeys();

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const upn = (name: string) => `${name}@${SEED.domain}`;
/** Long enough that the real seconds a test takes never make a cycle due by themselves. */
const CYCLE_MS = 4 * 60_000;

let emu: RunningEmulator;
let dispatcher: Dispatcher;
let client: identitydomains.IdentityDomainsClient;

function makeClient(configFile: string, attempts = 1): identitydomains.IdentityDomainsClient {
  const provider = new common.ConfigFileAuthenticationDetailsProvider(configFile, 'DEFAULT');
  const result = new identitydomains.IdentityDomainsClient(
    { authenticationDetailsProvider: provider },
    {
      httpOptions: { dispatcher },
      // oci-common 2.139.1 does not unwrap its circuit breaker's {response} when httpOptions are set
      // (FetchHttpClient.send): with the default breaker on, every call fails with "response.text is not a function".
      circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }),
      // One attempt by default: the tests assert the first answer. Retries, when asked for, wait 0 s.
      retryConfiguration: {
        terminationStrategy: new common.MaxAttemptsTerminationStrategy(attempts),
        delayStrategy: new common.ExponentialBackoffDelayStrategy(0),
      },
    },
  );
  result.endpoint = emu.baseUrl;
  return result;
}

async function control(route: string, body: unknown = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${emu.baseUrl}/_emulator/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    dispatcher,
  } as RequestInit);
  return { status: response.status, body: await response.json() };
}

async function expectOciError(promise: Promise<unknown>, statusCode: number): Promise<any> {
  try {
    await promise;
  } catch (error) {
    expect((error as { statusCode?: number }).statusCode).toBe(statusCode);
    return error;
  }
  throw new Error(`expected the call to fail with ${statusCode}`);
}

async function tempGroup(): Promise<identitydomains.models.Group> {
  const response = await client.listGroups({ filter: `displayName eq "${SEED.tempGroupName}"` });
  expect(response.groups.totalResults).toBe(1);
  return response.groups.resources[0]!;
}

async function memberUserNames(groupId: string): Promise<string[]> {
  const response = await client.getGroup({ groupId, attributes: 'members' });
  return (response.group.members ?? []).map((member) => member.name ?? member.value).sort();
}

async function ociUserByName(userName: string): Promise<identitydomains.models.User | undefined> {
  const response = await client.listUsers({ filter: `userName eq "${userName}"` });
  return response.users.resources[0];
}

function entraTempGroup() {
  return emu.world.groups.get(SEED.tempGroupId)!;
}

beforeEach(async () => {
  emu = await startEmulator({ cycleMs: CYCLE_MS, keys });
  dispatcher = referenceDispatcher(emu.caFile)!;
  client = makeClient(emu.ociConfigFile);
});

afterEach(async () => {
  await emu.stop();
});

describe('Users', () => {
  test('listUsers filters by userName without case, and by externalId, id, and/or', async () => {
    const byName = await client.listUsers({ filter: `userName eq "${upn('BreakGlass').toUpperCase()}"` });
    expect(byName.users.totalResults).toBe(1);
    const breakglass = byName.users.resources[0]!;
    expect(breakglass.userName).toBe(upn('breakglass'));
    expect(breakglass.externalId).toBe(SEED.users.breakglass);

    const byExternalId = await client.listUsers({ filter: `externalId eq "${SEED.users.breakglass}"` });
    expect(byExternalId.users.resources.map((user) => user.id)).toEqual([breakglass.id]);

    const none = await client.listUsers({ filter: `userName eq "${upn('nobody')}"` });
    expect(none.users.totalResults).toBe(0);
    expect(none.users.resources).toEqual([]);

    const both = await client.listUsers({ filter: `id eq "${breakglass.id}" and userName eq "${upn('nobody')}"` });
    expect(both.users.totalResults).toBe(0);
    const either = await client.listUsers({ filter: `(id eq "${breakglass.id}") or userName eq "${upn('nobody')}"` });
    expect(either.users.totalResults).toBe(1);
  });

  test('listUsers filters by group membership (groups.value), the way to page a large group', async () => {
    const group = await tempGroup();
    const members = await client.listUsers({ filter: `groups.value eq "${group.id}"`, attributes: 'id', count: 1000 });
    expect(members.users.totalResults).toBe(1);
    expect(members.users.resources[0]!.userName).toBe(upn('breakglass'));
    const none = await client.listUsers({ filter: 'groups.value eq "ffffffffffffffffffffffffffffffff"' });
    expect(none.users.totalResults).toBe(0);
  });

  test("an injected 429 is OCI's TooManyRequests, which the SDK retries when configured to", async () => {
    expect((await control('faults', { service: 'oci', status: 429, count: 1, retryAfterSeconds: 1 })).status).toBe(201);
    const throttled = await expectOciError(client.listUsers({}), 429);
    expect(throttled.serviceCode).toBe('TooManyRequests');
    await control('faults', { service: 'oci', status: 429, count: 1, retryAfterSeconds: 1 });
    const retrying = makeClient(emu.ociConfigFile, 2);
    expect((await retrying.listUsers({ filter: `userName eq "${upn('breakglass')}"` })).users.totalResults).toBe(1);
    const statuses = emu.world.requestLog.filter((entry) => entry.service === 'oci').map((entry) => entry.status);
    expect(statuses).toEqual([429, 429, 200]);
  });

  test('an invalid filter is a 400', async () => {
    const error = await expectOciError(client.listUsers({ filter: 'userName eq unquoted' }), 400);
    expect(error.serviceCode).toBe('None');
  });

  test('startIndex/count page the list and totalResults counts all matches', async () => {
    for (let i = 1; i <= 7; i += 1)
      createOciUser(emu.world, { userName: `page${i}@example.test`, createdBy: 'console' });
    const filter = 'userName sw "page"';
    const seen: string[] = [];
    for (let startIndex = 1; startIndex <= 7; startIndex += 3) {
      const page = await client.listUsers({ filter, startIndex, count: 3, sortBy: 'userName' });
      expect(page.users.totalResults).toBe(7);
      expect(page.users.startIndex).toBe(startIndex);
      expect(page.users.itemsPerPage).toBe(3);
      seen.push(...page.users.resources.map((user) => user.userName));
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7].map((i) => `page${i}@example.test`));
  });

  test('limit/page (OCI paging) follow opc-next-page to the end; mixing it with startIndex/count is a 400', async () => {
    for (let i = 1; i <= 7; i += 1)
      createOciUser(emu.world, { userName: `page${i}@example.test`, createdBy: 'console' });
    const filter = 'userName sw "page"';
    const seen: string[] = [];
    const tokens: (string | undefined)[] = [];
    let page: string | undefined;
    do {
      const response = await client.listUsers({ filter, limit: 3, sortBy: 'userName', ...(page ? { page } : {}) });
      expect(response.users.totalResults).toBe(7);
      seen.push(...response.users.resources.map((user) => user.userName));
      page = response.opcNextPage;
      tokens.push(page);
    } while (page);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7].map((i) => `page${i}@example.test`));
    expect(tokens.map(Boolean)).toEqual([true, true, false]);
    // A token belongs to its query.
    const first = await client.listUsers({ filter, limit: 3 });
    await expectOciError(client.listUsers({ filter: 'userName sw "other"', limit: 3, page: first.opcNextPage }), 400);
    await expectOciError(client.listUsers({ filter, limit: 3, startIndex: 4 }), 400);
  });

  test('a domain that serves fewer than asked says so in itemsPerPage; opc-next-page still leads to the rest', async () => {
    for (let i = 1; i <= 5; i += 1)
      createOciUser(emu.world, { userName: `page${i}@example.test`, createdBy: 'console' });
    expect((await control('oci/settings', { maxPageSize: 2 })).status).toBe(200);
    const response = await client.listUsers({ filter: 'userName sw "page"', count: 1000 });
    expect(response.users.resources).toHaveLength(2);
    expect(response.users.itemsPerPage).toBe(2);
    expect(response.users.totalResults).toBe(5);
    expect(response.opcNextPage).toBeTruthy();
  });

  test('attributes trims the answer to what was asked plus the always-returned attributes', async () => {
    const response = await client.listUsers({ filter: `userName eq "${upn('breakglass')}"`, attributes: 'active' });
    const user = response.users.resources[0]!;
    expect(user.active).toBe(true);
    expect(user.userName).toBe(upn('breakglass'));
    expect(user.displayName).toBeUndefined();
    expect(user.groups).toBeUndefined();

    const withGroups = await client.listUsers({ filter: `userName eq "${upn('breakglass')}"`, attributes: 'groups' });
    // breakglass is a standing member of Entra's group and of the group Okta pushes.
    expect(withGroups.users.resources[0]!.groups?.map((group) => group.display).sort()).toEqual([
      SEED.tempGroupName,
      SEED_OKTA.ociGroupName,
    ]);
  });

  test('create, get, patch active, delete', async () => {
    const created = await client.createUser({
      user: {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'new.person@example.test',
        name: { familyName: 'Person', givenName: 'New' },
      },
    });
    expect(created.user.id).toMatch(/^[0-9a-f]{32}$/);
    await expectOciError(
      client.createUser({
        user: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'NEW.person@example.test' },
      }),
      409,
    );
    const patched = await client.patchUser({
      userId: created.user.id!,
      patchOp: {
        schemas: [PATCH_OP],
        operations: [{ op: identitydomains.models.Operations.Op.Replace, path: 'active', value: false }],
      },
    });
    expect(patched.user.active).toBe(false);
    expect((await client.getUser({ userId: created.user.id! })).user.active).toBe(false);
    await client.deleteUser({ userId: created.user.id! });
    await expectOciError(client.getUser({ userId: created.user.id! }), 404);
  });
});

describe('Groups', () => {
  test('listGroups by displayName, getGroup with and without members', async () => {
    const group = await tempGroup();
    expect(group.externalId).toBe(SEED.tempGroupId);
    expect(group.members).toBeUndefined();
    const none = await client.listGroups({ filter: 'displayName eq "No-Such-Group"' });
    expect(none.groups.totalResults).toBe(0);

    const full = await client.getGroup({ groupId: group.id!, attributes: 'members' });
    expect(full.group.members).toHaveLength(1);
    expect(full.group.members![0]).toMatchObject({ type: 'User', name: upn('breakglass') });
    const plain = await client.getGroup({ groupId: group.id! });
    expect(plain.group.members).toBeUndefined();
  });

  test('patchGroup adds and removes members, atomically, with 404 for unknown ids', async () => {
    const group = await tempGroup();
    const mallory = createOciUser(emu.world, { userName: upn('mallory'), createdBy: 'console' });
    const breakglass = (await ociUserByName(upn('breakglass')))!;

    await client.patchGroup({
      groupId: group.id!,
      patchOp: {
        schemas: [PATCH_OP],
        operations: [
          {
            op: identitydomains.models.Operations.Op.Add,
            path: 'members',
            value: [{ value: mallory.id, type: 'User' }],
          },
        ],
      },
    });
    expect(await memberUserNames(group.id!)).toEqual([upn('breakglass'), upn('mallory')]);

    await client.patchGroup({
      groupId: group.id!,
      patchOp: {
        schemas: [PATCH_OP],
        operations: [{ op: identitydomains.models.Operations.Op.Remove, path: `members[value eq "${breakglass.id}"]` }],
      },
    });
    expect(await memberUserNames(group.id!)).toEqual([upn('mallory')]);

    // One bad operation fails the whole PATCH: mallory's removal is not applied.
    await expectOciError(
      client.patchGroup({
        groupId: group.id!,
        patchOp: {
          schemas: [PATCH_OP],
          operations: [
            { op: identitydomains.models.Operations.Op.Remove, path: `members[value eq "${mallory.id}"]` },
            {
              op: identitydomains.models.Operations.Op.Add,
              path: 'members',
              value: [{ value: 'ffffffffffffffffffffffffffffffff', type: 'User' }],
            },
          ],
        },
      }),
      404,
    );
    expect(await memberUserNames(group.id!)).toEqual([upn('mallory')]);

    await expectOciError(
      client.patchGroup({
        groupId: 'ffffffffffffffffffffffffffffffff',
        patchOp: {
          schemas: [PATCH_OP],
          operations: [{ op: identitydomains.models.Operations.Op.Remove, path: `members[value eq "${mallory.id}"]` }],
        },
      }),
      404,
    );
    await expectOciError(
      client.patchGroup({
        groupId: group.id!,
        patchOp: {
          schemas: ['urn:wrong'],
          operations: [{ op: identitydomains.models.Operations.Op.Remove, path: `members[value eq "${mallory.id}"]` }],
        },
      }),
      400,
    );
  });

  test('removing by a filter that matches no member is a 400 noTarget (RFC 7644 3.12), and changes nothing', async () => {
    const group = await tempGroup();
    const mallory = createOciUser(emu.world, { userName: upn('mallory'), createdBy: 'console' });
    const error = await expectOciError(
      client.patchGroup({
        groupId: group.id!,
        patchOp: {
          schemas: [PATCH_OP],
          operations: [{ op: identitydomains.models.Operations.Op.Remove, path: `members[value eq "${mallory.id}"]` }],
        },
      }),
      400,
    );
    // The SDK keeps neither the detail nor the scimType: a client cannot tell noTarget from other 400s by the error alone.
    expect(error.message).toBe('Bad Request');
    const answer = emu.world.requestLog.filter((entry) => entry.service === 'oci' && entry.method === 'PATCH').at(-1)!;
    expect(answer.status).toBe(400);
    expect(await memberUserNames(group.id!)).toEqual([upn('breakglass')]);
  });

  test('getGroup refuses more than 10,000 members unless they are paged', async () => {
    const group = await tempGroup();
    const stored = emu.world.ociGroups.get(group.id!)!;
    for (let i = 0; i < 10_000; i += 1) stored.members.add(`bulk${i.toString().padStart(27, '0')}`);
    expect(stored.members.size).toBe(10_001);

    const error = await expectOciError(client.getGroup({ groupId: group.id!, attributes: 'members' }), 400);
    expect(error.serviceCode).toBe('None');

    const first = await client.getGroup({ groupId: group.id!, attributes: 'members[startIndex=1%26count=10000]' });
    expect(first.group.members).toHaveLength(10_000);
    const last = await client.getGroup({ groupId: group.id!, attributes: 'members[startIndex=10001%26count=10000]' });
    expect(last.group.members).toHaveLength(1);
    const listed = await client
      .listGroups({ filter: `displayName eq "${SEED.tempGroupName}"`, attributes: 'members' })
      .catch((e) => e);
    expect(listed.statusCode).toBe(400);
  });

  test('create and delete a group', async () => {
    const created = await client.createGroup({
      group: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Auditors' },
    });
    expect((await client.listGroups({ filter: 'displayName eq "auditors"' })).groups.totalResults).toBe(1);
    await expectOciError(
      client.createGroup({
        group: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'AUDITORS' },
      }),
      409,
    );
    await client.deleteGroup({ groupId: created.group.id! });
    await expectOciError(client.getGroup({ groupId: created.group.id! }), 404);
  });
});

describe('request signatures', () => {
  async function writeOtherConfig(userOcid: string, fingerprint?: string): Promise<string> {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const der = Buffer.from(publicKey.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    const ownFingerprint = (createHash('md5').update(der).digest('hex').match(/../g) ?? []).join(':');
    const keyFile = path.join(emu.dir, `other-${ownFingerprint.slice(0, 5).replace(':', '')}.pem`);
    await writeFile(keyFile, privateKey, { mode: 0o600 });
    const configFile = `${keyFile}.config`;
    await writeFile(
      configFile,
      [
        '[DEFAULT]',
        `user=${userOcid}`,
        `fingerprint=${fingerprint ?? ownFingerprint}`,
        `tenancy=${emu.secrets!.ociApiKey.tenancyOcid}`,
        'region=us-ashburn-1',
        `key_file=${keyFile}`,
        '',
      ].join('\n'),
    );
    return configFile;
  }

  test('a key that is not registered is refused with 401 NotAuthenticated', async () => {
    const other = makeClient(await writeOtherConfig(emu.secrets!.ociApiKey.userOcid));
    const error = await expectOciError(other.listUsers({}), 401);
    expect(error.serviceCode).toBe('NotAuthenticated');
  });

  test('the registered keyId signed with another private key is refused with 401', async () => {
    const forged = makeClient(
      await writeOtherConfig(emu.secrets!.ociApiKey.userOcid, emu.secrets!.ociApiKey.fingerprint),
    );
    const error = await expectOciError(forged.listGroups({}), 401);
    expect(error.serviceCode).toBe('NotAuthenticated');
    // Same call with the right key works: the refusal is about the signature.
    // The seed's three groups: OCI-Temp-Admins, OCI-Temp-Admins-PIM and Okta's pushed OCI-Temp-Admins-Okta.
    expect((await client.listGroups({})).groups.totalResults).toBe(3);
  });

  test('an unsigned request is refused with 401', async () => {
    const response = await fetch(`${emu.baseUrl}/admin/v1/Users`, { dispatcher } as RequestInit);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'NotAuthenticated' });
  });

  test('a signed body that was changed on the way is refused', async () => {
    const group = await tempGroup();
    // Sign one body and send another: x-content-sha256 no longer matches.
    const signer = new common.DefaultRequestSigner(
      new common.ConfigFileAuthenticationDetailsProvider(emu.ociConfigFile, 'DEFAULT'),
    );
    const uri = `${emu.baseUrl}/admin/v1/Groups/${group.id}`;
    const headers = new Headers({ 'content-type': 'application/json' });
    const signedBody = JSON.stringify({
      schemas: [PATCH_OP],
      Operations: [{ op: 'add', path: 'displayName', value: 'A' }],
    });
    await signer.signHttpRequest({ method: 'PATCH', uri, headers, body: signedBody });
    const sentBody = signedBody.replace('"A"', '"B"');
    const response = await fetch(uri, { method: 'PATCH', headers, body: sentBody, dispatcher } as RequestInit);
    expect(response.status).toBe(401);
    expect(response.headers.get('x-emulator-auth-failure')).toMatch(/x-content-sha256/);
    expect((await tempGroup()).displayName).toBe(SEED.tempGroupName);
  });

  test('a date more than 5 minutes off is refused; the virtual clock counts when asked', async () => {
    (client as unknown as { _defaultHeaders: Record<string, string> })._defaultHeaders['x-date'] = new Date(
      emu.world.now() - 10 * 60_000,
    ).toUTCString();
    await expectOciError(client.listUsers({}), 401);
    delete (client as unknown as { _defaultHeaders: Record<string, string> })._defaultHeaders['x-date'];

    // By default a real-clock date is accepted even after the virtual clock moved (SDKs sign with the real clock).
    await control('clock/advance', { minutes: 30 });
    expect((await client.listUsers({})).users.totalResults).toBeGreaterThan(0);
    // With clock "virtual" the domain compares with its own (virtual) time only.
    expect((await control('oci/signature', { clock: 'virtual' })).status).toBe(200);
    await expectOciError(client.listUsers({}), 401);
  });
});

describe('IdentityProviders', () => {
  test('list shows the JIT settings and PATCH changes them', async () => {
    const list = await client.listIdentityProviders({});
    expect(list.identityProviders.totalResults).toBe(1);
    const idp = list.identityProviders.resources[0]!;
    expect(idp).toMatchObject({
      jitUserProvEnabled: true,
      jitUserProvGroupAssignmentMethod: 'Overwrite',
      jitUserProvGroupMappingMode: 'explicit',
    });
    const group = await tempGroup();
    expect(idp.jitUserProvGroupMappings).toEqual([
      expect.objectContaining({ idpGroup: SEED.tempGroupId, value: group.id }),
      expect.objectContaining({ idpGroup: SEED.pimGroupId }),
    ]);

    const patched = await client.patchIdentityProvider({
      identityProviderId: idp.id!,
      patchOp: {
        schemas: [PATCH_OP],
        operations: [
          {
            op: identitydomains.models.Operations.Op.Replace,
            path: 'jitUserProvGroupAssignmentMethod',
            value: 'Merge',
          },
        ],
      },
    });
    expect(patched.identityProvider.jitUserProvGroupAssignmentMethod).toBe('Merge');
    expect(
      (await client.getIdentityProvider({ identityProviderId: idp.id! })).identityProvider
        .jitUserProvGroupAssignmentMethod,
    ).toBe('Merge');
    await expectOciError(
      client.patchIdentityProvider({
        identityProviderId: idp.id!,
        patchOp: {
          schemas: [PATCH_OP],
          operations: [
            {
              op: identitydomains.models.Operations.Op.Replace,
              path: 'jitUserProvGroupAssignmentMethod',
              value: 'Sometimes',
            },
          ],
        },
      }),
      400,
    );
  });
});

describe('provisioning engine', () => {
  test('a cycle after the interval adds a new Entra member to the OCI group, and a later one removes it', async () => {
    const group = await tempGroup();
    entraTempGroup().members.add(SEED.users.alice);
    await control('clock/advance', { ms: CYCLE_MS / 2 });
    expect(await memberUserNames(group.id!)).toEqual([upn('breakglass')]);

    await control('clock/advance', { ms: CYCLE_MS / 2 + 1000 });
    expect(await memberUserNames(group.id!)).toEqual([upn('alice'), upn('breakglass')]);
    const alice = (await ociUserByName(upn('alice')))!;
    expect(alice.externalId).toBe(SEED.users.alice);
    expect(alice.active).toBe(true);

    entraTempGroup().members.delete(SEED.users.alice);
    await control('clock/advance', { ms: CYCLE_MS + 1000 });
    expect(await memberUserNames(group.id!)).toEqual([upn('breakglass')]);
    // Out of scope: Entra disables the user it provisioned rather than deleting it.
    expect((await ociUserByName(upn('alice')))!.active).toBe(false);
  });

  test('quarantine stops cycles; leaving it lets the next cycle catch up', async () => {
    const group = await tempGroup();
    expect((await control('provisioning/quarantine', { on: true, reason: 'TooManyDeletes' })).status).toBe(200);
    const job = emu.world.servicePrincipals.get(SEED.ociServicePrincipalId)!.synchronizationJobs[0]!;
    expect(job.status.code).toBe('Quarantine');
    const lastRun = job.status.lastSuccessfulExecution;
    entraTempGroup().members.add(SEED.users.alice);
    await control('clock/advance', { ms: CYCLE_MS * 3 });
    await control('provisioning/cycle');
    expect(await memberUserNames(group.id!)).toEqual([upn('breakglass')]);
    expect(job.status.lastSuccessfulExecution).toEqual(lastRun);

    await control('provisioning/quarantine', { on: false });
    expect(job.status.code).toBe('Active');
    const cycle = await control('provisioning/cycle');
    expect(cycle.body.cycles[0].membersAdded).toEqual([{ group: SEED.tempGroupName, user: upn('alice') }]);
    expect(await memberUserNames(group.id!)).toEqual([upn('alice'), upn('breakglass')]);
    expect(job.status.lastSuccessfulExecution).not.toEqual(lastRun);
  });

  test('a big clock jump runs one cycle and schedules the next an interval later', () => {
    const job = emu.world.servicePrincipals.get(SEED.ociServicePrincipalId)!.synchronizationJobs[0]!;
    emu.world.clockOffsetMs += CYCLE_MS * 1000;
    const first = runDueProvisioningCycles(emu.world);
    expect(first).toHaveLength(1);
    expect(first[0]!.ran).toBe(true);
    const now = emu.world.now();
    expect(job.nextCycleAt).toBeGreaterThan(now + CYCLE_MS - 1000);
    expect(job.nextCycleAt).toBeLessThanOrEqual(now + CYCLE_MS);
    expect(runDueProvisioningCycles(emu.world)).toHaveLength(0);
  });

  test('members added by hand in the OCI console survive cycles; nested groups are not expanded', async () => {
    const group = await tempGroup();
    const added = await control(`oci/groups/${SEED.tempGroupName}/members`, { user: upn('mallory') });
    expect(added.status).toBe(200);
    expect(added.body.createdBy).toBe('console');
    // A nested group inside the assigned group: its member carol must not be provisioned.
    const nestedId = 'abababab-abab-4bab-8bab-abababababab';
    emu.world.groups.set(nestedId, {
      ...entraTempGroup(),
      id: nestedId,
      displayName: 'Nested',
      members: new Set([SEED.users.carol]),
      owners: new Set(),
      extensions: new Map(),
    });
    entraTempGroup().members.add(nestedId);
    await control('provisioning/cycle');
    expect(await memberUserNames(group.id!)).toEqual([upn('breakglass'), upn('mallory')]);
    expect(await ociUserByName(upn('carol'))).toBeUndefined();
    expect((await control(`oci/groups/${SEED.tempGroupName}/members`, { user: 'nobody@example.test' })).status).toBe(
      400,
    );
  });

  test('a member removed in Entra before any cycle saw it stays in OCI after JIT added it', async () => {
    const group = await tempGroup();
    entraTempGroup().members.add(SEED.users.alice);
    expect((await control('jit/signin', { user: upn('alice') })).body.groupsAdded).toEqual([SEED.tempGroupName]);
    entraTempGroup().members.delete(SEED.users.alice);
    await control('provisioning/cycle');
    // Entra never exported alice's membership, so it has no change to send: the gap ociaccess must catch.
    expect(await memberUserNames(group.id!)).toEqual([upn('alice'), upn('breakglass')]);
  });

  test('provisionOnDemand pushes one member now, and takes it away when no longer a member', async () => {
    const group = await tempGroup();
    entraTempGroup().members.add(SEED.users.carol);
    const added = provisionOnDemand(emu.world, { groupId: SEED.tempGroupId, userIds: [SEED.users.carol] });
    expect(added.ok && added.result).toBe('Success');
    expect(added.ok && added.members).toEqual([expect.objectContaining({ userId: SEED.users.carol, action: 'Added' })]);
    expect(await memberUserNames(group.id!)).toEqual([upn('breakglass'), upn('carol')]);

    const again = provisionOnDemand(emu.world, { groupId: SEED.tempGroupId, userIds: [SEED.users.carol] });
    expect(again.ok && again.result).toBe('Skipped');

    entraTempGroup().members.delete(SEED.users.carol);
    const removed = provisionOnDemand(emu.world, { groupId: SEED.tempGroupId, userIds: [SEED.users.carol] });
    expect(removed.ok && removed.members[0]!.action).toBe('Removed');
    expect(await memberUserNames(group.id!)).toEqual([upn('breakglass')]);

    const unknown = provisionOnDemand(emu.world, {
      groupId: SEED.tempGroupId,
      userIds: ['00000000-0000-4000-8000-000000000000'],
    });
    expect(unknown.ok).toBe(false);
  });
});

describe('SAML JIT', () => {
  test('Overwrite removes the mapped group when the Entra membership is gone', async () => {
    const group = await tempGroup();
    entraTempGroup().members.add(SEED.users.alice);
    const first = await control('jit/signin', { user: upn('alice') });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ created: true, method: 'Overwrite', groupsAdded: [SEED.tempGroupName] });
    expect((await ociUserByName(upn('alice')))!.externalId).toBeUndefined();
    expect(await memberUserNames(group.id!)).toEqual([upn('alice'), upn('breakglass')]);

    entraTempGroup().members.delete(SEED.users.alice);
    const second = await control('jit/signin', { user: upn('alice') });
    expect(second.body).toMatchObject({ created: false, groupsRemoved: [SEED.tempGroupName] });
    expect(await memberUserNames(group.id!)).toEqual([upn('breakglass')]);
  });

  test('Merge only adds: a later sign-in never removes the group', async () => {
    const group = await tempGroup();
    const idp = (await client.listIdentityProviders({})).identityProviders.resources[0]!;
    await client.patchIdentityProvider({
      identityProviderId: idp.id!,
      patchOp: {
        schemas: [PATCH_OP],
        operations: [
          {
            op: identitydomains.models.Operations.Op.Replace,
            path: 'jitUserProvGroupAssignmentMethod',
            value: 'Merge',
          },
        ],
      },
    });
    entraTempGroup().members.add(SEED.users.alice);
    expect((await control('jit/signin', { user: upn('alice') })).body.groupsAdded).toEqual([SEED.tempGroupName]);
    entraTempGroup().members.delete(SEED.users.alice);
    const second = await control('jit/signin', { user: upn('alice') });
    expect(second.body).toMatchObject({ method: 'Merge', groupsRemoved: [] });
    expect(await memberUserNames(group.id!)).toEqual([upn('alice'), upn('breakglass')]);
  });

  test('an unknown user is a 400; with JIT off a user missing in OCI cannot sign in', async () => {
    expect((await control('jit/signin', { user: 'nobody@example.test' })).status).toBe(400);
    for (const idp of emu.world.identityProviders.values()) idp.jitUserProvEnabled = false;
    const refused = await control('jit/signin', { user: upn('alice') });
    expect(refused.status).toBe(403);
    expect(await ociUserByName(upn('alice'))).toBeUndefined();
  });
});
