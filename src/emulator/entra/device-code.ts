/**
 * The device code flow: the devicecode endpoint, the grant the client polls
 * with, and the person's half in the browser (enter the code, pick the user),
 * also offered to tests and the demo as helpers.
 */
import { randomBytes } from 'node:crypto';
import { json, route, type EmuRequest, type EmuResponse, type EmulatorApi, type Route } from '../http.js';
import type { DeviceCodeGrant, World } from '../state.js';
import { requireDelegatedClient, type AuthenticatedClient } from './client-auth.js';
import { requireUser } from './directory.js';
import { EmulatorInputError, entraError } from './errors.js';
import { escapeHtml, formOf, htmlPage } from './html.js';
import { resolvesToTenant, TENANT_PATH, unknownTenant } from './metadata.js';
import { resolveDelegatedScopes } from './scopes.js';
import { userTokenResponse } from './user-tokens.js';

function normaliseUserCode(userCode: string): string {
  return userCode.replace(/[\s-]/g, '').toUpperCase();
}

function grantByUserCode(world: World, userCode: string): DeviceCodeGrant | undefined {
  const wanted = normaliseUserCode(userCode);
  for (const grant of world.deviceCodes.values()) if (grant.userCode === wanted) return grant;
  return undefined;
}

/**
 * What the person does in the browser at the verification URI: enters the
 * user code, signs in as `user`, and accepts (or, with deny, declines).
 */
export function completeDeviceCode(
  world: World,
  userCode: string,
  user: string,
  options: { deny?: boolean } = {},
): DeviceCodeGrant {
  const grant = grantByUserCode(world, userCode);
  if (!grant) throw new EmulatorInputError(404, `no device code with user code "${userCode}"`);
  if (grant.expiresAt <= world.now()) throw new EmulatorInputError(410, `user code "${grant.userCode}" has expired`);
  if (grant.consumed || grant.completedByUserId || grant.denied) {
    throw new EmulatorInputError(409, `user code "${grant.userCode}" was already used`);
  }
  const signedIn = requireUser(world, user);
  if (!signedIn.accountEnabled) throw new EmulatorInputError(403, `user "${signedIn.userPrincipalName}" is disabled`);
  if (options.deny) grant.denied = true;
  else grant.completedByUserId = signedIn.id;
  return grant;
}

/** Device codes still waiting for someone to sign in (for the demo and tests that read the prompt from elsewhere). */
export function pendingDeviceCodes(
  world: World,
): { userCode: string; clientId: string; scopes: string[]; expiresAt: string }[] {
  const now = world.now();
  return [...world.deviceCodes.values()]
    .filter((grant) => !grant.consumed && !grant.completedByUserId && !grant.denied && grant.expiresAt > now)
    .map((grant) => ({
      userCode: grant.userCode,
      clientId: grant.clientId,
      scopes: grant.scopes,
      expiresAt: new Date(grant.expiresAt).toISOString(),
    }));
}

const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ23456789';

function newUserCode(world: World): string {
  for (;;) {
    const bytes = randomBytes(9);
    let code = '';
    for (const byte of bytes) code += USER_CODE_ALPHABET[byte % USER_CODE_ALPHABET.length];
    if (!grantByUserCode(world, code)) return code;
  }
}

