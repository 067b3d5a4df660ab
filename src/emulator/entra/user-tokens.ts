/** Access, refresh and ID tokens for a signed-in user, once a grant has named the user and the app. */
import { createHash, randomBytes, sign as cryptoSign } from 'node:crypto';
import { json, type EmuRequest, type EmuResponse, type EmulatorApi } from '../http.js';
import { issueToken } from '../tokens.js';
import { formOf } from './html.js';
import type { AppRegistration, EntraUser, World } from '../state.js';
import type { EntraState } from './state.js';
import { entraError } from './errors.js';
import { issuerOf } from './metadata.js';
import { resolveDelegatedScopes } from './scopes.js';

function signJwt(state: EntraState, claims: Record<string, unknown>): string {
  const key = state.signingKey();
  const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: key.kid })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = cryptoSign('sha256', Buffer.from(`${header}.${payload}`), key.privateKey).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

/** Entra's subject is pairwise: the same user has a different `sub` in every app. */
function pairwiseSubject(userId: string, clientId: string): string {
  return createHash('sha256').update(`${userId}:${clientId}`).digest('base64url').slice(0, 43);
}

function idToken(emu: EmulatorApi, user: EntraUser, clientId: string, nonce: string | null): string {
  const state = emu.world.entra;
  const now = Math.floor(emu.world.now() / 1000);
  const claims: Record<string, unknown> = {
    aud: clientId,
    iss: issuerOf(emu),
    iat: now,
    nbf: now,
    exp: now + 3600,
    name: user.displayName,
    oid: user.id,
    preferred_username: user.userPrincipalName,
    rh: randomBytes(16).toString('base64url'),
    sub: pairwiseSubject(user.id, clientId),
    tid: emu.world.tenantId,
    uti: randomBytes(16).toString('base64url'),
    ver: '2.0',
  };
  if (user.mail) claims.email = user.mail;
  if (nonce) claims.nonce = nonce;
  return signJwt(state, claims);
}

export function clientInfo(world: World, user: EntraUser): string {
  return Buffer.from(JSON.stringify({ uid: user.id, utid: world.tenantId })).toString('base64url');
}

/**
 * The client capabilities in a token request's `claims` parameter, as MSAL sends them
 * (`{"access_token":{"xms_cc":{"values":["cp1"]}}}`, MSAL's clientCapabilities /
 * client_capabilities); none when absent or unreadable.
 */
function declaredCapabilities(claims: string | null): string[] | undefined {
  if (!claims) return undefined;
  try {
    const values = (JSON.parse(claims) as { access_token?: { xms_cc?: { values?: unknown } } }).access_token?.xms_cc
      ?.values;
    return Array.isArray(values) ? values.filter((value): value is string => typeof value === 'string') : undefined;
  } catch {
    return undefined;
  }
}

interface UserGrant {
  user: EntraUser;
  app: AppRegistration;
  /** The scope string as the client sent it (with OIDC scopes). */
  scope: string;
  nonce: string | null;
  wantsClientInfo: boolean;
}

/** Issues access, refresh and id tokens for a user, or an Entra error when the grant cannot be honoured. */
export function userTokenResponse(req: EmuRequest, emu: EmulatorApi, grant: UserGrant): EmuResponse {
  const { user, app } = grant;
  const state = emu.world.entra;
  if (!user.accountEnabled) {
    return entraError(
      req,
      emu,
      'invalid_grant',
      50057,
      'The user account is disabled. The user object in Active Directory backing this account has been disabled.',
    );
  }
  const scopes = resolveDelegatedScopes(grant.scope, app, emu);
  if (!scopes.ok) return entraError(req, emu, scopes.error, scopes.aadsts, scopes.description);
  if (scopes.unconsented && scopes.unconsented.length > 0) {
    return entraError(
      req,
      emu,
      'invalid_grant',
      65001,
      `The user or administrator has not consented to use the application with ID '${app.appId}' named '${app.displayName}'. Send an interactive authorization request for this user and resource. Missing: ${scopes.unconsented.join(' ')}.`,
      { suberror: 'consent_required' },
    );
  }
  // Like Entra, a request for OIDC scopes alone yields a token for Graph's User.Read.
  const graphScopes = scopes.graph.length > 0 ? scopes.graph : ['User.Read'];
  const lifetime = state.settings.accessTokenLifetimeSeconds;
  const clientCapabilities = declaredCapabilities(formOf(req).get('claims'));
  const access = issueToken(emu.world, {
    principalType: 'user',
    appId: app.appId,
    userId: user.id,
    scopes: graphScopes,
    lifetimeSeconds: lifetime,
    clientCapabilities,
  });
  const body: Record<string, unknown> = {
    token_type: 'Bearer',
    scope: [...graphScopes, ...[...scopes.oidc].filter((scope) => scope !== 'offline_access')].join(' '),
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: access.token,
  };
  if (scopes.oidc.has('offline_access')) {
    const refresh = issueToken(emu.world, {
      principalType: 'user',
      appId: app.appId,
      userId: user.id,
      scopes: graphScopes,
      kind: 'refresh',
      lifetimeSeconds: state.settings.refreshTokenLifetimeSeconds,
    });
    state.refreshTokens.set(refresh.token, { issuedAt: emu.world.now(), clientId: app.appId });
    body.refresh_token = refresh.token;
  }
  if (scopes.oidc.has('openid')) body.id_token = idToken(emu, user, app.appId, grant.nonce);
  if (grant.wantsClientInfo) body.client_info = clientInfo(emu.world, user);
  req.principal = user.id;
  return json(200, body, { 'cache-control': 'no-store', pragma: 'no-cache' });
}
