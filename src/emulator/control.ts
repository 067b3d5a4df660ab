/**
 * Control endpoints under /_emulator/: what a test or the demo uses to steer
 * the world (time, faults, throttling, latency, hand-made changes) and to read
 * what clients did (the request log). Service modules add their own control
 * routes (device code completion, JIT sign-in, provisioning) next to their code.
 */
import { json, parseJsonBody, route, type Route } from './http.js';
import { randomUUID } from 'node:crypto';
import type { FaultRule, LoggedRequest, ThrottlePlan, World } from './state.js';

const SERVICES = new Set(['entra', 'graph', 'oci', 'okta', 'webhooks', 'control', 'unknown']);

function badRequest(message: string) {
  return json(400, { error: 'bad_request', message });
}

const MEMBER_KINDS = new Set(['group', 'servicePrincipal', 'device']);

/** The directory object a portal change names, created when missing; or what is wrong with the request. */
function portalObject(
  world: World,
  body: { kind?: string; displayName?: string; id?: string; members?: unknown },
): { id: string } | string {
  const { kind, displayName } = body;
  if (!kind || !MEMBER_KINDS.has(kind)) return '"kind" must be group, servicePrincipal or device';
  if (typeof displayName !== 'string' || !displayName) return '"displayName" is required';
  const id = typeof body.id === 'string' && body.id ? body.id.toLowerCase() : undefined;
  const memberRefs = body.members === undefined ? [] : body.members;
  if (!Array.isArray(memberRefs) || memberRefs.some((ref) => typeof ref !== 'string'))
    return '"members" must be a list of user principal names or ids';
  if (memberRefs.length > 0 && kind !== 'group') return '"members" is only for kind "group"';
  const users = memberRefs.map((ref: string) => world.userByIdOrUpn(ref));
  if (users.some((user) => !user))
    return `unknown user in "members": ${memberRefs.filter((_ref: string, i: number) => !users[i]).join(', ')}`;
  if (kind === 'group') {
    const existing = (id && world.groups.get(id)) || world.groupByName(displayName);
    const nested = existing || {
      id: id ?? randomUUID(),
      displayName,
      description: null,
      mailNickname: displayName.replace(/[^A-Za-z0-9]/g, ''),
      securityEnabled: true,
      mailEnabled: false,
      members: new Set<string>(),
      owners: new Set<string>(),
      extensions: new Map(),
    };
    world.groups.set(nested.id, nested);
    for (const user of users) nested.members.add(user!.id);
    return nested;
  }
  if (kind === 'servicePrincipal') {
    const existing =
      (id && world.servicePrincipals.get(id)) ||
      [...world.servicePrincipals.values()].find((sp) => sp.displayName === displayName);
    const sp = existing || {
      id: id ?? randomUUID(),
      appId: randomUUID(),
      displayName,
      assignedGroupIds: new Set<string>(),
      synchronizationJobs: [],
    };
    world.servicePrincipals.set(sp.id, sp);
    return sp;
  }
  const existing =
    (id && world.devices.get(id)) || [...world.devices.values()].find((device) => device.displayName === displayName);
  const device = existing || {
    id: id ?? randomUUID(),
    deviceId: randomUUID(),
    displayName,
    operatingSystem: 'Windows',
    accountEnabled: true,
  };
  world.devices.set(device.id, device);
  return device;
}

