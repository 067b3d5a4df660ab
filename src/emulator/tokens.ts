/**
 * Token issue and check, shared by the Entra endpoints (which issue) and
 * Graph (which checks). Access tokens are JWT-shaped (header.payload.sig) so
 * clients that peek at claims work, but the emulator trusts only its own
 * table: a token is valid if it is in world.tokens, not revoked and not
 * expired by the virtual clock.
 */
import { randomBytes } from 'node:crypto';
import type { IssuedToken, World } from './state.js';
import type { EmuRequest } from './http.js';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export interface IssueOptions {
  principalType: 'user' | 'app';
  appId: string;
  userId?: string;
  scopes?: string[];
  roles?: string[];
  /** Lifetime in virtual seconds (default one hour, as Entra's). */
  lifetimeSeconds?: number;
  kind?: 'access' | 'refresh';
}

export function issueToken(world: World, options: IssueOptions): IssuedToken {
  const nowSeconds = Math.floor(world.now() / 1000);
  const lifetime = options.lifetimeSeconds ?? (options.kind === 'refresh' ? 90 * 24 * 3600 : 3600);
  const user = options.userId ? world.users.get(options.userId) : undefined;
  const claims: Record<string, unknown> = {
    aud: 'https://graph.microsoft.com',
    iss: `https://sts.windows.net/${world.tenantId}/`,
    iat: nowSeconds,
    nbf: nowSeconds,
    exp: nowSeconds + lifetime,
    tid: world.tenantId,
    appid: options.appId,
    azp: options.appId,
    jti: randomBytes(8).toString('hex'),
  };
  if (options.principalType === 'user' && user) {
    claims.oid = user.id;
    claims.upn = user.userPrincipalName;
    claims.scp = (options.scopes ?? []).join(' ');
  } else {
    claims.roles = options.roles ?? [];
    claims.idtyp = 'app';
  }
  const token =
    options.kind === 'refresh'
      ? `emu-rt.${randomBytes(32).toString('base64url')}`
      : `${b64url({ typ: 'JWT', alg: 'RS256', kid: 'emulator' })}.${b64url(claims)}.${randomBytes(32).toString('base64url')}`;
  const issued: IssuedToken = {
    token,
    kind: options.kind ?? 'access',
    principalType: options.principalType,
    userId: options.userId,
    appId: options.appId,
    scopes: options.scopes ?? [],
    roles: options.roles ?? [],
    expiresAt: (nowSeconds + lifetime) * 1000,
    revoked: false,
  };
  world.tokens.set(token, issued);
  return issued;
}

export type BearerCheck =
  | { ok: true; token: IssuedToken }
  | { ok: false; status: 401; code: 'InvalidAuthenticationToken'; message: string };

/** Checks the Authorization header of a Graph request against the virtual clock. */
export function checkBearer(req: EmuRequest, world: World): BearerCheck {
  const header = req.headers.authorization;
  if (!header || !/^Bearer\s+/i.test(header)) {
    return { ok: false, status: 401, code: 'InvalidAuthenticationToken', message: 'Access token is empty.' };
  }
  const token = world.tokens.get(header.replace(/^Bearer\s+/i, '').trim());
  if (!token || token.kind !== 'access' || token.revoked) {
    return { ok: false, status: 401, code: 'InvalidAuthenticationToken', message: 'Access token validation failure. Invalid audience.' };
  }
  if (token.expiresAt <= world.now()) {
    return { ok: false, status: 401, code: 'InvalidAuthenticationToken', message: 'Lifetime validation failed, the token is expired.' };
  }
  req.principal = token.userId ?? token.appId;
  return { ok: true, token };
}

/** Permissions a token carries: delegated scopes for users, app roles for apps. */
export function tokenPermissions(token: IssuedToken): Set<string> {
  return new Set(token.principalType === 'user' ? token.scopes : token.roles);
}
