/** How the emulated directory objects look on the wire, and how they are found. */
import { createHash } from 'node:crypto';
import type { EntraDevice, EntraGroup, EntraUser, OpenExtension, ServicePrincipal, World } from '../state.js';
import type { ExtensionExpand, Json } from './odata.js';

/** Properties Graph v1.0 returns for a user without $select. */
export const USER_DEFAULT_PROPERTIES = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
] as const;
/** Properties anyone with User.ReadBasic.All may read of another user. */
export const USER_BASIC_PROPERTIES = ['id', 'displayName', 'givenName', 'surname', 'mail', 'userPrincipalName'];
export const USER_PROPERTIES = [...USER_DEFAULT_PROPERTIES, 'accountEnabled', 'extensions'];
export const USER_FILTERABLE = [
  'id',
  'userPrincipalName',
  'mail',
  'displayName',
  'givenName',
  'surname',
  'accountEnabled',
];

export const GROUP_PROPERTIES = [
  'id',
  'displayName',
  'description',
  'mailNickname',
  'mail',
  'mailEnabled',
  'securityEnabled',
  'groupTypes',
  'visibility',
  'isAssignableToRole',
  'extensions',
];
export const GROUP_FILTERABLE = ['id', 'displayName', 'mailNickname', 'securityEnabled', 'mailEnabled'];

export const SERVICE_PRINCIPAL_PROPERTIES = ['id', 'appId', 'displayName', 'servicePrincipalType', 'accountEnabled'];
export const DEVICE_PROPERTIES = ['id', 'deviceId', 'displayName', 'operatingSystem', 'accountEnabled'];

export function userJson(user: EntraUser): Json {
  return {
    id: user.id,
    businessPhones: [],
    displayName: user.displayName,
    givenName: user.givenName ?? null,
    jobTitle: null,
    mail: user.mail,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: user.surname ?? null,
    userPrincipalName: user.userPrincipalName,
    accountEnabled: user.accountEnabled,
  };
}

/** The user as Graph shows it: the default set, or the $select-ed properties (id only when selected). */
export function shapeUser(user: EntraUser, selected: string[] | undefined, basicOnly: boolean): Json {
  const full = userJson(user);
  const names = (selected ?? [...USER_DEFAULT_PROPERTIES]).filter((name) => name !== 'extensions');
  const out: Json = {};
  for (const name of names) {
    if (basicOnly && !USER_BASIC_PROPERTIES.includes(name)) continue;
    out[name] = full[name];
  }
  return out;
}

export function groupJson(group: EntraGroup): Json {
  return {
    id: group.id,
    displayName: group.displayName,
    description: group.description,
    mailNickname: group.mailNickname,
    mail: null,
    mailEnabled: group.mailEnabled,
    securityEnabled: group.securityEnabled,
    groupTypes: [],
    visibility: null,
    isAssignableToRole: group.isAssignableToRole ?? false,
  };
}

export function shapeGroup(group: EntraGroup, selected: string[] | undefined): Json {
  const full = groupJson(group);
  if (!selected) {
    // Graph returns isAssignableToRole only when $select asks for it (group resource: "Returned only on $select").
    delete full.isAssignableToRole;
    return full;
  }
  const out: Json = {};
  for (const name of selected) if (name !== 'extensions') out[name] = full[name];
  return out;
}

export function servicePrincipalJson(sp: ServicePrincipal): Json {
  return {
    id: sp.id,
    appId: sp.appId,
    displayName: sp.displayName,
    servicePrincipalType: 'Application',
    accountEnabled: true,
  };
}

export function deviceJson(device: EntraDevice): Json {
  return {
    id: device.id,
    deviceId: device.deviceId,
    displayName: device.displayName,
    operatingSystem: device.operatingSystem,
    accountEnabled: device.accountEnabled,
  };
}

/** The $select-ed properties the object has (a property of another type is left out, as Graph does), or all of them. */
function pick(full: Json, selected: string[] | undefined): Json {
  if (!selected) return full;
  const out: Json = {};
  for (const name of selected) if (name in full) out[name] = full[name];
  return out;
}

