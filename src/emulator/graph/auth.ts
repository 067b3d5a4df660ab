/**
 * Who is calling Graph and what they may do. Delegated (user) tokens carry
 * scopes and act for a signed-in user, whose own rights (ownership, directory
 * roles) still bound what the scopes allow; app-only tokens carry roles.
 */
import type { EmuRequest, EmuResponse } from '../http.js';
import type { EntraGroup, EntraUser, IssuedToken, World } from '../state.js';
import { checkBearer, tokenPermissions } from '../tokens.js';
import { badRequest, errorFor } from './errors.js';

export interface Caller {
  token: IssuedToken;
  /** Permission names, lower-cased, without a resource prefix. */
  permissions: Set<string>;
  delegated: boolean;
  /** The signed-in user of a delegated token. */
  user?: EntraUser;
  appId: string;
}

/** Checks the bearer token (401 InvalidAuthenticationToken) and records the caller on the request. */
export function authenticate(req: EmuRequest, world: World): Caller | EmuResponse {
  const check = checkBearer(req, world);
  if (!check.ok) {
    const refused = errorFor(req, check.status, check.code, check.message);
    if (check.challenge) refused.headers = { ...refused.headers, 'www-authenticate': check.challenge };
    return refused;
  }
  const token = check.token;
  const permissions = new Set(
    [...tokenPermissions(token)].map((name) => name.replace(/^https:\/\/graph\.microsoft\.com\//i, '').toLowerCase()),
  );
  const delegated = token.principalType === 'user';
  const user = delegated && token.userId ? world.users.get(token.userId) : undefined;
  if (delegated && !user) {
    // A user deleted after sign-in: Graph refuses the token's subject.
    return errorFor(
      req,
      401,
      'InvalidAuthenticationToken',
      'Access token validation failure. The user does not exist.',
    );
  }
  return { token, permissions, delegated, user, appId: token.appId };
}

export function isResponse(value: unknown): value is EmuResponse {
  return (
    typeof value === 'object' &&
    value !== null &&
    'status' in value &&
    typeof (value as EmuResponse).status === 'number'
  );
}

export function hasAny(caller: Caller, ...names: string[]): boolean {
  return names.some((name) => caller.permissions.has(name.toLowerCase()));
}

/** The signed-in user for /me routes; app-only tokens get Graph's 400. */
export function meOf(req: EmuRequest, caller: Caller): EntraUser | EmuResponse {
  if (!caller.delegated || !caller.user)
    return badRequest(req, '/me request is only valid with delegated authentication flow.');
  return caller.user;
}

/** Directory roles that may manage any (non role-assignable) group's membership and properties. */
const GROUP_ADMIN_ROLES = ['Global Administrator', 'Groups Administrator', 'User Administrator'];
/** Directory roles that may run application provisioning (rbac-synchronization-apis). */
export const PROVISIONING_ADMIN_ROLES = [
  'Global Administrator',
  'Application Administrator',
  'Cloud Application Administrator',
  'Hybrid Identity Administrator',
];

export function hasRole(user: EntraUser | undefined, roles: string[]): boolean {
  return !!user && roles.some((role) => user.directoryRoles.has(role));
}

/** Directory roles that may change a role-assignable group's members (Privileged Role Administrator is the least). */
export const ROLE_ASSIGNABLE_GROUP_ROLES = ['Global Administrator', 'Privileged Role Administrator'];

/**
 * A delegated caller changes a group only as its owner or as a groups administrator; apps need only
 * the permission. A role-assignable group (isAssignableToRole) is different: "the app must also be
 * assigned the RoleManagement.ReadWrite.Directory permission and the calling user must be assigned a
 * supported Microsoft Entra role. Privileged Role Administrator is the least privileged role"
 * (group-post-members, group-delete-members); owners and Groups Administrators do not suffice.
 */
export function mayManageGroup(caller: Caller, group: EntraGroup): boolean {
  if (group.isAssignableToRole) {
    if (!hasAny(caller, 'RoleManagement.ReadWrite.Directory')) return false;
    return !caller.delegated || hasRole(caller.user, ROLE_ASSIGNABLE_GROUP_ROLES);
  }
  if (!caller.delegated) return true;
  return !!caller.user && (group.owners.has(caller.user.id) || hasRole(caller.user, GROUP_ADMIN_ROLES));
}

export const USER_READ_ALL = ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
export const USER_READ_BASIC = ['User.ReadBasic.All', ...USER_READ_ALL];
export const USER_READ_SELF = ['User.Read', 'User.ReadWrite', ...USER_READ_BASIC];
export const GROUP_READ = [
  'Group.Read.All',
  'Group.ReadWrite.All',
  'GroupMember.Read.All',
  'GroupMember.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];
export const GROUP_MEMBER_WRITE = ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.ReadWrite.All'];
export const GROUP_EXTENSION_READ = [
  'Group.Read.All',
  'Group.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];
export const GROUP_EXTENSION_WRITE = ['Group.ReadWrite.All', 'Directory.ReadWrite.All'];
export const SYNC_READ = ['Synchronization.Read.All', 'Synchronization.ReadWrite.All'];
export const SYNC_WRITE = ['Synchronization.ReadWrite.All'];
/**
 * Reading service principals: Graph documents Application.Read.All (or
 * Directory.Read.All). The emulator also accepts the Synchronization
 * permissions, which the seed's apps hold, so doctor can find the job's
 * service principal without another consent (a deliberate deviation).
 */
export const SERVICE_PRINCIPAL_READ = [
  'Application.Read.All',
  'Application.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
  ...SYNC_READ,
];
/**
 * Listing an app's role assignments (serviceprincipal-list-approleassignedto): Application.Read.All,
 * or Directory.Read.All, Application.ReadWrite.All, Directory.ReadWrite.All, for delegated and
 * application tokens alike. Application.ReadWrite.OwnedBy (application) reaches only apps the caller
 * owns, and the emulator models no owners of service principals, so it is not accepted.
 */
export const APP_ROLE_ASSIGNMENT_READ = [
  'Application.Read.All',
  'Application.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];
