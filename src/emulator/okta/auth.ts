/**
 * Who calls /api/v1: the bearer access token the org authorization server
 * issued, its scopes, and the admin permissions of the person or service app
 * behind it. A call needs its scope *and* the permission (docs/okta.md,
 * "Scopes"): a missing or unknown token is 401 E0000011, a missing scope or
 * permission 403 E0000006.
 */
import type { EmuRequest, EmuResponse, EmulatorApi } from '../http.js';
import { accessDenied, invalidDpopProof, invalidToken } from './errors.js';
import { verifyDpopProof } from './dpop.js';
import type { OktaRole, OktaToken } from './state.js';

export interface OktaCaller {
  token: OktaToken;
  /** The person (user tokens); absent for a service app. */
  userId?: string;
  roles: OktaRole[];
}

/** The caller, or the 401 to answer. */
export function authenticate(req: EmuRequest, emu: EmulatorApi): OktaCaller | EmuResponse {
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? /^(Bearer|DPoP)\s+(\S+)$/i.exec(header) : null;
  if (!match) return invalidToken();
  const okta = emu.world.okta;
  const token = okta.tokens.get(match[2]!);
  if (!token || token.kind !== 'access' || token.revoked || token.expiresAt <= emu.world.now()) return invalidToken();
  // A DPoP-bound token only with the DPoP scheme and a proof of this request by its key; a bearer one only as Bearer.
  const dpopScheme = match[1]!.toLowerCase() === 'dpop';
  if (dpopScheme !== Boolean(token.jkt)) return invalidToken();
  if (token.jkt) {
    const proof = verifyDpopProof(emu, req.headers.dpop, {
      htm: req.method,
      htu: `${emu.baseUrl}${req.rawUrl.split('?')[0]}`,
      accessToken: token.token,
      jkt: token.jkt,
    });
    if (!proof.ok) return invalidDpopProof(proof.description);
  }
  if (token.userId) {
    const user = okta.users.get(token.userId);
    if (!user || user.status !== 'ACTIVE') return invalidToken();
    req.principal = token.userId;
    return { token, userId: token.userId, roles: user.roles };
  }
  const app = okta.apps.get(token.clientId);
  if (!app) return invalidToken();
  req.principal = token.clientId;
  return { token, roles: app.roles };
}

export function isCaller(value: OktaCaller | EmuResponse): value is OktaCaller {
  return 'token' in value;
}

export type Permission =
  | 'users.read'
  | 'users.manage'
  | 'groups.read'
  | 'groups.members.manage'
  | 'groups.profile.manage'
  | 'schemas.read'
  | 'apps.read';

/** What the org's two top roles may do here (the super admin's extra rights are over admins, which the emulator has none of). */
const EVERY_PERMISSION: readonly Permission[] = [
  'users.read',
  'users.manage',
  'groups.read',
  'groups.members.manage',
  'groups.profile.manage',
  'schemas.read',
  'apps.read',
];

const ROLE_PERMISSIONS: Readonly<Record<OktaRole['type'], readonly Permission[]>> = {
  OCIACCESS_READER: ['users.read', 'groups.read'],
  GROUP_MEMBERSHIP_ADMIN: ['groups.read', 'groups.members.manage'],
  GROUP_ADMIN: ['users.read', 'groups.read', 'groups.members.manage', 'groups.profile.manage'],
  USER_ADMIN: ['users.read', 'users.manage', 'groups.read'],
  ORG_ADMIN: EVERY_PERMISSION,
  SUPER_ADMIN: EVERY_PERMISSION,
};

/** Whether one of the caller's roles grants `permission` (on `groupId`, for group-targeted roles). */
export function holds(caller: OktaCaller, permission: Permission, groupId?: string): boolean {
  return caller.roles.some((role) => {
    if (!ROLE_PERMISSIONS[role.type].includes(permission)) return false;
    if (!role.groupIds || groupId === undefined) return !role.groupIds || permission === 'groups.read';
    return role.groupIds.includes(groupId);
  });
}

/**
 * Authenticates and checks: the token carries `scope`, and the caller holds `permission`
 * (skipped for null: the `.self` scopes need no admin role). The caller, or the answer to send.
 */
export function authorize(
  req: EmuRequest,
  emu: EmulatorApi,
  scope: string,
  permission: Permission | null,
  groupId?: string,
): OktaCaller | EmuResponse {
  const caller = authenticate(req, emu);
  if (!isCaller(caller)) return caller;
  if (!caller.token.scopes.includes(scope)) return accessDenied();
  if (permission && !holds(caller, permission, groupId)) return accessDenied();
  return caller;
}
