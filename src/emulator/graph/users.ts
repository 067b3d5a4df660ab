/** Users: /users, /users/{id|upn}, /me and /me/memberOf. */
import { json, route, type EmuRequest, type EmuResponse, type EmulatorApi, type Route } from '../http.js';
import type { EntraUser } from '../state.js';
import {
  authenticate,
  hasAny,
  isResponse,
  meOf,
  USER_READ_ALL,
  USER_READ_BASIC,
  USER_READ_SELF,
  type Caller,
} from './auth.js';
import { forbidden, resourceNotFound } from './errors.js';
import {
  directoryObjectJson,
  directoryRoleJson,
  expandedExtensions,
  shapeUser,
  userJson,
  USER_FILTERABLE,
  USER_PROPERTIES,
} from './objects.js';
import {
  applySelect,
  collection,
  matchesFilter,
  odataContext,
  pageOf,
  parseExpand,
  parseFilter,
  parseSelect,
  wantsCount,
  type Json,
} from './odata.js';

const USER_TYPE = 'microsoft.graph.user';

/** How much of `target` the caller may read: 'full', 'basic' (User.ReadBasic.All) or nothing. */
function userAccess(caller: Caller, target: EntraUser): 'full' | 'basic' | undefined {
  const self = caller.delegated && caller.user?.id === target.id;
  if (self && hasAny(caller, ...USER_READ_SELF)) return 'full';
  if (hasAny(caller, ...USER_READ_ALL)) return 'full';
  if (hasAny(caller, ...USER_READ_BASIC)) return 'basic';
  return undefined;
}

/** Open extensions of others need User.Read.All; one's own, any user read permission. */
export function mayReadUserExtensions(caller: Caller, target: EntraUser): boolean {
  const self = caller.delegated && caller.user?.id === target.id;
  return self ? hasAny(caller, ...USER_READ_SELF) : hasAny(caller, ...USER_READ_ALL);
}

function renderUser(
  req: EmuRequest,
  emu: EmulatorApi,
  caller: Caller,
  user: EntraUser,
  withContext: boolean,
): Json | EmuResponse {
  const access = userAccess(caller, user);
  if (!access) return forbidden(req);
  const selected = parseSelect(req, USER_TYPE, USER_PROPERTIES);
  if (isResponse(selected)) return selected;
  const expand = parseExpand(req, USER_TYPE);
  if (isResponse(expand)) return expand;
  const body: Json = withContext ? { '@odata.context': odataContext(emu, 'users/$entity') } : {};
  Object.assign(body, shapeUser(user, selected, access === 'basic'));
  // On users and groups Graph returns expanded extensions only together with $select
  // (see odata.ts, expandsExtensions); without it the user comes back without them.
  if (expand && selected) {
    if (!mayReadUserExtensions(caller, user)) return forbidden(req);
    body.extensions = expandedExtensions(user.extensions, expand);
  }
  return body;
}

function getUser(req: EmuRequest, emu: EmulatorApi, user: EntraUser, caller: Caller): EmuResponse {
  const body = renderUser(req, emu, caller, user, true);
  return isResponse(body) ? body : json(200, body);
}

function listUsers(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authenticate(req, emu.world);
  if (isResponse(caller)) return caller;
  if (!hasAny(caller, ...USER_READ_BASIC)) return forbidden(req);
  const filter = parseFilter(req, USER_FILTERABLE);
  if (isResponse(filter)) return filter;
  const count = wantsCount(req);
  if (isResponse(count)) return count;
  const matching = [...emu.world.users.values()].filter((user) => matchesFilter(userJson(user), filter));
  const page = pageOf(req, emu, matching);
  if (isResponse(page)) return page;
  const value: Json[] = [];
  for (const user of page.items) {
    const rendered = renderUser(req, emu, caller, user, false);
    if (isResponse(rendered)) return rendered;
    value.push(rendered);
  }
  return json(200, collection(odataContext(emu, 'users'), value, page.nextLink, count ? matching.length : undefined));
}

/** Groups and directory roles the signed-in user is a direct member of. */
function myMemberOf(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authenticate(req, emu.world);
  if (isResponse(caller)) return caller;
  const me = meOf(req, caller);
  if (isResponse(me)) return me;
  if (!hasAny(caller, ...USER_READ_SELF, 'GroupMember.Read.All', 'Group.Read.All', 'Group.ReadWrite.All'))
    return forbidden(req);
  const count = wantsCount(req);
  if (isResponse(count)) return count;
  const selected = parseSelect(req, 'microsoft.graph.directoryObject', [
    'id',
    'displayName',
    'description',
    'roleTemplateId',
    'mailNickname',
    'securityEnabled',
    'mailEnabled',
  ]);
  if (isResponse(selected)) return selected;
  const entries: { id: string; render: () => Json }[] = [];
  for (const group of emu.world.groups.values()) {
    if (group.members.has(me.id))
      entries.push({ id: group.id, render: () => directoryObjectJson(emu.world, group.id, selected)! });
  }
  for (const role of me.directoryRoles) {
    const roleJson = directoryRoleJson(emu.world, role);
    entries.push({ id: String(roleJson.id), render: () => applySelect(roleJson, selected) });
  }
  const page = pageOf(req, emu, entries);
  if (isResponse(page)) return page;
  const value = page.items.map((entry) => entry.render());
  return json(
    200,
    collection(odataContext(emu, 'directoryObjects'), value, page.nextLink, count ? entries.length : undefined),
  );
}

export function userRoutes(): Route[] {
  return [
    route('graph', 'GET', /^\/v1\.0\/me$/, (req, emu) => {
      const caller = authenticate(req, emu.world);
      if (isResponse(caller)) return caller;
      const me = meOf(req, caller);
      if (isResponse(me)) return me;
      return getUser(req, emu, me, caller);
    }),
    route('graph', 'GET', /^\/v1\.0\/me\/memberOf$/, myMemberOf),
    route('graph', 'GET', /^\/v1\.0\/users$/, listUsers),
    route('graph', 'GET', /^\/v1\.0\/users\/(?<id>[^/]+)$/, (req, emu) => {
      const caller = authenticate(req, emu.world);
      if (isResponse(caller)) return caller;
      if (!hasAny(caller, ...USER_READ_SELF)) return forbidden(req);
      const user = emu.world.userByIdOrUpn(req.params.id!);
      if (!user) return resourceNotFound(req, req.params.id!);
      return getUser(req, emu, user, caller);
    }),
  ];
}
