/**
 * Okta's control routes (/_emulator/okta/…) and the activation page: a test
 * or the demo plays the person at /activate (approve or deny a user code as
 * alice, bob, …), lowers the rate-limit budgets, pauses Group Push or pushes
 * now, changes an attribute's SELF permission, and tunes the org's timings.
 */
import { json, parseJsonBody, route, type EmuResponse, type Route } from '../http.js';
import type { World } from '../state.js';
import { escapeHtml, formOf, htmlPage } from '../entra/html.js';
import { orgPattern } from './org.js';
import { pushNow, schedulePush, setPushStatus } from './push.js';
import { RATE_LIMIT_BUCKETS, setRateLimit } from './rate-limits.js';
import type { OktaDeviceGrant, OktaSettings, SelfPermission } from './state.js';

const bad = (message: string): EmuResponse => json(400, { error: 'bad_request', message });

/** The person at /activate: enters the user code and signs in as `user` (login, short name or id). */
export function approveOktaDevice(
  world: World,
  userCode: string,
  user: string,
  options: { deny?: boolean } = {},
): OktaDeviceGrant | string {
  const wanted = userCode.replace(/[\s-]/g, '').toUpperCase();
  const grant = [...world.okta.deviceGrants.values()].find((candidate) => candidate.userCode === wanted);
  if (!grant) return `no device authorization with user code "${userCode}"`;
  if (grant.expiresAt <= world.now()) return `user code "${grant.userCode}" has expired`;
  if (grant.consumed || grant.approvedByUserId || grant.denied) return `user code "${grant.userCode}" was already used`;
  const person = world.okta.userByIdOrLogin(user);
  if (!person || person.status !== 'ACTIVE') return `no active Okta user "${user}"`;
  if (options.deny) grant.denied = true;
  else grant.approvedByUserId = person.id;
  return grant;
}

function pendingGrants(world: World) {
  const now = world.now();
  return [...world.okta.deviceGrants.values()]
    .filter((grant) => !grant.consumed && !grant.approvedByUserId && !grant.denied && grant.expiresAt > now)
    .map((grant) => ({ userCode: grant.userCode, clientId: grant.clientId, scopes: grant.scopes }));
}

function activatePage(world: World, notice = '', code = ''): EmuResponse {
  const options = [...world.okta.users.values()]
    .map(
      (user) =>
        `<option value="${escapeHtml(String(user.profile.login))}">${escapeHtml(String(user.profile.login))}</option>`,
    )
    .join('');
  return htmlPage(
    200,
    'Activate your device',
    `${notice}<form method="POST"><label>Code <input name="user_code" value="${escapeHtml(code)}" autofocus></label> <label>Sign in as <select name="user">${options}</select></label> <button name="action" value="allow">Allow</button> <button name="action" value="deny">Deny</button></form>`,
  );
}

const SETTINGS = new Set<keyof OktaSettings>([
  'deviceCodeLifetimeSeconds',
  'deviceCodeIntervalSeconds',
  'accessTokenLifetimeSeconds',
  'refreshTokenLifetimeSeconds',
  'pushDelayMs',
]);
const SELF_PERMISSIONS = new Set<SelfPermission>(['READ_WRITE', 'READ_ONLY', 'HIDE']);

