/**
 * SCIM representations of the domain's Users, Groups and IdentityProviders,
 * and the `attributes` / `attributeSets` projection the identity domain
 * applies: attributes marked returned=always come back every time,
 * returned=request ones (a User's `groups`, a Group's `members`) only when
 * asked for, the rest by default.
 */
import type { OciGroup, OciIdentityProvider, OciUser, World } from '../state.js';
import { groupsOfOciUser } from './domain.js';

export const SCHEMA = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  idp: 'urn:ietf:params:scim:schemas:oracle:idcs:IdentityProvider',
  listResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  searchRequest: 'urn:ietf:params:scim:api:messages:2.0:SearchRequest',
} as const;

export type ResourceKind = 'User' | 'Group' | 'IdentityProvider';

const ALWAYS: Record<ResourceKind, string[]> = {
  User: ['id', 'schemas', 'username'],
  Group: ['id', 'schemas', 'displayname', 'nonuniquedisplayname'],
  IdentityProvider: ['id', 'schemas', 'partnername', 'type'],
};

const REQUEST_ONLY: Record<ResourceKind, string[]> = {
  User: ['groups'],
  Group: ['members'],
  IdentityProvider: [],
};

/** The real service refuses to return more group members than this in one response. */
export const MAX_MEMBERS_PER_RESPONSE = 10_000;

export interface MemberPage {
  startIndex: number;
  count: number;
}

export interface Projection {
  /** Lower-case top-level attribute names to return. */
  include: (name: string) => boolean;
  /** Set when `members[startIndex=…&count=…]` asked for one page of a group's members. */
  memberPage?: MemberPage;
  membersRequested: boolean;
}

export class AttributesError extends Error {}

const CORE_PREFIX = /^urn:ietf:params:scim:schemas:core:2\.0:(user|group):/i;

/**
 * Parses `attributes` ("userName,groups", "members[startIndex=1&count=10]")
 * and `attributeSets` ("all", "default", "always", "request", "never").
 */
export function projection(
  kind: ResourceKind,
  attributes: string | null | string[],
  attributeSets: string | null | string[],
): Projection {
  const always = new Set(ALWAYS[kind]);
  const requestOnly = new Set(REQUEST_ONLY[kind]);
  const requested = new Set<string>();
  let memberPage: MemberPage | undefined;
  const attrList = Array.isArray(attributes) ? attributes : attributes ? attributes.split(',') : [];
  for (const raw of attrList) {
    const item = raw.trim();
    if (!item) continue;
    const match = /^([^[\]]+)(?:\[(.*)\])?$/.exec(item);
    if (!match) throw new AttributesError(`Invalid attribute "${item}".`);
    const name = match[1]!.replace(CORE_PREFIX, '').split('.')[0]!.toLowerCase();
    requested.add(name);
    if (match[2] !== undefined) {
      if (name !== 'members' || kind !== 'Group')
        throw new AttributesError(`Paging is only supported on members, not "${item}".`);
      const params = new URLSearchParams(match[2]);
      const startIndex = Number(params.get('startIndex') ?? '1');
      const count = Number(params.get('count') ?? String(MAX_MEMBERS_PER_RESPONSE));
      if (!Number.isInteger(startIndex) || !Number.isInteger(count) || count < 0) {
        throw new AttributesError(`Invalid member paging "${item}": startIndex and count must be integers.`);
      }
      if (count > MAX_MEMBERS_PER_RESPONSE)
        throw new AttributesError(`Member page count ${count} exceeds ${MAX_MEMBERS_PER_RESPONSE}.`);
      memberPage = { startIndex: Math.max(1, startIndex), count };
    }
  }
  const setList = (Array.isArray(attributeSets) ? attributeSets : attributeSets ? attributeSets.split(',') : [])
    .map((value) => value.trim().toLowerCase())
    .filter(Boolean);
  const useDefault = requested.size === 0 && setList.length === 0;
  const include = (name: string): boolean => {
    const lower = name.toLowerCase();
    if (always.has(lower)) return true;
    if (requested.has(lower)) return true;
    if (setList.includes('all')) return true;
    if (requestOnly.has(lower)) return setList.includes('request');
    return useDefault || setList.includes('default');
  };
  return { include, memberPage, membersRequested: include('members') };
}

export function project(resource: Record<string, unknown>, view: Projection): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(resource)) if (view.include(name)) out[name] = value;
  return out;
}

function baseUrl(host: string): string {
  return `https://${host}/admin/v1`;
}

