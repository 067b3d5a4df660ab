/**
 * Control routes for the OCI side: a SAML sign-in with JIT provisioning, a
 * member added by hand in the OCI console, and the signature clock setting.
 */
import { json, parseJsonBody, route, type Route } from '../http.js';
import type { OciUser, World } from '../state.js';
import { createOciUser, ociGroupByNameInsensitive } from './domain.js';
import { jitSignIn } from './jit.js';
import { setSignatureClock, signatureClock } from './signature.js';
import { isOciDomainType } from './rate-limits.js';

function badRequest(message: string) {
  return json(400, { error: 'bad_request', message });
}

/** An OCI user by id or userName, or (created as a console user) the OCI user for an Entra user. */
function consoleUser(world: World, ref: string): OciUser | undefined {
  const existing = world.ociUsers.get(ref) ?? world.ociUserByUserName(ref);
  if (existing) return existing;
  const entra = world.userByIdOrUpn(ref);
  if (!entra) return undefined;
  return (
    world.ociUserByUserName(entra.userPrincipalName) ??
    createOciUser(world, {
      userName: entra.userPrincipalName,
      displayName: entra.displayName,
      externalId: null,
      createdBy: 'console',
    })
  );
}

export function ociControlRoutes(): Route[] {
  return [
    route('control', 'POST', /^\/_emulator\/jit\/signin$/, (req, emu) => {
      const body = parseJsonBody<{ user?: unknown; identityProviderId?: unknown }>(req);
      if (!body || typeof body.user !== 'string' || !body.user)
        return badRequest('"user" (a user principal name or id) is required');
      const result = jitSignIn(
        emu.world,
        body.user,
        typeof body.identityProviderId === 'string' ? body.identityProviderId : undefined,
      );
      if (!result.ok) return json(result.status, { error: result.error, message: result.message });
      const { ok: _ok, ...answer } = result;
      return json(200, answer);
    }),
    // A change made by hand in the OCI console: provisioning never exported it, so it never removes it.
    route('control', 'POST', /^\/_emulator\/oci\/groups\/(?<name>[^/]+)\/members$/, (req, emu) => {
      const body = parseJsonBody<{ user?: unknown }>(req);
      const group = emu.world.ociGroups.get(req.params.name!) ?? ociGroupByNameInsensitive(emu.world, req.params.name!);
      if (!group) return badRequest(`unknown OCI group "${req.params.name}"`);
      if (!body || typeof body.user !== 'string' || !body.user) return badRequest('"user" is required');
      const user = consoleUser(emu.world, body.user);
      if (!user) return badRequest(`unknown user "${body.user}"`);
      group.members.add(user.id);
      return json(200, { groupId: group.id, userId: user.id, userName: user.userName, createdBy: user.createdBy });
    }),
    route('control', 'POST', /^\/_emulator\/oci\/signature$/, (req, emu) => {
      const body = parseJsonBody<{ clock?: unknown }>(req);
      if (body?.clock !== 'virtual' && body?.clock !== 'either')
        return badRequest('"clock" must be "virtual" or "either"');
      setSignatureClock(emu.world, body.clock);
      return json(200, { clock: signatureClock(emu.world) });
    }),
    // The domain's own settings: its type (rate limits), or limits of its own (a short window for tests), and page size caps.
    route('control', 'POST', /^\/_emulator\/oci\/settings$/, (req, emu) => {
      const body = parseJsonBody<Record<string, unknown>>(req);
      if (!body || typeof body !== 'object') return badRequest('a JSON object is required');
      const settings = emu.world.oci;
      const positive = (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value > 0;
      if (body.domainType !== undefined && body.domainType !== null && !isOciDomainType(body.domainType)) {
        return badRequest(
          '"domainType" must be null or one of free, oracleApps, oracleAppsPremium, premium, externalUser',
        );
      }
      const limits = body.limits as { perSecond?: unknown; perMinute?: unknown } | null | undefined;
      if (limits !== undefined && limits !== null && !(positive(limits.perSecond) && positive(limits.perMinute))) {
        return badRequest('"limits" must be null or {"perSecond": n, "perMinute": n} with positive integers');
      }
      for (const name of ['maxPageSize', 'maxMemberPageSize'] as const) {
        if (body[name] !== undefined && !positive(body[name]))
          return badRequest(`"${name}" must be a positive integer`);
      }
      if (body.maxPageSize !== undefined && (body.maxPageSize as number) > 1000)
        return badRequest('"maxPageSize" is at most 1000');
      if (body.maxMemberPageSize !== undefined && (body.maxMemberPageSize as number) > 10_000)
        return badRequest('"maxMemberPageSize" is at most 10000');
      if (body.domainType !== undefined) settings.domainType = body.domainType as typeof settings.domainType;
      if (limits !== undefined)
        settings.limitsOverride =
          limits === null
            ? undefined
            : { perSecond: limits.perSecond as number, perMinute: limits.perMinute as number };
      if (body.maxPageSize !== undefined) settings.maxPageSize = body.maxPageSize as number;
      if (body.maxMemberPageSize !== undefined) settings.maxMemberPageSize = body.maxMemberPageSize as number;
      settings.rateWindows = [];
      const { rateWindows: _windows, ...shown } = settings;
      return json(200, shown);
    }),
  ];
}
