/**
 * The org authorization server (docs/okta.md, O1–O5): metadata, JWKS, device
 * authorization, the token endpoint (device code, refresh token, client
 * credentials with private_key_jwt) and revocation. Expiries follow the
 * virtual clock.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { json, type EmuRequest, type EmuResponse, type EmulatorApi, type Route } from '../http.js';
import { formOf } from '../entra/html.js';
import { JWT_BEARER, verifyClientAssertion } from './client-assertion.js';
import { currentDpopNonce, verifyDpopProof } from './dpop.js';
import { oauthError } from './errors.js';
import { oktaOrgUrl, orgPattern } from './org.js';
import { oktaRoute } from './rate-limits.js';
import type { OktaApp, OktaDeviceGrant } from './state.js';
import { tokenSet } from './tokens.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** OpenID scopes any client may ask for; every okta.* scope must be in the app's grants. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'address', 'phone', 'offline_access', 'groups']);

function metadata(_req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const org = oktaOrgUrl(emu.baseUrl);
  return json(200, {
    issuer: org,
    authorization_endpoint: `${org}/oauth2/v1/authorize`,
    token_endpoint: `${org}/oauth2/v1/token`,
    userinfo_endpoint: `${org}/oauth2/v1/userinfo`,
    registration_endpoint: `${org}/oauth2/v1/clients`,
    jwks_uri: `${org}/oauth2/v1/keys`,
    device_authorization_endpoint: `${org}/oauth2/v1/device/authorize`,
    revocation_endpoint: `${org}/oauth2/v1/revoke`,
    response_types_supported: [
      'code',
      'id_token',
      'code id_token',
      'code token',
      'id_token token',
      'code id_token token',
    ],
    grant_types_supported: [
      'authorization_code',
      'implicit',
      'refresh_token',
      'password',
      DEVICE_GRANT,
      'client_credentials',
    ],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'email', 'profile', 'address', 'phone', 'offline_access', 'groups'],
    token_endpoint_auth_methods_supported: [
      'client_secret_basic',
      'client_secret_post',
      'client_secret_jwt',
      'private_key_jwt',
      'none',
    ],
    code_challenge_methods_supported: ['S256'],
    dpop_signing_alg_values_supported: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'],
  });
}

/** The requested scopes, or the invalid_scope answer. */
function grantableScopes(app: OktaApp, scope: string | null): string[] | EmuResponse {
  const scopes = (scope ?? '').split(/\s+/).filter(Boolean);
  if (scopes.length === 0) return oauthError(400, 'invalid_scope', 'No scopes were requested.');
  const refused = scopes.filter((name) => !OIDC_SCOPES.has(name) && !app.grantedScopes.includes(name));
  if (refused.length > 0 || (app.kind === 'service' && scopes.some((name) => OIDC_SCOPES.has(name)))) {
    return oauthError(
      400,
      'invalid_scope',
      'One or more scopes are not configured for the authorization server resource.',
    );
  }
  return scopes;
}

function nativeClient(emu: EmulatorApi, clientId: string | null): OktaApp | EmuResponse {
  if (!clientId) return oauthError(401, 'invalid_client', 'No client credentials found.');
  const app = emu.world.okta.apps.get(clientId);
  if (!app) return oauthError(401, 'invalid_client', 'Invalid value for the `client_id` parameter.');
  if (app.kind !== 'native') {
    return oauthError(
      400,
      'unauthorized_client',
      'The client is not authorized to use the provided grant type. Configured grant types: [client_credentials].',
    );
  }
  return app;
}

const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