function splitName(displayName: string): { givenName: string; familyName: string } {
  const parts = displayName.trim().split(/\s+/);
  if (parts.length < 2) return { givenName: parts[0] ?? '', familyName: parts[0] ?? '' };
  return { givenName: parts.slice(0, -1).join(' '), familyName: parts[parts.length - 1]! };
}

function createdBy(user: OciUser): Record<string, string> {
  switch (user.createdBy) {
    case 'scim':
      return { type: 'App', display: 'Microsoft Entra ID provisioning', value: 'entra-provisioning' };
    case 'jit':
      return { type: 'App', display: 'SAML JIT provisioning', value: 'saml-jit' };
    case 'console':
      return { type: 'User', display: 'Domain Administrator', value: 'console-admin' };
  }
}

/** Full SCIM User (every attribute, returned=request ones included; project() trims). */
export function userResource(world: World, user: OciUser, host: string): Record<string, unknown> {
  const base = baseUrl(host);
  return {
    schemas: [SCHEMA.user],
    id: user.id,
    ocid: user.ocid,
    ...(user.externalId ? { externalId: user.externalId } : {}),
    userName: user.userName,
    displayName: user.displayName,
    name: { formatted: user.displayName, ...splitName(user.displayName) },
    active: user.active,
    emails: user.userName.includes('@') ? [{ value: user.userName, type: 'work', primary: true }] : [],
    groups: groupsOfOciUser(world, user.id).map((group) => ({
      value: group.id,
      ocid: group.ocid,
      display: group.displayName,
      $ref: `${base}/Groups/${group.id}`,
      type: 'direct',
    })),
    idcsCreatedBy: createdBy(user),
    meta: { resourceType: 'User', location: `${base}/Users/${user.id}` },
  };
}

export function memberEntry(world: World, userId: string, host: string): Record<string, unknown> {
  const user = world.ociUsers.get(userId);
  return {
    value: userId,
    type: 'User',
    ...(user ? { display: user.displayName, name: user.userName, ocid: user.ocid } : {}),
    $ref: `${baseUrl(host)}/Users/${userId}`,
  };
}

/**
 * Full SCIM Group. `members` is computed only when the projection asks for it
 * (it can be large); `memberPage` limits it to one page.
 */
export function groupResource(world: World, group: OciGroup, host: string, view?: Projection): Record<string, unknown> {
  const base = baseUrl(host);
  const resource: Record<string, unknown> = {
    schemas: [SCHEMA.group],
    id: group.id,
    ocid: group.ocid,
    ...(group.externalId ? { externalId: group.externalId } : {}),
    displayName: group.displayName,
    nonUniqueDisplayName: group.displayName,
    meta: { resourceType: 'Group', location: `${base}/Groups/${group.id}` },
  };
  if (view?.membersRequested) {
    let ids = [...group.members];
    if (view.memberPage) {
      // A domain may serve fewer members a page than asked (World.oci.maxMemberPageSize).
      const count = Math.min(view.memberPage.count, world.oci.maxMemberPageSize);
      ids = ids.slice(view.memberPage.startIndex - 1, view.memberPage.startIndex - 1 + count);
    }
    resource.members = ids.map((id) => memberEntry(world, id, host));
  }
  return resource;
}

export function identityProviderResource(idp: OciIdentityProvider, host: string): Record<string, unknown> {
  const base = baseUrl(host);
  return {
    schemas: [SCHEMA.idp],
    id: idp.id,
    partnerName: idp.partnerName,
    type: 'SAML',
    enabled: idp.enabled,
    jitUserProvEnabled: idp.jitUserProvEnabled,
    jitUserProvCreateUserEnabled: idp.jitUserProvCreateUserEnabled,
    jitUserProvAttributeUpdateEnabled: false,
    jitUserProvGroupAssertionAttributeEnabled: idp.jitUserProvGroupAssertionAttributeEnabled,
    jitUserProvGroupAssignmentMethod: idp.jitUserProvGroupAssignmentMethod,
    jitUserProvGroupMappingMode: idp.jitUserProvGroupMappingMode,
    jitUserProvGroupSAMLAttributeName: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
    jitUserProvGroupStaticListEnabled: false,
    jitUserProvGroupMappings: idp.jitUserProvGroupMappings.map((mapping) => ({
      value: mapping.ociGroupId,
      idpGroup: mapping.idpGroup,
      $ref: `${base}/Groups/${mapping.ociGroupId}`,
    })),
    meta: { resourceType: 'IdentityProvider', location: `${base}/IdentityProviders/${idp.id}` },
  };
}
