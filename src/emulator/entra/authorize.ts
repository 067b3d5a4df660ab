/**
 * The browser half of the authorization code flow (PKCE, any loopback
 * redirect port, form_post) and the grant that redeems the code. There is no
 * password page: the user comes from login_hint or from the user signed in to
 * the emulated browser (signInBrowser).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { route, type EmuRequest, type EmuResponse, type EmulatorApi, type Route } from '../http.js';
import type { World } from '../state.js';
import { requireDelegatedClient, type AuthenticatedClient } from './client-auth.js';
import { requireUser } from './directory.js';
import { entraError } from './errors.js';
import { escapeHtml, htmlPage } from './html.js';
import { resolvesToTenant, TENANT_PATH } from './metadata.js';
import { clientInfo, userTokenResponse } from './user-tokens.js';

/** Signs a user in to the emulated browser, so the authorize endpoint answers for them straight away (null signs out). */
export function signInBrowser(world: World, user: string | null): void {
  world.entra.browserUserId = user === null ? null : requireUser(world, user).id;
}

function isLoopbackRedirect(uri: string): boolean {
  try {
    const url = new URL(uri);
    return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

/**
 * The browser half of the authorization code flow. The emulator has no
 * password page: the user comes from login_hint or from the user signed in
 * to the emulated browser; without either it shows a page to pick one.
 */
function authorizeEndpoint(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const tenant = req.params.tenant!;
  if (!resolvesToTenant(emu.world, tenant))
    return htmlPage(400, 'Sign in failed', `<p>AADSTS90002: Tenant '${escapeHtml(tenant)}' not found.</p>`);
  const query = req.query;
  const clientId = query.get('client_id') ?? '';
  const app = emu.world.apps.get(clientId);
  if (!app)
    return htmlPage(
      400,
      'Sign in failed',
      `<p>AADSTS700016: Application with identifier '${escapeHtml(clientId)}' was not found in the directory.</p>`,
    );
  const redirectUri = query.get('redirect_uri') ?? '';
  // Native public clients may use any loopback port (RFC 8252); the emulator registers no other reply URLs.
  if (!isLoopbackRedirect(redirectUri)) {
    return htmlPage(
      400,
      'Sign in failed',
      `<p>AADSTS50011: The redirect URI '${escapeHtml(redirectUri)}' specified in the request does not match the redirect URIs configured for the application '${escapeHtml(clientId)}'.</p>`,
    );
  }
  const responseMode = query.get('response_mode') ?? 'query';
  const state = query.get('state');
  const reply = (params: Record<string, string>): EmuResponse => {
    if (state !== null) params.state = state;
    if (responseMode === 'form_post') {
      const inputs = Object.entries(params)
        .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
        .join('');
      return htmlPage(
        200,
        'Working...',
        `<form method="POST" name="hiddenform" action="${escapeHtml(redirectUri)}">${inputs}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript></form><script>document.forms[0].submit()</script>`,
      );
    }
    const target = new URL(redirectUri);
    for (const [name, value] of Object.entries(params)) target.searchParams.set(name, value);
    return { status: 302, headers: { location: target.toString() } };
  };
  if (query.get('response_type') !== 'code') {
    return reply({
      error: 'unsupported_response_type',
      error_description: 'AADSTS70005: response_type must be code for this application.',
    });
  }
  const codeChallenge = query.get('code_challenge');
  const codeChallengeMethod = query.get('code_challenge_method') ?? (codeChallenge ? 'plain' : null);
  if (!codeChallenge && app.isPublicClient) {
    return reply({
      error: 'invalid_request',
      error_description:
        'AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption.',
    });
  }
  const loginHint = query.get('login_hint');
  const entraState = emu.world.entra;
  const user = loginHint
    ? emu.world.userByIdOrUpn(loginHint)
    : entraState.browserUserId
      ? emu.world.users.get(entraState.browserUserId)
      : undefined;
  if (!user) {
    // Nobody signed in: offer the tenant's users, each link carrying login_hint (the demo's "browser").
    const links = [...emu.world.users.values()]
      .map((candidate) => {
        const url = new URL(req.rawUrl, emu.baseUrl);
        url.searchParams.set('login_hint', candidate.userPrincipalName);
        return `<li><a href="${escapeHtml(url.toString())}">${escapeHtml(candidate.displayName)} (${escapeHtml(candidate.userPrincipalName)})</a></li>`;
      })
      .join('');
    return htmlPage(200, 'Pick an account', `<ul>${links}</ul>`);
  }
  if (!user.accountEnabled)
    return reply({ error: 'access_denied', error_description: 'AADSTS50057: The user account is disabled.' });
  const code = `1.AQ${randomBytes(48).toString('base64url')}`;
  entraState.authorizationCodes.set(code, {
    code,
    clientId,
    userId: user.id,
    redirectUri,
    scope: query.get('scope') ?? 'openid profile offline_access',
    codeChallenge,
    codeChallengeMethod,
    nonce: query.get('nonce'),
    expiresAt: emu.world.now() + entraState.settings.authorizationCodeLifetimeSeconds * 1000,
    redeemed: false,
  });
  const params: Record<string, string> = { code, session_state: randomUUID() };
  if (query.get('client_info') === '1') params.client_info = clientInfo(emu.world, user);
  return reply(params);
}

export function authorizationCodeGrant(
  req: EmuRequest,
  emu: EmulatorApi,
  form: URLSearchParams,
  auth: AuthenticatedClient,
): EmuResponse {
  const code = form.get('code');
  if (!code)
    return entraError(
      req,
      emu,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'code'.",
    );
  const notAuthenticated = requireDelegatedClient(req, emu, auth);
  if (notAuthenticated) return notAuthenticated;
  const grant = emu.world.entra.authorizationCodes.get(code);
  if (!grant || grant.clientId !== auth.app.appId) {
    return entraError(req, emu, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
  }
  if (grant.redeemed) {
    return entraError(
      req,
      emu,
      'invalid_grant',
      54005,
      'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
    );
  }
  if (grant.expiresAt <= emu.world.now()) {
    return entraError(
      req,
      emu,
      'invalid_grant',
      70008,
      'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.',
    );
  }
  const redirectUri = form.get('redirect_uri');
  if (redirectUri !== grant.redirectUri) {
    return entraError(
      req,
      emu,
      'invalid_grant',
      500112,
      `The reply address '${redirectUri ?? ''}' does not match the reply address '${grant.redirectUri}' provided when requesting Authorization code.`,
    );
  }
  if (grant.codeChallenge) {
    const verifier = form.get('code_verifier') ?? '';
    const computed =
      grant.codeChallengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
    if (computed !== grant.codeChallenge) {
      return entraError(
        req,
        emu,
        'invalid_grant',
        501481,
        'The Code_Verifier does not match the code_challenge supplied in the authorization request.',
      );
    }
  }
  const user = emu.world.users.get(grant.userId);
  if (!user) return entraError(req, emu, 'invalid_grant', 50034, 'The user account does not exist in the directory.');
  grant.redeemed = true;
  return userTokenResponse(req, emu, {
    user,
    app: auth.app,
    scope: form.get('scope') ?? grant.scope,
    nonce: grant.nonce,
    wantsClientInfo: form.get('client_info') === '1',
  });
}

export function authorizeRoutes(): Route[] {
  return [route('entra', 'GET', new RegExp(`^/${TENANT_PATH}/oauth2/v2\\.0/authorize$`), authorizeEndpoint)];
}