function deviceCodeEndpoint(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const tenant = req.params.tenant!;
  if (!resolvesToTenant(emu.world, tenant)) return unknownTenant(req, emu, tenant);
  const form = formOf(req);
  const clientId = form.get('client_id');
  if (!clientId)
    return entraError(
      req,
      emu,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'client_id'.",
    );
  const app = emu.world.apps.get(clientId);
  if (!app) {
    return entraError(
      req,
      emu,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${emu.world.tenantId}'.`,
    );
  }
  const scope = form.get('scope');
  if (!scope)
    return entraError(
      req,
      emu,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'scope'.",
    );
  // Only the syntax and the resource are checked here; consent is decided when the user signs in.
  const scopes = resolveDelegatedScopes(scope, app, emu);
  if (!scopes.ok) return entraError(req, emu, scopes.error, scopes.aadsts, scopes.description);
  const settings = emu.world.entra.settings;
  const grant: DeviceCodeGrant = {
    deviceCode: `DAQABIQEAAAB${randomBytes(48).toString('base64url')}`,
    userCode: newUserCode(emu.world),
    clientId,
    scopes: scope.split(/\s+/).filter(Boolean),
    expiresAt: emu.world.now() + settings.deviceCodeLifetimeSeconds * 1000,
    completedByUserId: null,
    denied: false,
    consumed: false,
  };
  emu.world.deviceCodes.set(grant.deviceCode, grant);
  const verificationUri = `${emu.baseUrl}/_emulator/devicelogin`;
  return json(200, {
    user_code: grant.userCode,
    device_code: grant.deviceCode,
    verification_uri: verificationUri,
    expires_in: settings.deviceCodeLifetimeSeconds,
    interval: settings.deviceCodeIntervalSeconds,
    message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${grant.userCode} to authenticate.`,
  });
}

export function deviceCodeGrant(
  req: EmuRequest,
  emu: EmulatorApi,
  form: URLSearchParams,
  auth: AuthenticatedClient,
): EmuResponse {
  const deviceCode = form.get('device_code');
  if (!deviceCode)
    return entraError(
      req,
      emu,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'device_code'.",
    );
  const grant = emu.world.deviceCodes.get(deviceCode);
  if (!grant)
    return entraError(
      req,
      emu,
      'bad_verification_code',
      70000,
      "The provided value for the input parameter 'device_code' is not valid.",
    );
  if (grant.clientId !== auth.app.appId) {
    return entraError(req, emu, 'invalid_grant', 70000, 'The provided device code was issued to a different client.');
  }
  const notAuthenticated = requireDelegatedClient(req, emu, auth);
  if (notAuthenticated) return notAuthenticated;
  if (grant.consumed)
    return entraError(req, emu, 'invalid_grant', 70000, 'The provided device code has already been redeemed.');
  if (grant.expiresAt <= emu.world.now()) {
    return entraError(
      req,
      emu,
      'expired_token',
      70020,
      "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
    );
  }
  if (grant.denied) {
    grant.consumed = true;
    return entraError(req, emu, 'authorization_declined', 70000, 'The end user denied the authorization request.');
  }
  if (!grant.completedByUserId) {
    return entraError(
      req,
      emu,
      'authorization_pending',
      70016,
      'The provided request has not yet been authorized by the user. The user must input their code.',
    );
  }
  const user = emu.world.users.get(grant.completedByUserId);
  if (!user) return entraError(req, emu, 'invalid_grant', 50034, 'The user account does not exist in the directory.');
  const response = userTokenResponse(req, emu, {
    user,
    app: auth.app,
    scope: grant.scopes.join(' '),
    nonce: null,
    wantsClientInfo: form.get('client_info') === '1',
  });
  if (response.status === 200) grant.consumed = true;
  return response;
}

export function deviceLoginPage(world: World, notice = ''): EmuResponse {
  const options = [...world.users.values()]
    .map(
      (user) =>
        `<option value="${escapeHtml(user.userPrincipalName)}">${escapeHtml(user.displayName)} (${escapeHtml(user.userPrincipalName)})</option>`,
    )
    .join('');
  return htmlPage(
    200,
    'Enter code',
    `${notice}<form method="POST"><label>Code <input name="code" autofocus></label> <label>Sign in as <select name="user">${options}</select></label> <button name="action" value="accept">Continue</button> <button name="action" value="deny">Cancel</button></form>`,
  );
}

export function deviceCodeRoutes(): Route[] {
  return [route('entra', 'POST', new RegExp(`^/${TENANT_PATH}/oauth2/v2\\.0/devicecode$`), deviceCodeEndpoint)];
}