function deviceAuthorize(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const form = formOf(req);
  const app = nativeClient(emu, form.get('client_id'));
  if ('status' in app) return app;
  const scopes = grantableScopes(app, form.get('scope'));
  if (!Array.isArray(scopes)) return scopes;
  const okta = emu.world.okta;
  let userCode = '';
  do {
    userCode = [...randomBytes(8)].map((byte) => USER_CODE_ALPHABET[byte % USER_CODE_ALPHABET.length]).join('');
  } while ([...okta.deviceGrants.values()].some((grant) => grant.userCode === userCode));
  const grant: OktaDeviceGrant = {
    deviceCode: randomUUID(),
    userCode,
    clientId: app.clientId,
    scopes,
    expiresAt: emu.world.now() + okta.settings.deviceCodeLifetimeSeconds * 1000,
    intervalSeconds: okta.settings.deviceCodeIntervalSeconds,
    lastPolledAt: null,
    approvedByUserId: null,
    denied: false,
    consumed: false,
  };
  okta.deviceGrants.set(grant.deviceCode, grant);
  const activate = `${oktaOrgUrl(emu.baseUrl)}/activate`;
  return json(200, {
    device_code: grant.deviceCode,
    user_code: grant.userCode,
    verification_uri: activate,
    verification_uri_complete: `${activate}?user_code=${grant.userCode}`,
    expires_in: okta.settings.deviceCodeLifetimeSeconds,
    interval: grant.intervalSeconds,
  });
}

function deviceCodeGrant(emu: EmulatorApi, form: URLSearchParams): EmuResponse {
  const app = nativeClient(emu, form.get('client_id'));
  if ('status' in app) return app;
  const grant = emu.world.okta.deviceGrants.get(form.get('device_code') ?? '');
  if (!grant || grant.clientId !== app.clientId || grant.consumed) {
    return oauthError(400, 'invalid_grant', 'The device code is invalid or has expired.');
  }
  const now = emu.world.now();
  if (grant.expiresAt <= now) return oauthError(400, 'expired_token', 'The device code has expired.');
  if (grant.denied) {
    grant.consumed = true;
    return oauthError(400, 'access_denied', 'The resource owner or authorization server denied the request.');
  }
  if (!grant.approvedByUserId) {
    const tooSoon = grant.lastPolledAt !== null && now - grant.lastPolledAt < grant.intervalSeconds * 1000;
    grant.lastPolledAt = now;
    if (tooSoon) {
      // RFC 8628 3.5: the client must add 5 seconds to its interval from now on.
      grant.intervalSeconds += 5;
      return oauthError(400, 'slow_down', 'The client is polling too frequently.');
    }
    return oauthError(400, 'authorization_pending', 'The device authorization is pending. Please try again later.');
  }
  grant.consumed = true;
  return json(200, tokenSet(emu, { clientId: app.clientId, userId: grant.approvedByUserId, scopes: grant.scopes }), {
    'cache-control': 'no-store',
  });
}

function refreshTokenGrant(emu: EmulatorApi, form: URLSearchParams): EmuResponse {
  const app = nativeClient(emu, form.get('client_id'));
  if ('status' in app) return app;
  const okta = emu.world.okta;
  const refresh = okta.tokens.get(form.get('refresh_token') ?? '');
  const user = refresh?.userId ? okta.users.get(refresh.userId) : undefined;
  if (
    !refresh ||
    refresh.kind !== 'refresh' ||
    refresh.revoked ||
    refresh.expiresAt <= emu.world.now() ||
    refresh.clientId !== app.clientId ||
    !user ||
    user.status !== 'ACTIVE'
  ) {
    return oauthError(400, 'invalid_grant', 'The refresh token is invalid or expired.');
  }
  const asked = (form.get('scope') ?? '').split(/\s+/).filter(Boolean);
  if (asked.some((name) => !refresh.scopes.includes(name))) {
    return oauthError(400, 'invalid_scope', 'The requested scope is invalid, unknown, or malformed.');
  }
  const scopes = asked.length > 0 ? asked : refresh.scopes;
  return json(200, tokenSet(emu, { clientId: app.clientId, userId: user.id, scopes, refreshToken: refresh }), {
    'cache-control': 'no-store',
  });
}

