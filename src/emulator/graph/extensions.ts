/**
 * Open extensions (microsoft.graph.openTypeExtension) on users and groups:
 * create, list, read, replace (PATCH) and delete, with Graph's limits: two
 * extensions per creating app per object and 2 KB per extension.
 */
import {
  json,
  parseJsonBody,
  route,
  type EmuRequest,
  type EmuResponse,
  type EmulatorApi,
  type Route,
} from '../http.js';
import type { EntraGroup, EntraUser, OpenExtension } from '../state.js';
import {
  authenticate,
  GROUP_EXTENSION_READ,
  GROUP_EXTENSION_WRITE,
  hasAny,
  isResponse,
  mayManageGroup,
  meOf,
  type Caller,
} from './auth.js';
import { badRequest, errorFor, forbidden, resourceNotFound } from './errors.js';
import { extensionJson, findExtension } from './objects.js';
import { collection, odataContext } from './odata.js';
import { mayReadUserExtensions } from './users.js';

export const MAX_EXTENSIONS_PER_APP = 2;
/** Graph counts the extension's name and its custom data. */
export const MAX_EXTENSION_BYTES = 2048;
const RESERVED_PROPERTIES: ReadonlySet<string> = new Set([
  '@odata.type',
  '@odata.context',
  '@odata.id',
  'extensionName',
  'id',
]);

interface Target {
  kind: 'user' | 'group';
  id: string;
  /** The segment Graph uses in @odata.context, e.g. users('…'). */
  contextSegment: string;
  extensions: Map<string, OpenExtension>;
  mayRead: boolean;
  mayWrite: boolean;
}

function userTarget(caller: Caller, user: EntraUser): Target {
  const self = caller.delegated && caller.user?.id === user.id;
  // A delegated caller writes only their own object (User.ReadWrite); an app needs User.ReadWrite.All.
  const mayWrite = caller.delegated
    ? self && hasAny(caller, 'User.ReadWrite', 'User.ReadWrite.All', 'Directory.ReadWrite.All')
    : hasAny(caller, 'User.ReadWrite.All', 'Directory.ReadWrite.All');
  return {
    kind: 'user',
    id: user.id,
    contextSegment: `users('${user.id}')`,
    extensions: user.extensions,
    mayRead: mayReadUserExtensions(caller, user),
    mayWrite,
  };
}

function groupTarget(caller: Caller, group: EntraGroup): Target {
  return {
    kind: 'group',
    id: group.id,
    contextSegment: `groups('${group.id}')`,
    extensions: group.extensions,
    mayRead: hasAny(caller, ...GROUP_EXTENSION_READ),
    mayWrite: hasAny(caller, ...GROUP_EXTENSION_WRITE) && mayManageGroup(caller, group),
  };
}

/** Resolves /me, /users/{id} or /groups/{id} to the object whose extensions are addressed. */
function resolveTarget(req: EmuRequest, emu: EmulatorApi): { caller: Caller; target: Target } | EmuResponse {
  const caller = authenticate(req, emu.world);
  if (isResponse(caller)) return caller;
  const { userId, groupId } = req.params;
  if (groupId !== undefined) {
    const group = emu.world.groups.get(groupId);
    if (!hasAny(caller, ...GROUP_EXTENSION_READ, ...GROUP_EXTENSION_WRITE)) return forbidden(req);
    if (!group) return resourceNotFound(req, groupId);
    return { caller, target: groupTarget(caller, group) };
  }
  if (userId !== undefined) {
    const user = emu.world.userByIdOrUpn(userId);
    if (!user) return resourceNotFound(req, userId);
    return { caller, target: userTarget(caller, user) };
  }
  const me = meOf(req, caller);
  if (isResponse(me)) return me;
  return { caller, target: userTarget(caller, me) };
}

function entityContext(emu: EmulatorApi, target: Target): string {
  return odataContext(emu, `${target.contextSegment}/extensions/$entity`);
}

function customProperties(body: Record<string, unknown>): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) if (!RESERVED_PROPERTIES.has(key)) properties[key] = value;
  return properties;
}

function isPrimitive(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/**
 * "The data in an extension can be primitive types or arrays of primitive types"
 * (opentypeextension-post-opentypeextension, opentypeextension-update): an object, or an
 * array holding one, is refused with a 400 naming the property.
 */
function nonPrimitive(req: EmuRequest, properties: Record<string, unknown>): EmuResponse | undefined {
  for (const [key, value] of Object.entries(properties)) {
    if (key.includes('@odata.')) continue;
    const ok = isPrimitive(value) || (Array.isArray(value) && value.every(isPrimitive));
    if (!ok) {
      return badRequest(
        req,
        `Invalid value for property '${key}': open extension values must be primitive types or collections of primitive types.`,
        'Request_BadRequest',
      );
    }
  }
  return undefined;
}

function tooLarge(extensionName: string, properties: Record<string, unknown>): boolean {
  return Buffer.byteLength(JSON.stringify({ extensionName, ...properties }), 'utf8') > MAX_EXTENSION_BYTES;
}

function readBody(req: EmuRequest): Record<string, unknown> | EmuResponse {
  if (req.body.length === 0) return badRequest(req, 'Empty Payload. JSON content expected.');
  const body = parseJsonBody<unknown>(req);
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return badRequest(
      req,
      'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
    );
  }
  return body as Record<string, unknown>;
}

