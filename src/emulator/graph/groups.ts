/**
 * Groups: read, list by name, members and owners (paged), and membership
 * changes through $ref, with Graph's answers for the repeated add (400) and
 * the repeated remove (404).
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
import type { EntraGroup } from '../state.js';
import {
  authenticate,
  GROUP_EXTENSION_READ,
  GROUP_MEMBER_WRITE,
  GROUP_READ,
  hasAny,
  isResponse,
  mayManageGroup,
  USER_READ_BASIC,
  type Caller,
} from './auth.js';
import { badRequest, errorFor, forbidden, resourceNotFound } from './errors.js';
import {
  directoryObjectJson,
  expandedExtensions,
  groupJson,
  GROUP_FILTERABLE,
  DEVICE_PROPERTIES,
  findDirectoryObject,
  GROUP_PROPERTIES,
  SERVICE_PRINCIPAL_PROPERTIES,
  shapeGroup,
  USER_PROPERTIES,
  type DirectoryKind,
} from './objects.js';
import {
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

const GROUP_TYPE = 'microsoft.graph.group';
/** $select on member listings may name properties of any member type. */
const DIRECTORY_OBJECT_PROPERTIES = [
  ...new Set([...USER_PROPERTIES, ...GROUP_PROPERTIES, ...SERVICE_PRINCIPAL_PROPERTIES, ...DEVICE_PROPERTIES]),
].filter((name) => name !== 'extensions');

