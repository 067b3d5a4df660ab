/**
 * The Okta DirectoryPort (src/adapters/idp/okta) against the emulator's Okta
 * org, through the project's HTTP path: members paged with Link rel="next",
 * a 429 waited out until X-Rate-Limit-Reset, a person's write to another
 * person's record refused by Okta, and a paging link outside the org refused.
 */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { fetchWithCa } from '../../src/adapters/http/tls.js';
import { OktaDirectory, OktaSession } from '../../src/adapters/idp/okta/index.js';
import { OktaApi, bearer } from '../../src/adapters/idp/okta/api.js';
import { REQUESTS_EXTENSION } from '../../src/core/records.js';
import { SEED_OKTA } from '../../src/emulator/seed.js';
import { offsetClock, type Clock } from '../../src/context.js';
import { startHarness, type Harness } from '../support/harness.js';
import type { OciAccessError } from '../../src/errors.js';

let H: Harness;
let config: any;
const GROUP = SEED_OKTA.tempGroupId;

beforeAll(async () => {
  H = await startHarness({ idp: 'okta', logins: ['alice'] });
  config = JSON.parse(await readFile(path.join(H.root, 'okta-config.json'), 'utf8'));
});
afterAll(async () => {
  await H?.stop();
});
afterEach(async () => {
  await H.control('okta/rate-limits', { limit: null });
  H.emu.world.okta.groups.get(GROUP)!.members = new Set([SEED_OKTA.users.breakglass]);
});

/** The emulator's virtual time, so that tokens and rate windows agree with it. */
function emulatorClock(): Clock {
  return offsetClock(H.emu.world.clockOffsetMs);
}

function session(stateDir: string): OktaSession {
  return new OktaSession(config.idp, {
    clock: emulatorClock(),
    env: { OCIACCESS_TOKEN_STORE: 'file' },
    stateDir,
    platform: process.platform,
    uid: process.getuid?.(),
    fetch: fetchWithCa(H.emu.caFile),
    cwd: H.root,
  });
}

function directory(
  identity: 'user' | 'app',
  getToken: () => Promise<string>,
  sleep?: (ms: number) => Promise<void>,
  authorization: (token: string, method: string, url: string) => Record<string, string> = bearer,
): OktaDirectory {
  return new OktaDirectory({
    orgUrl: config.idp.orgUrl,
    fetch: fetchWithCa(H.emu.caFile),
    getToken,
    authorization,
    identity,
    clock: emulatorClock(),
    concurrency: 4,
    sleep,
  });
}

/** The automation's directory over `automation`; its tokens are presented as the session says (DPoP-bound or bearer). */
const appDirectory = (
  sleep?: (ms: number) => Promise<void>,
  automation: OktaSession = session(path.join(H.root, 'app-state')),
) => {
  return directory(
    'app',
    async () => (await automation.getAppToken()).token,
    sleep,
    (token, method, url) => automation.authorizationFor(token, method, url),
  );
};

test('members are read page by page, following rel="next" to the end', async () => {
  const okta = H.emu.world.okta;
  const alice = okta.users.get(SEED_OKTA.users.alice)!;
  // 450 more people in the group: three pages of 200.
  for (let index = 0; index < 450; index += 1) {
    const id = `00upaged${String(index).padStart(12, '0')}`;
    okta.users.set(id, {
      ...structuredClone(alice),
      id,
      profile: { ...alice.profile, login: `paged${index}@contoso.example` },
    });
    okta.groups.get(GROUP)!.members.add(id);
  }
  const mark = H.mark();
  const members = await appDirectory().listGroupMembers(GROUP);
  expect(members).toHaveLength(451);
  expect(new Set(members.map((member) => member.id)).size).toBe(451);
  expect(members.every((member) => member.kind === 'user')).toBe(true);
  const pages = H.requestsSince(mark).filter((entry) => entry.path.includes(`/groups/${GROUP}/users`));
  expect(pages).toHaveLength(3);
  for (let index = 0; index < 450; index += 1) okta.users.delete(`00upaged${String(index).padStart(12, '0')}`);
});

test("a 429 is waited out until X-Rate-Limit-Reset (read against Okta's Date), then the call succeeds", async () => {
  const waits: number[] = [];
  // The wait moves the emulator's clock instead of the test's (no real minute passes), and the
  // budget comes back with the new window.
  const sleep = async (ms: number) => {
    waits.push(ms);
    await H.control('okta/rate-limits', { limit: null, bucket: 'api/v1/groups/{id}' });
    await H.advance({ seconds: Math.ceil(ms / 1000) });
  };
  const groups = appDirectory(sleep);
  await groups.listGroupMembers(GROUP); // a token first, so only the group calls count below
  await H.control('okta/rate-limits', { limit: 0, bucket: 'api/v1/groups/{id}' });
  const mark = H.mark();
  const members = await groups.listGroupMembers(GROUP);
  expect(members.map((member) => member.id)).toEqual([SEED_OKTA.users.breakglass]);
  expect(
    H.requestsSince(mark)
      .filter((entry) => entry.path.includes('/api/v1/groups/'))
      .map((entry) => entry.status),
  ).toEqual([429, 200]);
  expect(waits).toHaveLength(1);
  // Until the window's end (at most a minute) plus the margin; never a blind zero.
  expect(waits[0]).toBeGreaterThan(1000);
  expect(waits[0]).toBeLessThanOrEqual(61_000);
});

