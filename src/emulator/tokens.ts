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
  /** Client capabilities declared in the token request's claims (access_token.xms_cc). */
  clientCapabilities?: string[];
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
    // A client that declared cp1 gets a CAE-capable token (xms_cc), which Graph may later challenge.
    if (options.clientCapabilities?.length) claims.xms_cc = options.clientCapabilities;
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
    ...(options.clientCapabilities?.length ? { clientCapabilities: options.clientCapabilities } : {}),
  };
  world.tokens.set(token, issued);
  return issued;
}

export type BearerCheck =
  | { ok: true; token: IssuedToken }
  | { ok: false; status: 401; code: 'InvalidAuthenticationToken'; message: string; challenge?: string };

/** True when the token's client declared the cp1 capability (it can handle claims challenges). */
export function declaresCp1(token: IssuedToken): boolean {
  return (token.clientCapabilities ?? []).some((capability) => capability.toLowerCase() === 'cp1');
}

/**
 * The claims challenge Graph sends a CAE-capable client whose token was revoked: a 401 with
 * `WWW-Authenticate: Bearer … error="insufficient_claims", claims="<base64 claims request>"`
 * (Entra: "Claims challenges, claims requests and client capabilities"). Only clients that
 * declared cp1 ever get one.
 */
export function claimsChallenge(world: World, revokedAt: number): string {
  const request = { access_token: { nbf: { essential: true, value: String(Math.floor(revokedAt / 1000)) } } };
  const claims = Buffer.from(JSON.stringify(request)).toString('base64');
  return `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="${claims}"`;
}

/** Checks the Authorization header of a Graph request against the virtual clock. */
export function checkBearer(req: EmuRequest, world: World): BearerCheck {
  const header = req.headers.authorization;
  if (!header || !/^Bearer\s+/i.test(header)) {
    return { ok: false, status: 401, code: 'InvalidAuthenticationToken', message: 'Access token is empty.' };
  }
  const token = world.tokens.get(header.replace(/^Bearer\s+/i, '').trim());
  if (token && token.kind === 'access' && token.revoked && declaresCp1(token) && token.userId) {
    const revokedAt = world.entra.tokensValidFrom.get(token.userId) ?? world.now();
    return {
      ok: false,
      status: 401,
      code: 'InvalidAuthenticationToken',
      message:
        'Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp',
      challenge: claimsChallenge(world, revokedAt),
    };
  }
  if (!token || token.kind !== 'access' || token.revoked) {
    return {
      ok: false,
      status: 401,
      code: 'InvalidAuthenticationToken',
      message: 'Access token validation failure. Invalid audience.',
    };
  }
  if (token.expiresAt <= world.now()) {
    return {
      ok: false,
      status: 401,
      code: 'InvalidAuthenticationToken',
      message: 'Lifetime validation failed, the token is expired.',
    };
  }
  req.principal = token.userId ?? token.appId;
  return { ok: true, token };
}

/** Permissions a token carries: delegated scopes for users, app roles for apps. */
export function tokenPermissions(token: IssuedToken): Set<string> {
  return new Set(token.principalType === 'user' ? token.scopes : token.roles);
}