export function oktaControlRoutes(): Route[] {
  return [
    route('okta', 'GET', orgPattern('/activate'), (req, emu) =>
      activatePage(emu.world, '', req.query.get('user_code') ?? ''),
    ),
    route('okta', 'POST', orgPattern('/activate'), (req, emu) => {
      const form = formOf(req);
      const done = approveOktaDevice(emu.world, form.get('user_code') ?? '', form.get('user') ?? '', {
        deny: form.get('action') === 'deny',
      });
      if (typeof done === 'string') return activatePage(emu.world, `<p><strong>${escapeHtml(done)}</strong></p>`);
      return htmlPage(200, done.denied ? 'Access denied' : 'Device activated', '<p>Return to your device.</p>');
    }),
    route('control', 'POST', /^\/_emulator\/okta\/device\/complete$/, (req, emu) => {
      const body = parseJsonBody<{ userCode?: string; user?: string; deny?: boolean }>(req) ?? {};
      if (!body.userCode || !body.user) return bad('give "userCode" and "user" (login, short name or id)');
      const done = approveOktaDevice(emu.world, body.userCode, body.user, { deny: body.deny === true });
      if (typeof done === 'string') return json(409, { error: 'conflict', message: done });
      return json(200, {
        userCode: done.userCode,
        status: done.denied ? 'denied' : 'approved',
        userId: done.approvedByUserId,
      });
    }),
    route('control', 'GET', /^\/_emulator\/okta\/devicecodes$/, (_req, emu) =>
      json(200, { pending: pendingGrants(emu.world) }),
    ),
    route('control', 'POST', /^\/_emulator\/okta\/settings$/, (req, emu) => {
      const body = parseJsonBody<Record<string, unknown>>(req) ?? {};
      const settings = emu.world.okta.settings;
      for (const [name, value] of Object.entries(body)) {
        if (!SETTINGS.has(name as keyof OktaSettings)) return bad(`unknown setting "${name}"`);
        if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
          return bad(`"${name}" must be a number ≥ 0`);
        settings[name as keyof OktaSettings] = value;
      }
      return json(200, settings);
    }),
    route('control', 'POST', /^\/_emulator\/okta\/apps\/(?<app>[^/]+)$/, (req, emu) => {
      // The app's "Require DPoP header in token requests" checkbox.
      const app = emu.world.okta.apps.get(req.params.app!);
      if (!app || app.kind !== 'service') return bad(`no service app "${req.params.app}"`);
      const body = parseJsonBody<{ requireDpop?: unknown }>(req) ?? {};
      if (typeof body.requireDpop !== 'boolean') return bad('"requireDpop" must be true or false');
      app.requireDpop = body.requireDpop;
      return json(200, { clientId: app.clientId, requireDpop: app.requireDpop });
    }),
    route('control', 'POST', /^\/_emulator\/okta\/rate-limits$/, (req, emu) => {
      const body = parseJsonBody<{ limit?: number | null; bucket?: string }>(req) ?? {};
      if (body.bucket !== undefined && !(body.bucket in RATE_LIMIT_BUCKETS)) {
        return bad(`unknown bucket; one of ${Object.keys(RATE_LIMIT_BUCKETS).join(', ')}`);
      }
      const limit = body.limit ?? null;
      if (limit !== null && (!Number.isInteger(limit) || limit < 0))
        return bad('"limit" must be an integer ≥ 0 or null');
      setRateLimit(emu, limit, body.bucket);
      return json(200, {
        buckets: RATE_LIMIT_BUCKETS,
        overrides: Object.fromEntries(emu.world.okta.rateLimitOverrides),
      });
    }),
    route('control', 'POST', /^\/_emulator\/okta\/push$/, (req, emu) => {
      const body = parseJsonBody<{ status?: string; mappingId?: string }>(req) ?? {};
      if (body.status !== 'ACTIVE' && body.status !== 'INACTIVE') return bad('"status" must be ACTIVE or INACTIVE');
      const changed = setPushStatus(emu.world, body.status, body.mappingId);
      return json(200, { mappings: changed.map((mapping) => ({ id: mapping.id, status: mapping.status })) });
    }),
    route('control', 'POST', /^\/_emulator\/okta\/push\/now$/, (_req, emu) =>
      json(200, { pushed: pushNow(emu.world) }),
    ),
    route('control', 'POST', /^\/_emulator\/okta\/groups\/(?<group>[^/]+)\/members$/, (req, emu) => {
      // The admin in the Okta Admin Console: no token, no rate limit; the change is pushed as any other.
      const body = parseJsonBody<{ user?: string; remove?: boolean }>(req) ?? {};
      const okta = emu.world.okta;
      const group =
        okta.groups.get(req.params.group!) ??
        [...okta.groups.values()].find((candidate) => candidate.profile.name === req.params.group);
      if (!group) return bad(`no Okta group "${req.params.group}" (id or name)`);
      const user = body.user ? okta.userByIdOrLogin(body.user) : undefined;
      if (!user) return bad('"user" must name an Okta user (login, short name or id)');
      const changed = body.remove ? group.members.delete(user.id) : !group.members.has(user.id);
      if (!body.remove) group.members.add(user.id);
      if (changed) {
        group.lastMembershipUpdated = emu.world.nowIso();
        schedulePush(emu.world, group.id);
      }
      return json(200, { groupId: group.id, userId: user.id, changed, members: [...group.members] });
    }),
    route('control', 'POST', /^\/_emulator\/okta\/schema\/user$/, (req, emu) => {
      const body = parseJsonBody<{ attribute?: string; self?: string }>(req) ?? {};
      const attribute = body.attribute ? emu.world.okta.userSchema.get(body.attribute) : undefined;
      if (!attribute) return bad('"attribute" must name a user profile attribute');
      if (!SELF_PERMISSIONS.has(body.self as SelfPermission))
        return bad('"self" must be READ_WRITE, READ_ONLY or HIDE');
      attribute.self = body.self as SelfPermission;
      return json(200, { attribute: body.attribute, self: attribute.self });
    }),
  ];
}
