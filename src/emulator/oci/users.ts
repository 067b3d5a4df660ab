/** /admin/v1/Users: list and search with filter and paging, get, create, patch, delete. */
import { route, type EmuRequest, type EmuResponse, type Route } from '../http.js';
import type { OciUser, World } from '../state.js';
import { createOciUser, deleteOciUser } from './domain.js';
import { SCHEMA, project, projection, userResource } from './resources.js';
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
} from './scim.js';

function listUsers(world: World, req: EmuRequest, params: ListParams): EmuResponse {
  const host = hostOf(req);
  const view = projection('User', params.attributes ?? null, params.attributeSets ?? null);
  return listResponse(
    [...world.ociUsers.values()],
    (user) => userResource(world, user, host),
    params,
    (user) => project(userResource(world, user, host), view),
  );
}

function renderUser(world: World, req: EmuRequest, user: OciUser, status = 200): EmuResponse {
  const view = projection('User', req.query.get('attributes'), req.query.get('attributeSets'));
  return scimJson(
    status,
    project(userResource(world, user, hostOf(req)), view),
    status === 201 ? { location: `https://${hostOf(req)}/admin/v1/Users/${user.id}` } : {},
  );
}

function userOr404(world: World, id: string): OciUser {
  const user = world.ociUsers.get(id);
  if (!user) throw new ScimFailure(notFound('User', id));
  return user;
}

function assertUniqueUserName(world: World, userName: string, exceptId?: string): void {
  const existing = world.ociUserByUserName(userName);
  if (existing && existing.id !== exceptId) {
    throw new ScimFailure(scimError(409, `A user with userName ${userName} already exists.`, 'uniqueness'));
  }
}

function createUser(req: EmuRequest, world: World): EmuResponse {
  const body = requireJsonBody(req);
  const schemas = Array.isArray(body.schemas) ? body.schemas : [];
  if (!schemas.includes(SCHEMA.user))
    return scimError(400, `The schemas attribute must include ${SCHEMA.user}.`, 'invalidSyntax');
  const userName = typeof body.userName === 'string' ? body.userName.trim() : '';
  if (!userName) return scimError(400, 'The attribute userName is required.', 'invalidValue');
  assertUniqueUserName(world, userName);
  const name = body.name as { formatted?: string; givenName?: string; familyName?: string } | undefined;
  const displayName =
    typeof body.displayName === 'string' && body.displayName.trim()
      ? body.displayName
      : (name?.formatted ?? ([name?.givenName, name?.familyName].filter(Boolean).join(' ') || userName));
  const user = createOciUser(world, {
    userName,
    displayName,
    externalId: typeof body.externalId === 'string' ? body.externalId : null,
    active: typeof body.active === 'boolean' ? body.active : true,
    createdBy: 'console',
  });
  return renderUser(world, req, user, 201);
}

/** Replace of one simple attribute; returns false for attributes the emulator does not model. */
function setUserAttribute(world: World, user: OciUser, attribute: string, value: unknown): boolean {
  switch (attribute.toLowerCase()) {
    case 'active':
      if (typeof value !== 'boolean')
        throw new ScimFailure(scimError(400, 'active must be a boolean.', 'invalidValue'));
      user.active = value;
      return true;
    case 'displayname':
      if (typeof value !== 'string')
        throw new ScimFailure(scimError(400, 'displayName must be a string.', 'invalidValue'));
      user.displayName = value;
      return true;
    case 'username':
      if (typeof value !== 'string' || !value.trim())
        throw new ScimFailure(scimError(400, 'userName must be a non-empty string.', 'invalidValue'));
      assertUniqueUserName(world, value, user.id);
      user.userName = value;
      return true;
    case 'externalid':
      if (typeof value !== 'string' && value !== null)
        throw new ScimFailure(scimError(400, 'externalId must be a string.', 'invalidValue'));
      user.externalId = value;
      return true;
    default:
      return false;
  }
}

function patchUser(req: EmuRequest, world: World): EmuResponse {
  const user = userOr404(world, req.params.id!);
  const operations = parsePatchOp(req);
  for (const operation of operations) {
    if (!operation.path) {
      if (operation.value === null || typeof operation.value !== 'object' || Array.isArray(operation.value)) {
        return scimError(400, 'Without a path, value must be an object of attributes.', 'invalidValue');
      }
      for (const [attribute, value] of Object.entries(operation.value as Record<string, unknown>)) {
        if (!setUserAttribute(world, user, attribute, value)) {
          return scimError(501, `The emulator does not model the user attribute "${attribute}".`);
        }
      }
      continue;
    }
    const { attribute, filter } = splitPatchPath(operation.path);
    if (filter) return scimError(501, `The emulator does not support filtered paths on users ("${operation.path}").`);
    if (operation.op === 'remove') {
      if (attribute === 'externalid') {
        user.externalId = null;
        continue;
      }
      return scimError(400, `The attribute "${attribute}" cannot be removed.`, 'mutability');
    }
    if (!setUserAttribute(world, user, attribute, operation.value)) {
      return scimError(501, `The emulator does not model the user attribute "${attribute}".`);
    }
  }
  return renderUser(world, req, user);
}

export function userRoutes(): Route[] {
  return [
    route(
      'oci',
      'GET',
      /^\/admin\/v1\/Users$/,
      signed((req, emu) => listUsers(emu.world, req, listParamsFromQuery(req, emu.world))),
    ),
    route(
      'oci',
      'POST',
      /^\/admin\/v1\/Users\/\.search$/,
      signed((req, emu) => listUsers(emu.world, req, listParamsFromSearch(req, emu.world))),
    ),
    route(
      'oci',
      'POST',
      /^\/admin\/v1\/Users$/,
      signed((req, emu) => createUser(req, emu.world)),
    ),
    route(
      'oci',
      'GET',
      /^\/admin\/v1\/Users\/(?<id>[^/]+)$/,
      signed((req, emu) => renderUser(emu.world, req, userOr404(emu.world, req.params.id!))),
    ),
    route(
      'oci',
      'PATCH',
      /^\/admin\/v1\/Users\/(?<id>[^/]+)$/,
      signed((req, emu) => patchUser(req, emu.world)),
    ),
    route(
      'oci',
      'DELETE',
      /^\/admin\/v1\/Users\/(?<id>[^/]+)$/,
      signed((req, emu) => {
        userOr404(emu.world, req.params.id!);
        deleteOciUser(emu.world, req.params.id!);
        return { status: 204 };
      }),
    ),
  ];
}
