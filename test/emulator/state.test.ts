/**
 * The emulator's directory lookups (src/emulator/state.ts): a user is found by
 * object id or by user principal name (any case), as Graph finds them, and the
 * UPN index behind it follows users that are added, renamed and deleted.
 */
import { World } from '../../src/emulator/state.js';
import { seedDefault, SEED } from '../../src/emulator/seed.js';

test('users are found by id and by UPN in any case; renames, deletions and additions are followed', () => {
  const world = new World();
  seedDefault(world);
  const upn = `alice@${SEED.domain}`;
  const alice = world.userByIdOrUpn(upn)!;
  expect(alice.id).toBe(SEED.users.alice);
  expect(world.userByIdOrUpn(upn.toUpperCase())).toBe(alice);
  expect(world.userByIdOrUpn(alice.id)).toBe(alice);

  const oldUpn = alice.userPrincipalName;
  alice.userPrincipalName = 'alice.renamed@contoso.example';
  expect(world.userByIdOrUpn(oldUpn)).toBeUndefined();
  expect(world.userByIdOrUpn('ALICE.renamed@contoso.example')).toBe(alice);

  world.users.delete(alice.id);
  expect(world.userByIdOrUpn('alice.renamed@contoso.example')).toBeUndefined();

  const newcomer = {
    ...alice,
    id: '99999999-9999-4999-8999-999999999999',
    userPrincipalName: 'newcomer@contoso.example',
  };
  world.users.set(newcomer.id, newcomer);
  expect(world.userByIdOrUpn('Newcomer@contoso.example')).toBe(newcomer);
  expect(world.userByIdOrUpn('nobody@contoso.example')).toBeUndefined();
});
