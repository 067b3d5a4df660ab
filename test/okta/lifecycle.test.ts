/**
 * The lifecycle with Okta as the identity provider (idp.type "okta"), through
 * the commands people type, against the emulator's Okta org (docs/okta.md):
 * sign-in with the device authorization grant, request → approve → status →
 * revoke → sweep, deny, Link paging, a 429 waited out, and the trust rule
 * that a person writes only their own record.
 */
import { SEED_OKTA } from '../../src/emulator/seed.js';
import { approveOktaDevice } from '../../src/emulator/okta/index.js';
import { startHarness, upnOf, userCodeIn, type Harness } from '../support/harness.js';

let H: Harness;
let testNumber = 0;
const ALICE = upnOf('alice');
const GROUP = SEED_OKTA.tempGroupId;

beforeAll(async () => {
  H = await startHarness({ idp: 'okta', logins: ['alice', 'bob', 'carol'] });
});
afterAll(async () => {
  await H?.stop();
});

/** The org as seeded: breakglass alone in the group and in its OCI group, no records anywhere. */
function resetOrg(): void {
  const okta = H.emu.world.okta;
  okta.groups.get(GROUP)!.members = new Set([SEED_OKTA.users.breakglass]);
  for (const user of okta.users.values()) {
    delete user.profile.ociaccessRequests;
    delete user.profile.ociaccessDecisions;
  }
  delete okta.groups.get(GROUP)!.profile.ociaccessDecisions;
  okta.rateLimitOverrides.clear();
}

beforeEach(async () => {
  testNumber += 1;
  resetOrg();
  for (const name of ['alice', 'bob', 'carol', 'mallory', 'cron'] as const)
    await H.machine(name, `okta-${testNumber}-${name}`);
});

const oktaMembers = () =>
  [...H.emu.world.okta.groups.get(GROUP)!.members]
    .map((id) => String(H.emu.world.okta.users.get(id)?.profile.login ?? id))
    .sort();
const ociMembers = () =>
  [...H.emu.world.ociGroupByName(SEED_OKTA.ociGroupName)!.members]
    .map((id) => H.emu.world.ociUsers.get(id)?.userName ?? id)
    .sort();
const profileOf = (name: keyof typeof SEED_OKTA.users) => H.emu.world.okta.users.get(SEED_OKTA.users[name])!.profile;

async function request(hours = '2'): Promise<string> {
  const result = await H.run('alice', ['request', '--hours', hours, '--justification', 'INC-4711: rotate', '--json']);
  expect(result.code).toBe(0);
  return result.json.id;
}

test('whoami on Okta names the Okta user and the token store', async () => {
  const result = await H.run('alice', ['whoami', '--json']);
  expect(result.code).toBe(0);
  expect(result.json).toMatchObject({ user: ALICE, objectId: SEED_OKTA.users.alice, tokenStore: 'file' });
  const text = await H.run('alice', ['whoami']);
  expect(text.stdout).toContain(`org:         ${H.emu.oktaOrgUrl}`);
  expect(text.stdout).not.toContain('tenant');
});

test('request → approve → status → revoke → sweep: the member comes and goes in Okta and (pushed) in OCI', async () => {
  const id = await request();
  // The request lives in alice's own profile attribute, as the JSON docs/okta.md describes.
  expect(JSON.parse(String(profileOf('alice').ociaccessRequests))).toMatchObject({
    v: 1,
    records: [expect.objectContaining({ i: id })],
  });

  const approved = await H.run('bob', ['approve', id, '--json']);
  expect(approved.code).toBe(0);
  expect(approved.json).toMatchObject({ id, decision: 'approved', membership: 'added' });
  expect(approved.stderr).toContain("Okta's Push Groups carries the membership to OCI within seconds.");
  expect(oktaMembers()).toEqual([ALICE, upnOf('breakglass')]);
  // The decision lives in bob's own profile, not alice's.
  expect(JSON.parse(String(profileOf('bob').ociaccessDecisions)).records).toEqual([
    expect.objectContaining({ r: id, d: 'a' }),
  ]);

  // Push Groups carries the membership to OCI within seconds.
  await H.advance({ seconds: 10 });
  expect(ociMembers()).toContain(ALICE);

  const status = await H.run('alice', ['status', '--json']);
  expect(status.code).toBe(0);
  expect(status.json.user).toBe(ALICE);
  expect(status.json.requests).toEqual([
    expect.objectContaining({ id, state: 'approved', decidedBy: SEED_OKTA.users.bob }),
  ]);

  const revoked = await H.run('bob', ['revoke', '--user', ALICE, '--reason', 'done early', '--json']);
  expect([0, 6]).toContain(revoked.code);
  expect(revoked.json).toMatchObject({ user: ALICE, revokedRequests: [id], membership: 'removed' });
  expect(oktaMembers()).toEqual([upnOf('breakglass')]);

  // The sweep (the service app, private_key_jwt) finds nothing to remove and sees OCI catch up.
  await H.advance({ seconds: 10 });
  const sweep = await H.run('cron', ['sweep', '--json']);
  expect(sweep.code).toBe(0);
  expect(ociMembers()).toEqual([upnOf('breakglass')]);
  expect(oktaMembers()).toEqual([upnOf('breakglass')]);
});