function createExtension(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const resolved = resolveTarget(req, emu);
  if (isResponse(resolved)) return resolved;
  const { caller, target } = resolved;
  if (!target.mayWrite) return forbidden(req);
  const body = readBody(req);
  if (isResponse(body)) return body;
  const type = body['@odata.type'];
  if (typeof type !== 'string' || type.replace(/^#/, '').toLowerCase() !== 'microsoft.graph.opentypeextension') {
    return badRequest(req, "The '@odata.type' of an open extension must be 'microsoft.graph.openTypeExtension'.");
  }
  const extensionName = body.extensionName;
  if (typeof extensionName !== 'string' || extensionName.trim() === '') {
    return badRequest(req, "The property 'extensionName' is required for an open extension.");
  }
  if (findExtension(target.extensions, extensionName)) {
    return errorFor(req, 409, 'Request_BadRequest', 'An extension already exists with given id.');
  }
  const mine = [...target.extensions.values()].filter((ext) => ext.creatorAppId === caller.appId).length;
  if (mine >= MAX_EXTENSIONS_PER_APP) {
    return badRequest(
      req,
      `Maximum number of extensions values supported per application is ${MAX_EXTENSIONS_PER_APP}.`,
    );
  }
  const properties = customProperties(body);
  const invalid = nonPrimitive(req, properties);
  if (invalid) return invalid;
  if (tooLarge(extensionName, properties))
    return badRequest(req, 'Maximum size supported for each extension is : 2 KB.');
  const extension: OpenExtension = { extensionName, creatorAppId: caller.appId, properties };
  target.extensions.set(extensionName, extension);
  const location = `${emu.baseUrl}/v1.0/${target.kind}s/${target.id}/extensions/${encodeURIComponent(extensionName)}`;
  return json(
    201,
    { '@odata.context': odataContext(emu, `${target.contextSegment}/extensions/$entity`), ...extensionJson(extension) },
    { location },
  );
}

function listExtensions(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const resolved = resolveTarget(req, emu);
  if (isResponse(resolved)) return resolved;
  const { target } = resolved;
  if (!target.mayRead) return forbidden(req);
  // Extensions are few (two per app): Graph returns them in one page.
  const value = [...target.extensions.values()].map(extensionJson);
  return json(200, collection(odataContext(emu, `${target.contextSegment}/extensions`), value));
}

function existing(req: EmuRequest, target: Target): OpenExtension | EmuResponse {
  const name = req.params.name!;
  return findExtension(target.extensions, name) ?? resourceNotFound(req, name);
}

function getExtension(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const resolved = resolveTarget(req, emu);
  if (isResponse(resolved)) return resolved;
  const { target } = resolved;
  if (!target.mayRead) return forbidden(req);
  const extension = existing(req, target);
  if (isResponse(extension)) return extension;
  return json(200, { '@odata.context': entityContext(emu, target), ...extensionJson(extension) });
}

/** PATCH replaces the custom data as a whole: a property left out is deleted (documented for open extensions). */
function updateExtension(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const resolved = resolveTarget(req, emu);
  if (isResponse(resolved)) return resolved;
  const { target } = resolved;
  if (!target.mayWrite) return forbidden(req);
  const extension = existing(req, target);
  if (isResponse(extension)) return extension;
  const body = readBody(req);
  if (isResponse(body)) return body;
  if (
    typeof body.extensionName === 'string' &&
    body.extensionName.toLowerCase() !== extension.extensionName.toLowerCase()
  ) {
    return badRequest(req, "The property 'extensionName' cannot be changed.");
  }
  const properties = customProperties(body);
  const invalid = nonPrimitive(req, properties);
  if (invalid) return invalid;
  if (tooLarge(extension.extensionName, properties))
    return badRequest(req, 'Maximum size supported for each extension is : 2 KB.');
  extension.properties = properties;
  // The update page: "204 No Content … for directory objects or a 200 OK … and an updated
  // openTypeExtension object for other resources"; older versions of the v1.0 page showed 200.
  if (emu.world.graphSettings.extensionPatchAnswer === 200) {
    return json(200, { '@odata.context': entityContext(emu, target), ...extensionJson(extension) });
  }
  return { status: 204 };
}

function deleteExtension(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const resolved = resolveTarget(req, emu);
  if (isResponse(resolved)) return resolved;
  const { target } = resolved;
  if (!target.mayWrite) return forbidden(req);
  const extension = existing(req, target);
  if (isResponse(extension)) return extension;
  target.extensions.delete(extension.extensionName);
  return { status: 204 };
}

export function extensionRoutes(): Route[] {
  const owners = [
    String.raw`\/v1\.0\/me`,
    String.raw`\/v1\.0\/users\/(?<userId>[^/]+)`,
    String.raw`\/v1\.0\/groups\/(?<groupId>[^/]+)`,
  ];
  return owners.flatMap((owner) => {
    const list = new RegExp(`^${owner}\\/extensions$`);
    const one = new RegExp(`^${owner}\\/extensions\\/(?<name>[^/]+)$`);
    return [
      route('graph', 'GET', list, listExtensions),
      route('graph', 'POST', list, createExtension),
      route('graph', 'GET', one, getExtension),
      route('graph', 'PATCH', one, updateExtension),
      route('graph', 'DELETE', one, deleteExtension),
    ];
  });
}
