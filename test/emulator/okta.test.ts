/**
 * The Okta emulator through plain HTTPS, as docs/okta.md describes the org:
 * device authorization, private_key_jwt, Users and Groups with Link paging,
 * profile attribute permissions, rate limits, Group Push to OCI, and DPoP
 * for a service app that requires it.
 */
import { createHash, randomUUID, sign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fetchWithCa } from '../../src/adapters/http/tls.js';
import { generateEmulatorKeys, startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { SEED_OKTA } from '../../src/emulator/seed.js';
import { postControl } from '../support/emulator-control.js';

const keys = generateEmulatorKeys();
const NATIVE = SEED_OKTA.nativeAppClientId;
const SERVICE = SEED_OKTA.serviceAppClientId;
const GROUP = SEED_OKTA.tempGroupId;
const U = SEED_OKTA.users;
const PEOPLE_SCOPES =
  'openid profile offline_access okta.users.read.self okta.users.manage.self okta.users.read okta.groups.read okta.groups.manage';

let emu: RunningEmulator;
let http: typeof fetch;
let servicePem: string;

beforeEach(async () => {
  emu = await startEmulator({ keys });
  http = fetchWithCa(emu.caFile) as typeof fetch;
  servicePem = await readFile(emu.oktaServiceKeyFile, 'utf8');
  // These tests speak bearer tokens; the seeded service app's DPoP requirement has its own tests (DPoP, below).
  emu.world.okta.apps.get(SERVICE)!.requireDpop = false;
});
afterEach(async () => emu.stop());

const org = () => emu.oktaOrgUrl;

function form(values: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(values).toString(),
  };
}