test('on Okta the messages speak of Okta and its Push Groups, never of Entra or a provisioning cycle', async () => {
  const id = await request();
  expect((await H.run('bob', ['approve', id])).code).toBe(0);
  await H.advance({ seconds: 10 });
  expect(ociMembers()).toContain(ALICE);

  const revoked = await H.run('bob', ['revoke', '--user', ALICE, '--reason', 'done early']);
  expect([0, 6]).toContain(revoked.code);
  expect(revoked.stderr.split('\n')[0]).toBe(`✓ ${ALICE} removed from ${SEED_OKTA.tempGroupName} in Okta.`);

  // Before the push has run, the sweep sees the removal pending in OCI and says where it was made.
  const sweep = await H.run('cron', ['sweep', '--json']);
  expect(sweep.code).toBe(6);
  expect(sweep.json.groups[0].pendingInOci).toEqual([
    expect.objectContaining({ upn: ALICE, outcome: 'removed in Okta, pending in OCI' }),
  ]);
  for (const text of [revoked.stdout, revoked.stderr, JSON.stringify(sweep.json), sweep.stderr])
    expect(text).not.toMatch(/Entra|provisioning cycle/);
});

test("list, extend and audit on Okta: bob lists alice's request, alice extends her grant and bob approves it, the audit logs verify", async () => {
  const first = await request();
  const listed = await H.run('bob', ['list', '--pending', '--json']);
  expect(listed.code).toBe(0);
  expect(listed.json.requests).toEqual([
    expect.objectContaining({ id: first, requester: ALICE, state: 'pending', hours: 2 }),
  ]);
  expect((await H.run('bob', ['approve', first, '--yes', '--json'])).code).toBe(0);
  expect((await H.run('bob', ['list', '--pending', '--json'])).json.requests).toEqual([]);

  // An hour in, alice asks for 3 more hours; the request names the grant it continues, in her own profile.
  await H.advance({ hours: 1 });
  const asked = await H.run('alice', [
    'extend',
    '--hours',
    '3',
    '--justification',
    'INC-4711: still running',
    '--json',
  ]);
  expect(asked.code).toBe(0);
  const id: string = asked.json.id;
  expect(JSON.parse(String(profileOf('alice').ociaccessRequests)).records).toContainEqual(
    expect.objectContaining({ i: id, c: first, h: 3 }),
  );
  const approved = await H.run('bob', ['approve', id, '--yes', '--json']);
  expect(approved.code).toBe(0);
  expect(approved.json).toMatchObject({ id, extends: first, decision: 'approved' });

  // Past the first grant's end, the extension keeps alice in, in Okta and in OCI.
  await H.advance({ hours: 1, minutes: 30 });
  const sweep = await H.run('cron', ['sweep', '--json']);
  expect(sweep.code).toBe(0);
  expect(oktaMembers()).toEqual([ALICE, upnOf('breakglass')].sort());
  await H.advance({ seconds: 10 });
  expect(ociMembers()).toContain(ALICE);

  for (const who of ['alice', 'bob', 'cron'] as const) {
    const verified = await H.run(who, ['audit', 'verify', '--json']);
    expect(verified.code).toBe(0);
    expect(verified.json.ok).toBe(true);
  }
  const log = await H.run('bob', ['audit', '--json']);
  expect(log.code).toBe(0);
  expect(JSON.stringify(log.json)).toContain(id);
});

test('an expired grant is removed by the sweep, in Okta and then in OCI', async () => {
  const id = await request('1');
  expect((await H.run('bob', ['approve', id, '--json'])).code).toBe(0);
  await H.advance({ seconds: 10 });
  expect(ociMembers()).toContain(ALICE);
  await H.advance({ hours: 2 });
  const sweep = await H.run('cron', ['sweep', '--json']);
  expect([0, 6]).toContain(sweep.code);
  expect(oktaMembers()).toEqual([upnOf('breakglass')]);
  await H.advance({ seconds: 10 });
  expect(ociMembers()).toEqual([upnOf('breakglass')]);
});

test('a hand-added member without a grant is removed by the sweep; breakglass (standing) stays', async () => {
  H.emu.world.okta.groups.get(GROUP)!.members.add(SEED_OKTA.users.mallory);
  const sweep = await H.run('cron', ['sweep', '--json']);
  expect([0, 6]).toContain(sweep.code);
  expect(oktaMembers()).toEqual([upnOf('breakglass')]);
});

