/**
 * Entra ID sign-in, as the Microsoft identity platform v2.0 endpoints behave
 * for @azure/msal-node: OpenID configuration, JWKS, instance discovery, the
 * device code endpoint, the authorize endpoint (browser sign-in with PKCE and
 * form_post) and the token endpoint (client credentials with a secret or a
 * certificate assertion, device code, authorization code, refresh token).
 *
 * Error bodies carry Entra's shape ({error, error_description, error_codes,
 * timestamp, trace_id, correlation_id}) and its AADSTS numbers, so a client's
 * error handling is exercised as it would be against the cloud. Every expiry
 * follows the virtual clock (world.now()).
 *
 * Control routes here let a test or the demo play the human in the browser:
 * complete or deny a device code, sign a user in to the "browser", revoke a
 * user's sessions, register an app certificate, tune lifetimes.
 */
import {
  X509Certificate,
  constants as cryptoConstants,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { json, parseJsonBody, route, type EmuRequest, type EmuResponse, type EmulatorApi, type Route } from './http.js';
import { issueToken } from './tokens.js';
import type { AppRegistration, DeviceCodeGrant, EntraUser, IssuedToken, World } from './state.js';

// ---------------------------------------------------------------------------
// Per-world sign-in state that World does not model (kept here so the Entra
// service owns it): the id_token signing key, authorization codes, the user
// signed in to the emulated browser, tunable lifetimes.
// ---------------------------------------------------------------------------

export interface EntraSettings {
  /** Device code lifetime (Entra: 15 minutes). */
  deviceCodeLifetimeSeconds: number;
  /** Polling interval sent to clients (Entra: 5 s). Tests lower it; msal waits this long in real time. */
  deviceCodeIntervalSeconds: number;
  /** Access token lifetime (Entra: 60-90 minutes; fixed here so tests can reason about it). */
  accessTokenLifetimeSeconds: number;
  /** Refresh token inactivity window (Entra: 90 days); each redemption issues a fresh one. */
  refreshTokenLifetimeSeconds: number;
  /** Authorization code lifetime (Entra: about 10 minutes). */
  authorizationCodeLifetimeSeconds: number;
  /** Clock skew tolerated on client assertions' nbf/exp (Entra: 5 minutes). */
  assertionClockSkewSeconds: number;
}

const DEFAULT_SETTINGS: EntraSettings = {
  deviceCodeLifetimeSeconds: 900,
  deviceCodeIntervalSeconds: 5,
  accessTokenLifetimeSeconds: 3600,
  refreshTokenLifetimeSeconds: 90 * 24 * 3600,
  authorizationCodeLifetimeSeconds: 600,
  assertionClockSkewSeconds: 300,
};

interface AuthorizationCodeGrant {
  code: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  scope: string;
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  nonce: string | null;
  expiresAt: number;
  redeemed: boolean;
}

/** When a refresh token was issued, for Entra's "issued on … inactive for …" messages. */
interface RefreshTokenInfo {
  issuedAt: number;
  clientId: string;
}

interface EntraState {
  settings: EntraSettings;
  signingKey: KeyObject;
  signingKid: string;
  publicJwk: Record<string, unknown>;
  authorizationCodes: Map<string, AuthorizationCodeGrant>;
  refreshTokens: Map<string, RefreshTokenInfo>;
  /** SHA-1 thumbprint (hex upper) → SHA-256 thumbprint, for assertions that carry x5t instead of x5t#S256. */
  sha1Thumbprints: Map<string, string>;
  /** Virtual time before which a user's refresh tokens are void (revokeSignInSessions). */
  tokensValidFrom: Map<string, number>;
  /** The user "signed in" to the emulated browser; the authorize endpoint answers for them without a page. */
  browserUserId: string | null;
}

const states = new WeakMap<World, EntraState>();

interface SigningKey {
  privateKey: KeyObject;
  kid: string;
  publicJwk: Record<string, unknown>;
}
let processSigningKey: SigningKey | undefined;

/**
 * The key the emulated Entra signs ID tokens with: one per process, like the CA
 * (tests start many emulators). Made on first use, which would otherwise be a
 * client's first sign-in: an RSA key takes 0.1–1 s to generate, a delay Entra
 * does not have, so startEmulator makes it up front (see prepareEntra).
 */
function signingKey(): SigningKey {
  if (!processSigningKey) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
    const kid = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64url').slice(0, 27);
    processSigningKey = { privateKey, kid, publicJwk: { kty: 'RSA', use: 'sig', kid, n: jwk.n, e: jwk.e } };
  }
  return processSigningKey;
}

/** Makes the emulated Entra's state (and its signing key) before the first client asks for a token. */
export function prepareEntra(world: World): void {
  stateOf(world);
}

