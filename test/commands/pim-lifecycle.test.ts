/**
 * The pim backend through the commands people type, against the emulator's
 * PIM for Groups (seeded: OCI-Temp-Admins-PIM, at most 8 hours, justification
 * required, bob or carol approve, alice eligible): request → list --pending →
 * approve → member added → status → revoke; deny; self-approval refused; the
 * policy's limits refused before anything is sent.
 */
import { SEED } from '../../src/emulator/seed.js';
import { upnOf, useHarness, userIdOf } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob', 'carol'] });
const PIM = SEED.pimGroupName;
const PAG = '/v1.0/identityGovernance/privilegedAccess/group';
/** The PIM group's direct members in Entra, as the emulator holds them. */
const pimMembers = () => [...(h().emu.world.groups.get(SEED.pimGroupId)?.members ?? [])];

async function requestPim(hours = '2'): Promise<string> {
  const result = await h().run('alice', [
    'request',
    '-g',
    PIM,
    '-H',
    hours,
    '-j',
    'INC-4711: rotate the wallet',
    '--json',
  ]);
  expect(result.code).toBe(0);
  return result.json.id;
}

test('request → list --pending → approve → member added → status → revoke', async () => {
  const H = h();
  let mark = H.mark();
  const asked = await H.run('alice', [
    'request',
    '-g',
    PIM,
    '-H',
    '2',
    '-j',
    'INC-4711: rotate the wallet',
    '-t',
    'INC-4711',
    '--json',
  ]);
  expect(asked.code).toBe(0);
  expect(asked.json).toMatchObject({
    group: PIM,
    hours: 2,
    state: 'pending',
    backend: 'pim',
    pimStatus: 'PendingApproval',
  });
  const id: string = asked.json.id;
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  expect(asked.stderr).toContain(`ociaccess approve ${id}`);
  // One write: the self-activation request, no record of our own.
  expect(H.writesSince(mark).map((w) => `${w.method} ${w.path}`)).toEqual([`POST ${PAG}/assignmentScheduleRequests`]);

  const pending = await H.run('bob', ['list', '--pending', '-g', PIM, '--json']);
  expect(pending.code).toBe(0);
  expect(pending.json.requests).toEqual([
    expect.objectContaining({ id, requester: upnOf('alice'), state: 'pending', backend: 'pim', hours: 2 }),
  ]);

  mark = H.mark();
  const approved = await H.run('bob', ['approve', id, '--yes', '--json']);
  expect(approved.code).toBe(0);
  expect(approved.json).toMatchObject({
    id,
    decision: 'approved',
    backend: 'pim',
    pimStatus: 'Provisioned',
    membership: 'added',
  });
  expect(
    H.writesSince(mark).map((w) => w.method + ' ' + w.path.split('/stages/')[0].replace(/[0-9a-f-]{36}$/, 'ID')),
  ).toEqual([`PATCH ${PAG}/assignmentApprovals/ID`]);
  expect(pimMembers()).toContain(userIdOf('alice'));

  const status = await H.run('alice', ['status', '-g', PIM, '--no-oci', '--json']);
  expect(status.code).toBe(0);
  expect(status.json.requests).toEqual([expect.objectContaining({ id, state: 'approved', backend: 'pim' })]);
  expect(Date.parse(status.json.requests[0].expiresAt)).toBeGreaterThan(Date.now());

  // PIM ends no activation within 5 minutes of its start: the refusal says when to try again.
  const early = await H.run('alice', ['revoke', '-g', PIM, '--json']);
  expect(early.code).toBe(3);
  expect(early.json.error.code).toBe('PIM_ACTIVE_TOO_SHORT');
  expect(early.json.error.message).toMatch(/try again after \d\d:\d\d UTC/);

  await H.advance({ minutes: 6 });
  const revoked = await H.run('alice', ['revoke', '-g', PIM, '--json']);
  expect([0, 6]).toContain(revoked.code);
  expect(revoked.json).toMatchObject({ user: upnOf('alice'), membership: 'removed', backend: 'pim' });
  expect(pimMembers()).not.toContain(userIdOf('alice'));
});

test('deny: the request is denied in PIM and nobody is added', async () => {
  const H = h();
  const id = await requestPim();
  const denied = await H.run('carol', ['deny', id, '--reason', 'use the read-only group', '--yes', '--json']);
  expect(denied.code).toBe(0);
  expect(denied.json).toMatchObject({ id, decision: 'denied', pimStatus: 'Denied' });
  expect(pimMembers()).not.toContain(userIdOf('alice'));
  const status = await H.run('alice', ['status', '-g', PIM, '--no-oci', '--json']);
  expect(status.json.requests).toEqual([expect.objectContaining({ id, state: 'denied' })]);
});

test('self-approval is refused by the CLI before PIM is asked', async () => {
  const H = h();
  const id = await requestPim();
  const mark = H.mark();
  const self = await H.run('alice', ['approve', id, '--yes', '--json']);
  expect(self.code).toBe(3);
  expect(self.json.error.code).toBe('SELF_APPROVAL');
  expect(H.writesSince(mark)).toEqual([]);
});

test("the policy's limits are refused before anything is sent, in the policy's words", async () => {
  const H = h();
  const mark = H.mark();
  const long = await H.run('alice', ['request', '-g', PIM, '-H', '9', '-j', 'too long', '--json']);
  // The config's own maxHours for the group may be lower than the policy's 8 hours; either way nothing is sent.
  expect(long.code).toBe(3);
  expect(long.json.error.code).toBe('DURATION_TOO_LONG');
  expect(H.writesSince(mark)).toEqual([]);

  const notEligible = await H.run('bob', ['request', '-g', PIM, '-H', '1', '-j', 'not eligible', '--json']);
  expect(notEligible.code).toBe(3);
  expect(notEligible.json.error.code).toBe('NOT_ELIGIBLE');
  expect(H.writesSince(mark)).toEqual([]);
});

test('a stricter PIM policy is read and its own limits refused before anything is sent: at most 4 hours, a ticket', async () => {
  const H = h();
  await H.control(
    `pim/groups/${SEED.pimGroupId}/policy`,
    {
      maxHours: 4,
      justificationRequired: true,
      ticketRequired: true,
      approvalRequired: true,
      approvers: [upnOf('bob')],
    },
    { method: 'PUT' },
  );
  const mark = H.mark();
  const long = await H.run('alice', ['request', '-g', PIM, '-H', '5', '-j', 'too long', '-t', 'CHG-1', '--json']);
  expect(long.code).toBe(3);
  expect(long.json.error).toMatchObject({
    code: 'DURATION_TOO_LONG',
    message: `PIM allows at most 4 hours for ${PIM}.`,
  });
  const noTicket = await H.run('alice', ['request', '-g', PIM, '-H', '2', '-j', 'no ticket', '--json']);
  expect(noTicket.code).toBe(3);
  expect(noTicket.json.error).toMatchObject({
    code: 'TICKET_REQUIRED',
    message: `${PIM}'s PIM policy requires a ticket: add --ticket.`,
  });
  expect(H.writesSince(mark)).toEqual([]);
  // Within the policy: sent, with the ticket PIM asked for.
  const ok = await H.run('alice', ['request', '-g', PIM, '-H', '4', '-j', 'within', '-t', 'CHG-1', '--json']);
  expect(ok.code).toBe(0);
  expect(ok.json).toMatchObject({ hours: 4, ticket: 'CHG-1', state: 'pending', backend: 'pim' });
});