test("deny: the decision is in the approver's own profile, nobody is added, status says denied", async () => {
  const id = await request();
  const denied = await H.run('bob', ['deny', id, '--reason', 'use the read-only group', '--yes', '--json']);
  expect(denied.code).toBe(0);
  expect(denied.json).toMatchObject({ id, decision: 'denied', membership: null });
  expect(oktaMembers()).toEqual([upnOf('breakglass')]);
  expect(JSON.parse(String(profileOf('bob').ociaccessDecisions)).records).toEqual([
    expect.objectContaining({ r: id, d: 'n', y: 'use the read-only group' }),
  ]);
  const status = await H.run('alice', ['status', '--json']);
  expect(status.json.requests).toEqual([expect.objectContaining({ id, state: 'denied' })]);
});

/** A fresh machine of `name` signed in with a requester's scopes only (no okta.groups.manage). */
async function requesterSignIn(name: 'bob' | 'mallory') {
  const machine = await H.machine(name, `okta-${testNumber}-${name}-requester`);
  const result = await H.run(machine, ['login'], {
    during: async (stderr) => {
      let code: string | undefined;
      for (let tries = 0; !(code = userCodeIn(stderr.text)); tries += 1) {
        if (tries > 500) throw new Error(`no device code prompt for ${name}: ${stderr.text}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(typeof approveOktaDevice(H.emu.world, code, upnOf(name))).toBe('object');
    },
  });
  expect(result.code).toBe(0);
  return machine;
}

test('a requester cannot approve their own request on Okta either: SELF_APPROVAL first, not "sign in as an approver"', async () => {
  const id = await request();
  // alice's requester sign-in lacks the approver's scope; reading alone already refuses her.
  const self = await H.run('alice', ['approve', id, '--json']);
  expect(self.code).toBe(3);
  expect(self.json.error.code).toBe('SELF_APPROVAL');
  expect(oktaMembers()).toEqual([upnOf('breakglass')]);
  expect(profileOf('alice').ociaccessDecisions).toBeUndefined();
});

test("a requester's sign-in: a non-approver is told NOT_AN_APPROVER; an approver is told to sign in as one (exit 4), and nothing changes", async () => {
  const id = await request();
  const mallory = await H.run(await requesterSignIn('mallory'), ['approve', id, '--json']);
  expect(mallory.code).toBe(3);
  expect(mallory.json.error.code).toBe('NOT_AN_APPROVER');
  const bob = await H.run(await requesterSignIn('bob'), ['approve', id, '--json']);
  expect(bob.code).toBe(4);
  expect(bob.json.error.code).toBe('SCOPE_NOT_GRANTED');
  expect(bob.json.error.hint).toContain('ociaccess login --role approver');
  expect(oktaMembers()).toEqual([upnOf('breakglass')]);
  expect(profileOf('bob').ociaccessDecisions).toBeUndefined();
  expect(profileOf('mallory').ociaccessDecisions).toBeUndefined();
});

test('login: a code denied in the browser fails as LOGIN_DECLINED (exit 4) and caches nobody', async () => {
  const mallory = await H.machine('mallory', `okta-${testNumber}-denied`);
  const result = await H.run(mallory, ['login', '--json'], {
    during: async (stderr) => {
      let code: string | undefined;
      while (!(code = userCodeIn(stderr.text))) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(typeof approveOktaDevice(H.emu.world, code, 'mallory@contoso.example', { deny: true })).toBe('object');
    },
  });
  expect(result.code).toBe(4);
  expect(result.json.error.code).toBe('LOGIN_DECLINED');
  expect((await H.run(mallory, ['whoami', '--json'])).json.error.code).toBe('NOT_SIGNED_IN');
});

test('logout forgets the Okta sign-in on this machine', async () => {
  const out = await H.run('alice', ['logout', '--json']);
  expect(out.json).toEqual({ signedOut: ALICE });
  expect((await H.run('alice', ['whoami', '--json'])).code).toBe(4);
});

test("an approval found on a non-approver's (or the requester's) own profile keeps nobody: the sweep removes the member", async () => {
  const id = await request();
  expect((await H.run('bob', ['approve', id, '--json'])).code).toBe(0);
  expect(oktaMembers()).toContain(ALICE);
  // The same decision text, moved to profiles whose owners may write it (their own) but are no approvers.
  const decision = profileOf('bob').ociaccessDecisions;
  delete profileOf('bob').ociaccessDecisions;
  profileOf('mallory').ociaccessDecisions = decision;
  profileOf('alice').ociaccessDecisions = decision;
  const sweep = await H.run('cron', ['sweep', '--json']);
  expect([0, 1, 6]).toContain(sweep.code);
  expect(oktaMembers()).toEqual([upnOf('breakglass')]);
  const status = await H.run('alice', ['status', '--json']);
  expect(status.json.requests).toEqual([expect.objectContaining({ id, state: 'pending' })]);
});
