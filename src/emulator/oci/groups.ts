/**
 * /admin/v1/Groups: list and search with filter and paging, get (members on
 * request, paged with `attributes=members[startIndex=1%26count=N]`, refused
 * above 10,000 members when unpaged), create, PATCH members, delete.
 */
import { route, type EmuRequest, type EmuResponse, type Route } from '../http.js';
import type { OciGroup, World } from '../state.js';
import { createOciGroup, deleteOciGroup, ociGroupByNameInsensitive } from './domain.js';
import { matchesFilter } from './filter.js';
import {
  MAX_MEMBERS_PER_RESPONSE,
  SCHEMA,
  groupResource,
  memberEntry,
  project,
  projection,
  type Projection,
} from './resources.js';
import {
  ScimFailure,
  hostOf,
  listParamsFromQuery,
  listParamsFromSearch,
  listResponse,
  notFound,
  parsePatchOp,
  requireJsonBody,
  scimError,
  scimJson,
  signed,
  splitPatchPath,
  type ListParams,
  type PatchOperation,
} from './scim.js';

/** The identity domain's refusal to return an unpaged member list above 10,000. */
function tooManyMembers(group: OciGroup): EmuResponse {
  return scimError(
    400,
    `The group ${group.displayName} has ${group.members.size} members, more than the ${MAX_MEMBERS_PER_RESPONSE} that can be returned in one response. Use attributes=members[startIndex=1%26count=${MAX_MEMBERS_PER_RESPONSE}] to page them.`,
    'tooMany',
  );
}

function renderGroup(world: World, group: OciGroup, host: string, view: Projection): Record<string, unknown> {
  if (view.membersRequested && !view.memberPage && group.members.size > MAX_MEMBERS_PER_RESPONSE) {
    throw new ScimFailure(tooManyMembers(group));
  }
  return project(groupResource(world, group, host, view), view);
}

function listGroups(world: World, req: EmuRequest, params: ListParams): EmuResponse {
  const host = hostOf(req);
  const view = projection('Group', params.attributes ?? null, params.attributeSets ?? null);
  // Filters may name members (members.value eq "…"), so the filter sees them all.
  const filterView = projection('Group', 'members', 'all');
  const needsMembers = Boolean(params.filter && /members/i.test(params.filter));
  return listResponse(
    [...world.ociGroups.values()],
    (group) => groupResource(world, group, host, needsMembers ? filterView : undefined),
    params,
    (group) => renderGroup(world, group, host, view),
  );
}

function groupOr404(world: World, id: string): OciGroup {
  const group = world.ociGroups.get(id);
  if (!group) throw new ScimFailure(notFound('Group', id));
  return group;
}

function respondGroup(world: World, req: EmuRequest, group: OciGroup, status = 200): EmuResponse {
  const view = projection('Group', req.query.get('attributes'), req.query.get('attributeSets'));
  return scimJson(status, renderGroup(world, group, hostOf(req), view));
}

/** Member values of a PATCH/POST: [{value, type?}]; each must be an existing user. */
function memberIds(world: World, value: unknown, where: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((entry, index) => {
    const member = entry as { value?: unknown; type?: unknown };
    if (!member || typeof member.value !== 'string') {
      throw new ScimFailure(scimError(400, `${where}[${index}] needs a string "value" (the user id).`, 'invalidValue'));
    }
    if (member.type !== undefined && member.type !== 'User') {
      throw new ScimFailure(
        scimError(400, `${where}[${index}]: only members of type "User" are supported.`, 'invalidValue'),
      );
    }
    if (!world.ociUsers.has(member.value)) throw new ScimFailure(notFound('User', member.value));
    return member.value;
  });
}

interface GroupDraft {
  displayName: string;
  externalId: string | null;
  members: Set<string>;
}