export function controlRoutes(): Route[] {
  return [
    route('control', 'GET', /^\/_emulator\/health$/, () => json(200, { ok: true })),
    route('control', 'GET', /^\/_emulator\/clock$/, (_req, emu) =>
      json(200, { now: emu.world.nowIso(), offsetMs: emu.world.clockOffsetMs }),
    ),
    route('control', 'POST', /^\/_emulator\/clock\/advance$/, (req, emu) => {
      const body = parseJsonBody<{ ms?: number; seconds?: number; minutes?: number; hours?: number }>(req) ?? {};
      const ms = (body.ms ?? 0) + (body.seconds ?? 0) * 1e3 + (body.minutes ?? 0) * 6e4 + (body.hours ?? 0) * 3.6e6;
      if (!Number.isFinite(ms) || ms < 0) return badRequest('advance by a non-negative ms, seconds, minutes or hours');
      emu.world.clockOffsetMs += ms;
      emu.runDueCycles();
      return json(200, { now: emu.world.nowIso(), offsetMs: emu.world.clockOffsetMs });
    }),
    route('control', 'GET', /^\/_emulator\/requests$/, (req, emu) => {
      const since = Number(req.query.get('since') ?? '0');
      const service = req.query.get('service');
      const entries = emu.world.requestLog.filter(
        (entry: LoggedRequest) => entry.seq > since && (!service || entry.service === service),
      );
      return json(200, { requests: entries, unimplemented: entries.filter((entry) => entry.unimplemented).length });
    }),
    route('control', 'DELETE', /^\/_emulator\/requests$/, (_req, emu) => {
      emu.world.requestLog.length = 0;
      return { status: 204 };
    }),
    route('control', 'POST', /^\/_emulator\/faults$/, (req, emu) => {
      const body = parseJsonBody<Partial<FaultRule> & { count?: number }>(req);
      if (!body || typeof body.status !== 'number') return badRequest('a fault needs a numeric "status"');
      if (body.service && !SERVICES.has(body.service)) return badRequest(`unknown service "${body.service}"`);
      const rule: FaultRule = {
        service: body.service,
        method: body.method,
        pathPattern: body.pathPattern,
        status: body.status,
        remaining: body.count === undefined || body.count === null ? Number.POSITIVE_INFINITY : body.count,
        retryAfterSeconds: body.retryAfterSeconds,
        ...(typeof body.code === 'string' ? { code: body.code } : {}),
        ...(typeof body.message === 'string' ? { message: body.message } : {}),
        kind: body.kind ?? 'status',
      };
      emu.world.faults.push(rule);
      return json(201, { ...rule, remaining: Number.isFinite(rule.remaining) ? rule.remaining : 'all' });
    }),
    route('control', 'DELETE', /^\/_emulator\/faults$/, (_req, emu) => {
      emu.world.faults.length = 0;
      emu.world.throttles.length = 0;
      return { status: 204 };
    }),
    route('control', 'POST', /^\/_emulator\/throttle$/, (req, emu) => {
      const body = parseJsonBody<Partial<ThrottlePlan>>(req);
      if (!body || typeof body.rate !== 'number' || body.rate < 0 || body.rate > 1)
        return badRequest('"rate" must be between 0 and 1');
      emu.world.throttles.push({
        service: body.service,
        rate: body.rate,
        retryAfterSeconds: body.retryAfterSeconds ?? 1,
      });
      return json(201, { ok: true });
    }),
    route('control', 'POST', /^\/_emulator\/latency$/, (req, emu) => {
      const body = parseJsonBody<{ service?: string; ms?: number }>(req);
      if (!body || typeof body.ms !== 'number' || body.ms < 0) return badRequest('"ms" must be a non-negative number');
      const key = (body.service ?? '*') as keyof typeof emu.world.latencyMs;
      emu.world.latencyMs[key] = body.ms;
      return json(200, { latencyMs: emu.world.latencyMs });
    }),
    // Changes made "by hand in the portal": the tool must notice and undo them.
    // {user}: a user by UPN or id. {kind, displayName, id?, members?}: a nested group (with
    // `members`, user UPNs or ids, put in it), a service principal or a device, found by id or
    // display name or else created, then added as a member.
    route('control', 'POST', /^\/_emulator\/portal\/groups\/(?<groupId>[^/]+)\/members$/, (req, emu) => {
      const body = parseJsonBody<{
        user?: string;
        kind?: string;
        displayName?: string;
        id?: string;
        members?: unknown;
      }>(req);
      const group = emu.world.groups.get(req.params.groupId!) ?? emu.world.groupByName(req.params.groupId!);
      if (!group) return badRequest('unknown group');
      if (body?.kind !== undefined) {
        const member = portalObject(emu.world, body);
        if (typeof member === 'string') return badRequest(member);
        if (member.id === group.id) return badRequest('a group cannot be a member of itself');
        group.members.add(member.id);
        return json(200, { groupId: group.id, memberId: member.id, kind: body.kind });
      }
      const user = body?.user ? emu.world.userByIdOrUpn(body.user) : undefined;
      if (!user) return badRequest('unknown group or user');
      group.members.add(user.id);
      return json(200, { groupId: group.id, userId: user.id });
    }),
  ];
}