async function control(path: string, body: unknown): Promise<Response> {
  const response = await postControl(http, emu.baseUrl, path, body);
  expect(response.status).toBe(200);
  return response;
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function assertion(claims: Record<string, unknown> = {}, pem = servicePem, kid: string = SEED_OKTA.serviceAppKeyId) {
  const now = Math.floor(emu.world.now() / 1000);
  const input = `${b64url({ alg: 'RS256', kid })}.${b64url({
    iss: SERVICE,
    sub: SERVICE,
    aud: `${org()}/oauth2/v1/token`,
    exp: now + 300,
    iat: now,
    jti: randomUUID(),
    ...claims,
  })}`;
  return `${input}.${sign('sha256', Buffer.from(input), pem).toString('base64url')}`;
}

async function serviceToken(
  clientAssertion = assertion(),
  scope = 'okta.groups.manage okta.groups.read okta.users.read okta.users.manage okta.apps.read okta.schemas.read',
) {
  return http(
    `${org()}/oauth2/v1/token`,
    form({
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: clientAssertion,
    }),
  );
}

async function serviceAccess(): Promise<string> {
  const response = await serviceToken();
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Device authorization as `user`, approved through the control route. */
async function signIn(user: string, scope = PEOPLE_SCOPES): Promise<{ access_token: string; refresh_token: string }> {
  const started = await http(`${org()}/oauth2/v1/device/authorize`, form({ client_id: NATIVE, scope }));
  expect(started.status).toBe(200);
  const { device_code, user_code } = (await started.json()) as { device_code: string; user_code: string };
  await control('okta/device/complete', { userCode: user_code, user });
  const token = await http(
    `${org()}/oauth2/v1/token`,
    form({ client_id: NATIVE, grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code }),
  );
  expect(token.status).toBe(200);
  return (await token.json()) as { access_token: string; refresh_token: string };
}

function api(path: string, token: string, init: RequestInit = {}): Promise<Response> {
  return http(`${org()}${path}`, {
    ...init,
    headers: { accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${token}` },
  });
}

const errorCode = async (response: Response) => ((await response.json()) as { errorCode: string }).errorCode;

describe('org authorization server', () => {
  test('metadata names the org URL as issuer and the device and token endpoints, with rate-limit headers', async () => {
    const response = await http(`${org()}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.issuer).toBe(org());
    expect(body.device_authorization_endpoint).toBe(`${org()}/oauth2/v1/device/authorize`);
    expect(body.token_endpoint).toBe(`${org()}/oauth2/v1/token`);
    expect(response.headers.get('x-rate-limit-limit')).toMatch(/^\d+$/);
    expect(response.headers.get('x-rate-limit-remaining')).toMatch(/^\d+$/);
  });

  test('device flow: pending, slow_down when polled too fast, then tokens for the person who approved', async () => {
    // A long interval, so the second poll is "too fast" however slow the machine.
    await control('okta/settings', { deviceCodeIntervalSeconds: 60 });
    const started = await http(
      `${org()}/oauth2/v1/device/authorize`,
      form({ client_id: NATIVE, scope: PEOPLE_SCOPES }),
    );
    const grant = (await started.json()) as Record<string, string | number>;
    expect(grant).toMatchObject({ expires_in: 600, interval: 60, verification_uri: `${org()}/activate` });
    const poll = () =>
      http(
        `${org()}/oauth2/v1/token`,
        form({
          client_id: NATIVE,
          grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
          device_code: String(grant.device_code),
        }),
      );
    const first = await poll();
    expect(first.status).toBe(400);
    expect(((await first.json()) as { error: string }).error).toBe('authorization_pending');
    expect(((await (await poll()).json()) as { error: string }).error).toBe('slow_down');
    await control('okta/device/complete', { userCode: grant.user_code, user: 'alice@contoso.example' });
    const done = await poll();
    expect(done.status).toBe(200);
    const tokens = (await done.json()) as Record<string, string>;
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.id_token).toBeTruthy();
    const me = await api('/api/v1/users/me', tokens.access_token!);
    expect(((await me.json()) as { id: string }).id).toBe(U.alice);
    // The device code is spent.
    expect(((await (await poll()).json()) as { error: string }).error).toBe('invalid_grant');
  });

  test('a refused device code answers access_denied, an old one expired_token', async () => {
    const start = async () =>
      (await (
        await http(`${org()}/oauth2/v1/device/authorize`, form({ client_id: NATIVE, scope: 'openid' }))
      ).json()) as {
        device_code: string;
        user_code: string;
      };
    const poll = (device_code: string) =>
      http(
        `${org()}/oauth2/v1/token`,
        form({ client_id: NATIVE, grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code }),
      );
    const denied = await start();
    await control('okta/device/complete', { userCode: denied.user_code, user: 'bob', deny: true });
    expect(((await (await poll(denied.device_code)).json()) as { error: string }).error).toBe('access_denied');
    const old = await start();
    await control('clock/advance', { seconds: 601 });
    expect(((await (await poll(old.device_code)).json()) as { error: string }).error).toBe('expired_token');
  });

  test('a refresh token gives a new access token; a scope the app was not granted is refused', async () => {
    const tokens = await signIn('carol');
    const refreshed = await http(
      `${org()}/oauth2/v1/token`,
      form({ client_id: NATIVE, grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
    );
    expect(refreshed.status).toBe(200);
    const access = ((await refreshed.json()) as { access_token: string }).access_token;
    expect(access).not.toBe(tokens.access_token);
    expect((await api('/api/v1/users/me', access)).status).toBe(200);
    const notGranted = await http(
      `${org()}/oauth2/v1/device/authorize`,
      form({ client_id: NATIVE, scope: 'openid okta.schemas.manage' }),
    );
    expect(notGranted.status).toBe(400);
    expect(((await notGranted.json()) as { error: string }).error).toBe('invalid_scope');
  });

  test('private_key_jwt: a good assertion gets a one-hour token without refresh token', async () => {
    const response = await serviceToken();
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(body.refresh_token).toBeUndefined();
  });

  test('private_key_jwt: a replayed jti, another key, a wrong audience or an exp over an hour ahead are invalid_client', async () => {
    const once = assertion({ jti: 'same-jti' });
    expect((await serviceToken(once)).status).toBe(200);
    const { privateKey: otherKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const now = Math.floor(emu.world.now() / 1000);
    for (const bad of [
      once,
      assertion({}, otherKey),
      assertion({ aud: org() }),
      assertion({ exp: now + 3700 }),
      assertion({ exp: now - 10 }),
      assertion({ sub: U.alice }),
    ]) {
      const response = await serviceToken(bad);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_client');
    }
  });

  test('private_key_jwt: a scope not granted to the service app is invalid_scope', async () => {
    const response = await serviceToken(assertion(), 'okta.groups.read okta.schemas.manage');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_scope');
  });
});

describe('Users and Groups APIs', () => {
  test('a bad token is 401 E0000011; a missing scope or admin permission 403 E0000006', async () => {
    const bad = await api('/api/v1/users/me', 'not-a-token');
    expect(bad.status).toBe(401);
    expect(await errorCode(bad)).toBe('E0000011');
    const selfOnly = await signIn('alice', 'openid okta.users.read.self');
    const noScope = await api(`/api/v1/users/${U.bob}`, selfOnly.access_token);
    expect(noScope.status).toBe(403);
    expect(await errorCode(noScope)).toBe('E0000006');
    // breakglass holds no admin role: the scope alone does not let a person read others.
    const breakglass = await signIn('breakglass');
    expect((await api(`/api/v1/users/${U.alice}`, breakglass.access_token)).status).toBe(403);
    const alice = await signIn('alice');
    const bob = await api(`/api/v1/users/${encodeURIComponent('bob@contoso.example')}`, alice.access_token);
    expect(bob.status).toBe(200);
    expect(((await bob.json()) as { id: string }).id).toBe(U.bob);
    const missing = await api('/api/v1/users/nobody%40contoso.example', alice.access_token);
    expect(missing.status).toBe(404);
    expect(await errorCode(missing)).toBe('E0000007');
  });

  test('a person writes only their own READ_WRITE attributes; a service app with okta.users.manage writes anyone', async () => {
    const alice = await signIn('alice');
    const record = JSON.stringify({ v: 1, records: [{ i: 'r-abcdefgh', h: 2 }] });
    const own = await api('/api/v1/users/me', alice.access_token, {
      method: 'POST',
      body: JSON.stringify({ profile: { ociaccessRequests: record } }),
    });
    expect(own.status).toBe(200);
    expect(((await own.json()) as { profile: Record<string, string> }).profile.ociaccessRequests).toBe(record);
    const readOnly = await api('/api/v1/users/me', alice.access_token, {
      method: 'POST',
      body: JSON.stringify({ profile: { login: 'eve@contoso.example' } }),
    });
    expect(readOnly.status).toBe(403);
    expect(await errorCode(readOnly)).toBe('E0000006');
    const tooLong = await api('/api/v1/users/me', alice.access_token, {
      method: 'POST',
      body: JSON.stringify({ profile: { ociaccessRequests: 'x'.repeat(SEED_OKTA.recordMaxLength + 1) } }),
    });
    expect(tooLong.status).toBe(400);
    expect(await errorCode(tooLong)).toBe('E0000001');
    const others = await api(`/api/v1/users/${U.bob}`, alice.access_token, {
      method: 'POST',
      body: JSON.stringify({ profile: { ociaccessDecisions: '{"v":1,"records":[]}' } }),
    });
    expect(others.status).toBe(403);
    const service = await serviceAccess();
    const byService = await api(`/api/v1/users/${U.bob}`, service, {
      method: 'POST',
      body: JSON.stringify({ profile: { ociaccessDecisions: '{"v":1,"records":[]}', employeeNumber: '42' } }),
    });
    expect(byService.status).toBe(200);
    expect(emu.world.okta.users.get(U.bob)!.profile.employeeNumber).toBe('42');
  });

  test("an attribute made HIDE is left out of the person's own profile and cannot be written by them", async () => {
    const service = await serviceAccess();
    await api(`/api/v1/users/${U.alice}`, service, {
      method: 'POST',
      body: JSON.stringify({ profile: { ociaccessDecisions: 'secret' } }),
    });
    await control('okta/schema/user', { attribute: 'ociaccessDecisions', self: 'HIDE' });
    const alice = await signIn('alice');
    const me = (await (await api('/api/v1/users/me', alice.access_token)).json()) as {
      profile: Record<string, unknown>;
    };
    expect(me.profile).not.toHaveProperty('ociaccessDecisions');
    const write = await api('/api/v1/users/me', alice.access_token, {
      method: 'POST',
      body: JSON.stringify({ profile: { ociaccessDecisions: 'forged' } }),
    });
    expect(write.status).toBe(403);
  });

  test('the group is found by name; only its membership admins add and remove members (204)', async () => {
    const bob = await signIn('bob');
    const found = await api(
      `/api/v1/groups?search=${encodeURIComponent('profile.name eq "OCI-Temp-Admins"')}`,
      bob.access_token,
    );
    expect(((await found.json()) as { id: string }[]).map((group) => group.id)).toEqual([GROUP]);
    const mallory = await signIn('mallory');
    const refused = await api(`/api/v1/groups/${GROUP}/users/${U.mallory}`, mallory.access_token, { method: 'PUT' });
    expect(refused.status).toBe(403);
    expect((await api(`/api/v1/groups/${GROUP}/users/${U.alice}`, bob.access_token, { method: 'PUT' })).status).toBe(
      204,
    );
    expect(emu.world.okta.groups.get(GROUP)!.members.has(U.alice)).toBe(true);
    expect((await api(`/api/v1/groups/${GROUP}/users/${U.alice}`, bob.access_token, { method: 'DELETE' })).status).toBe(
      204,
    );
    expect(emu.world.okta.groups.get(GROUP)!.members.has(U.alice)).toBe(false);
    const unknownUser = await api(`/api/v1/groups/${GROUP}/users/00unobody00000000000`, bob.access_token, {
      method: 'PUT',
    });
    expect(unknownUser.status).toBe(404);
  });

  test('members are listed a page at a time, following rel="next" until it is absent', async () => {
    const service = await serviceAccess();
    for (const id of [U.alice, U.bob, U.carol, U.dave, U.mallory]) {
      expect((await api(`/api/v1/groups/${GROUP}/users/${id}`, service, { method: 'PUT' })).status).toBe(204);
    }
    const seen: string[] = [];
    let next: string | undefined = `${org()}/api/v1/groups/${GROUP}/users?limit=2`;
    let pages = 0;
    while (next) {
      const response = await http(next, { headers: { authorization: `Bearer ${service}` } });
      expect(response.status).toBe(200);
      const users = (await response.json()) as { id: string }[];
      expect(users.length).toBeLessThanOrEqual(2);
      seen.push(...users.map((user) => user.id));
      const link = response.headers.get('link') ?? '';
      expect(link).toContain('rel="self"');
      next = /<([^>]+)>; rel="next"/.exec(link)?.[1];
      pages += 1;
    }
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual([U.alice, U.bob, U.breakglass, U.carol, U.dave, U.mallory].sort());
  });

  test('users are found by search (pr, or) a page at a time, the next link keeping the search', async () => {
    const alice = await signIn('alice');
    await api('/api/v1/users/me', alice.access_token, {
      method: 'POST',
      body: JSON.stringify({ profile: { ociaccessRequests: '{"v":1,"records":[]}' } }),
    });
    const withRecords = await api(
      `/api/v1/users?search=${encodeURIComponent('profile.ociaccessRequests pr')}`,
      alice.access_token,
    );
    expect(((await withRecords.json()) as { id: string }[]).map((user) => user.id)).toEqual([U.alice]);
    const search = encodeURIComponent(
      'profile.login eq "bob@contoso.example" or profile.login eq "CAROL@contoso.example"',
    );
    let next: string | undefined = `${org()}/api/v1/users?search=${search}&limit=1`;
    const seen: string[] = [];
    while (next) {
      const response = await http(next, { headers: { authorization: `Bearer ${alice.access_token}` } });
      seen.push(...((await response.json()) as { id: string }[]).map((user) => user.id));
      next = /<([^>]+)>; rel="next"/.exec(response.headers.get('link') ?? '')?.[1];
    }
    expect(seen).toEqual([U.bob, U.carol]);
    const bad = await api(
      `/api/v1/users?search=${encodeURIComponent('profile.ociaccessRequests co "x"')}`,
      alice.access_token,
    );
    expect(bad.status).toBe(400);
  });

  test('the schema lists the record attributes with their SELF permission and maxLength', async () => {
    const service = await serviceAccess();
    const schema = (await (await api('/api/v1/meta/schemas/user/default', service)).json()) as {
      definitions: {
        custom: { properties: Record<string, { type: string; maxLength: number; permissions: unknown[] }> };
      };
    };
    expect(schema.definitions.custom.properties.ociaccessRequests).toMatchObject({
      type: 'string',
      maxLength: SEED_OKTA.recordMaxLength,
      permissions: [{ principal: 'SELF', action: 'READ_WRITE' }],
    });
    const group = (await (await api('/api/v1/meta/schemas/group/default', service)).json()) as {
      definitions: { custom: { properties: Record<string, unknown> } };
    };
    expect(group.definitions.custom.properties).toHaveProperty('ociaccessDecisions');
  });
});

describe('rate limits', () => {
  test('a spent budget answers 429 E0000047 with the reset time, and the next window answers again', async () => {
    await control('okta/rate-limits', { bucket: 'api/v1/users/me', limit: 2 });
    const alice = await signIn('alice');
    // Start at the beginning of a one-minute window, so the three calls share it.
    await control('clock/advance', { ms: 60_000 - (emu.world.now() % 60_000) + 1 });
    const first = await api('/api/v1/users/me', alice.access_token);
    expect(first.headers.get('x-rate-limit-limit')).toBe('2');
    expect(first.headers.get('x-rate-limit-remaining')).toBe('1');
    expect((await api('/api/v1/users/me', alice.access_token)).status).toBe(200);
    const refused = await api('/api/v1/users/me', alice.access_token);
    expect(refused.status).toBe(429);
    expect(await errorCode(refused)).toBe('E0000047');
    expect(refused.headers.get('x-rate-limit-remaining')).toBe('0');
    const reset = Number(refused.headers.get('x-rate-limit-reset'));
    expect(reset).toBeGreaterThan(emu.world.now() / 1000);
    expect(reset).toBeLessThanOrEqual(emu.world.now() / 1000 + 60);
    await control('clock/advance', { seconds: 60 });
    expect((await api('/api/v1/users/me', alice.access_token)).status).toBe(200);
  });
});

describe('Group Push', () => {
  const ociMembers = () => {
    const group = emu.world.ociGroupByName(SEED_OKTA.ociGroupName)!;
    return [...group.members].map((id) => emu.world.ociUsers.get(id)!.userName).sort();
  };

  test('a membership change reaches the OCI group after the push delay, not before', async () => {
    // A delay no slow machine spends between two calls; the default is 5 s.
    await control('okta/settings', { pushDelayMs: 120_000 });
    const service = await serviceAccess();
    expect(ociMembers()).toEqual(['breakglass@contoso.example']);
    await api(`/api/v1/groups/${GROUP}/users/${U.alice}`, service, { method: 'PUT' });
    expect(ociMembers()).toEqual(['breakglass@contoso.example']);
    await control('clock/advance', { seconds: 120 });
    expect(ociMembers()).toEqual(['alice@contoso.example', 'breakglass@contoso.example']);
    // Entra's OCI group is another group: the push leaves it alone.
    expect(emu.world.ociGroupByName('OCI-Temp-Admins')!.members.size).toBe(1);
    await api(`/api/v1/groups/${GROUP}/users/${U.alice}`, service, { method: 'DELETE' });
    await control('clock/advance', { seconds: 120 });
    expect(ociMembers()).toEqual(['breakglass@contoso.example']);
  });

  test('a member added by hand in the Admin Console is pushed too', async () => {
    const added = (await (await control('okta/groups/OCI-Temp-Admins/members', { user: 'dave' })).json()) as {
      changed: boolean;
    };
    expect(added.changed).toBe(true);
    await control('clock/advance', { seconds: 5 });
    expect(ociMembers()).toContain('dave@contoso.example');
  });

  test('a paused push leaves OCI as it was until it is resumed; the mappings API shows the status', async () => {
    const service = await serviceAccess();
    await api(`/api/v1/groups/${GROUP}/users/${U.carol}`, service, { method: 'PUT' });
    await control('clock/advance', { seconds: 5 });
    await control('okta/push', { status: 'INACTIVE' });
    await api(`/api/v1/groups/${GROUP}/users/${U.carol}`, service, { method: 'DELETE' });
    await control('clock/advance', { seconds: 60 });
    expect(ociMembers()).toContain('carol@contoso.example');
    const mappings = (await (
      await api(`/api/v1/apps/${SEED_OKTA.ociAppId}/group-push/mappings?sourceGroupId=${GROUP}`, service)
    ).json()) as { status: string; sourceGroupId: string }[];
    expect(mappings).toEqual([expect.objectContaining({ status: 'INACTIVE', sourceGroupId: GROUP })]);
    await control('okta/push', { status: 'ACTIVE' });
    await control('clock/advance', { seconds: 5 });
    expect(ociMembers()).not.toContain('carol@contoso.example');
  });
});

describe('DPoP (a service app with "Require DPoP header in token requests")', () => {
  /** A proof as RFC 9449 §4.2 spells it, made here by hand (not by the CLI's adapter). */
  function proof(
    key: { privateKey: KeyObject; publicKey: KeyObject },
    claims: { htm: string; htu: string; nonce?: string; accessToken?: string; iat?: number; jti?: string },
  ): string {
    const jwk = key.publicKey.export({ format: 'jwk' });
    const input = `${b64url({ typ: 'dpop+jwt', alg: 'ES256', jwk })}.${b64url({
      htm: claims.htm,
      htu: claims.htu,
      iat: claims.iat ?? Math.floor(emu.world.now() / 1000),
      jti: claims.jti ?? randomUUID(),
      ...(claims.nonce ? { nonce: claims.nonce } : {}),
      ...(claims.accessToken ? { ath: createHash('sha256').update(claims.accessToken).digest('base64url') } : {}),
    })}`;
    const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  }
  const tokenUrl = () => `${org()}/oauth2/v1/token`;
  const newKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

  function tokenRequest(dpop?: string): Promise<Response> {
    const request = form({
      grant_type: 'client_credentials',
      scope: 'okta.groups.read okta.users.read',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion(),
    });
    return http(tokenUrl(), {
      ...request,
      headers: { ...(request.headers as Record<string, string>), ...(dpop ? { dpop } : {}) },
    });
  }

  /** The token endpoint's dance: no proof, then a proof without the nonce, then with it. */
  async function boundToken(key: { privateKey: KeyObject; publicKey: KeyObject }) {
    const asked = await tokenRequest(proof(key, { htm: 'POST', htu: tokenUrl() }));
    const nonce = asked.headers.get('dpop-nonce')!;
    const response = await tokenRequest(proof(key, { htm: 'POST', htu: tokenUrl(), nonce }));
    expect(response.status).toBe(200);
    return (await response.json()) as { access_token: string; token_type: string };
  }

  beforeEach(() => {
    emu.world.okta.apps.get(SERVICE)!.requireDpop = true;
  });

  test('the token endpoint wants a proof, then its nonce; the token comes back as DPoP', async () => {
    const metadata = (await (await http(`${org()}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(metadata.dpop_signing_alg_values_supported).toContain('ES256');

    const none = await tokenRequest();
    expect(none.status).toBe(400);
    expect(await none.json()).toMatchObject({ error: 'invalid_dpop_proof' });

    const key = newKey();
    const noNonce = await tokenRequest(proof(key, { htm: 'POST', htu: tokenUrl() }));
    expect(noNonce.status).toBe(400);
    expect(await noNonce.json()).toMatchObject({ error: 'use_dpop_nonce' });
    const nonce = noNonce.headers.get('dpop-nonce');
    expect(nonce).toBeTruthy();

    const wrongUrl = await tokenRequest(proof(key, { htm: 'POST', htu: `${org()}/oauth2/v1/other`, nonce: nonce! }));
    expect(await wrongUrl.json()).toMatchObject({ error: 'invalid_dpop_proof' });

    const good = await tokenRequest(proof(key, { htm: 'POST', htu: tokenUrl(), nonce: nonce! }));
    expect(good.status).toBe(200);
    expect(await good.json()).toMatchObject({ token_type: 'DPoP' });
  });

  test('a bound token is accepted only as DPoP with a fresh proof of this request by its key', async () => {
    const key = newKey();
    const { access_token: token } = await boundToken(key);
    const url = `${org()}/api/v1/groups/${GROUP}`;
    const call = (headers: Record<string, string>) =>
      http(url, { headers: { accept: 'application/json', ...headers } });
    const good = proof(key, { htm: 'GET', htu: url, accessToken: token });

    expect((await call({ authorization: `DPoP ${token}`, dpop: good })).status).toBe(200);
    // Replayed, as bearer, without a proof, for another URL, without ath, or by another key: 401.
    const refused: Record<string, string>[] = [
      { authorization: `DPoP ${token}`, dpop: good },
      { authorization: `Bearer ${token}` },
      { authorization: `DPoP ${token}` },
      {
        authorization: `DPoP ${token}`,
        dpop: proof(key, { htm: 'GET', htu: `${org()}/api/v1/users`, accessToken: token }),
      },
      { authorization: `DPoP ${token}`, dpop: proof(key, { htm: 'GET', htu: url }) },
      { authorization: `DPoP ${token}`, dpop: proof(newKey(), { htm: 'GET', htu: url, accessToken: token }) },
      {
        authorization: `DPoP ${token}`,
        dpop: proof(key, { htm: 'GET', htu: url, accessToken: token, iat: Math.floor(emu.world.now() / 1000) - 3600 }),
      },
    ];
    for (const headers of refused) {
      const response = await call(headers);
      expect(response.status).toBe(401);
      expect(await errorCode(response)).toBe('E0000011');
    }
    const challenged = await call({ authorization: `DPoP ${token}` });
    expect(challenged.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_dpop_proof"/);
  });

  test('an app without the requirement gets bearer tokens, which are refused under the DPoP scheme', async () => {
    await control(`okta/apps/${SERVICE}`, { requireDpop: false });
    const response = await tokenRequest();
    expect(response.status).toBe(200);
    const { access_token: token, token_type } = (await response.json()) as { access_token: string; token_type: string };
    expect(token_type).toBe('Bearer');
    expect((await api(`/api/v1/groups/${GROUP}`, token)).status).toBe(200);
    const asDpop = await http(`${org()}/api/v1/groups/${GROUP}`, { headers: { authorization: `DPoP ${token}` } });
    expect(asDpop.status).toBe(401);
  });
});
