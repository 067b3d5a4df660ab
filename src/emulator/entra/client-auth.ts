/**
 * Client authentication at the token endpoint: none for a public client, a
 * secret or a certificate assertion (private_key_jwt, checked against the
 * app's registered certificates and the virtual clock) for a confidential one.
 */
import { constants as cryptoConstants, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import type { EmuRequest, EmuResponse, EmulatorApi } from '../http.js';
import type { AppRegistration } from '../state.js';
import { entraError } from './errors.js';
import { issuerOf } from './metadata.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export type ClientAuth =
  { ok: true; app: AppRegistration; authenticated: boolean } | { ok: false; response: EmuResponse };

function basicCredentials(req: EmuRequest): { clientId: string; secret: string } | undefined {
  const header = req.headers.authorization;
  if (!header || !/^Basic\s+/i.test(header)) return undefined;
  const decoded = Buffer.from(header.replace(/^Basic\s+/i, ''), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return {
    clientId: decodeURIComponent(decoded.slice(0, colon)),
    secret: decodeURIComponent(decoded.slice(colon + 1)),
  };
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
      return cryptoVerify(
        'sha256',
        data,
        { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST },
        signature,
      );
    }
  } catch {
    return false;
  }
  return false;
}

/** Checks a private_key_jwt client assertion against the app's registered certificates and the virtual clock. */
function checkClientAssertion(
  req: EmuRequest,
  emu: EmulatorApi,
  app: AppRegistration,
  assertion: string,
): EmuResponse | undefined {
  const invalid = (aadsts: number, description: string) =>
    entraError(req, emu, 'invalid_client', aadsts, description, { status: 401 });
  const parts = assertion.split('.');
  const header = decodeJwtPart(parts[0]);
  const claims = decodeJwtPart(parts[1]);
  if (parts.length !== 3 || !header || !claims) {
    return entraError(req, emu, 'invalid_request', 50027, 'Invalid JWT token. The token is malformed.');
  }
  if (header.alg !== 'RS256' && header.alg !== 'PS256') {
    return invalid(
      5002738,
      `Invalid JWT token. '${String(header.alg)}' is not a supported signature algorithm. Supported signing algorithms are: 'RS256,RS384,RS512,PS256,PS384,PS512'.`,
    );
  }
  const state = emu.world.entra;
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
    return invalid(
      700027,
      'Client assertion failed signature validation. The assertion header names no key (x5t#S256 or x5t).',
    );
  }
  const certificate = app.certificates.find((entry) => entry.thumbprintSha256.toUpperCase() === thumbprintSha256);
  if (!certificate) {
    return invalid(
      700027,
      `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${presented}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.appId}'.]`,
    );
  }
  if (
    !verifySignature(
      header.alg,
      `${parts[0]}.${parts[1]}`,
      Buffer.from(parts[2]!, 'base64url'),
      certificate.publicKeyPem,
    )
  ) {
    return invalid(700027, 'Client assertion failed signature validation.');
  }
  if (claims.iss !== claims.sub) return invalid(50048, 'Subject mismatches Issuer claim in the client assertion.');
  if (claims.iss !== app.appId)
    return invalid(700021, "Client assertion application identifier doesn't match 'client_id' parameter.");
  const tenant = req.params.tenant!;
  const acceptedAudiences = new Set(
    [
      `${emu.baseUrl}/${tenant}/oauth2/v2.0/token`,
      `${emu.baseUrl}/${emu.world.tenantId}/oauth2/v2.0/token`,
      issuerOf(emu),
    ].map((value) => value.toLowerCase()),
  );
  const audiences = (Array.isArray(claims.aud) ? claims.aud : [claims.aud]).map((value: unknown) =>
    String(value).toLowerCase(),
  );
  if (!audiences.some((audience: string) => acceptedAudiences.has(audience))) {
    return invalid(50027, `Invalid JWT token. Unexpected audience '${String(claims.aud)}'.`);
  }
  const now = Math.floor(emu.world.now() / 1000);
  const skew = state.settings.assertionClockSkewSeconds;
  if (
    typeof claims.exp !== 'number' ||
    claims.exp + skew < now ||
    (typeof claims.nbf === 'number' && claims.nbf - skew > now)
  ) {
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
export function authenticateClient(req: EmuRequest, emu: EmulatorApi, form: URLSearchParams): ClientAuth {
  const basic = basicCredentials(req);
  const clientId = form.get('client_id') ?? basic?.clientId;
  if (!clientId) {
    return {
      ok: false,
      response: entraError(
        req,
        emu,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'client_id'.",
      ),
    };
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
      response: entraError(
        req,
        emu,
        'invalid_client',
        700025,
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        { status: 401 },
      ),
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
export function requireDelegatedClient(
  req: EmuRequest,
  emu: EmulatorApi,
  auth: AuthenticatedClient,
): EmuResponse | undefined {
  if (!auth.app.isPublicClient && !auth.authenticated) {
    return entraError(
      req,
      emu,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      {
        status: 401,
      },
    );
  }
  return undefined;
}

export type AuthenticatedClient = Extract<ClientAuth, { ok: true }>;
