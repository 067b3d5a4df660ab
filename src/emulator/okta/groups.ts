/**
 * The Groups API (docs/okta.md G1–G6): find by `search` (eq, sw, co on one
 * property) or `q` (name prefix), read one, replace its profile, list its
 * members a page at a time with `Link` headers, add and remove a member. A
 * membership change schedules the group's push to OCI (push.ts).
 */
import { json, parseJsonBody, type EmuRequest, type EmuResponse, type EmulatorApi, type Route } from '../http.js';
import { authorize, isCaller } from './auth.js';
import { notFound, validationFailed } from './errors.js';
import { groupJson, profileErrors, userJson } from './objects.js';
import { oktaOrgUrl, orgPattern } from './org.js';
import { schedulePush } from './push.js';
import { oktaRoute } from './rate-limits.js';
import { pagedList } from './paging.js';
import { lookupIn, parseSearch } from './search.js';

/** listGroupUsers: "default: 1000"; the spec gives no maximum, the emulator caps at 1000 (its choice). */
const MEMBERS_DEFAULT_LIMIT = 1000;
const MEMBERS_MAX_LIMIT = 1000;
/** listGroups: maximum 10000; `q` returns at most 300 ("The default limit for a query is 300 results"). */
const GROUPS_MAX_LIMIT = 10_000;
const QUERY_LIMIT = 300;

const GROUP_CONTAINS = new Set(['profile.name', 'profile.description']);

function listGroups(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, 'okta.groups.read', 'groups.read');
  if (!isCaller(caller)) return caller;
  const groups = [...emu.world.okta.groups.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const q = req.query.get('q');
  if (q !== null) {
    const prefix = q.toLowerCase();
    const found = groups.filter((group) =>
      String(group.profile.name ?? '')
        .toLowerCase()
        .startsWith(prefix),
    );
    return json(
      200,
      found.slice(0, QUERY_LIMIT).map((group) => groupJson(emu, group)),
    );
  }
  const search = req.query.get('search');
  let matching = groups;
  if (search !== null) {
    const predicate = parseSearch(search, GROUP_CONTAINS);
    if (typeof predicate === 'string') return validationFailed('search', [predicate]);
    matching = groups.filter((group) => {
      const lookup = lookupIn(group);
      return predicate((property) => (property === 'type' ? 'OKTA_GROUP' : lookup(property)));
    });
  }
  return pagedList(
    req,
    matching.map((group) => group.id),
    `${oktaOrgUrl(emu.baseUrl)}/api/v1/groups`,
    { fallback: GROUPS_MAX_LIMIT, max: GROUPS_MAX_LIMIT },
    (id) => groupJson(emu, emu.world.okta.groups.get(id)!),
    search,
  );
}

function getGroup(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, 'okta.groups.read', 'groups.read', req.params.groupId);
  if (!isCaller(caller)) return caller;
  const group = emu.world.okta.groups.get(req.params.groupId!);
  return group ? json(200, groupJson(emu, group)) : notFound('UserGroup', req.params.groupId!);
}

function replaceGroup(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, 'okta.groups.manage', 'groups.profile.manage', req.params.groupId);
  if (!isCaller(caller)) return caller;
  const group = emu.world.okta.groups.get(req.params.groupId!);
  if (!group) return notFound('UserGroup', req.params.groupId!);
  const body = parseJsonBody<{ profile?: Record<string, unknown> }>(req);
  const profile = body?.profile;
  if (!profile || typeof profile !== 'object' || Array.isArray(profile)) {
    return validationFailed('group', ['profile: The field is required.']);
  }
  const causes = profileErrors(profile, emu.world.okta.groupSchema);
  if (typeof profile.name !== 'string' || profile.name === '') causes.unshift('name: The field cannot be left blank');
  if (causes.length > 0) return validationFailed('profile', causes);
  // PUT replaces the profile: what the body leaves out is gone.
  group.profile = Object.fromEntries(Object.entries(profile).filter(([, value]) => value !== null));
  group.lastUpdated = emu.world.nowIso();
  return json(200, groupJson(emu, group));
}

function listMembers(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, 'okta.groups.read', 'groups.read', req.params.groupId);
  if (!isCaller(caller)) return caller;
  const group = emu.world.okta.groups.get(req.params.groupId!);
  if (!group) return notFound('UserGroup', req.params.groupId!);
  return pagedList(
    req,
    [...group.members].sort(),
    `${oktaOrgUrl(emu.baseUrl)}/api/v1/groups/${group.id}/users`,
    { fallback: MEMBERS_DEFAULT_LIMIT, max: MEMBERS_MAX_LIMIT },
    (id) => userJson(emu, emu.world.okta.users.get(id)!),
  );
}

function changeMember(add: boolean) {
  return (req: EmuRequest, emu: EmulatorApi): EmuResponse => {
    const caller = authorize(req, emu, 'okta.groups.manage', 'groups.members.manage', req.params.groupId);
    if (!isCaller(caller)) return caller;
    const okta = emu.world.okta;
    const group = okta.groups.get(req.params.groupId!);
    if (!group) return notFound('UserGroup', req.params.groupId!);
    const user = okta.users.get(req.params.userId!);
    if (!user) return notFound('User', req.params.userId!);
    const changed = add ? !group.members.has(user.id) && !!group.members.add(user.id) : group.members.delete(user.id);
    if (changed) {
      group.lastMembershipUpdated = emu.world.nowIso();
      schedulePush(emu.world, group.id);
    }
    return { status: 204 };
  };
}

export function groupRoutes(): Route[] {
  const group = '/api/v1/groups/(?<groupId>[^/]+)';
  return [
    oktaRoute('GET', orgPattern('/api/v1/groups'), 'api/v1/groups', listGroups),
    oktaRoute('GET', orgPattern(group), 'api/v1/groups/{id}', getGroup),
    oktaRoute('PUT', orgPattern(group), 'api/v1/groups/{id}', replaceGroup),
    oktaRoute('GET', orgPattern(`${group}/users`), 'api/v1/groups/{id}', listMembers),
    oktaRoute('PUT', orgPattern(`${group}/users/(?<userId>[^/]+)`), 'api/v1/groups/{id}', changeMember(true)),
    oktaRoute('DELETE', orgPattern(`${group}/users/(?<userId>[^/]+)`), 'api/v1/groups/{id}', changeMember(false)),
  ];
}