function clientCredentialsGrant(req: EmuRequest, emu: EmulatorApi, form: URLSearchParams): EmuResponse {
  const assertion = form.get('client_assertion');
  const assertionType = form.get('client_assertion_type');
  if (!assertion && !assertionType) {
    if (form.get('client_id') && emu.world.okta.apps.get(form.get('client_id')!)?.kind === 'native') {
      return oauthError(
        400,
        'unauthorized_client',
        'The client is not authorized to use the provided grant type. Configured grant types: [refresh_token, urn:ietf:params:oauth:grant-type:device_code].',
      );
    }
    return oauthError(401, 'invalid_client', 'No client credentials found.');
  }
  if (assertionType !== JWT_BEARER)
    return oauthError(400, 'invalid_request', 'The `client_assertion_type` is invalid.');
  const tokenEndpoint = `${oktaOrgUrl(emu.baseUrl)}/oauth2/v1/token`;
  const checked = verifyClientAssertion(emu, assertion ?? '', tokenEndpoint);
  if (!checked.ok) return oauthError(401, 'invalid_client', checked.description);
  if (form.get('client_id') && form.get('client_id') !== checked.app.clientId) {
    return oauthError(400, 'invalid_request', 'The client_id does not match the client_assertion.');
  }
  const scopes = grantableScopes(checked.app, form.get('scope'));
  if (!Array.isArray(scopes)) return scopes;
  let jkt: string | undefined;
  if (checked.app.requireDpop) {
    const proof = verifyDpopProof(emu, req.headers.dpop, { htm: 'POST', htu: tokenEndpoint });
    if (!proof.ok) return oauthError(400, 'invalid_dpop_proof', proof.description);
    const nonce = currentDpopNonce(emu);
    if (proof.nonce !== nonce) {
      const refusal = oauthError(400, 'use_dpop_nonce', 'Authorization server requires nonce in DPoP proof.');
      return { ...refusal, headers: { ...refusal.headers, 'dpop-nonce': nonce } };
    }
    jkt = proof.jkt;
  }
  return json(200, tokenSet(emu, { clientId: checked.app.clientId, scopes, jkt }), { 'cache-control': 'no-store' });
}

function token(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const form = formOf(req);
  switch (form.get('grant_type')) {
    case DEVICE_GRANT:
      return deviceCodeGrant(emu, form);
    case 'refresh_token':
      return refreshTokenGrant(emu, form);
    case 'client_credentials':
      return clientCredentialsGrant(req, emu, form);
    default:
      return oauthError(400, 'unsupported_grant_type', "The grant type in the request isn't supported.");
  }
}

/** POST /oauth2/v1/revoke: 200 whether or not the token was known (RFC 7009 2.2). */
function revoke(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const form = formOf(req);
  const app = nativeClient(emu, form.get('client_id'));
  if ('status' in app) return app;
  const found = emu.world.okta.tokens.get(form.get('token') ?? '');
  if (found && found.clientId === app.clientId) found.revoked = true;
  return { status: 200 };
}

function keys(_req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const key = emu.world.entra.signingKey();
  return json(200, { keys: [{ ...key.publicJwk, alg: 'RS256' }] });
}

export function oauthRoutes(): Route[] {
  return [
    oktaRoute('GET', orgPattern('/\\.well-known/openid-configuration'), 'oauth2/v1/other', metadata),
    oktaRoute('GET', orgPattern('/\\.well-known/oauth-authorization-server'), 'oauth2/v1/other', metadata),
    oktaRoute('GET', orgPattern('/oauth2/v1/keys'), 'oauth2/v1/other', keys),
    oktaRoute('POST', orgPattern('/oauth2/v1/device/authorize'), 'oauth2/v1/device/authorize', deviceAuthorize),
    oktaRoute('POST', orgPattern('/oauth2/v1/token'), 'oauth2/v1/token', token),
    oktaRoute('POST', orgPattern('/oauth2/v1/revoke'), 'oauth2/v1/other', revoke),
  ];
}
