/**
 * What the org authorization server hands out: opaque-to-clients access
 * tokens (JWT-shaped, as Okta's are, but checked against the table in
 * world.okta.tokens), refresh tokens, and an ID token signed with the
 * emulator's signing key (published at /oauth2/v1/keys).
 */
import { randomBytes, sign } from 'node:crypto';
import type { EmulatorApi } from '../http.js';
import { oktaOrgUrl } from './org.js';
import type { OktaToken } from './state.js';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function issue(
  emu: EmulatorApi,
  token: Omit<OktaToken, 'token' | 'revoked'>,
  claims: Record<string, unknown>,
): OktaToken {
  const kind = token.kind === 'access' ? 'AT' : 'RT';
  const value =
    token.kind === 'access'
      ? `${b64url({ kid: 'emulator', alg: 'RS256' })}.${b64url({ ver: 1, jti: `${kind}.${randomBytes(12).toString('base64url')}`, ...claims })}.${randomBytes(32).toString('base64url')}`
      : randomBytes(32).toString('base64url');
  const issued: OktaToken = { ...token, token: value, revoked: false };
  emu.world.okta.tokens.set(value, issued);
  return issued;
}

export interface TokenSet {
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  access_token: string;
  scope: string;
  refresh_token?: string;
  id_token?: string;
}

function idToken(emu: EmulatorApi, userId: string, clientId: string): string {
  const key = emu.world.entra.signingKey();
  const user = emu.world.okta.users.get(userId)!;
  const nowSeconds = Math.floor(emu.world.now() / 1000);
  const claims = {
    sub: userId,
    ver: 1,
    iss: oktaOrgUrl(emu.baseUrl),
    aud: clientId,
    iat: nowSeconds,
    exp: nowSeconds + 3600,
    jti: `ID.${randomBytes(12).toString('base64url')}`,
    amr: ['pwd'],
    idp: '00oemulatoridp000001',
    auth_time: nowSeconds,
    name: `${String(user.profile.firstName ?? '')} ${String(user.profile.lastName ?? '')}`.trim(),
    preferred_username: user.profile.login,
  };
  const signingInput = `${b64url({ kid: key.kid, alg: 'RS256' })}.${b64url(claims)}`;
  return `${signingInput}.${sign('sha256', Buffer.from(signingInput), key.privateKey).toString('base64url')}`;
}

/** The token response for a person (device code, refresh) or a service app (client credentials). */
export function tokenSet(
  emu: EmulatorApi,
  grant: { clientId: string; userId?: string; scopes: string[]; refreshToken?: OktaToken; jkt?: string },
): TokenSet {
  const settings = emu.world.okta.settings;
  const now = emu.world.now();
  const nowSeconds = Math.floor(now / 1000);
  const lifetime = settings.accessTokenLifetimeSeconds;
  const access = issue(
    emu,
    {
      kind: 'access',
      clientId: grant.clientId,
      ...(grant.userId ? { userId: grant.userId } : {}),
      scopes: grant.scopes,
      expiresAt: now + lifetime * 1000,
      ...(grant.jkt ? { jkt: grant.jkt } : {}),
    },
    {
      iss: oktaOrgUrl(emu.baseUrl),
      aud: oktaOrgUrl(emu.baseUrl),
      iat: nowSeconds,
      exp: nowSeconds + lifetime,
      cid: grant.clientId,
      ...(grant.userId
        ? { uid: grant.userId, sub: emu.world.okta.users.get(grant.userId)?.profile.login }
        : { sub: grant.clientId }),
      scp: grant.scopes,
      ...(grant.jkt ? { cnf: { jkt: grant.jkt } } : {}),
    },
  );
  const set: TokenSet = {
    token_type: grant.jkt ? 'DPoP' : 'Bearer',
    expires_in: lifetime,
    access_token: access.token,
    scope: grant.scopes.join(' '),
  };
  if (grant.userId && grant.scopes.includes('offline_access')) {
    const refresh =
      grant.refreshToken ??
      issue(
        emu,
        {
          kind: 'refresh',
          clientId: grant.clientId,
          userId: grant.userId,
          scopes: grant.scopes,
          expiresAt: now + settings.refreshTokenLifetimeSeconds * 1000,
        },
        {},
      );
    set.refresh_token = refresh.token;
  }
  if (grant.userId && grant.scopes.includes('openid')) set.id_token = idToken(emu, grant.userId, grant.clientId);
  return set;
}