export function extensionJson(extension: OpenExtension): Json {
  return {
    '@odata.type': '#microsoft.graph.openTypeExtension',
    extensionName: extension.extensionName,
    id: extension.extensionName,
    ...extension.properties,
  };
}

export function findExtension(extensions: Map<string, OpenExtension>, name: string): OpenExtension | undefined {
  const wanted = name.replace(/^microsoft\.graph\.openTypeExtension\./i, '').toLowerCase();
  for (const extension of extensions.values()) if (extension.extensionName.toLowerCase() === wanted) return extension;
  return undefined;
}

export function expandedExtensions(extensions: Map<string, OpenExtension>, expand: ExtensionExpand): Json[] {
  const all = [...extensions.values()];
  const chosen =
    expand.id === undefined ? all : all.filter((ext) => ext.extensionName.toLowerCase() === expand.id!.toLowerCase());
  return chosen.map(extensionJson);
}

/** Well-known directory role template ids, so a role reads as in a real tenant. */
const ROLE_TEMPLATES: Record<string, string> = {
  'Global Administrator': '62e90394-69f5-4237-9190-012177145e10',
  'Groups Administrator': 'fdd7a751-b60b-444a-984c-02652fe8fa1c',
  'User Administrator': 'fe930be7-5e62-47db-91af-98c3a49a38b1',
  'Application Administrator': '9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3',
  'Cloud Application Administrator': '158c047a-c907-4556-b7ef-446551a6b5f7',
  'Hybrid Identity Administrator': '8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2',
};

function stableGuid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function directoryRoleJson(world: World, displayName: string): Json {
  return {
    '@odata.type': '#microsoft.graph.directoryRole',
    id: stableGuid(`${world.tenantId}/${displayName}`),
    deletedDateTime: null,
    description: null,
    displayName,
    roleTemplateId: ROLE_TEMPLATES[displayName] ?? stableGuid(displayName),
  };
}

/** The kinds of directory object a group may hold, as the emulator stores them. */
export type DirectoryKind = 'user' | 'group' | 'servicePrincipal' | 'device';

/**
 * Any directory object by id, with its @odata.type, for member/owner/memberOf listings.
 * `mayRead(kind)` false: "limited information returned for inaccessible member objects" — the
 * caller may not read that kind, so only @odata.type and id come back, the other properties null.
 */
export function directoryObjectJson(
  world: World,
  id: string,
  selected: string[] | undefined,
  mayRead: (kind: DirectoryKind) => boolean = () => true,
): Json | undefined {
  const found = findDirectoryObject(world, id);
  if (!found) return undefined;
  const type = `#microsoft.graph.${found.kind}`;
  const shaped =
    found.kind === 'user'
      ? shapeUser(found.object as EntraUser, selected, false)
      : found.kind === 'group'
        ? shapeGroup(found.object as EntraGroup, selected)
        : found.kind === 'servicePrincipal'
          ? pick(servicePrincipalJson(found.object as ServicePrincipal), selected)
          : pick(deviceJson(found.object as EntraDevice), selected);
  if (mayRead(found.kind)) return { '@odata.type': type, ...shaped };
  const limited: Json = { '@odata.type': type, id };
  for (const name of Object.keys(shaped)) if (name !== 'id') limited[name] = null;
  return limited;
}

export function findDirectoryObject(
  world: World,
  id: string,
): { kind: DirectoryKind; object: EntraUser | EntraGroup | ServicePrincipal | EntraDevice } | undefined {
  const user = world.users.get(id);
  if (user) return { kind: 'user', object: user };
  const group = world.groups.get(id);
  if (group) return { kind: 'group', object: group };
  const sp = world.servicePrincipals.get(id);
  if (sp) return { kind: 'servicePrincipal', object: sp };
  const device = world.devices.get(id);
  if (device) return { kind: 'device', object: device };
  return undefined;
}

export function directoryObjectExists(world: World, id: string): boolean {
  return findDirectoryObject(world, id) !== undefined;
}
