/** The refresh token grant: a new token set (and a new refresh token) until the token expires or its user's sessions are revoked. */
import type { EmuRequest, EmuResponse, EmulatorApi } from '../http.js';
import type { IssuedToken } from '../state.js';
import { requireDelegatedClient, type AuthenticatedClient } from './client-auth.js';
import { entraError } from './errors.js';
import { userTokenResponse } from './user-tokens.js';

export function refreshTokenGrant(
  req: EmuRequest,
  emu: EmulatorApi,
  form: URLSearchParams,
  auth: AuthenticatedClient,
): EmuResponse {
  const raw = form.get('refresh_token');
  if (!raw)
    return entraError(
      req,
      emu,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'refresh_token'.",
    );
  const notAuthenticated = requireDelegatedClient(req, emu, auth);
  if (notAuthenticated) return notAuthenticated;
  const token: IssuedToken | undefined = emu.world.tokens.get(raw);
  if (!token || token.kind !== 'refresh' || !token.userId) {
    return entraError(req, emu, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
  }
  if (token.appId !== auth.app.appId) {
    return entraError(
      req,
      emu,
      'invalid_grant',
      70000,
      'Provided grant is invalid or malformed. The refresh token was issued to a different client.',
    );
  }
  const state = emu.world.entra;
  const info = state.refreshTokens.get(raw);
  const issuedAt = new Date(
    info?.issuedAt ?? token.expiresAt - state.settings.refreshTokenLifetimeSeconds * 1000,
  ).toISOString();
  if (token.revoked) {
    const validFrom = state.tokensValidFrom.get(token.userId);
    return entraError(
      req,
      emu,
      'invalid_grant',
      50173,
      `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${issuedAt}' and the TokensValidFrom date (before which tokens are not valid) for this user is '${validFrom ? new Date(validFrom).toISOString() : issuedAt}'.`,
      { suberror: 'bad_token' },
    );
  }
  if (token.expiresAt <= emu.world.now()) {
    const inactiveSeconds = Math.floor((emu.world.now() - (info?.issuedAt ?? token.expiresAt)) / 1000);
    return entraError(
      req,
      emu,
      'invalid_grant',
      700082,
      `The refresh token has expired due to inactivity. The token was issued on ${issuedAt} and was inactive for ${formatDuration(inactiveSeconds)}.`,
      { suberror: 'bad_token' },
    );
  }
  const user = emu.world.users.get(token.userId);
  if (!user) return entraError(req, emu, 'invalid_grant', 50034, 'The user account does not exist in the directory.');
  // Entra hands out a new refresh token with every redemption; the old one stays valid until its own expiry.
  return userTokenResponse(req, emu, {
    user,
    app: auth.app,
    scope: form.get('scope') ?? token.scopes.join(' '),
    nonce: null,
    wantsClientInfo: form.get('client_info') === '1',
  });
}

function formatDuration(totalSeconds: number): string {
  const days = Math.floor(totalSeconds / 86400);
  const rest = totalSeconds % 86400;
  const hh = String(Math.floor(rest / 3600)).padStart(2, '0');
  const mm = String(Math.floor((rest % 3600) / 60)).padStart(2, '0');
  const ss = String(rest % 60).padStart(2, '0');
  return days > 0 ? `${days}.${hh}:${mm}:${ss}` : `${hh}:${mm}:${ss}`;
}