function stateOf(world: World): EntraState {
  let state = states.get(world);
  if (!state) {
    const key = signingKey();
    state = {
      settings: { ...DEFAULT_SETTINGS },
      signingKey: key.privateKey,
      signingKid: key.kid,
      publicJwk: key.publicJwk,
      authorizationCodes: new Map(),
      refreshTokens: new Map(),
      sha1Thumbprints: new Map(),
      tokensValidFrom: new Map(),
      browserUserId: null,
    };
    states.set(world, state);
  }
  return state;
}

// ---------------------------------------------------------------------------
// Helpers exported for in-process use (tests, demo). The control routes below
// call the same functions.
// ---------------------------------------------------------------------------

/** A wrong input to an emulator helper (unknown user, code, app): the control routes turn it into a 4xx. */
export class EmulatorInputError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'EmulatorInputError';
  }
}

/** Changes the sign-in lifetimes and polling interval of this world. Returns the settings now in force. */
export function configureEntra(world: World, settings: Partial<EntraSettings>): EntraSettings {
  const state = stateOf(world);
  for (const [key, value] of Object.entries(settings)) {
    if (!(key in DEFAULT_SETTINGS)) throw new EmulatorInputError(400, `unknown Entra setting "${key}"`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new EmulatorInputError(400, `Entra setting "${key}" must be a non-negative number`);
    }
  }
  Object.assign(state.settings, settings);
  return { ...state.settings };
}

function requireUser(world: World, idOrUpn: string | undefined): EntraUser {
  const user = idOrUpn ? world.userByIdOrUpn(idOrUpn) : undefined;
  if (!user) throw new EmulatorInputError(404, `no user "${idOrUpn ?? ''}" in the tenant`);
  return user;
}

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
export function pendingDeviceCodes(world: World): { userCode: string; clientId: string; scopes: string[]; expiresAt: string }[] {
  const now = world.now();
  return [...world.deviceCodes.values()]
    .filter((grant) => !grant.consumed && !grant.completedByUserId && !grant.denied && grant.expiresAt > now)
    .map((grant) => ({ userCode: grant.userCode, clientId: grant.clientId, scopes: grant.scopes, expiresAt: new Date(grant.expiresAt).toISOString() }));
}

/**
 * What an admin's "Revoke sessions" (Graph revokeSignInSessions) does: every
 * refresh token of the user stops working. Access tokens already issued stay
 * valid until they expire, as in Entra, unless `accessTokens` is set (which
 * stands for continuous access evaluation cutting them off too).
 */
export function revokeUserTokens(world: World, user: string, options: { accessTokens?: boolean } = {}): { userId: string; revoked: number } {
  const target = requireUser(world, user);
  stateOf(world).tokensValidFrom.set(target.id, world.now());
  let revoked = 0;
  for (const token of world.tokens.values()) {
    if (token.userId !== target.id || token.revoked) continue;
    if (token.kind === 'access' && !options.accessTokens) continue;
    token.revoked = true;
    revoked += 1;
  }
  return { userId: target.id, revoked };
}

/** Signs a user in to the emulated browser, so the authorize endpoint answers for them straight away (null signs out). */
export function signInBrowser(world: World, user: string | null): void {
  stateOf(world).browserUserId = user === null ? null : requireUser(world, user).id;
}

/**
 * Registers a certificate credential on an app registration (what uploading a
 * .cer in the portal does). Returns its thumbprints, hex upper case.
 */
export function registerAppCertificate(world: World, appId: string, certPem: string): { thumbprintSha256: string; thumbprintSha1: string } {
  const app = world.apps.get(appId);
  if (!app) throw new EmulatorInputError(404, `no app registration "${appId}"`);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch (error) {
    throw new EmulatorInputError(400, `not a PEM certificate: ${(error as Error).message}`);
  }
  const thumbprintSha256 = certificate.fingerprint256.replace(/:/g, '').toUpperCase();
  const thumbprintSha1 = certificate.fingerprint.replace(/:/g, '').toUpperCase();
  const publicKeyPem = certificate.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  if (!app.certificates.some((entry) => entry.thumbprintSha256.toUpperCase() === thumbprintSha256)) {
    app.certificates.push({ thumbprintSha256, publicKeyPem });
  }
  stateOf(world).sha1Thumbprints.set(thumbprintSha1, thumbprintSha256);
  return { thumbprintSha256, thumbprintSha1 };
}

// ---------------------------------------------------------------------------
// Entra's error shape.
// ---------------------------------------------------------------------------