function applyGroupOperation(
  world: World,
  group: OciGroup,
  draft: GroupDraft,
  operation: PatchOperation,
  host: string,
): void {
  if (!operation.path) {
    const value = operation.value;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new ScimFailure(scimError(400, 'Without a path, value must be an object of attributes.', 'invalidValue'));
    }
    for (const [attribute, attributeValue] of Object.entries(value as Record<string, unknown>)) {
      applyGroupOperation(world, group, draft, { op: operation.op, path: attribute, value: attributeValue }, host);
    }
    return;
  }
  const { attribute, filter, subAttribute } = splitPatchPath(operation.path);
  if (attribute === 'members') {
    if (subAttribute)
      throw new ScimFailure(
        scimError(400, `Members cannot be patched by sub-attribute ("${operation.path}").`, 'invalidPath'),
      );
    if (operation.op === 'remove') {
      if (filter) {
        // RFC 7644 3.12: a path whose filter yields no match is a 400 noTarget (a member that is not there, included).
        const matched = [...draft.members].filter((id) => matchesFilter(memberEntry(world, id, host), filter));
        if (matched.length === 0)
          throw new ScimFailure(scimError(400, `No member matches the path "${operation.path}".`, 'noTarget'));
        for (const id of matched) draft.members.delete(id);
      } else if (operation.value !== undefined) {
        const list = Array.isArray(operation.value) ? operation.value : [operation.value];
        for (const entry of list) {
          const id = (entry as { value?: unknown })?.value;
          if (typeof id !== 'string')
            throw new ScimFailure(scimError(400, 'Each member to remove needs a string "value".', 'invalidValue'));
          draft.members.delete(id);
        }
      } else {
        draft.members.clear();
      }
      return;
    }
    if (filter)
      throw new ScimFailure(scimError(400, `${operation.op} cannot take a filtered members path.`, 'invalidPath'));
    const ids = memberIds(world, operation.value, 'members');
    if (operation.op === 'replace') draft.members.clear();
    for (const id of ids) draft.members.add(id);
    return;
  }
  if (filter) throw new ScimFailure(scimError(400, `Invalid path "${operation.path}".`, 'invalidPath'));
  switch (attribute) {
    case 'displayname': {
      if (operation.op === 'remove')
        throw new ScimFailure(scimError(400, 'displayName is required and cannot be removed.', 'mutability'));
      if (typeof operation.value !== 'string' || !operation.value.trim()) {
        throw new ScimFailure(scimError(400, 'displayName must be a non-empty string.', 'invalidValue'));
      }
      const clash = ociGroupByNameInsensitive(world, operation.value);
      if (clash && clash.id !== group.id)
        throw new ScimFailure(scimError(409, `A group named ${operation.value} already exists.`, 'uniqueness'));
      draft.displayName = operation.value;
      return;
    }
    case 'externalid':
      if (operation.op === 'remove') draft.externalId = null;
      else if (typeof operation.value === 'string') draft.externalId = operation.value;
      else throw new ScimFailure(scimError(400, 'externalId must be a string.', 'invalidValue'));
      return;
    case 'schemas':
    case 'id':
    case 'ocid':
    case 'meta':
      throw new ScimFailure(scimError(400, `The attribute ${attribute} is read-only.`, 'mutability'));
    default:
      throw new ScimFailure(scimError(501, `The emulator does not model the group attribute "${attribute}".`));
  }
}

function patchGroup(req: EmuRequest, world: World): EmuResponse {
  const group = groupOr404(world, req.params.id!);
  const operations = parsePatchOp(req);
  const host = hostOf(req);
  // SCIM PATCH is atomic: work on a draft, commit only when every operation applied.
  const draft: GroupDraft = {
    displayName: group.displayName,
    externalId: group.externalId,
    members: new Set(group.members),
  };
  for (const operation of operations) applyGroupOperation(world, group, draft, operation, host);
  group.displayName = draft.displayName;
  group.externalId = draft.externalId;
  group.members = draft.members;
  return respondGroup(world, req, group);
}

function createGroup(req: EmuRequest, world: World): EmuResponse {
  const body = requireJsonBody(req);
  const schemas = Array.isArray(body.schemas) ? body.schemas : [];
  if (!schemas.includes(SCHEMA.group))
    return scimError(400, `The schemas attribute must include ${SCHEMA.group}.`, 'invalidSyntax');
  const displayName = typeof body.displayName === 'string' ? body.displayName.trim() : '';
  if (!displayName) return scimError(400, 'The attribute displayName is required.', 'invalidValue');
  if (ociGroupByNameInsensitive(world, displayName))
    return scimError(409, `A group named ${displayName} already exists.`, 'uniqueness');
  const members = body.members === undefined ? [] : memberIds(world, body.members, 'members');
  const group = createOciGroup(world, {
    displayName,
    externalId: typeof body.externalId === 'string' ? body.externalId : null,
  });
  for (const id of members) group.members.add(id);
  return respondGroup(world, req, group, 201);
}

export function groupRoutes(): Route[] {
  return [
    route(
      'oci',
      'GET',
      /^\/admin\/v1\/Groups$/,
      signed((req, emu) => listGroups(emu.world, req, listParamsFromQuery(req, emu.world))),
    ),
    route(
      'oci',
      'POST',
      /^\/admin\/v1\/Groups\/\.search$/,
      signed((req, emu) => listGroups(emu.world, req, listParamsFromSearch(req, emu.world))),
    ),
    route(
      'oci',
      'POST',
      /^\/admin\/v1\/Groups$/,
      signed((req, emu) => createGroup(req, emu.world)),
    ),
    route(
      'oci',
      'GET',
      /^\/admin\/v1\/Groups\/(?<id>[^/]+)$/,
      signed((req, emu) => respondGroup(emu.world, req, groupOr404(emu.world, req.params.id!))),
    ),
    route(
      'oci',
      'PATCH',
      /^\/admin\/v1\/Groups\/(?<id>[^/]+)$/,
      signed((req, emu) => patchGroup(req, emu.world)),
    ),
    route(
      'oci',
      'DELETE',
      /^\/admin\/v1\/Groups\/(?<id>[^/]+)$/,
      signed((req, emu) => {
        groupOr404(emu.world, req.params.id!);
        deleteOciGroup(emu.world, req.params.id!);
        return { status: 204 };
      }),
    ),
  ];
}
