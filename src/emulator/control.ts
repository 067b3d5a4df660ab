/**
 * Control endpoints under /_emulator/: what a test or the demo uses to steer
 * the world (time, faults, throttling, latency, hand-made changes) and to read
 * what clients did (the request log). Service modules add their own control
 * routes (device code completion, JIT sign-in, provisioning) next to their code.
 */
import { json, parseJsonBody, route, type Route } from './http.js';
import type { FaultRule, LoggedRequest, ThrottlePlan } from './state.js';

const SERVICES = new Set(['entra', 'graph', 'oci', 'control', 'unknown']);

function badRequest(message: string) {
  return json(400, { error: 'bad_request', message });
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
      if (!body || typeof body.rate !== 'number' || body.rate < 0 || body.rate > 1) return badRequest('"rate" must be between 0 and 1');
      emu.world.throttles.push({ service: body.service, rate: body.rate, retryAfterSeconds: body.retryAfterSeconds ?? 1 });
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
    route('control', 'POST', /^\/_emulator\/portal\/groups\/(?<groupId>[^/]+)\/members$/, (req, emu) => {
      const body = parseJsonBody<{ user?: string }>(req);
      const group = emu.world.groups.get(req.params.groupId!) ?? emu.world.groupByName(req.params.groupId!);
      const user = body?.user ? emu.world.userByIdOrUpn(body.user) : undefined;
      if (!group || !user) return badRequest('unknown group or user');
      group.members.add(user.id);
      return json(200, { groupId: group.id, userId: user.id });
    }),
  ];
}