function entraTimestamp(world: World): string {
  return world.nowIso().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

interface EntraErrorOptions {
  status?: number;
  suberror?: string;
  claims?: string;
}

function entraError(
  req: EmuRequest,
  emu: EmulatorApi,
  error: string,
  aadsts: number,
  description: string,
  options: EntraErrorOptions = {},
): EmuResponse {
  const traceId = randomUUID();
  const header = req.headers['client-request-id'];
  const correlationId = (Array.isArray(header) ? header[0] : header) || randomUUID();
  const timestamp = entraTimestamp(emu.world);
  const body: Record<string, unknown> = {
    error,
    error_description: `AADSTS${aadsts}: ${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [aadsts],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${emu.baseUrl}/error?code=${aadsts}`,
  };
  if (options.suberror) body.suberror = options.suberror;
  if (options.claims) body.claims = options.claims;
  return json(options.status ?? 400, body, { 'cache-control': 'no-store', pragma: 'no-cache' });
}

// ---------------------------------------------------------------------------
// Tenants and metadata.
// ---------------------------------------------------------------------------

const MULTI_TENANT_ALIASES = new Set(['common', 'organizations']);

/** The tenant segment names this world: its id, one of its verified domains, or a multi-tenant alias. */
function resolvesToTenant(world: World, tenant: string): boolean {
  const wanted = tenant.toLowerCase();
  if (wanted === world.tenantId.toLowerCase() || MULTI_TENANT_ALIASES.has(wanted)) return true;
  for (const user of world.users.values()) {
    if (user.userPrincipalName.toLowerCase().endsWith(`@${wanted}`)) return true;
  }
  return false;
}

function unknownTenant(req: EmuRequest, emu: EmulatorApi, tenant: string, error = 'invalid_request'): EmuResponse {
  return entraError(
    req,
    emu,
    error,
    90002,
    `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  );
}

function issuerOf(emu: EmulatorApi): string {
  return `${emu.baseUrl}/${emu.world.tenantId}/v2.0`;
}

function openIdConfiguration(emu: EmulatorApi, tenant: string): Record<string, unknown> {
  const base = emu.baseUrl;
  const host = new URL(base).host;
  // As Entra does, the multi-tenant documents carry a templated issuer and the tenant one the tenant id.
  const issuerTenant = MULTI_TENANT_ALIASES.has(tenant.toLowerCase()) ? '{tenantid}' : emu.world.tenantId;
  return {
    token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base}/${issuerTenant}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${base}/oidc/userinfo`,
    authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
    claims_supported: [
      'sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name', 'cloud_graph_host_name', 'msgraph_host', 'aud', 'exp',
      'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email',
    ],
    kerberos_endpoint: `${base}/${tenant}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: host,
    cloud_graph_host_name: host,
    msgraph_host: host,
    rbac_url: `${base}/rbac`,
  };
}

// ---------------------------------------------------------------------------
// Scopes.
// ---------------------------------------------------------------------------

const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

/** Resource identifiers that name Microsoft Graph: the public one, its app id, and the emulator itself. */
function graphResourcePrefixes(emu: EmulatorApi): string[] {
  return ['https://graph.microsoft.com/', `${GRAPH_APP_ID}/`, `${emu.baseUrl}/`].map((prefix) => prefix.toLowerCase());
}

type ScopeResolution =
  | { ok: true; oidc: Set<string>; graph: string[] }
  | { ok: false; error: 'invalid_scope' | 'invalid_resource'; aadsts: number; description: string };

/** Splits a delegated scope string into OIDC scopes and Graph permissions (canonical names, as consented). */
function resolveDelegatedScopes(raw: string, app: AppRegistration, emu: EmulatorApi): ScopeResolution & { unconsented?: string[] } {
  const oidc = new Set<string>();
  const graph = new Set<string>();
  const unconsented: string[] = [];
  const prefixes = graphResourcePrefixes(emu);
  const consented = new Map(app.delegatedPermissions.map((permission) => [permission.toLowerCase(), permission]));
  for (const scope of raw.split(/\s+/).filter(Boolean)) {
    const lower = scope.toLowerCase();
    if (OIDC_SCOPES.has(lower)) {
      oidc.add(lower);
      continue;
    }
    let name = scope;
    const prefix = prefixes.find((candidate) => lower.startsWith(candidate));
    if (prefix) name = scope.slice(prefix.length);
    else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(scope) || /^api:\/\//i.test(scope)) {
      const resource = scope.replace(/\/[^/]*$/, '');
      return {
        ok: false,
        error: 'invalid_resource',
        aadsts: 500011,
        description: `The resource principal named ${resource} was not found in the tenant named ${emu.world.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      };
    }
    if (name === '' || /\s/.test(name)) {
      return { ok: false, error: 'invalid_scope', aadsts: 70011, description: `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.` };
    }
    if (name.toLowerCase() === '.default') {
      for (const permission of app.delegatedPermissions) if (!OIDC_SCOPES.has(permission.toLowerCase())) graph.add(permission);
      continue;
    }
    const canonical = consented.get(name.toLowerCase());
    if (canonical) graph.add(canonical);
    else unconsented.push(name);
  }
  return { ok: true, oidc, graph: [...graph], unconsented };
}

