/**
 * The Graph emulator against the real @microsoft/microsoft-graph-client v3,
 * over HTTPS with the emulator's CA given through an undici dispatcher (test/support/reference-fetch.ts: the SDK's own fetch path). Each
 * area gets its own emulator so the tests do not see each other's changes.
 */
import { jest } from '@jest/globals';
import {
  BatchRequestContent,
  BatchResponseContent,
  Client,
  PageIterator,
  RetryHandlerOptions,
  type GraphError,
  type PageCollection,
} from '@microsoft/microsoft-graph-client';
import { fetchWithCa } from '../../src/adapters/http/tls.js';
import { referenceDispatcher } from '../support/reference-fetch.js';
import { generateEmulatorKeys, startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { SEED } from '../../src/emulator/seed.js';
import type { EntraUser } from '../../src/emulator/state.js';
import { issueToken } from '../../src/emulator/tokens.js';

/** Made once: this file starts an emulator per test, and RSA key generation is slow. */
const keys = generateEmulatorKeys();

const U = SEED.users;
const GROUP = SEED.tempGroupId;
const SP = SEED.ociServicePrincipalId;
const JOB = SEED.syncJobId;
const noRetry = [new RetryHandlerOptions(0, 0)];

interface Harness {
  emu: RunningEmulator;
  client(token: string, fetchHeaders?: Record<string, string>): Client;
  userToken(userId: string, scopes?: string[]): string;
  appToken(roles: string[], appId?: string): string;
}

async function harness(): Promise<Harness> {
  const emu = await startEmulator({ keys });
  const dispatcher = referenceDispatcher(emu.caFile);
  return {
    emu,
    client: (token, fetchHeaders) =>
      Client.initWithMiddleware({
        authProvider: { getAccessToken: async () => token },
        baseUrl: emu.baseUrl,
        customHosts: new Set(['127.0.0.1']),
        fetchOptions: { dispatcher, ...(fetchHeaders ? { headers: fetchHeaders } : {}) } as never,
      }),
    userToken: (userId, scopes = [...SEED.cliDelegatedPermissions]) =>
      issueToken(emu.world, { principalType: 'user', appId: SEED.cliAppId, userId, scopes }).token,
    appToken: (roles, appId = SEED.automationAppId) =>
      issueToken(emu.world, { principalType: 'app', appId, roles }).token,
  };
}

/** The GraphError a call fails with (the test fails if it succeeds). */
async function failure(call: Promise<unknown>): Promise<GraphError> {
  try {
    await call;
  } catch (error) {
    return error as GraphError;
  }
  throw new Error('expected the Graph call to fail');
}

function graphLog(emu: RunningEmulator, pathPart: string) {
  return emu.world.requestLog.filter((entry) => entry.service === 'graph' && entry.path.includes(pathPart));
}

function addUsers(emu: RunningEmulator, count: number, prefix: string): string[] {
  const ids: string[] = [];
  for (let n = 0; n < count; n += 1) {
    const id = `${prefix}-0000-4000-8000-${String(n).padStart(12, '0')}`;
    const user: EntraUser = {
      id,
      userPrincipalName: `user${prefix}${n}@${SEED.domain}`,
      displayName: `User ${n}`,
      mail: null,
      accountEnabled: true,
      directoryRoles: new Set(),
      extensions: new Map(),
    };
    emu.world.users.set(id, user);
    ids.push(id);
  }
  return ids;
}

describe('Graph emulator: users, /me and tokens', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.emu.stop());

  it('reads a user by UPN with $select, and answers 404 Request_ResourceNotFound for an unknown one', async () => {
    const graph = h.client(h.appToken(['User.Read.All']));
    const alice = await graph.api(`/users/alice@${SEED.domain}`).select(['id', 'userPrincipalName']).get();
    expect(Object.keys(alice).sort()).toEqual(['@odata.context', 'id', 'userPrincipalName']);
    expect(alice.id).toBe(U.alice);

    const error = await failure(graph.api(`/users/nobody@${SEED.domain}`).get());
    expect(error.statusCode).toBe(404);
    expect(error.code).toBe('Request_ResourceNotFound');
    expect(error.message).toBe(
      `Resource 'nobody@${SEED.domain}' does not exist or one of its queried reference-property objects are not present.`,
    );
  });

  it('filters users by userPrincipalName eq and by id in (…)', async () => {
    const graph = h.client(h.appToken(['User.Read.All']));
    const byUpn = await graph.api('/users').filter(`userPrincipalName eq 'bob@${SEED.domain}'`).get();
    expect(byUpn.value.map((user: { id: string }) => user.id)).toEqual([U.bob]);
    const byIds = await graph.api('/users').filter(`id in ('${U.alice}','${U.carol}')`).get();
    expect(byIds.value.map((user: { id: string }) => user.id).sort()).toEqual([U.alice, U.carol].sort());
    const unsupported = await failure(graph.api('/users').filter("endswith(mail,'x')").get());
    expect(unsupported.statusCode).toBe(400);
    expect(unsupported.code).toBe('Request_UnsupportedQuery');
  });

  it('pages /users with $top and an absolute https nextLink followed by PageIterator', async () => {
    const graph = h.client(h.appToken(['User.Read.All']));
    const first: PageCollection = await graph.api('/users').top(2).get();
    expect(first.value).toHaveLength(2);
    const nextLink = first['@odata.nextLink'] as string;
    expect(nextLink.startsWith(`${h.emu.baseUrl}/v1.0/users?`)).toBe(true);
    expect(nextLink).toMatch(/\$skiptoken=/);
    const seen: string[] = [];
    await new PageIterator(graph, first, (user: { id: string }) => {
      seen.push(user.id);
      return true;
    }).iterate();
    expect(seen.sort()).toEqual([...h.emu.world.users.keys()].sort());
  });

  it('serves /me to a delegated caller and refuses it to an app-only token with 400', async () => {
    const me = await h.client(h.userToken(U.alice)).api('/me').get();
    expect(me.userPrincipalName).toBe(`alice@${SEED.domain}`);
    const error = await failure(
      h
        .client(h.appToken(['User.Read.All']))
        .api('/me')
        .get(),
    );
    expect(error.statusCode).toBe(400);
    expect(error.message).toBe('/me request is only valid with delegated authentication flow.');
  });

  it('lists /me/memberOf with groups and directory roles', async () => {
    const dave = await h.client(h.userToken(U.dave)).api('/me/memberOf').get();
    expect(dave.value).toEqual([
      expect.objectContaining({ '@odata.type': '#microsoft.graph.directoryRole', displayName: 'Groups Administrator' }),
    ]);
    const breakglass = await h.client(h.userToken(U.breakglass)).api('/me/memberOf').get();
    expect(breakglass.value).toEqual([expect.objectContaining({ '@odata.type': '#microsoft.graph.group', id: GROUP })]);
  });

  it('answers 401 InvalidAuthenticationToken for an unknown or expired token', async () => {
    const unknown = await failure(h.client('not-a-token').api('/me').get());
    expect(unknown.statusCode).toBe(401);
    expect(unknown.code).toBe('InvalidAuthenticationToken');

    const shortLived = issueToken(h.emu.world, {
      principalType: 'user',
      appId: SEED.cliAppId,
      userId: U.alice,
      scopes: ['User.Read'],
      lifetimeSeconds: 60,
    }).token;
    const graph = h.client(shortLived);
    await expect(graph.api('/me').get()).resolves.toMatchObject({ id: U.alice });
    h.emu.world.clockOffsetMs += 120_000;
    const expired = await failure(graph.api('/me').get());
    expect(expired.statusCode).toBe(401);
    expect(expired.message).toMatch(/expired/);
  });

  it("answers every call, successful or not, with request-id and the caller's client-request-id", async () => {
    const get = (path: string, headers: Record<string, string>) =>
      fetchWithCa(h.emu.caFile)(`${h.emu.baseUrl}${path}`, {
        headers: { authorization: `Bearer ${h.userToken(U.alice)}`, ...headers },
      });
    const ok = await get('/v1.0/me', { 'client-request-id': 'c0ffee00-0000-4000-8000-000000000001' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(ok.headers.get('client-request-id')).toBe('c0ffee00-0000-4000-8000-000000000001');
    const created = await fetchWithCa(h.emu.caFile)(`${h.emu.baseUrl}/v1.0/me/extensions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${h.userToken(U.carol)}`,
        'content-type': 'application/json',
        'client-request-id': 'c0ffee00-0000-4000-8000-000000000002',
      },
      body: JSON.stringify({ '@odata.type': 'microsoft.graph.openTypeExtension', extensionName: 'com.contoso.ids' }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('client-request-id')).toBe('c0ffee00-0000-4000-8000-000000000002');
    const removed = await fetchWithCa(h.emu.caFile)(`${h.emu.baseUrl}/v1.0/me/extensions/com.contoso.ids`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${h.userToken(U.carol)}` },
    });
    expect(removed.status).toBe(204);
    // None sent: Graph gives the request-id as client-request-id.
    expect(removed.headers.get('client-request-id')).toBe(removed.headers.get('request-id'));
    const missing = await get('/v1.0/users/nobody@contoso.example', {
      'client-request-id': 'c0ffee00-0000-4000-8000-000000000003',
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('client-request-id')).toBe('c0ffee00-0000-4000-8000-000000000003');
  });

  it('records the caller of every route in the request log', async () => {
    await h.client(h.userToken(U.carol)).api('/me').get();
    const entry = graphLog(h.emu, '/v1.0/me').at(-1)!;
    expect(entry.status).toBe(200);
    expect(entry.principal).toBe(U.carol);
  });

  it('keeps the Authorization header and request headers despite the fetchOptions.headers quirk', async () => {
    // GraphRequest copies config.fetchOptions (our dispatcher) into every request and replaces
    // options.headers with a copy of fetchOptions.headers; the bearer token is added later by the
    // AuthenticationHandler, and .header() values are merged after the copy. $count needs
    // "ConsistencyLevel: eventual" to arrive, so these calls prove which headers got through.
    const token = h.appToken(['User.Read.All']);
    const plain = h.client(token);
    const missing = await failure(plain.api('/users').query({ $count: 'true' }).get());
    expect(missing.statusCode).toBe(400);
    expect(missing.message).toBe('$count is not currently supported.');

    const perRequest = await plain.api('/users').header('ConsistencyLevel', 'eventual').query({ $count: 'true' }).get();
    expect(perRequest['@odata.count']).toBe(h.emu.world.users.size);

    const viaFetchOptions = await h
      .client(token, { ConsistencyLevel: 'eventual' })
      .api('/users')
      .query({ $count: 'true' })
      .get();
    expect(viaFetchOptions['@odata.count']).toBe(h.emu.world.users.size);
    expect(graphLog(h.emu, '/v1.0/users?').at(-1)!.principal).toBe(SEED.automationAppId);
  });
});

describe('Graph emulator: group membership', () => {
  let h: Harness;
  const ref = (id: string) => ({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${id}` });
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.emu.stop());

  it('adds and removes a member through $ref; a repeated add is 400, a repeated remove 404', async () => {
    const bob = h.client(h.userToken(U.bob));
    await bob.api(`/groups/${GROUP}/members/$ref`).post(ref(U.alice));
    const members = await bob.api(`/groups/${GROUP}/members`).get();
    expect(members.value.map((member: { id: string }) => member.id)).toContain(U.alice);

    const again = await failure(bob.api(`/groups/${GROUP}/members/$ref`).post(ref(U.alice)));
    expect(again.statusCode).toBe(400);
    expect(again.code).toBe('Request_BadRequest');
    expect(again.message).toBe(
      "One or more added object references already exist for the following modified properties: 'members'.",
    );

    await bob.api(`/groups/${GROUP}/members/${U.alice}/$ref`).delete();
    expect(h.emu.world.groups.get(GROUP)!.members.has(U.alice)).toBe(false);
    const gone = await failure(bob.api(`/groups/${GROUP}/members/${U.alice}/$ref`).delete());
    expect(gone.statusCode).toBe(404);
    expect(gone.code).toBe('Request_ResourceNotFound');
    expect(graphLog(h.emu, '/members/$ref').map((entry) => entry.status)).toEqual([204, 400]);
  });

  it('a role-assignable group: owners and Groups Administrators are refused; RoleManagement.ReadWrite.Directory (and, delegated, Privileged Role Administrator) is needed', async () => {
    const group = h.emu.world.groups.get(GROUP)!;
    group.isAssignableToRole = true;
    try {
      const read = await h
        .client(h.appToken(['Group.Read.All']))
        .api(`/groups/${GROUP}`)
        .select(['id', 'isAssignableToRole'])
        .get();
      expect(read.isAssignableToRole).toBe(true);
      const ref = { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${U.mallory}` };
      const owner = await failure(h.client(h.userToken(U.bob)).api(`/groups/${GROUP}/members/$ref`).post(ref));
      expect(owner.statusCode).toBe(403);
      const admin = await failure(h.client(h.userToken(U.dave)).api(`/groups/${GROUP}/members/$ref`).post(ref));
      expect(admin.statusCode).toBe(403);
      const app = await failure(
        h
          .client(h.appToken(['GroupMember.ReadWrite.All']))
          .api(`/groups/${GROUP}/members/${U.breakglass}/$ref`)
          .delete(),
      );
      expect(app.statusCode).toBe(403);
      const withScopeNoRole = await failure(
        h
          .client(h.userToken(U.bob, [...SEED.cliDelegatedPermissions, 'RoleManagement.ReadWrite.Directory']))
          .api(`/groups/${GROUP}/members/$ref`)
          .post(ref),
      );
      expect(withScopeNoRole.statusCode).toBe(403);
      h.emu.world.users.get(U.carol)!.directoryRoles.add('Privileged Role Administrator');
      await h
        .client(h.userToken(U.carol, [...SEED.cliDelegatedPermissions, 'RoleManagement.ReadWrite.Directory']))
        .api(`/groups/${GROUP}/members/$ref`)
        .post(ref);
      await h
        .client(h.appToken(['GroupMember.ReadWrite.All', 'RoleManagement.ReadWrite.Directory']))
        .api(`/groups/${GROUP}/members/${U.mallory}/$ref`)
        .delete();
      expect(group.members.has(U.mallory)).toBe(false);
    } finally {
      group.isAssignableToRole = false;
      h.emu.world.users.get(U.carol)!.directoryRoles.delete('Privileged Role Administrator');
    }
  });

  it('refuses a delegated caller who neither owns the group nor is a Groups Administrator', async () => {
    const error = await failure(
      h.client(h.userToken(U.alice)).api(`/groups/${GROUP}/members/$ref`).post(ref(U.mallory)),
    );
    expect(error.statusCode).toBe(403);
    expect(error.code).toBe('Authorization_RequestDenied');
    expect(error.message).toBe('Insufficient privileges to complete the operation.');
    expect(h.emu.world.groups.get(GROUP)!.members.has(U.mallory)).toBe(false);

    await h.client(h.userToken(U.dave)).api(`/groups/${GROUP}/members/$ref`).post(ref(U.mallory));
    expect(h.emu.world.groups.get(GROUP)!.members.has(U.mallory)).toBe(true);
    await h.client(h.userToken(U.dave)).api(`/groups/${GROUP}/members/${U.mallory}/$ref`).delete();
  });

  it('needs GroupMember.ReadWrite.All for an app, which may then change any group', async () => {
    const reader = h.client(h.appToken(['User.Read.All', 'GroupMember.Read.All']));
    await expect(reader.api(`/groups/${GROUP}/members`).get()).resolves.toHaveProperty('value');
    const denied = await failure(reader.api(`/groups/${GROUP}/members/$ref`).post(ref(U.carol)));
    expect(denied.statusCode).toBe(403);
    expect(denied.code).toBe('Authorization_RequestDenied');

    const writer = h.client(h.appToken(['GroupMember.ReadWrite.All']));
    await writer.api(`/groups/${GROUP}/members/$ref`).post(ref(U.carol));
    expect(h.emu.world.groups.get(GROUP)!.members.has(U.carol)).toBe(true);
    await writer.api(`/groups/${GROUP}/members/${U.carol}/$ref`).delete();
  });

  it('rejects a malformed reference with 400 and an unknown object with 404', async () => {
    const bob = h.client(h.userToken(U.bob));
    const malformed = await failure(bob.api(`/groups/${GROUP}/members/$ref`).post({ '@odata.id': 'alice' }));
    expect(malformed.statusCode).toBe(400);
    expect(malformed.message).toBe("Invalid object identifier 'alice'.");
    const unknownId = '99999999-9999-4999-8999-999999999999';
    const unknown = await failure(bob.api(`/groups/${GROUP}/members/$ref`).post(ref(unknownId)));
    expect(unknown.statusCode).toBe(404);
    expect(unknown.message).toContain(unknownId);
    const noGroup = await failure(bob.api(`/groups/${unknownId}/members`).get());
    expect(noGroup.statusCode).toBe(404);
  });

  it('accepts $top from 1 to 999 and refuses anything else with 400', async () => {
    const graph = h.client(h.appToken(['GroupMember.Read.All']));
    for (const top of [0, 1000]) {
      const error = await failure(graph.api(`/groups/${GROUP}/members`).top(top).get());
      expect(error.statusCode).toBe(400);
      expect(error.message).toBe(`Invalid page size specified: '${top}'. Must be between 1 and 999 inclusive.`);
    }
    await expect(graph.api(`/groups/${GROUP}/members`).top(999).get()).resolves.toHaveProperty('value');
  });

  it('lists owners', async () => {
    const owners = await h
      .client(h.appToken(['Group.Read.All']))
      .api(`/groups/${GROUP}/owners`)
      .get();
    expect(owners.value.map((owner: { id: string }) => owner.id).sort()).toEqual([U.bob, U.carol].sort());
  });

  it('pages 251 members with $top=100 and $select through absolute nextLinks', async () => {
    const group = h.emu.world.groups.get(GROUP)!;
    const added = addUsers(h.emu, 250, 'aaaaaaaa');
    for (const id of added) group.members.add(id);
    const graph = h.client(h.appToken(['GroupMember.Read.All']));
    const before = graphLog(h.emu, '/members/microsoft.graph.user').length;

    const first: PageCollection = await graph
      .api(`/groups/${GROUP}/members/microsoft.graph.user`)
      .top(100)
      .select(['id', 'displayName'])
      .get();
    expect(first['@odata.nextLink']).toMatch(
      new RegExp(
        `^${h.emu.baseUrl.replace(/\./g, '\\.')}/v1\\.0/groups/${GROUP}/members/microsoft\\.graph\\.user\\?.*\\$skiptoken=`,
      ),
    );
    const seen: Record<string, unknown>[] = [];
    await new PageIterator(graph, first, (member: Record<string, unknown>) => {
      seen.push(member);
      return true;
    }).iterate();

    expect(seen).toHaveLength(251);
    expect(new Set(seen.map((member) => member.id)).size).toBe(251);
    expect(Object.keys(seen[0]!).sort()).toEqual(['@odata.type', 'displayName', 'id']);
    expect(graphLog(h.emu, '/members/microsoft.graph.user').length - before).toBe(3);
    for (const id of added) group.members.delete(id);
  });

  it('keeps paging stable while members come and go', async () => {
    const group = h.emu.world.groups.get(GROUP)!;
    const initial = addUsers(h.emu, 30, 'bbbbbbbb');
    for (const id of initial) group.members.add(id);
    const everyone = [...group.members];
    const graph = h.client(h.appToken(['GroupMember.Read.All']));

    let page = await graph.api(`/groups/${GROUP}/members`).top(10).get();
    const seen: string[] = page.value.map((member: { id: string }) => member.id);
    // Between pages: one already returned and one not yet returned leave, newcomers arrive.
    const leftSeen = seen[0]!;
    const leftUnseen = everyone.sort().at(-1)!;
    group.members.delete(leftSeen);
    group.members.delete(leftUnseen);
    for (const id of addUsers(h.emu, 5, 'cccccccc')) group.members.add(id);
    while (page['@odata.nextLink']) {
      page = await graph.api(page['@odata.nextLink']).get();
      seen.push(...page.value.map((member: { id: string }) => member.id));
    }

    const stayed = everyone.filter((id) => id !== leftSeen && id !== leftUnseen);
    for (const id of stayed) expect(seen.filter((other) => other === id)).toHaveLength(1);
    expect(seen).not.toContain(leftUnseen);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('retries a whole-request 429 in the SDK after Retry-After', async () => {
    h.emu.world.faults.push({
      service: 'graph',
      method: 'GET',
      pathPattern: '^/v1\\.0/groups/[^/]+/owners$',
      status: 429,
      remaining: 1,
      retryAfterSeconds: 1,
      kind: 'status',
    });
    const owners = await h
      .client(h.appToken(['Group.Read.All']))
      .api(`/groups/${GROUP}/owners`)
      .get();
    expect(owners.value).toHaveLength(2);
    expect(
      graphLog(h.emu, '/owners')
        .slice(-2)
        .map((entry) => entry.status),
    ).toEqual([429, 200]);
  });
});

describe('Graph emulator: open extensions', () => {
  let h: Harness;
  const NAME = 'com.contoso.ociaccess.requests';
  const ext = (extensionName: string, data: Record<string, unknown> = {}) => ({
    '@odata.type': 'microsoft.graph.openTypeExtension',
    extensionName,
    ...data,
  });
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.emu.stop());

  it('creates an extension on /me (201, id = extensionName) and expands it on the user', async () => {
    const alice = h.client(h.userToken(U.alice));
    const created = await alice.api('/me/extensions').post(ext(NAME, { requests: '[]', version: 1 }));
    expect(created).toMatchObject({
      '@odata.type': '#microsoft.graph.openTypeExtension',
      extensionName: NAME,
      id: NAME,
      version: 1,
    });

    const me = await alice.api('/me').select(['id']).expand(`extensions($filter=id eq '${NAME}')`).get();
    expect(me.extensions).toEqual([
      {
        '@odata.type': '#microsoft.graph.openTypeExtension',
        extensionName: NAME,
        id: NAME,
        requests: '[]',
        version: 1,
      },
    ]);
    const other = await alice.api('/me').select(['id']).expand("extensions($filter=id eq 'com.contoso.other')").get();
    expect(other.extensions).toEqual([]);
  });

  it('returns expanded extensions on users and groups only together with $select', async () => {
    const alice = h.client(h.userToken(U.alice));
    const withoutSelect = await alice.api('/me').expand(`extensions($filter=id eq '${NAME}')`).get();
    expect(withoutSelect).toMatchObject({ id: U.alice, userPrincipalName: 'alice@contoso.example' });
    expect(withoutSelect).not.toHaveProperty('extensions');
    const app = h.client(h.appToken(['Group.Read.All']));
    const group = await app.api(`/groups/${GROUP}`).expand('extensions').get();
    expect(group).not.toHaveProperty('extensions');
    const selected = await app.api(`/groups/${GROUP}`).select(['id', 'displayName']).expand('extensions').get();
    expect(selected.extensions).toEqual([]);
  });

  it('accepts only primitive values and arrays of primitives (400 Request_BadRequest otherwise), on create and on PATCH', async () => {
    const dave = h.client(h.userToken(U.dave));
    for (const bad of [{ nested: { a: 1 } }, { list: [1, { a: 1 }] }, { deep: [[1, 2]] }]) {
      const refused = await failure(dave.api('/me/extensions').post(ext('com.contoso.shape', bad)));
      expect(refused.statusCode).toBe(400);
      expect(refused.code).toBe('Request_BadRequest');
      expect(refused.message).toMatch(/primitive/);
    }
    await dave
      .api('/me/extensions')
      .post(ext('com.contoso.shape', { s: 'x', n: 1, b: true, z: null, tags: ['a', 'b'], nums: [1, 2] }));
    const patch = await failure(dave.api('/me/extensions/com.contoso.shape').patch({ s: { not: 'primitive' } }));
    expect(patch.statusCode).toBe(400);
    expect(patch.code).toBe('Request_BadRequest');
    expect(await dave.api('/me/extensions/com.contoso.shape').get()).toMatchObject({ s: 'x', tags: ['a', 'b'] });
  });

  it('refuses a duplicate name with 409 and a third extension of the same app with 400', async () => {
    const alice = h.client(h.userToken(U.alice));
    const duplicate = await failure(alice.api('/me/extensions').post(ext(NAME)));
    expect(duplicate.statusCode).toBe(409);
    expect(duplicate.message).toBe('An extension already exists with given id.');

    await alice.api('/me/extensions').post(ext('com.contoso.ociaccess.decisions'));
    const third = await failure(alice.api('/me/extensions').post(ext('com.contoso.third')));
    expect(third.statusCode).toBe(400);
    expect(third.message).toBe('Maximum number of extensions values supported per application is 2.');

    // The limit counts per creating app: another app may still add its own.
    const otherApp = h.client(h.appToken(['User.ReadWrite.All'], SEED.ociAppId));
    await otherApp.api(`/users/${U.alice}/extensions`).post(ext('com.fabrikam.settings'));
    const list = await alice.api('/me/extensions').get();
    expect(list.value.map((item: { id: string }) => item.id).sort()).toEqual(
      ['com.contoso.ociaccess.decisions', NAME, 'com.fabrikam.settings'].sort(),
    );
  });

  it('refuses more than 2 KB of data with 400', async () => {
    const carol = h.client(h.userToken(U.carol));
    const tooBig = await failure(carol.api('/me/extensions').post(ext('com.contoso.big', { blob: 'x'.repeat(2100) })));
    expect(tooBig.statusCode).toBe(400);
    expect(tooBig.message).toBe('Maximum size supported for each extension is : 2 KB.');
    await carol.api('/me/extensions').post(ext('com.contoso.fits', { blob: 'x'.repeat(1900) }));
    const grow = await failure(carol.api('/me/extensions/com.contoso.fits').patch({ blob: 'x'.repeat(2100) }));
    expect(grow.statusCode).toBe(400);
  });

  it('PATCH replaces the custom properties as a whole and answers 204', async () => {
    const carol = h.client(h.userToken(U.carol));
    await carol.api('/me/extensions').post(ext('com.contoso.patch', { a: '1', b: '2' }));
    await carol.api('/me/extensions/com.contoso.patch').patch({ a: '3' });
    const after = await carol.api('/me/extensions/com.contoso.patch').get();
    expect(after).toMatchObject({ id: 'com.contoso.patch', a: '3' });
    expect(after).not.toHaveProperty('b');
    expect(graphLog(h.emu, '/extensions/com.contoso.patch').map((entry) => entry.status)).toEqual([204, 200]);
  });

  it("answers PATCH with 200 and the object when set to the older v1.0 page's behaviour", async () => {
    h.emu.world.graphSettings.extensionPatchAnswer = 200;
    try {
      const carol = h.client(h.userToken(U.carol));
      const updated = await carol.api('/me/extensions/com.contoso.patch').patch({ a: '4' });
      expect(updated).toMatchObject({
        '@odata.type': '#microsoft.graph.openTypeExtension',
        id: 'com.contoso.patch',
        a: '4',
      });
    } finally {
      h.emu.world.graphSettings.extensionPatchAnswer = 204;
    }
  });

  it('lets a delegated caller write only their own extensions, and read others only with User.Read.All', async () => {
    const bob = h.client(h.userToken(U.bob));
    const write = await failure(bob.api(`/users/${U.alice}/extensions`).post(ext('com.contoso.forged')));
    expect(write.statusCode).toBe(403);
    expect(write.code).toBe('Authorization_RequestDenied');
    const patch = await failure(bob.api(`/users/${U.alice}/extensions/${NAME}`).patch({ requests: 'forged' }));
    expect(patch.statusCode).toBe(403);

    const read = await bob.api(`/users/${U.alice}`).select(['id']).expand('extensions').get();
    expect(read.extensions.map((item: { id: string }) => item.id)).toContain(NAME);
    const basic = h.client(h.userToken(U.bob, ['User.Read', 'User.ReadBasic.All']));
    const denied = await failure(basic.api(`/users/${U.alice}/extensions/${NAME}`).get());
    expect(denied.statusCode).toBe(403);

    const automation = h.client(h.appToken(['User.Read.All']));
    const appWrite = await failure(automation.api(`/users/${U.alice}/extensions`).post(ext('com.contoso.app')));
    expect(appWrite.statusCode).toBe(403);
  });

  it('deletes an extension (204) and then answers 404 for it', async () => {
    const carol = h.client(h.userToken(U.carol));
    await carol.api('/me/extensions/com.contoso.patch').delete();
    const gone = await failure(carol.api('/me/extensions/com.contoso.patch').get());
    expect(gone.statusCode).toBe(404);
  });

  it('writes group extensions with Group.ReadWrite.All only', async () => {
    const app = h.client(h.appToken(['Group.ReadWrite.All']));
    await app.api(`/groups/${GROUP}/extensions`).post(ext('com.contoso.policy', { maxHours: 8 }));
    const group = await app.api(`/groups/${GROUP}`).select(['id']).expand('extensions').get();
    expect(group.extensions).toEqual([expect.objectContaining({ id: 'com.contoso.policy', maxHours: 8 })]);
    const bob = await failure(
      h.client(h.userToken(U.bob)).api(`/groups/${GROUP}/extensions`).post(ext('com.contoso.bob')),
    );
    expect(bob.statusCode).toBe(403);
  });
});

describe('Graph emulator: $batch', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await h.emu.stop();
  });
  beforeEach(() => {
    h.emu.world.faults.length = 0;
    h.emu.world.throttles.length = 0;
  });

  it('answers each item with its own status through BatchResponseContent and logs the items', async () => {
    const graph = h.client(h.appToken(['User.Read.All', 'GroupMember.Read.All']));
    const content = new BatchRequestContent([
      { id: 'alice', request: new Request(`${h.emu.baseUrl}/v1.0/users/${U.alice}`) },
      { id: 'members', request: new Request(`${h.emu.baseUrl}/v1.0/groups/${GROUP}/members?$select=id`) },
      { id: 'nobody', request: new Request(`${h.emu.baseUrl}/v1.0/users/nobody@${SEED.domain}`) },
    ]);
    const answer = new BatchResponseContent(await graph.api('/$batch').post(await content.getContent()));
    expect(answer.getResponseById('alice').status).toBe(200);
    expect(((await answer.getResponseById('alice').json()) as { id: string }).id).toBe(U.alice);
    expect(answer.getResponseById('members').status).toBe(200);
    expect(answer.getResponseById('nobody').status).toBe(404);
    expect(((await answer.getResponseById('nobody').json()) as { error: { code: string } }).error.code).toBe(
      'Request_ResourceNotFound',
    );

    const logged = graphLog(h.emu, '/$batch').at(-1)!;
    expect(logged.status).toBe(200);
    expect(logged.principal).toBe(SEED.automationAppId);
    expect(logged.batchItems!.map((item) => item.status).sort()).toEqual([200, 200, 404]);
  });

  it('fails a dependent item with 424 when its dependency failed, without running it', async () => {
    const bob = h.client(h.userToken(U.bob));
    const body = await bob.api('/$batch').post({
      requests: [
        { id: '1', method: 'GET', url: `/users/nobody@${SEED.domain}` },
        {
          id: '2',
          dependsOn: ['1'],
          method: 'POST',
          url: `/groups/${GROUP}/members/$ref`,
          headers: { 'Content-Type': 'application/json' },
          body: { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${U.mallory}` },
        },
        { id: '3', method: 'GET', url: '/me' },
      ],
    });
    const status = Object.fromEntries(
      body.responses.map((item: { id: string; status: number }) => [item.id, item.status]),
    );
    expect(status).toEqual({ '1': 404, '2': 424, '3': 200 });
    expect(h.emu.world.groups.get(GROUP)!.members.has(U.mallory)).toBe(false);
  });

  it('runs a dependent item after a successful dependency', async () => {
    const bob = h.client(h.userToken(U.bob));
    const body = await bob.api('/$batch').post({
      requests: [
        {
          id: 'add',
          method: 'POST',
          url: `/groups/${GROUP}/members/$ref`,
          headers: { 'Content-Type': 'application/json' },
          body: { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${U.alice}` },
        },
        { id: 'remove', dependsOn: ['add'], method: 'DELETE', url: `/groups/${GROUP}/members/${U.alice}/$ref` },
      ],
    });
    const status = Object.fromEntries(
      body.responses.map((item: { id: string; status: number }) => [item.id, item.status]),
    );
    expect(status).toEqual({ add: 204, remove: 204 });
    expect(h.emu.world.groups.get(GROUP)!.members.has(U.alice)).toBe(false);
  });

  it('answers in shuffled order', async () => {
    const graph = h.client(h.appToken(['User.Read.All']));
    const requests = Array.from({ length: 20 }, (_, n) => ({
      id: String(n),
      method: 'GET',
      url: `/users/${U.alice}?$select=id`,
    }));
    const body = await graph.api('/$batch').post({ requests });
    const order = body.responses.map((item: { id: string }) => item.id);
    expect(order.slice().sort()).toEqual(requests.map((request) => request.id).sort());
    expect(order).not.toEqual(requests.map((request) => request.id));
  });

  it('refuses more than 20 requests and duplicate ids with 400', async () => {
    const graph = h.client(h.appToken(['User.Read.All']));
    const requests = Array.from({ length: 21 }, (_, n) => ({ id: String(n), method: 'GET', url: '/users' }));
    const tooMany = await failure(graph.api('/$batch').post({ requests }));
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.message).toBe('Number of batch request steps exceeds the maximum value of 20.');
    const duplicate = await failure(graph.api('/$batch').post({ requests: [requests[0], requests[0]] }));
    expect(duplicate.statusCode).toBe(400);
  });

  it('throttles items with their own 429 and Retry-After while the batch is 200, and the SDK does not retry them', async () => {
    // The server throttles whole requests at random (Math.random() < rate); pin it so the batch
    // itself passes and only the items are throttled (deterministically: every second one at rate 0.5).
    jest.spyOn(Math, 'random').mockReturnValue(0.99);
    h.emu.world.throttles.push({ service: 'graph', rate: 0.5, retryAfterSeconds: 7 });
    const graph = h.client(h.appToken(['User.Read.All']));
    const content = new BatchRequestContent(
      ['a', 'b', 'c', 'd'].map((id) => ({
        id,
        request: new Request(`${h.emu.baseUrl}/v1.0/users/${U.bob}?$select=id`),
      })),
    );
    const before = graphLog(h.emu, '/$batch').length;
    const answer = new BatchResponseContent(await graph.api('/$batch').post(await content.getContent()));
    h.emu.world.throttles.length = 0;
    jest.restoreAllMocks();

    const statuses = ['a', 'b', 'c', 'd'].map((id) => answer.getResponseById(id).status);
    expect(statuses.filter((status) => status === 429)).toHaveLength(2);
    expect(statuses.filter((status) => status === 200)).toHaveLength(2);
    for (const id of ['a', 'b', 'c', 'd']) {
      const response = answer.getResponseById(id);
      if (response.status === 429) expect(response.headers.get('Retry-After')).toBe('7');
    }
    const batches = graphLog(h.emu, '/$batch').slice(before);
    expect(batches.map((entry) => entry.status)).toEqual([200]);
    expect(batches[0]!.batchItems!.filter((item) => item.status === 429)).toHaveLength(2);
  });

  it('applies injected faults to the matching item only', async () => {
    h.emu.world.faults.push({
      service: 'graph',
      method: 'GET',
      pathPattern: '^/v1\\.0/groups/[^/]+/owners$',
      status: 503,
      remaining: 1,
      retryAfterSeconds: 2,
      kind: 'status',
    });
    const graph = h.client(h.appToken(['User.Read.All', 'Group.Read.All']));
    const body = await graph.api('/$batch').post({
      requests: [
        { id: 'owners', method: 'GET', url: `/groups/${GROUP}/owners` },
        { id: 'me', method: 'GET', url: `/users/${U.bob}` },
      ],
    });
    const owners = body.responses.find((item: { id: string }) => item.id === 'owners');
    expect(owners.status).toBe(503);
    expect(owners.headers['Retry-After']).toBe('2');
    expect(body.responses.find((item: { id: string }) => item.id === 'me').status).toBe(200);
    expect(h.emu.world.faults[0]!.remaining).toBe(0);
  });
});

describe('Graph emulator: service principal and provisioning job', () => {
  let h: Harness;
  const onDemand = (groupId: string, userIds: string[], ruleId: string = SEED.syncRuleId) => ({
    parameters: [
      {
        ruleId,
        subjects: [
          {
            objectId: groupId,
            objectTypeName: 'Group',
            links: { members: userIds.map((objectId) => ({ objectId, objectTypeName: 'User' })) },
          },
        ],
      },
    ],
  });
  const podPath = `/servicePrincipals/${SP}/synchronization/jobs/${JOB}/provisionOnDemand`;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.emu.stop());
  beforeEach(() => {
    h.emu.world.provisionOnDemandCalls = [];
  });

  it('reads the service principal, its assigned groups and its job', async () => {
    const graph = h.client(h.appToken(['Synchronization.Read.All']));
    const byAppId = await graph.api('/servicePrincipals').filter(`appId eq '${SEED.ociAppId}'`).get();
    expect(byAppId.value.map((sp: { id: string }) => sp.id)).toEqual([SP]);
    const assigned = await h
      .client(h.appToken(['Application.Read.All']))
      .api(`/servicePrincipals/${SP}/appRoleAssignedTo`)
      .get();
    expect(assigned.value).toEqual([
      expect.objectContaining({ principalId: GROUP, principalType: 'Group', resourceId: SP }),
      expect.objectContaining({ principalId: SEED.pimGroupId, principalType: 'Group', resourceId: SP }),
    ]);

    const jobs = await graph.api(`/servicePrincipals/${SP}/synchronization/jobs`).get();
    expect(jobs.value).toHaveLength(1);
    const job = await graph.api(`/servicePrincipals/${SP}/synchronization/jobs/${JOB}`).get();
    expect(job).toMatchObject({
      id: JOB,
      schedule: { interval: 'PT40M', state: 'Active' },
      status: { code: 'Active', quarantine: null },
    });
    expect(job.status.lastSuccessfulExecution.state).toBe('Succeeded');

    const denied = await failure(
      h
        .client(h.userToken(U.alice, ['User.Read']))
        .api(`/servicePrincipals/${SP}/synchronization/jobs`)
        .get(),
    );
    expect(denied.statusCode).toBe(403);
  });

  it('lists the app role assignments only with Application.Read.All (or Directory.*), for application and delegated tokens', async () => {
    const path = `/servicePrincipals/${SP}/appRoleAssignedTo`;
    for (const token of [
      h.appToken(['Synchronization.ReadWrite.All', 'GroupMember.ReadWrite.All']),
      h.userToken(U.alice, ['Synchronization.ReadWrite.All', 'User.Read.All']),
      h.appToken(['Application.ReadWrite.OwnedBy']),
    ]) {
      const denied = await failure(h.client(token).api(path).get());
      expect([denied.statusCode, denied.code]).toEqual([403, 'Authorization_RequestDenied']);
    }
    for (const token of [
      h.appToken(['Application.Read.All']),
      h.appToken(['Directory.Read.All']),
      h.userToken(U.alice, ['Application.Read.All']),
    ]) {
      const read = await h.client(token).api(path).get();
      expect(read.value.map((a: { principalId: string }) => a.principalId)).toEqual([GROUP, SEED.pimGroupId]);
    }
  });

  it('provisions a group member on demand and answers a stringKeyStringValuePair', async () => {
    h.emu.world.groups.get(GROUP)!.members.add(U.alice);
    const graph = h.client(h.appToken(['Synchronization.ReadWrite.All']));
    const answer = await graph.api(podPath).post(onDemand(GROUP, [U.alice]));
    expect(answer['@odata.type']).toBe('#microsoft.graph.stringKeyStringValuePair');
    expect(JSON.parse(answer.key).result).toBe('Success');
    expect(JSON.parse(answer.value).provisioningSteps.length).toBeGreaterThan(0);
    const ociGroup = h.emu.world.ociGroupByName(SEED.tempGroupName)!;
    const ociAlice = h.emu.world.ociUserByUserName(`alice@${SEED.domain}`)!;
    expect(ociGroup.members.has(ociAlice.id)).toBe(true);
  });

  it('validates the rule id and the member count, reports an unassigned group as skipped, and refuses non-admin users', async () => {
    const graph = h.client(h.appToken(['Synchronization.ReadWrite.All']));
    const wrongRule = await failure(graph.api(podPath).post(onDemand(GROUP, [U.alice], 'not-the-rule')));
    expect(wrongRule.statusCode).toBe(400);
    const six = await failure(
      graph.api(podPath).post(onDemand(GROUP, [U.alice, U.bob, U.carol, U.dave, U.mallory, U.breakglass])),
    );
    expect(six.statusCode).toBe(400);

    h.emu.world.groups.set('dddddddd-0000-4000-8000-000000000001', {
      id: 'dddddddd-0000-4000-8000-000000000001',
      displayName: 'Unassigned',
      description: null,
      mailNickname: 'Unassigned',
      securityEnabled: true,
      mailEnabled: false,
      members: new Set([U.bob]),
      owners: new Set(),
      extensions: new Map(),
    });
    const skipped = await graph.api(podPath).post(onDemand('dddddddd-0000-4000-8000-000000000001', [U.bob]));
    expect(JSON.parse(skipped.key).result).toBe('Skipped');

    const bob = await failure(
      h
        .client(h.userToken(U.bob))
        .api(podPath)
        .post(onDemand(GROUP, [U.alice])),
    );
    expect(bob.statusCode).toBe(403);
  });

  it('shows a job to a signed-in user only with an application-admin role besides the scope', async () => {
    const jobPath = `/servicePrincipals/${SP}/synchronization/jobs/${JOB}`;
    const bob = await failure(h.client(h.userToken(U.bob)).api(jobPath).get());
    expect(bob.statusCode).toBe(403);
    const list = await failure(h.client(h.userToken(U.bob)).api(`/servicePrincipals/${SP}/synchronization/jobs`).get());
    expect(list.statusCode).toBe(403);
    const user = h.emu.world.users.get(U.bob)!;
    for (const role of [
      'Application Administrator',
      'Cloud Application Administrator',
      'Hybrid Identity Administrator',
    ]) {
      user.directoryRoles.add(role);
      expect((await h.client(h.userToken(U.bob)).api(jobPath).get()).id).toBe(JOB);
      user.directoryRoles.delete(role);
    }
    // An app needs only the permission.
    expect(
      (
        await h
          .client(h.appToken(['Synchronization.Read.All']))
          .api(jobPath)
          .get()
      ).id,
    ).toBe(JOB);
  });

  it('allows 5 calls per 10 virtual seconds and then answers 429 with Retry-After', async () => {
    const graph = h.client(h.appToken(['Synchronization.ReadWrite.All']));
    for (let n = 0; n < 5; n += 1) await graph.api(podPath).post(onDemand(GROUP, [U.alice]));
    const throttled = await failure(
      graph
        .api(podPath)
        .middlewareOptions(noRetry)
        .post(onDemand(GROUP, [U.alice])),
    );
    expect(throttled.statusCode).toBe(429);
    expect(Number(throttled.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    h.emu.world.clockOffsetMs += 10_000;
    await expect(graph.api(podPath).post(onDemand(GROUP, [U.alice]))).resolves.toHaveProperty('key');
  });

  it('shows quarantine on the job and refuses provisioning on demand while quarantined', async () => {
    const job = h.emu.world.servicePrincipals.get(SP)!.synchronizationJobs[0]!;
    job.status.code = 'Quarantine';
    job.status.quarantine = {
      reason: 'EncounteredQuarantineException',
      currentBegan: h.emu.world.nowIso(),
      seriesBegan: h.emu.world.nowIso(),
      seriesCount: 0,
      nextAttempt: new Date(h.emu.world.now() + 6 * 3_600_000).toISOString(),
      error: null,
    };
    const graph = h.client(h.appToken(['Synchronization.ReadWrite.All']));
    const read = await graph.api(`/servicePrincipals/${SP}/synchronization/jobs/${JOB}`).get();
    expect(read.status).toMatchObject({ code: 'Quarantine', quarantine: { reason: 'EncounteredQuarantineException' } });
    const refused = await failure(graph.api(podPath).post(onDemand(GROUP, [U.alice])));
    expect(refused.statusCode).toBe(400);
    expect(refused.message).toMatch(/quarantine/);
    job.status.code = 'Active';
    job.status.quarantine = null;
  });
});

describe('Graph emulator: members that are not users', () => {
  let h: Harness;
  const NESTED = 'abababab-0000-4000-8000-000000000001';
  const ROBOT = 'abababab-0000-4000-8000-000000000002';
  const KIOSK = 'abababab-0000-4000-8000-000000000003';
  const ref = (id: string, set = 'directoryObjects') => ({
    '@odata.id': `https://graph.microsoft.com/v1.0/${set}/${id}`,
  });
  beforeAll(async () => {
    h = await harness();
    const world = h.emu.world;
    world.groups.set(NESTED, {
      id: NESTED,
      displayName: 'Contractors',
      description: null,
      mailNickname: 'Contractors',
      securityEnabled: true,
      mailEnabled: false,
      members: new Set([U.mallory]),
      owners: new Set(),
      extensions: new Map(),
    });
    world.servicePrincipals.set(ROBOT, {
      id: ROBOT,
      appId: 'abababab-0000-4000-8000-0000000000a2',
      displayName: 'Backup robot',
      assignedGroupIds: new Set(),
      synchronizationJobs: [],
    });
    world.devices.set(KIOSK, {
      id: KIOSK,
      deviceId: 'abababab-0000-4000-8000-0000000000a3',
      displayName: 'Lobby kiosk',
      operatingSystem: 'Windows',
      accountEnabled: true,
    });
  });
  afterAll(async () => h.emu.stop());

  it('adds a nested group with GroupMember.ReadWrite.All; a device or service principal also needs Device.ReadWrite.All / Application.ReadWrite.All', async () => {
    const members = h.client(h.appToken(['GroupMember.ReadWrite.All']));
    await members.api(`/groups/${GROUP}/members/$ref`).post(ref(NESTED, 'groups'));
    for (const id of [KIOSK, ROBOT]) {
      const refused = await failure(members.api(`/groups/${GROUP}/members/$ref`).post(ref(id)));
      expect([refused.statusCode, refused.code, refused.message]).toEqual([
        403,
        'Authorization_RequestDenied',
        'Insufficient privileges to complete the operation.',
      ]);
    }
    const devices = h.client(h.appToken(['GroupMember.ReadWrite.All', 'Device.ReadWrite.All']));
    await devices.api(`/groups/${GROUP}/members/$ref`).post(ref(KIOSK, 'devices'));
    await h
      .client(h.appToken(['GroupMember.ReadWrite.All', 'Application.ReadWrite.All']))
      .api(`/groups/${GROUP}/members/$ref`)
      .post(ref(ROBOT, 'servicePrincipals'));
    const again = await failure(devices.api(`/groups/${GROUP}/members/$ref`).post(ref(KIOSK)));
    expect(again.statusCode).toBe(400);
    const missing = await failure(
      members.api(`/groups/${GROUP}/members/$ref`).post(ref('abababab-0000-4000-8000-00000000dead')),
    );
    expect([missing.statusCode, missing.code]).toEqual([404, 'Request_ResourceNotFound']);
    expect([...h.emu.world.groups.get(GROUP)!.members]).toEqual([U.breakglass, NESTED, KIOSK, ROBOT]);
  });

  it('v1.0 /members lists every kind with @odata.type except service principals (known issue); beta lists them; kinds the caller may not read come back as type and id only', async () => {
    const reader = h.client(h.appToken(['GroupMember.Read.All', 'User.Read.All']));
    const v1 = await reader.api(`/groups/${GROUP}/members?$select=id,userPrincipalName,displayName`).get();
    expect(v1['@odata.context']).toContain('#directoryObjects');
    expect(v1.value).toEqual(
      [
        {
          '@odata.type': '#microsoft.graph.user',
          id: U.breakglass,
          userPrincipalName: `breakglass@${SEED.domain}`,
          displayName: 'Break Glass',
        },
        { '@odata.type': '#microsoft.graph.group', id: NESTED, displayName: 'Contractors' },
        { '@odata.type': '#microsoft.graph.device', id: KIOSK, displayName: null },
      ].sort((a, b) => (a.id < b.id ? -1 : 1)),
    );

    const beta = await reader
      .api(`${h.emu.baseUrl}/beta/groups/${GROUP}/members/microsoft.graph.servicePrincipal?$select=id,displayName`)
      .get();
    expect(beta.value).toEqual([{ '@odata.type': '#microsoft.graph.servicePrincipal', id: ROBOT, displayName: null }]);
    const named = await h
      .client(h.appToken(['GroupMember.Read.All', 'Application.Read.All', 'Device.Read.All']))
      .api(`${h.emu.baseUrl}/beta/groups/${GROUP}/members?$select=id,displayName`)
      .get();
    expect(named.value.map((m: { id: string; displayName: string }) => [m.id, m.displayName]).sort()).toEqual(
      [
        [NESTED, 'Contractors'],
        [ROBOT, 'Backup robot'],
        [KIOSK, 'Lobby kiosk'],
        [U.breakglass, null],
      ].sort(),
    );

    const users = await reader.api(`/groups/${GROUP}/members/microsoft.graph.user?$select=id`).get();
    expect(users.value.map((m: { id: string }) => m.id)).toEqual([U.breakglass]);
  });

  it('removes any kind through $ref with GroupMember.ReadWrite.All (204, then 404)', async () => {
    const members = h.client(h.appToken(['GroupMember.ReadWrite.All']));
    for (const id of [ROBOT, KIOSK, NESTED]) {
      await members.api(`/groups/${GROUP}/members/${id}/$ref`).delete();
      const gone = await failure(members.api(`/groups/${GROUP}/members/${id}/$ref`).delete());
      expect([gone.statusCode, gone.code]).toEqual([404, 'Request_ResourceNotFound']);
    }
    expect([...h.emu.world.groups.get(GROUP)!.members]).toEqual([U.breakglass]);
    // The nested group itself is untouched: only the membership goes.
    expect(h.emu.world.groups.get(NESTED)!.members.has(U.mallory)).toBe(true);
  });
});
