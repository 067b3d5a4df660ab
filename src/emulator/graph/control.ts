/**
 * Graph's control routes (/_emulator/…): what an admin would change in the portal that
 * the emulated Graph routes then enforce — a user's directory roles, a group made
 * role-assignable — and the Graph behaviours whose documentation varies.
 */
import { json, parseJsonBody, route, type Route } from '../http.js';

function badRequest(message: string) {
  return json(400, { error: 'bad_request', message });
}

export function graphControlRoutes(): Route[] {
  return [
    route('control', 'GET', /^\/_emulator\/graph\/settings$/, (_req, emu) => json(200, emu.world.graphSettings)),
    route('control', 'POST', /^\/_emulator\/graph\/settings$/, (req, emu) => {
      const body = parseJsonBody<{ extensionPatchAnswer?: unknown }>(req) ?? {};
      if (body.extensionPatchAnswer !== undefined) {
        if (body.extensionPatchAnswer !== 200 && body.extensionPatchAnswer !== 204)
          return badRequest('"extensionPatchAnswer" must be 200 or 204');
        emu.world.graphSettings.extensionPatchAnswer = body.extensionPatchAnswer;
      }
      return json(200, emu.world.graphSettings);
    }),
    route('control', 'POST', /^\/_emulator\/users\/(?<user>[^/]+)\/roles$/, (req, emu) => {
      const user = emu.world.userByIdOrUpn(decodeURIComponent(req.params.user!));
      if (!user) return json(404, { error: 'not_found', message: `no user ${req.params.user}` });
      const body = parseJsonBody<{ add?: unknown; remove?: unknown }>(req) ?? {};
      const list = (value: unknown) =>
        value === undefined
          ? []
          : Array.isArray(value) && value.every((v) => typeof v === 'string')
            ? (value as string[])
            : undefined;
      const add = list(body.add);
      const remove = list(body.remove);
      if (!add || !remove) return badRequest('"add" and "remove" must be lists of directory role names');
      for (const role of remove) user.directoryRoles.delete(role);
      for (const role of add) user.directoryRoles.add(role);
      return json(200, { userId: user.id, directoryRoles: [...user.directoryRoles].sort() });
    }),
    route('control', 'POST', /^\/_emulator\/groups\/(?<group>[^/]+)\/role-assignable$/, (req, emu) => {
      const ref = decodeURIComponent(req.params.group!);
      const group = emu.world.groups.get(ref) ?? emu.world.groupByName(ref);
      if (!group) return json(404, { error: 'not_found', message: `no group ${ref}` });
      const body = parseJsonBody<{ on?: unknown }>(req) ?? {};
      if (typeof body.on !== 'boolean') return badRequest('"on" must be true or false');
      group.isAssignableToRole = body.on;
      return json(200, { groupId: group.id, isAssignableToRole: group.isAssignableToRole });
    }),
  ];
}