/** Reading a kind's properties in a directoryObject collection (permissions reference; GroupMember.* reads basic group properties). */
const SERVICE_PRINCIPAL_READ_ALL = [
  'Application.Read.All',
  'Application.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];
const DEVICE_READ_ALL = ['Device.Read.All', 'Device.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
function mayReadKind(caller: Caller): (kind: DirectoryKind) => boolean {
  return (kind) => {
    if (kind === 'user') return hasAny(caller, ...USER_READ_BASIC);
    if (kind === 'servicePrincipal') return hasAny(caller, ...SERVICE_PRINCIPAL_READ_ALL);
    if (kind === 'device') return hasAny(caller, ...DEVICE_READ_ALL);
    return true;
  };
}

/**
 * Adding a device or a service principal takes a permission on that kind besides the
 * membership one (group-post-members: Device.ReadWrite.All, resp. Application.ReadWrite.All,
 * for apps; Device.Read.All for a signed-in user). Removing takes the membership permission
 * only (group-delete-members).
 */
function mayAddKind(caller: Caller, kind: DirectoryKind): boolean {
  if (kind === 'device')
    return hasAny(
      caller,
      ...(caller.delegated
        ? ['Device.Read.All', ...DEVICE_READ_ALL]
        : ['Device.ReadWrite.All', 'Directory.ReadWrite.All']),
    );
  if (kind === 'servicePrincipal') return hasAny(caller, 'Application.ReadWrite.All', 'Directory.ReadWrite.All');
  return true;
}

type MemberCast = 'user' | 'servicePrincipal' | undefined;
const CAST_SELECT: Record<'user' | 'servicePrincipal', { type: string; properties: string[]; context: string }> = {
  user: {
    type: 'microsoft.graph.user',
    properties: USER_PROPERTIES.filter((name) => name !== 'extensions'),
    context: 'users',
  },
  servicePrincipal: {
    type: 'microsoft.graph.servicePrincipal',
    properties: SERVICE_PRINCIPAL_PROPERTIES,
    context: 'servicePrincipals',
  },
};

function renderGroup(
  req: EmuRequest,
  emu: EmulatorApi,
  group: EntraGroup,
  permissions: { extensions: boolean },
): Json | EmuResponse {
  const selected = parseSelect(req, GROUP_TYPE, GROUP_PROPERTIES);
  if (isResponse(selected)) return selected;
  const expand = parseExpand(req, GROUP_TYPE);
  if (isResponse(expand)) return expand;
  const body = shapeGroup(group, selected);
  // As for users: expanded extensions come back only together with $select.
  if (expand && selected) {
    if (!permissions.extensions) return forbidden(req);
    body.extensions = expandedExtensions(group.extensions, expand);
  }
  return body;
}

function getGroup(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authenticate(req, emu.world);
  if (isResponse(caller)) return caller;
  if (!hasAny(caller, ...GROUP_READ)) return forbidden(req);
  const group = emu.world.groups.get(req.params.id!);
  if (!group) return resourceNotFound(req, req.params.id!);
  const body = renderGroup(req, emu, group, { extensions: hasAny(caller, ...GROUP_EXTENSION_READ) });
  if (isResponse(body)) return body;
  return json(200, { '@odata.context': odataContext(emu, 'groups/$entity'), ...body });
}

function listGroups(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authenticate(req, emu.world);
  if (isResponse(caller)) return caller;
  // Listing all groups needs a group-wide read permission; GroupMember.* reads suffice in Graph too.
  if (!hasAny(caller, ...GROUP_READ)) return forbidden(req);
  const filter = parseFilter(req, GROUP_FILTERABLE);
  if (isResponse(filter)) return filter;
  const count = wantsCount(req);
  if (isResponse(count)) return count;
  const matching = [...emu.world.groups.values()].filter((group) => matchesFilter(groupJson(group), filter));
  const page = pageOf(req, emu, matching);
  if (isResponse(page)) return page;
  const value: Json[] = [];
  for (const group of page.items) {
    const rendered = renderGroup(req, emu, group, { extensions: hasAny(caller, ...GROUP_EXTENSION_READ) });
    if (isResponse(rendered)) return rendered;
    value.push(rendered);
  }
  return json(200, collection(odataContext(emu, 'groups'), value, page.nextLink, count ? matching.length : undefined));
}

/**
 * Members or owners, optionally cast to one kind (/members/microsoft.graph.user). On v1.0,
 * /members leaves service principals out: Graph's documented known issue "GET
 * /groups/{id}/members doesn't return service principals in v1.0", whose workaround is the
 * beta endpoint, which lists them.
 */
function listRelation(relation: 'members' | 'owners', cast: MemberCast, version: 'v1.0' | 'beta' = 'v1.0') {
  return (req: EmuRequest, emu: EmulatorApi): EmuResponse => {
    const caller = authenticate(req, emu.world);
    if (isResponse(caller)) return caller;
    if (!hasAny(caller, ...GROUP_READ)) return forbidden(req);
    const group = emu.world.groups.get(req.params.id!);
    if (!group) return resourceNotFound(req, req.params.id!);
    const shape = cast
      ? CAST_SELECT[cast]
      : {
          type: 'microsoft.graph.directoryObject',
          properties: DIRECTORY_OBJECT_PROPERTIES,
          context: 'directoryObjects',
        };
    const selected = parseSelect(req, shape.type, shape.properties);
    if (isResponse(selected)) return selected;
    const count = wantsCount(req);
    if (isResponse(count)) return count;
    const hidesServicePrincipals = relation === 'members' && version === 'v1.0';
    const ids = [...group[relation]].filter((id) => {
      const kind = findDirectoryObject(emu.world, id)?.kind;
      if (!kind || (cast && kind !== cast)) return false;
      return !(hidesServicePrincipals && kind === 'servicePrincipal');
    });
    const page = pageOf(
      req,
      emu,
      ids.map((id) => ({ id })),
    );
    if (isResponse(page)) return page;
    const value = page.items.map((item) => directoryObjectJson(emu.world, item.id, selected, mayReadKind(caller))!);
    return json(
      200,
      collection(odataContext(emu, shape.context), value, page.nextLink, count ? ids.length : undefined),
    );
  };
}

/** The object id in an @odata.id reference: .../directoryObjects/{id}, .../users/{id}, .../groups/{id}. */
function referencedId(emu: EmulatorApi, reference: unknown): string | undefined {
  if (typeof reference !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(reference);
  } catch {
    return undefined;
  }
  const allowedHosts = new Set([
    'graph.microsoft.com',
    'graph.microsoft.us',
    'dod-graph.microsoft.us',
    'microsoftgraph.chinacloudapi.cn',
    new URL(emu.baseUrl).host,
  ]);
  if (url.protocol !== 'https:' || !allowedHosts.has(url.host)) return undefined;
  const match = /^\/(?:v1\.0|beta)\/(?:directoryObjects|users|groups|servicePrincipals|devices)\/(?<id>[^/]+)$/.exec(
    decodeURIComponent(url.pathname),
  );
  return match?.groups?.id;
}

function addMember(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authenticate(req, emu.world);
  if (isResponse(caller)) return caller;
  if (!hasAny(caller, ...GROUP_MEMBER_WRITE)) return forbidden(req);
  const group = emu.world.groups.get(req.params.id!);
  if (!group) return resourceNotFound(req, req.params.id!);
  if (!mayManageGroup(caller, group)) return forbidden(req);
  if (req.body.length === 0) return badRequest(req, 'Empty Payload. JSON content expected.');
  const body = parseJsonBody<Record<string, unknown>>(req);
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return badRequest(
      req,
      'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
    );
  }
  const reference = body['@odata.id'];
  const memberId = referencedId(emu, reference);
  if (!memberId)
    return errorFor(req, 400, 'Request_BadRequest', `Invalid object identifier '${String(reference ?? '')}'.`);
  // Users, groups, service principals and devices can be members of a security group.
  const member = findDirectoryObject(emu.world, memberId);
  if (!member) return resourceNotFound(req, memberId);
  if (!mayAddKind(caller, member.kind)) return forbidden(req);
  if (memberId === group.id) return errorFor(req, 400, 'Request_BadRequest', 'A group cannot be a member of itself.');
  if (group.members.has(memberId)) {
    return errorFor(
      req,
      400,
      'Request_BadRequest',
      "One or more added object references already exist for the following modified properties: 'members'.",
    );
  }
  group.members.add(memberId);
  return { status: 204 };
}

function removeMember(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authenticate(req, emu.world);
  if (isResponse(caller)) return caller;
  if (!hasAny(caller, ...GROUP_MEMBER_WRITE)) return forbidden(req);
  const group = emu.world.groups.get(req.params.id!);
  if (!group) return resourceNotFound(req, req.params.id!);
  if (!mayManageGroup(caller, group)) return forbidden(req);
  const memberId = req.params.memberId!;
  if (!group.members.has(memberId)) return resourceNotFound(req, memberId);
  // The docs are silent on removing a membership that an active PIM assignment holds; the emulator
  // refuses it (the stricter choice, docs/emulator.md "PIM for Groups"): end it with adminRemove.
  const pimHeld = emu.world.pim.activeAssignment(group.id, memberId, emu.world.now());
  if (pimHeld?.addedMember)
    return errorFor(
      req,
      400,
      'Request_BadRequest',
      'The membership is held by an active Privileged Identity Management assignment; end it with an assignment schedule request (adminRemove or selfDeactivate).',
    );
  group.members.delete(memberId);
  return { status: 204 };
}

export function groupRoutes(): Route[] {
  const group = String.raw`\/v1\.0\/groups\/(?<id>[^/]+)`;
  // Beta: only the member listings, for the service principals v1.0 leaves out.
  const betaGroup = String.raw`\/beta\/groups\/(?<id>[^/]+)`;
  return [
    route('graph', 'GET', /^\/v1\.0\/groups$/, listGroups),
    route('graph', 'GET', new RegExp(`^${group}$`), getGroup),
    route('graph', 'GET', new RegExp(`^${group}\\/members$`), listRelation('members', undefined)),
    route(
      'graph',
      'GET',
      new RegExp(`^${group}\\/members\\/microsoft\\.graph\\.user$`),
      listRelation('members', 'user'),
    ),
    route('graph', 'GET', new RegExp(`^${betaGroup}\\/members$`), listRelation('members', undefined, 'beta')),
    route(
      'graph',
      'GET',
      new RegExp(`^${betaGroup}\\/members\\/microsoft\\.graph\\.servicePrincipal$`),
      listRelation('members', 'servicePrincipal', 'beta'),
    ),
    route('graph', 'GET', new RegExp(`^${group}\\/owners$`), listRelation('owners', undefined)),
    route('graph', 'POST', new RegExp(`^${group}\\/members\\/\\$ref$`), addMember),
    route('graph', 'DELETE', new RegExp(`^${group}\\/members\\/(?<memberId>[^/]+)\\/\\$ref$`), removeMember),
  ];
}
