/**
 * SAML just-in-time provisioning at sign-in, as the identity domain applies
 * its identity provider's JIT settings to an Entra assertion:
 *  - the user is matched by userName = the assertion's NameID (the UPN);
 *    missing → created when jitUserProvEnabled and jitUserProvCreateUserEnabled
 *    (createdBy 'jit', no externalId: SCIM provisioning links it later);
 *  - the assertion's groups claim holds the user's Entra groups, transitive
 *    (Entra's groups claim includes nested memberships), as ids;
 *  - with jitUserProvGroupAssertionAttributeEnabled, the claim is mapped to
 *    OCI groups: explicit mode through jitUserProvGroupMappings (idpGroup is
 *    the Entra group id, or its name), implicit mode by equal group name;
 *  - Overwrite replaces the user's OCI group assignments with the mapped ones
 *    (the SDK documents it as replacing "any current group-assignments", so a
 *    membership added by SCIM or by hand in another group goes too);
 *    Merge only adds, so a sign-in never removes a group.
 */
import type { EntraGroup, EntraUser, OciGroup, OciIdentityProvider, World } from '../state.js';
import { createOciUser } from './domain.js';

export type JitSignInResult =
  | {
      ok: true;
      ociUserId: string;
      userName: string;
      created: boolean;
      method: OciIdentityProvider['jitUserProvGroupAssignmentMethod'] | null;
      groupsAdded: string[];
      groupsRemoved: string[];
      groups: string[];
    }
  | { ok: false; status: 400 | 403; error: string; message: string };

/** Entra groups the user belongs to, directly or through nested groups. */
export function transitiveGroups(world: World, userId: string): EntraGroup[] {
  const found = new Map<string, EntraGroup>();
  let frontier = new Set([userId]);
  while (frontier.size > 0) {
    const next = new Set<string>();
    for (const group of world.groups.values()) {
      if (found.has(group.id)) continue;
      for (const memberId of frontier) {
        if (group.members.has(memberId)) {
          found.set(group.id, group);
          next.add(group.id);
          break;
        }
      }
    }
    frontier = next;
  }
  return [...found.values()];
}

function mappedOciGroups(world: World, idp: OciIdentityProvider, claim: EntraGroup[]): Set<OciGroup> {
  const targets = new Set<OciGroup>();
  if (idp.jitUserProvGroupMappingMode === 'implicit') {
    for (const entra of claim) {
      for (const group of world.ociGroups.values()) if (group.displayName === entra.displayName) targets.add(group);
    }
    return targets;
  }
  for (const mapping of idp.jitUserProvGroupMappings) {
    const wanted = mapping.idpGroup.toLowerCase();
    const hit = claim.some((entra) => entra.id.toLowerCase() === wanted || entra.displayName.toLowerCase() === wanted);
    const group = world.ociGroups.get(mapping.ociGroupId);
    if (hit && group) targets.add(group);
  }
  return targets;
}

export function pickIdentityProvider(world: World, idpId?: string): OciIdentityProvider | undefined {
  if (idpId) return world.identityProviders.get(idpId);
  return [...world.identityProviders.values()].find((idp) => idp.enabled);
}

export function jitSignIn(world: World, userRef: string, idpId?: string): JitSignInResult {
  const entra: EntraUser | undefined = world.userByIdOrUpn(userRef);
  if (!entra) return { ok: false, status: 400, error: 'unknown_user', message: `No Entra user "${userRef}".` };
  if (!entra.accountEnabled)
    return {
      ok: false,
      status: 403,
      error: 'account_disabled',
      message: 'Entra refuses the sign-in: the account is disabled.',
    };
  const idp = pickIdentityProvider(world, idpId);
  if (!idp || !idp.enabled)
    return {
      ok: false,
      status: 400,
      error: 'no_identity_provider',
      message: 'The OCI domain has no enabled SAML identity provider.',
    };

  let user = world.ociUserByUserName(entra.userPrincipalName);
  let created = false;
  if (!user) {
    if (!idp.jitUserProvEnabled || !idp.jitUserProvCreateUserEnabled) {
      return {
        ok: false,
        status: 403,
        error: 'user_not_found',
        message: `The OCI domain has no user ${entra.userPrincipalName} and JIT user creation is off.`,
      };
    }
    user = createOciUser(world, {
      userName: entra.userPrincipalName,
      displayName: entra.displayName,
      externalId: null,
      createdBy: 'jit',
    });
    created = true;
  }
  if (!user.active) {
    return {
      ok: false,
      status: 403,
      error: 'user_inactive',
      message: `The OCI user ${user.userName} is deactivated; the domain refuses the sign-in.`,
    };
  }

  const groupsAdded: string[] = [];
  const groupsRemoved: string[] = [];
  let method: OciIdentityProvider['jitUserProvGroupAssignmentMethod'] | null = null;
  if (idp.jitUserProvEnabled && idp.jitUserProvGroupAssertionAttributeEnabled) {
    method = idp.jitUserProvGroupAssignmentMethod;
    const targets = mappedOciGroups(world, idp, transitiveGroups(world, entra.id));
    if (method === 'Overwrite') {
      for (const group of world.ociGroups.values()) {
        if (!targets.has(group) && group.members.delete(user.id)) groupsRemoved.push(group.displayName);
      }
    }
    for (const group of targets) {
      if (!group.members.has(user.id)) {
        group.members.add(user.id);
        groupsAdded.push(group.displayName);
      }
    }
  }
  const groups = [...world.ociGroups.values()]
    .filter((group) => group.members.has(user.id))
    .map((group) => group.displayName);
  return { ok: true, ociUserId: user.id, userName: user.userName, created, method, groupsAdded, groupsRemoved, groups };
}
