/** Reading a token's permissions and naming what each command still lacks. */
import {
  applicationNeeds,
  decodeTokenClaims,
  delegatedNeeds,
  grantedPermissions,
  isSatisfied,
  missingPermissions,
} from '../../src/core/permissions.js';

const jwt = (claims: object) =>
  `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const options = { autoApproval: true, provisionOnDemand: false, provisioning: true };

test('claims come out of a JWT-shaped token; an opaque token gives null', () => {
  expect(decodeTokenClaims(jwt({ scp: 'User.ReadWrite User.Read.All', tid: 't' }))).toEqual({
    scp: 'User.ReadWrite User.Read.All',
    tid: 't',
  });
  expect(decodeTokenClaims('EwBwA8l6BAAU…opaque')).toBeNull();
  expect(decodeTokenClaims('a.!!!.c')).toBeNull();
  expect(decodeTokenClaims(`a.${Buffer.from('[1]').toString('base64url')}.c`)).toBeNull();
});

test('delegated scp and application roles are both read', () => {
  expect(grantedPermissions({ scp: ' User.Read  Group.Read.All ' })).toEqual(['User.Read', 'Group.Read.All']);
  expect(grantedPermissions({ roles: ['User.Read.All', 7 as unknown as string] })).toEqual(['User.Read.All']);
});

test.each([
  ['GroupMember.Read.All', ['GroupMember.ReadWrite.All'], true],
  ['GroupMember.ReadWrite.All', ['Group.ReadWrite.All'], true],
  ['GroupMember.ReadWrite.All', ['Group.Read.All'], false],
  ['User.ReadWrite', ['user.readwrite'], true],
  ['User.ReadWrite', ['User.Read.All'], false],
  ['Synchronization.Read.All', ['Synchronization.ReadWrite.All'], true],
  ['Synchronization.ReadWrite.All', ['Directory.ReadWrite.All'], false],
  ['User.Read.All', ['Directory.Read.All'], true],
])('%s is satisfied by %j: %s', (permission, granted, expected) => {
  expect(isSatisfied(permission, granted)).toBe(expected);
});

test("the CLI's own scopes satisfy every required delegated need", async () => {
  const { CLI_SCOPES } = await import('../../src/adapters/auth/scopes.js');
  expect(missingPermissions(delegatedNeeds({ ...options, provisionOnDemand: true }), CLI_SCOPES)).toEqual([]);
});

test('a token without GroupMember.ReadWrite.All misses it for approve and revoke, and nothing else', () => {
  const missing = missingPermissions(delegatedNeeds(options), [
    'User.ReadWrite',
    'User.Read.All',
    'Group.Read.All',
    'Synchronization.ReadWrite.All',
  ]);
  expect(missing.map((need) => `${need.command}:${need.permission}`)).toEqual([
    'approve:GroupMember.ReadWrite.All',
    'revoke:GroupMember.ReadWrite.All',
  ]);
});

test('provision on demand is optional unless the config turns it on', () => {
  const granted = ['User.Read.All', 'GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Synchronization.Read.All'];
  expect(missingPermissions(applicationNeeds(options), granted).map((n) => [n.permission, n.required])).toEqual([
    ['Application.Read.All', false],
    ['Synchronization.ReadWrite.All', false],
  ]);
  expect(
    missingPermissions(applicationNeeds({ ...options, provisionOnDemand: true }), granted).map((n) => [
      n.permission,
      n.required,
    ]),
  ).toEqual([
    ['Synchronization.ReadWrite.All', true],
    ['Application.Read.All', false],
  ]);
  expect(
    applicationNeeds({ autoApproval: false, provisionOnDemand: false, provisioning: false }).map((n) => n.permission),
  ).not.toContain('Group.ReadWrite.All');
});

test("each role asks for exactly what its commands need: a requester's scopes satisfy a requester, not an approver", async () => {
  const { delegatedScopes } = await import('../../src/adapters/auth/scopes.js');
  const config = { groups: [{ autoApproval: { maxHours: 1 } }] };
  const requester = delegatedScopes('requester', config);
  expect(requester).toEqual(['User.ReadWrite', 'User.Read.All', 'offline_access', 'Group.Read.All']);
  expect(missingPermissions(delegatedNeeds({ ...options, autoApproval: true, role: 'requester' }), requester)).toEqual(
    [],
  );
  expect(
    missingPermissions(delegatedNeeds({ ...options, autoApproval: true }), requester).map((n) => n.permission),
  ).toContain('GroupMember.ReadWrite.All');
  expect(
    missingPermissions(delegatedNeeds({ ...options, autoApproval: true }), delegatedScopes('approver', config)).filter(
      (n) => n.required,
    ),
  ).toEqual([]);
  // Without an auto-approval rule nobody asks for Group.Read.All; provisioning on demand is the operator's.
  expect(delegatedScopes('requester', { groups: [{ autoApproval: null }] })).not.toContain('Group.Read.All');
  expect(delegatedScopes('approver', config)).not.toContain('Synchronization.ReadWrite.All');
  expect(delegatedScopes('operator', config)).toContain('Synchronization.ReadWrite.All');
});

test("Application.Read.All is asked for by doctor's app-assignment check only: no role's scopes, nor init's, hold it", async () => {
  const { APP_ASSIGNMENT_SCOPES, INIT_SCOPES, delegatedScopes } = await import('../../src/adapters/auth/scopes.js');
  expect([...APP_ASSIGNMENT_SCOPES]).toEqual(['Application.Read.All']);
  for (const role of ['requester', 'approver', 'operator'] as const)
    expect(delegatedScopes(role, { groups: [{ autoApproval: { maxHours: 1 } }] })).not.toContain(
      'Application.Read.All',
    );
  // init looks the group up with what its sign-in asked for: a requester's scopes, nothing that writes.
  expect(INIT_SCOPES).toEqual(delegatedScopes('requester'));
  expect(INIT_SCOPES).not.toContain('GroupMember.ReadWrite.All');
  expect(INIT_SCOPES).not.toContain('Synchronization.ReadWrite.All');
  // The automation's token is judged for it, as an optional need of doctor --as app.
  expect(
    applicationNeeds(options)
      .filter((n) => n.permission === 'Application.Read.All')
      .map((n) => [n.command, n.required]),
  ).toEqual([['doctor --as app', false]]);
});