test('a 429 that does not end gives up after a bounded number of attempts as OKTA_UNAVAILABLE', async () => {
  const waits: number[] = [];
  const groups = appDirectory(async (ms) => {
    waits.push(ms);
    await H.advance({ seconds: Math.ceil(ms / 1000) });
  });
  await groups.listGroupMembers(GROUP);
  await H.control('okta/rate-limits', { limit: 0, bucket: 'api/v1/groups/{id}' });
  await expect(groups.listGroupMembers(GROUP)).rejects.toMatchObject({ code: 'OKTA_UNAVAILABLE' });
  expect(waits).toHaveLength(4);
});

test("a person's write to another person's record is refused by Okta (PERMISSION_DENIED), their own goes through /users/me", async () => {
  const alice = session((await H.machine('alice', 'self-write')).home);
  const token = async () => (await alice.getAccessToken()).token;
  const asAlice = directory('user', token);
  const bob = H.emu.world.okta.users.get(SEED_OKTA.users.bob)!;
  delete bob.profile.ociaccessRequests;
  const forged = { v: 1, records: JSON.stringify([{ i: 'r-forged00' }]) };
  const error = (await asAlice
    .writeRecord({ kind: 'user', id: SEED_OKTA.users.bob }, REQUESTS_EXTENSION, forged)
    .catch((caught: unknown) => caught)) as OciAccessError;
  expect(error.code).toBe('PERMISSION_DENIED');
  expect(error.message).toContain('E0000006');
  expect(bob.profile.ociaccessRequests).toBeUndefined();

  const mark = H.mark();
  await asAlice.writeRecord({ kind: 'user', id: SEED_OKTA.users.alice }, REQUESTS_EXTENSION, { v: 1, records: '[]' });
  expect(H.requestsSince(mark).map((entry) => `${entry.method} ${entry.path}`)).toContain('POST /okta/api/v1/users/me');
  expect(await asAlice.readRecord({ kind: 'user', id: SEED_OKTA.users.alice }, REQUESTS_EXTENSION)).toEqual({
    v: 1,
    records: '[]',
  });
});

test('a paging link outside the org is not followed and the token is not sent (OKTA_BAD_LINK)', async () => {
  const sent: string[] = [];
  const answer = (link: string) =>
    new Response('[]', { status: 200, headers: { link: `<${link}>; rel="next"`, 'content-type': 'application/json' } });
  const links = [
    'https://elsewhere.example/okta/api/v1/groups/x/users?after=1',
    `${new URL(config.idp.orgUrl).origin}/other-org/api/v1/groups/x/users?after=1`,
    `${config.idp.orgUrl.replace('https://', 'https://user@')}/api/v1/groups/x/users?after=1`,
  ];
  for (const link of links) {
    const api = new OktaApi({
      orgUrl: config.idp.orgUrl,
      fetch: (async (url: string) => {
        sent.push(url);
        return answer(link);
      }) as typeof fetch,
      getToken: async () => 'token',
      authorization: bearer,
      identity: 'app',
      clock: emulatorClock(),
    });
    await expect(api.list('/api/v1/groups/x/users', 'list', 'scope')).rejects.toMatchObject({ code: 'OKTA_BAD_LINK' });
  }
  expect(sent.every((url) => url.startsWith(`${config.idp.orgUrl}/api/v1/groups/x/users`))).toBe(true);
});

test('the service app requires DPoP (as the seeded one does): its token is bound to a key held only in memory, every call carries a proof, and the token alone is refused', async () => {
  const automation = session(path.join(H.root, 'dpop-state'));
  const bound = appDirectory(undefined, automation);
  expect((await bound.listGroupMembers(GROUP)).map((member) => member.id)).toEqual([SEED_OKTA.users.breakglass]);
  const { token } = await automation.getAppToken();
  expect(H.emu.world.okta.tokens.get(token)?.jkt).toEqual(expect.any(String));
  expect(automation.authorizationFor(token, 'GET', `${config.idp.orgUrl}/api/v1/groups`)).toEqual({
    authorization: `DPoP ${token}`,
    dpop: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
  });
  // The token copied off this machine, without the key: refused (exit 4), nothing read.
  const copied = directory('app', async () => token);
  await expect(copied.listGroupMembers(GROUP)).rejects.toMatchObject({ exitCode: 4 });
});

test('a service app without the DPoP requirement gets bearer tokens, presented as Bearer', async () => {
  await H.control(`okta/apps/${SEED_OKTA.serviceAppClientId}`, { requireDpop: false });
  try {
    const automation = session(path.join(H.root, 'bearer-state'));
    const { token } = await automation.getAppToken();
    expect(H.emu.world.okta.tokens.get(token)?.jkt).toBeUndefined();
    expect(automation.authorizationFor(token, 'GET', `${config.idp.orgUrl}/api/v1/groups`)).toEqual({
      authorization: `Bearer ${token}`,
    });
    const plain = appDirectory(undefined, automation);
    expect((await plain.listGroupMembers(GROUP)).map((member) => member.id)).toEqual([SEED_OKTA.users.breakglass]);
  } finally {
    await H.control(`okta/apps/${SEED_OKTA.serviceAppClientId}`, { requireDpop: true });
  }
});
