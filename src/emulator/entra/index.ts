/**
 * Entra ID sign-in, as the Microsoft identity platform v2.0 endpoints behave
 * for @azure/msal-node: OpenID configuration, JWKS, instance discovery, the
 * device code endpoint, the authorize endpoint (browser sign-in with PKCE and
 * form_post) and the token endpoint (client credentials with a secret or a
 * certificate assertion, device code, authorization code, refresh token).
 *
 * Error bodies carry Entra's shape and its AADSTS numbers, so a client's error
 * handling is exercised as it would be against the cloud. Every expiry follows
 * the virtual clock (world.now()). The state lives in the world (world.entra).
 *
 * | file | what |
 * |---|---|
 * | metadata.ts | tenants, OpenID configuration, JWKS, instance discovery |
 * | token.ts | the token endpoint: client authentication (client-auth.ts), then one grant per type: client-credentials.ts, device-code.ts, authorize.ts (authorization code), refresh-token.ts |
 * | device-code.ts | the device code endpoint and the person's half (enter the code, pick the user) |
 * | authorize.ts | the authorize endpoint (browser sign-in) and the code's redemption |
 * | user-tokens.ts, scopes.ts | the token set a user gets, and the scopes it carries |
 * | directory.ts | the admin's portal: revoke sessions, app certificates |
 * | control.ts, settings.ts | the /_emulator routes, lifetimes |
 * | state.ts, errors.ts, html.ts | per-world state, Entra's error shape, the browser's pages |
 */
import type { Route } from '../http.js';
import { authorizeRoutes } from './authorize.js';
import { entraControlRoutes } from './control.js';
import { deviceCodeRoutes } from './device-code.js';
import { metadataRoutes } from './metadata.js';
import { tokenRoutes } from './token.js';

export { signInBrowser } from './authorize.js';
export { completeDeviceCode, pendingDeviceCodes } from './device-code.js';
export { registerAppCertificate, revokeUserTokens } from './directory.js';
export { EmulatorInputError } from './errors.js';
export { configureEntra, prepareEntra } from './settings.js';
export { EntraState, generateSigningKey, type EntraSettings, type SigningKey } from './state.js';

export function entraRoutes(): Route[] {
  return [...metadataRoutes(), ...deviceCodeRoutes(), ...tokenRoutes(), ...authorizeRoutes(), ...entraControlRoutes()];
}
