/**
 * Scopes per role (issue 14): a tenant that consents to no more than the
 * least-privilege set of docs/setup-entra.md signs requesters in, and a
 * command that needs more names the permission and the admin-consent step.
 */
import { SEED } from '../../src/emulator/seed.js';
import { upnOf, useHarness, type Harness } from '../support/harness.js';

const h = useHarness();

/** What the tenant's admin consented to for the CLI app: a requester's permissions only (and what sign-in needs). */
const REQUESTER_CONSENT = [
  'openid',
  'profile',
  'offline_access',
  'User.Read',
  'User.ReadWrite',
  'User.Read.All',
  'Group.Read.All',
  // The emulator's config also lists a pim group: a requester activates there, so these are hers too.
  'RoleManagementPolicy.Read.AzureADGroup',
  'PrivilegedEligibilitySchedule.Read.AzureADGroup',
  'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
];

function consent(H: Harness, permissions: string[]): () => void {
  const app = H.emu.world.apps.get(SEED.cliAppId)!;
  const before = app.delegatedPermissions;
  app.delegatedPermissions = permissions;
  return () => {
    app.delegatedPermissions = before;
  };
}

test('a least-privilege tenant signs a requester in and lets her request; approve names the permission it lacks (exit 4), then works once consented, without a new sign-in', async () => {
  const H = h();
  const restore = consent(H, REQUESTER_CONSENT);
  try {
    expect((await H.login('alice')).code).toBe(0);
    expect((await H.login('bob')).code).toBe(0);
    const asked = await H.run('alice', [
      'request',
      '--hours',
      '2',
      '--justification',
      'INC-4711: rotate the DB wallet',
      '--json',
    ]);
    expect(asked.code).toBe(0);
    expect((await H.run('alice', ['status', '--no-oci'])).code).toBe(0);
    expect((await H.run('bob', ['list', '--pending', '--json'])).code).toBe(0);

    const mark = H.mark();
    const refused = await H.run('bob', ['approve', asked.json.id, '--yes', '--json']);
    expect(refused.code).toBe(4);
    expect(refused.json.error.code).toBe('SCOPE_NOT_GRANTED');
    expect(refused.json.error.message).toContain('GroupMember.ReadWrite.All');
    expect(refused.json.error.hint).toMatch(/Grant admin consent/);
    expect(H.writesSince(mark)).toEqual([]);

    // Doctor says the same: the approver's permission is missing.
    const doctor = await H.run('bob', ['doctor', '--json']);
    const permissions = doctor.json.checks.find((c: any) => c.id === 'permissions');
    expect(permissions).toEqual(
      expect.objectContaining({ status: 'fail', detail: expect.stringContaining('GroupMember.ReadWrite.All') }),
    );

    // The admin grants it: the next approve gets a token for it silently.
    H.emu.world.apps.get(SEED.cliAppId)!.delegatedPermissions = [...REQUESTER_CONSENT, 'GroupMember.ReadWrite.All'];
    const approved = await H.run('bob', ['approve', asked.json.id, '--yes', '--json']);
    expect(approved.code).toBe(0);
    expect(H.entraMembers()).toEqual([upnOf('alice'), upnOf('breakglass')].sort());
  } finally {
    restore();
  }
});

test("a requester's doctor does not ask for an approver's permissions", async () => {
  const H = h();
  const restore = consent(H, REQUESTER_CONSENT);
  try {
    expect((await H.login('dave')).code).toBe(0);
    const doctor = await H.run('dave', ['doctor', '--json']);
    const permissions = doctor.json.checks.find((c: any) => c.id === 'permissions');
    expect(permissions.status).toBe('pass');
  } finally {
    restore();
  }
});
