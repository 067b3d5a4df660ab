/**
 * The Users API (docs/okta.md U1–U5): the current user, a user by id or
 * login, users found by `search` (Link paging), and the partial profile update (POST) of one's own profile through
 * /users/me (okta.users.manage.self; only attributes SELF may READ_WRITE) or
 * of anyone's by an admin or a service app (okta.users.manage).
 */
import { json, parseJsonBody, type EmuRequest, type EmuResponse, type EmulatorApi, type Route } from '../http.js';
import { authorize, isCaller } from './auth.js';
import { accessDenied, notFound, oktaError, validationFailed } from './errors.js';
import { profileErrors, userJson } from './objects.js';
import { oktaOrgUrl, orgPattern } from './org.js';
import { pagedList } from './paging.js';
import { lookupIn, parseSearch } from './search.js';
import { oktaRoute } from './rate-limits.js';
import type { OktaUser } from './state.js';

function getMe(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, 'okta.users.read.self', null);
  if (!isCaller(caller)) return caller;
  // A service app has no "me": Okta answers it as a user it cannot find.
  if (!caller.userId) return notFound('User', 'me');
  return json(200, userJson(emu, emu.world.okta.users.get(caller.userId)!, true));
}

/** listUsers' `limit`: "default: 200"; the spec gives no maximum, the emulator caps at 200 (its choice). */
const USERS_PAGE_LIMIT = 200;
const USER_CONTAINS = new Set(['profile.firstName', 'profile.lastName', 'profile.email', 'profile.login']);

function listUsers(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, 'okta.users.read', 'users.read');
  if (!isCaller(caller)) return caller;
  const search = req.query.get('search');
  const users = [...emu.world.okta.users.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  let matching = users.filter((user) => user.status !== 'DEPROVISIONED');
  if (search !== null) {
    const predicate = parseSearch(search, USER_CONTAINS);
    if (typeof predicate === 'string') return oktaError(400, 'E0000031', 'Invalid search criteria.', [predicate]);
    matching = users.filter((user) => predicate(lookupIn(user)));
  }
  return pagedList(
    req,
    matching.map((user) => user.id),
    `${oktaOrgUrl(emu.baseUrl)}/api/v1/users`,
    { fallback: USERS_PAGE_LIMIT, max: USERS_PAGE_LIMIT },
    (id) => userJson(emu, emu.world.okta.users.get(id)!),
    search,
  );
}

function getUser(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, 'okta.users.read', 'users.read');
  if (!isCaller(caller)) return caller;
  const user = emu.world.okta.userByIdOrLogin(req.params.id!);
  if (!user) return notFound('User', req.params.id!);
  return json(200, userJson(emu, user));
}

/** The profile part of a partial update body, or the 400 to answer. */
function profileOf(req: EmuRequest): { profile: Record<string, unknown> } | { refused: EmuResponse } {
  const body = parseJsonBody<{ profile?: unknown }>(req);
  if (!body || typeof body !== 'object') {
    return { refused: validationFailed('user', ['The request body was not well-formed.']) };
  }
  if (!body.profile || typeof body.profile !== 'object' || Array.isArray(body.profile)) {
    return { refused: validationFailed('user', ['profile: The field is required for a profile update.']) };
  }
  return { profile: body.profile as Record<string, unknown> };
}

function applyProfile(emu: EmulatorApi, user: OktaUser, profile: Record<string, unknown>): EmuResponse {
  const causes = profileErrors(profile, emu.world.okta.userSchema);
  if (causes.length > 0) return validationFailed('profile', causes);
  for (const [name, value] of Object.entries(profile)) {
    if (value === null) delete user.profile[name];
    else user.profile[name] = value;
  }
  user.lastUpdated = emu.world.nowIso();
  return json(200, userJson(emu, user));
}

function updateMe(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, 'okta.users.manage.self', null);
  if (!isCaller(caller)) return caller;
  if (!caller.userId) return notFound('User', 'me');
  const parsed = profileOf(req);
  if ('refused' in parsed) return parsed.refused;
  const wanted = parsed.profile;
  // "a user can only update profile properties that they have write access for" ([mgmt] updateUser).
  const schema = emu.world.okta.userSchema;
  const unknown = Object.keys(wanted).filter((name) => !schema.has(name));
  if (unknown.length === 0 && Object.keys(wanted).some((name) => schema.get(name)!.self !== 'READ_WRITE')) {
    return accessDenied();
  }
  return applyProfile(emu, emu.world.okta.users.get(caller.userId)!, wanted);
}

function updateUser(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, 'okta.users.manage', 'users.manage');
  if (!isCaller(caller)) return caller;
  const user = emu.world.okta.userByIdOrLogin(req.params.id!);
  if (!user) return notFound('User', req.params.id!);
  const parsed = profileOf(req);
  if ('refused' in parsed) return parsed.refused;
  return applyProfile(emu, user, parsed.profile);
}

export function userRoutes(): Route[] {
  return [
    oktaRoute('GET', orgPattern('/api/v1/users'), 'api/v1/users', listUsers),
    oktaRoute('GET', orgPattern('/api/v1/users/me'), 'api/v1/users/me', getMe),
    oktaRoute('POST', orgPattern('/api/v1/users/me'), 'api/v1/users/me', updateMe),
    oktaRoute('GET', orgPattern('/api/v1/users/(?<id>[^/]+)'), 'api/v1/users/{id}', getUser),
    oktaRoute('POST', orgPattern('/api/v1/users/(?<id>[^/]+)'), 'api/v1/users/{id}', updateUser),
  ];
}
