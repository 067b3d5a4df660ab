/**
 * Operations on the emulated OCI identity domain's objects, shared by the SCIM
 * routes, the provisioning engine, SAML JIT and the "by hand in the console"
 * control routes, so every path changes the world the same way.
 */
import { randomBytes } from 'node:crypto';
import type { OciGroup, OciUser, World } from '../state.js';
import { ociOcid } from '../seed.js';

/** IDCS ids are 32 lowercase hex characters. */
export function newScimId(): string {
  return randomBytes(16).toString('hex');
}

export interface NewOciUser {
  userName: string;
  displayName?: string;
  externalId?: string | null;
  active?: boolean;
  createdBy: OciUser['createdBy'];
}

export function createOciUser(world: World, input: NewOciUser): OciUser {
  const id = newScimId();
  const user: OciUser = {
    id,
    ocid: ociOcid('user'),
    userName: input.userName,
    displayName: input.displayName ?? input.userName,
    active: input.active ?? true,
    externalId: input.externalId ?? null,
    createdBy: input.createdBy,
  };
  world.ociUsers.set(id, user);
  return user;
}

export function createOciGroup(world: World, input: { displayName: string; externalId?: string | null }): OciGroup {
  const id = newScimId();
  const group: OciGroup = {
    id,
    ocid: ociOcid('group'),
    displayName: input.displayName,
    externalId: input.externalId ?? null,
    members: new Set(),
  };
  world.ociGroups.set(id, group);
  return group;
}

export function deleteOciUser(world: World, userId: string): boolean {
  if (!world.ociUsers.delete(userId)) return false;
  for (const group of world.ociGroups.values()) group.members.delete(userId);
  return true;
}

export function deleteOciGroup(world: World, groupId: string): boolean {
  if (!world.ociGroups.delete(groupId)) return false;
  // A JIT mapping that names a deleted group is dropped, as the console does.
  for (const idp of world.identityProviders.values()) {
    idp.jitUserProvGroupMappings = idp.jitUserProvGroupMappings.filter((mapping) => mapping.ociGroupId !== groupId);
  }
  return true;
}

/** Groups the OCI user is a direct member of (OCI groups do not nest). */
export function groupsOfOciUser(world: World, userId: string): OciGroup[] {
  return [...world.ociGroups.values()].filter((group) => group.members.has(userId));
}

export function ociUserByExternalId(world: World, externalId: string): OciUser | undefined {
  const wanted = externalId.toLowerCase();
  for (const user of world.ociUsers.values()) if (user.externalId?.toLowerCase() === wanted) return user;
  return undefined;
}

export function ociGroupByExternalId(world: World, externalId: string): OciGroup | undefined {
  const wanted = externalId.toLowerCase();
  for (const group of world.ociGroups.values()) if (group.externalId?.toLowerCase() === wanted) return group;
  return undefined;
}

/** Group display names are unique in a domain, compared without case. */
export function ociGroupByNameInsensitive(world: World, displayName: string): OciGroup | undefined {
  const wanted = displayName.toLowerCase();
  for (const group of world.ociGroups.values()) if (group.displayName.toLowerCase() === wanted) return group;
  return undefined;
}