// ---------------------------------------------------------------------------
// Tokens for a signed-in user.
// ---------------------------------------------------------------------------

function signJwt(state: EntraState, claims: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: state.signingKid })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = cryptoSign('sha256', Buffer.from(`${header}.${payload}`), state.signingKey).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

/** Entra's subject is pairwise: the same user has a different `sub` in every app. */
function pairwiseSubject(userId: string, clientId: string): string {
  return createHash('sha256').update(`${userId}:${clientId}`).digest('base64url').slice(0, 43);
}

function idToken(emu: EmulatorApi, user: EntraUser, clientId: string, nonce: string | null): string {
  const state = stateOf(emu.world);
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

function clientInfo(world: World, user: EntraUser): string {
  return Buffer.from(JSON.stringify({ uid: user.id, utid: world.tenantId })).toString('base64url');
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
function userTokenResponse(req: EmuRequest, emu: EmulatorApi, grant: UserGrant): EmuResponse {
  const { user, app } = grant;
  const state = stateOf(emu.world);
  if (!user.accountEnabled) {
    return entraError(req, emu, 'invalid_grant', 50057, 'The user account is disabled. The user object in Active Directory backing this account has been disabled.');
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
  const access = issueToken(emu.world, { principalType: 'user', appId: app.appId, userId: user.id, scopes: graphScopes, lifetimeSeconds: lifetime });
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

// ---------------------------------------------------------------------------
// Client authentication at the token endpoint.
// ---------------------------------------------------------------------------

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

type ClientAuth = { ok: true; app: AppRegistration; authenticated: boolean } | { ok: false; response: EmuResponse };

function basicCredentials(req: EmuRequest): { clientId: string; secret: string } | undefined {
  const header = req.headers.authorization;
  if (!header || !/^Basic\s+/i.test(header)) return undefined;
  const decoded = Buffer.from(header.replace(/^Basic\s+/i, ''), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { clientId: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
}

function decodeJwtPart(part: string | undefined): Record<string, any> | undefined {
  if (!part) return undefined;
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' ? value : undefined;
  } catch {
    return undefined;
  }
}

function verifySignature(alg: string, signingInput: string, signature: Buffer, publicKeyPem: string): boolean {
  const key = createPublicKey(publicKeyPem);
  const data = Buffer.from(signingInput);
  try {
    if (alg === 'RS256') return cryptoVerify('sha256', data, key, signature);
    if (alg === 'PS256') {
      return cryptoVerify('sha256', data, { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST }, signature);
    }
  } catch {
    return false;
  }
  return false;
}

/** Checks a private_key_jwt client assertion against the app's registered certificates and the virtual clock. */
function checkClientAssertion(req: EmuRequest, emu: EmulatorApi, app: AppRegistration, assertion: string): EmuResponse | undefined {
  const invalid = (aadsts: number, description: string) => entraError(req, emu, 'invalid_client', aadsts, description, { status: 401 });
  const parts = assertion.split('.');
  const header = decodeJwtPart(parts[0]);
  const claims = decodeJwtPart(parts[1]);
  if (parts.length !== 3 || !header || !claims) {
    return entraError(req, emu, 'invalid_request', 50027, 'Invalid JWT token. The token is malformed.');
  }
  if (header.alg !== 'RS256' && header.alg !== 'PS256') {
    return invalid(5002738, `Invalid JWT token. '${String(header.alg)}' is not a supported signature algorithm. Supported signing algorithms are: 'RS256,RS384,RS512,PS256,PS384,PS512'.`);
  }
  const state = stateOf(emu.world);
  let thumbprintSha256: string | undefined;
  let presented: string | undefined;
  if (typeof header['x5t#S256'] === 'string') {
    presented = Buffer.from(header['x5t#S256'], 'base64url').toString('hex').toUpperCase();
    thumbprintSha256 = presented;
  } else if (typeof header.x5t === 'string') {
    presented = Buffer.from(header.x5t, 'base64url').toString('hex').toUpperCase();
    thumbprintSha256 = state.sha1Thumbprints.get(presented);
  }
  if (!presented) {
    return invalid(700027, 'Client assertion failed signature validation. The assertion header names no key (x5t#S256 or x5t).');
  }
  const certificate = app.certificates.find((entry) => entry.thumbprintSha256.toUpperCase() === thumbprintSha256);
  if (!certificate) {
    return invalid(
      700027,
      `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${presented}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.appId}'.]`,
    );
  }
  if (!verifySignature(header.alg, `${parts[0]}.${parts[1]}`, Buffer.from(parts[2]!, 'base64url'), certificate.publicKeyPem)) {
    return invalid(700027, 'Client assertion failed signature validation.');
  }
  if (claims.iss !== claims.sub) return invalid(50048, 'Subject mismatches Issuer claim in the client assertion.');
  if (claims.iss !== app.appId) return invalid(700021, "Client assertion application identifier doesn't match 'client_id' parameter.");
  const tenant = req.params.tenant!;
  const acceptedAudiences = new Set(
    [`${emu.baseUrl}/${tenant}/oauth2/v2.0/token`, `${emu.baseUrl}/${emu.world.tenantId}/oauth2/v2.0/token`, issuerOf(emu)].map((value) => value.toLowerCase()),
  );
  const audiences = (Array.isArray(claims.aud) ? claims.aud : [claims.aud]).map((value: unknown) => String(value).toLowerCase());
  if (!audiences.some((audience: string) => acceptedAudiences.has(audience))) {
    return invalid(50027, `Invalid JWT token. Unexpected audience '${String(claims.aud)}'.`);
  }
  const now = Math.floor(emu.world.now() / 1000);
  const skew = state.settings.assertionClockSkewSeconds;
  if (typeof claims.exp !== 'number' || claims.exp + skew < now || (typeof claims.nbf === 'number' && claims.nbf - skew > now)) {
    const iso = (seconds: unknown) => (typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : 'none');
    return invalid(
      700024,
      `Client assertion is not within its valid time range. Current time: ${new Date(now * 1000).toISOString()}, assertion valid from ${iso(claims.nbf)}, expiry time of assertion ${iso(claims.exp)}.`,
    );
  }
  return undefined;
}

/**
 * Finds the app named by client_id and checks the client credential that came
 * with the request: none for a public client, a secret or a certificate
 * assertion for a confidential one. `authenticated` says whether one was proven.
 */
function authenticateClient(req: EmuRequest, emu: EmulatorApi, form: URLSearchParams): ClientAuth {
  const basic = basicCredentials(req);
  const clientId = form.get('client_id') ?? basic?.clientId;
  if (!clientId) {
    return { ok: false, response: entraError(req, emu, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.") };
  }
  const app = emu.world.apps.get(clientId);
  if (!app) {
    return {
      ok: false,
      response: entraError(
        req,
        emu,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${emu.world.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      ),
    };
  }
  const secret = form.get('client_secret') ?? basic?.secret ?? null;
  const assertion = form.get('client_assertion');
  if (secret === null && assertion === null) return { ok: true, app, authenticated: false };
  if (app.isPublicClient) {
    return {
      ok: false,
      response: entraError(req, emu, 'invalid_client', 700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.", { status: 401 }),
    };
  }
  if (assertion !== null) {
    if (form.get('client_assertion_type') !== JWT_BEARER) {
      return {
        ok: false,
        response: entraError(req, emu, 'invalid_request', 90023, `The client_assertion_type must be '${JWT_BEARER}'.`),
      };
    }
    const failure = checkClientAssertion(req, emu, app, assertion);
    if (failure) return { ok: false, response: failure };
    return { ok: true, app, authenticated: true };
  }
  if (!secret || !app.secrets.includes(secret)) {
    return {
      ok: false,
      response: entraError(
        req,
        emu,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.appId}'.`,
        { status: 401 },
      ),
    };
  }
  return { ok: true, app, authenticated: true };
}

/** Delegated grants: a public client must not authenticate, a confidential one must. */
function requireDelegatedClient(req: EmuRequest, emu: EmulatorApi, auth: Extract<ClientAuth, { ok: true }>): EmuResponse | undefined {
  if (!auth.app.isPublicClient && !auth.authenticated) {
    return entraError(req, emu, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", {
      status: 401,
    });
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Grant handlers.
// ---------------------------------------------------------------------------

function clientCredentialsGrant(req: EmuRequest, emu: EmulatorApi, form: URLSearchParams, auth: Extract<ClientAuth, { ok: true }>): EmuResponse {
  if (MULTI_TENANT_ALIASES.has(req.params.tenant!.toLowerCase())) {
    return entraError(req, emu, 'invalid_request', 9001023, 'The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.');
  }
  if (!auth.authenticated) {
    return entraError(req, emu, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", {
      status: 401,
    });
  }
  const scope = form.get('scope');
  if (!scope) return entraError(req, emu, 'invalid_request', 900144, "The request body must contain the following parameter: 'scope'.");
  const scopes = scope.split(/\s+/).filter(Boolean);
  const single = scopes[0]!;
  if (scopes.length !== 1 || !single.toLowerCase().endsWith('/.default')) {
    return entraError(
      req,
      emu,
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    );
  }
  const resource = single.slice(0, -'.default'.length).toLowerCase();
  if (!graphResourcePrefixes(emu).includes(resource)) {
    return entraError(
      req,
      emu,
      'invalid_resource',
      500011,
      `The resource principal named ${single.slice(0, -'/.default'.length)} was not found in the tenant named ${emu.world.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    );
  }
  const lifetime = stateOf(emu.world).settings.accessTokenLifetimeSeconds;
  const token = issueToken(emu.world, { principalType: 'app', appId: auth.app.appId, roles: [...auth.app.applicationPermissions], lifetimeSeconds: lifetime });
  req.principal = auth.app.appId;
  return json(200, { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token.token }, { 'cache-control': 'no-store', pragma: 'no-cache' });
}

function deviceCodeGrant(req: EmuRequest, emu: EmulatorApi, form: URLSearchParams, auth: Extract<ClientAuth, { ok: true }>): EmuResponse {
  const deviceCode = form.get('device_code');
  if (!deviceCode) return entraError(req, emu, 'invalid_request', 900144, "The request body must contain the following parameter: 'device_code'.");
  const grant = emu.world.deviceCodes.get(deviceCode);
  if (!grant) return entraError(req, emu, 'bad_verification_code', 70000, "The provided value for the input parameter 'device_code' is not valid.");
  if (grant.clientId !== auth.app.appId) {
    return entraError(req, emu, 'invalid_grant', 70000, 'The provided device code was issued to a different client.');
  }
  const notAuthenticated = requireDelegatedClient(req, emu, auth);
  if (notAuthenticated) return notAuthenticated;
  if (grant.consumed) return entraError(req, emu, 'invalid_grant', 70000, 'The provided device code has already been redeemed.');
  if (grant.expiresAt <= emu.world.now()) {
    return entraError(req, emu, 'expired_token', 70020, "The provided value for the input parameter 'device_code' is not valid. This device code has expired.");
  }
  if (grant.denied) {
    grant.consumed = true;
    return entraError(req, emu, 'authorization_declined', 70000, 'The end user denied the authorization request.');
  }
  if (!grant.completedByUserId) {
    return entraError(req, emu, 'authorization_pending', 70016, 'The provided request has not yet been authorized by the user. The user must input their code.');
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

function refreshTokenGrant(req: EmuRequest, emu: EmulatorApi, form: URLSearchParams, auth: Extract<ClientAuth, { ok: true }>): EmuResponse {
  const raw = form.get('refresh_token');
  if (!raw) return entraError(req, emu, 'invalid_request', 900144, "The request body must contain the following parameter: 'refresh_token'.");
  const notAuthenticated = requireDelegatedClient(req, emu, auth);
  if (notAuthenticated) return notAuthenticated;
  const token: IssuedToken | undefined = emu.world.tokens.get(raw);
  if (!token || token.kind !== 'refresh' || !token.userId) {
    return entraError(req, emu, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
  }
  if (token.appId !== auth.app.appId) {
    return entraError(req, emu, 'invalid_grant', 70000, 'Provided grant is invalid or malformed. The refresh token was issued to a different client.');
  }
  const state = stateOf(emu.world);
  const info = state.refreshTokens.get(raw);
  const issuedAt = new Date(info?.issuedAt ?? token.expiresAt - state.settings.refreshTokenLifetimeSeconds * 1000).toISOString();
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

function authorizationCodeGrant(req: EmuRequest, emu: EmulatorApi, form: URLSearchParams, auth: Extract<ClientAuth, { ok: true }>): EmuResponse {
  const code = form.get('code');
  if (!code) return entraError(req, emu, 'invalid_request', 900144, "The request body must contain the following parameter: 'code'.");
  const notAuthenticated = requireDelegatedClient(req, emu, auth);
  if (notAuthenticated) return notAuthenticated;
  const grant = stateOf(emu.world).authorizationCodes.get(code);
  if (!grant || grant.clientId !== auth.app.appId) {
    return entraError(req, emu, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
  }
  if (grant.redeemed) {
    return entraError(req, emu, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.');
  }
  if (grant.expiresAt <= emu.world.now()) {
    return entraError(req, emu, 'invalid_grant', 70008, 'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.');
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
    const computed = grant.codeChallengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
    if (computed !== grant.codeChallenge) {
      return entraError(req, emu, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
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

function formOf(req: EmuRequest): URLSearchParams {
  return new URLSearchParams(req.body.toString('utf8'));
}

function tokenEndpoint(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const tenant = req.params.tenant!;
  if (!resolvesToTenant(emu.world, tenant)) return unknownTenant(req, emu, tenant);
  const form = formOf(req);
  const grantType = form.get('grant_type');
  if (!grantType) return entraError(req, emu, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
  const auth = authenticateClient(req, emu, form);
  if (!auth.ok) return auth.response;
  switch (grantType) {
    case 'client_credentials':
      return clientCredentialsGrant(req, emu, form, auth);
    case 'urn:ietf:params:oauth:grant-type:device_code':
    case 'device_code':
      return deviceCodeGrant(req, emu, form, auth);
    case 'refresh_token':
      return refreshTokenGrant(req, emu, form, auth);
    case 'authorization_code':
      return authorizationCodeGrant(req, emu, form, auth);
    default:
      return entraError(req, emu, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`);
  }
}

// ---------------------------------------------------------------------------
// Device code and authorize endpoints.
// ---------------------------------------------------------------------------

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
  if (!clientId) return entraError(req, emu, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
  const app = emu.world.apps.get(clientId);
  if (!app) {
    return entraError(req, emu, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory '${emu.world.tenantId}'.`);
  }
  const scope = form.get('scope');
  if (!scope) return entraError(req, emu, 'invalid_request', 900144, "The request body must contain the following parameter: 'scope'.");
  // Only the syntax and the resource are checked here; consent is decided when the user signs in.
  const scopes = resolveDelegatedScopes(scope, app, emu);
  if (!scopes.ok) return entraError(req, emu, scopes.error, scopes.aadsts, scopes.description);
  const settings = stateOf(emu.world).settings;
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

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function htmlPage(status: number, title: string, body: string): EmuResponse {
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
    body: `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
  };
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
  if (!resolvesToTenant(emu.world, tenant)) return htmlPage(400, 'Sign in failed', `<p>AADSTS90002: Tenant '${escapeHtml(tenant)}' not found.</p>`);
  const query = req.query;
  const clientId = query.get('client_id') ?? '';
  const app = emu.world.apps.get(clientId);
  if (!app) return htmlPage(400, 'Sign in failed', `<p>AADSTS700016: Application with identifier '${escapeHtml(clientId)}' was not found in the directory.</p>`);
  const redirectUri = query.get('redirect_uri') ?? '';
  // Native public clients may use any loopback port (RFC 8252); the emulator registers no other reply URLs.
  if (!isLoopbackRedirect(redirectUri)) {
    return htmlPage(400, 'Sign in failed', `<p>AADSTS50011: The redirect URI '${escapeHtml(redirectUri)}' specified in the request does not match the redirect URIs configured for the application '${escapeHtml(clientId)}'.</p>`);
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
    return reply({ error: 'unsupported_response_type', error_description: 'AADSTS70005: response_type must be code for this application.' });
  }
  const codeChallenge = query.get('code_challenge');
  const codeChallengeMethod = query.get('code_challenge_method') ?? (codeChallenge ? 'plain' : null);
  if (!codeChallenge && app.isPublicClient) {
    return reply({ error: 'invalid_request', error_description: "AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption." });
  }
  const loginHint = query.get('login_hint');
  const entraState = stateOf(emu.world);
  const user = loginHint ? emu.world.userByIdOrUpn(loginHint) : entraState.browserUserId ? emu.world.users.get(entraState.browserUserId) : undefined;
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
  if (!user.accountEnabled) return reply({ error: 'access_denied', error_description: 'AADSTS50057: The user account is disabled.' });
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

function instanceDiscovery(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const authorizationEndpoint = req.query.get('authorization_endpoint');
  const host = new URL(emu.baseUrl).host;
  let tenant = 'common';
  if (authorizationEndpoint) {
    let url: URL | undefined;
    try {
      url = new URL(authorizationEndpoint);
    } catch {
      url = undefined;
    }
    if (!url || url.host.toLowerCase() !== host.toLowerCase()) {
      return entraError(req, emu, 'invalid_instance', 50049, "Unknown or invalid instance.");
    }
    tenant = url.pathname.split('/').filter(Boolean)[0] ?? 'common';
  }
  return json(200, {
    tenant_discovery_endpoint: `${emu.baseUrl}/${tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  });
}

// ---------------------------------------------------------------------------
// The emulated browser page for the device code flow, and the control routes.
// ---------------------------------------------------------------------------

function controlFailure(error: unknown): EmuResponse {
  if (error instanceof EmulatorInputError) return json(error.status, { error: 'bad_request', message: error.message });
  throw error;
}

function deviceLoginPage(world: World, notice = ''): EmuResponse {
  const options = [...world.users.values()]
    .map((user) => `<option value="${escapeHtml(user.userPrincipalName)}">${escapeHtml(user.displayName)} (${escapeHtml(user.userPrincipalName)})</option>`)
    .join('');
  return htmlPage(
    200,
    'Enter code',
    `${notice}<form method="POST"><label>Code <input name="code" autofocus></label> <label>Sign in as <select name="user">${options}</select></label> <button name="action" value="accept">Continue</button> <button name="action" value="deny">Cancel</button></form>`,
  );
}

export function entraRoutes(): Route[] {
  const tenantPath = '(?<tenant>[^/]+)';
  return [
    route('entra', 'GET', new RegExp(`^/${tenantPath}/v2\\.0/\\.well-known/openid-configuration$`), (req, emu) => {
      const tenant = req.params.tenant!;
      if (!resolvesToTenant(emu.world, tenant)) return unknownTenant(req, emu, tenant, 'invalid_tenant');
      return json(200, openIdConfiguration(emu, tenant));
    }),
    route('entra', 'GET', new RegExp(`^/${tenantPath}/discovery/v2\\.0/keys$`), (req, emu) => {
      const tenant = req.params.tenant!;
      if (!resolvesToTenant(emu.world, tenant)) return unknownTenant(req, emu, tenant, 'invalid_tenant');
      return json(200, { keys: [stateOf(emu.world).publicJwk] });
    }),
    route('entra', 'GET', /^\/common\/discovery\/instance$/, instanceDiscovery),
    route('entra', 'POST', new RegExp(`^/${tenantPath}/oauth2/v2\\.0/devicecode$`), deviceCodeEndpoint),
    route('entra', 'POST', new RegExp(`^/${tenantPath}/oauth2/v2\\.0/token$`), tokenEndpoint),
    route('entra', 'GET', new RegExp(`^/${tenantPath}/oauth2/v2\\.0/authorize$`), authorizeEndpoint),

    route('control', 'GET', /^\/_emulator\/devicelogin$/, (_req, emu) => deviceLoginPage(emu.world)),
    route('control', 'POST', /^\/_emulator\/devicelogin$/, (req, emu) => {
      const form = formOf(req);
      try {
        const grant = completeDeviceCode(emu.world, form.get('code') ?? '', form.get('user') ?? '', { deny: form.get('action') === 'deny' });
        return htmlPage(200, grant.denied ? 'Sign-in cancelled' : 'You are signed in', '<p>You can close this window and return to the command line.</p>');
      } catch (error) {
        if (error instanceof EmulatorInputError) return deviceLoginPage(emu.world, `<p><strong>${escapeHtml(error.message)}</strong></p>`);
        throw error;
      }
    }),
    route('control', 'POST', /^\/_emulator\/devicecode\/complete$/, (req, emu) => {
      const body = parseJsonBody<{ userCode?: string; user?: string; deny?: boolean }>(req) ?? {};
      if (!body.userCode || !body.user) return json(400, { error: 'bad_request', message: 'give "userCode" and "user" (UPN or object id)' });
      try {
        const grant = completeDeviceCode(emu.world, body.userCode, body.user, { deny: body.deny === true });
        return json(200, { userCode: grant.userCode, status: grant.denied ? 'denied' : 'completed', userId: grant.completedByUserId });
      } catch (error) {
        return controlFailure(error);
      }
    }),
    route('control', 'GET', /^\/_emulator\/devicecodes$/, (_req, emu) => json(200, { pending: pendingDeviceCodes(emu.world) })),
    route('control', 'POST', /^\/_emulator\/tokens\/revoke$/, (req, emu) => {
      const body = parseJsonBody<{ user?: string; accessTokens?: boolean }>(req) ?? {};
      if (!body.user) return json(400, { error: 'bad_request', message: 'give "user" (UPN or object id)' });
      try {
        return json(200, revokeUserTokens(emu.world, body.user, { accessTokens: body.accessTokens === true }));
      } catch (error) {
        return controlFailure(error);
      }
    }),
    route('control', 'POST', /^\/_emulator\/browser\/signin$/, (req, emu) => {
      const body = parseJsonBody<{ user?: string | null }>(req) ?? {};
      try {
        signInBrowser(emu.world, body.user ?? null);
        return json(200, { user: stateOf(emu.world).browserUserId });
      } catch (error) {
        return controlFailure(error);
      }
    }),
    route('control', 'POST', /^\/_emulator\/apps\/(?<appId>[^/]+)\/certificates$/, (req, emu) => {
      const body = parseJsonBody<{ certificatePem?: string }>(req) ?? {};
      if (!body.certificatePem) return json(400, { error: 'bad_request', message: 'give "certificatePem"' });
      try {
        return json(201, registerAppCertificate(emu.world, req.params.appId!, body.certificatePem));
      } catch (error) {
        return controlFailure(error);
      }
    }),
    route('control', 'GET', /^\/_emulator\/entra\/settings$/, (_req, emu) => json(200, stateOf(emu.world).settings)),
    route('control', 'POST', /^\/_emulator\/entra\/settings$/, (req, emu) => {
      try {
        return json(200, configureEntra(emu.world, parseJsonBody<Partial<EntraSettings>>(req) ?? {}));
      } catch (error) {
        return controlFailure(error);
      }
    }),
  ];
}
