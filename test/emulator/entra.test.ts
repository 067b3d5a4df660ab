/**
 * The Entra emulator, driven by the real @azure/msal-node as the CLI drives
 * the cloud: metadata, client credentials (secret, certificate), device code,
 * browser sign-in with PKCE, refresh, revocation and the virtual clock.
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import {
  AuthError as MsalAuthError,
  ConfidentialClientApplication,
  InteractionRequiredAuthError,
  PublicClientApplication,
  ServerError,
  type AuthenticationResult,
  type DeviceCodeRequest,
} from '@azure/msal-node';
import { generateEmulatorKeys, startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { SEED } from '../../src/emulator/seed.js';
import {
  completeDeviceCode,
  configureEntra,
  registerAppCertificate,
  revokeUserTokens,
} from '../../src/emulator/entra/index.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { systemClock } from '../../src/context.js';
import { fetchWithCa } from '../../src/adapters/http/tls.js';
import { caAwareNetworkClient } from '../../src/adapters/auth/network.js';
import { msalAuthorityOptions } from '../../src/adapters/auth/authority.js';
import { generateClientCertificate } from '../../src/adapters/auth/certificate.js';
import { caught } from '../store/support/helpers.js';
import { postControl } from '../support/emulator-control.js';

/** Made once: this file starts an emulator per test, and RSA key generation is slow. */
const keys = generateEmulatorKeys();

const CLI_SCOPES = ['User.ReadWrite', 'GroupMember.ReadWrite.All', 'offline_access'];
const ALICE = `alice@${SEED.domain}`;

interface Harness {
  emu: RunningEmulator;
  config: Config;
  fetch: typeof fetch;
  /** URLs MSAL requested, in order. */
  requested: string[];
}

async function harness(): Promise<Harness> {
  const emu = await startEmulator({ keys });
  const { clientConfig } = await import('../../src/emulator/index.js');
  const config = configSchema.parse(
    clientConfig(emu.baseUrl, {
      caFile: emu.caFile,
      ociConfigFile: emu.ociConfigFile,
      automationSecretFile: emu.automationSecretFile,
    }),
  );
  // msal polls at the announced interval in real time; one second keeps the suite quick.
  configureEntra(emu.world, { deviceCodeIntervalSeconds: 1 });
  return { emu, config, fetch: fetchWithCa(emu.caFile), requested: [] };
}

function networkClient(h: Harness) {
  return caAwareNetworkClient(h.config.tls.caFile, { onRequest: (_method, url) => h.requested.push(url) });
}

function publicClient(h: Harness, clientId: string = SEED.cliAppId): PublicClientApplication {
  return new PublicClientApplication({
    auth: { clientId, ...msalAuthorityOptions(h.config) },
    system: { networkClient: networkClient(h) },
  });
}

function confidentialClient(
  h: Harness,
  credential: {
    clientSecret?: string;
    clientCertificate?: { thumbprint?: string; thumbprintSha256?: string; privateKey: string };
  },
) {
  return new ConfidentialClientApplication({
    auth: { clientId: SEED.automationAppId, ...msalAuthorityOptions(h.config), ...credential },
    system: { networkClient: networkClient(h) },
  });
}

async function control(h: Harness, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await postControl(h.fetch, h.emu.baseUrl, path, body);
  return { status: response.status, body: await response.json() };
}

async function postForm(h: Harness, path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await h.fetch(`${h.emu.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, body: (await response.json()) as any };
}

function claimsOf(jwt: string): any {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));
}

const expectRejection = (promise: Promise<unknown>): Promise<any> => caught(() => promise);

/** Device code sign-in through msal, "completed in the browser" by `complete` when msal shows the code. */
async function deviceCodeLogin(
  h: Harness,
  complete: DeviceCodeRequest['deviceCodeCallback'],
  clientId?: string,
  scopes = CLI_SCOPES,
): Promise<AuthenticationResult> {
  const pca = publicClient(h, clientId);
  const result = await pca.acquireTokenByDeviceCode({ scopes, deviceCodeCallback: complete });
  if (!result) throw new Error('no result');
  return result;
}

/** The emulator's log of token endpoint calls (after the entry `since`). */
function tokenCalls(h: Harness, since = 0) {
  return h.emu.world.requestLog
    .slice(since)
    .filter((entry) => entry.path.split('?')[0]!.endsWith('/oauth2/v2.0/token'));
}

const TOKEN_PATH = `/${SEED.tenantId}/oauth2/v2.0/token`;
const DEVICECODE_PATH = `/${SEED.tenantId}/oauth2/v2.0/devicecode`;

describe('Entra emulator: metadata', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.emu.stop());

  test('the OpenID configuration points every endpoint at the emulator and names the v2 issuer', async () => {
    const response = await h.fetch(`${h.emu.baseUrl}/${SEED.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const metadata = (await response.json()) as Record<string, string>;
    expect(metadata.issuer).toBe(`${h.emu.baseUrl}/${SEED.tenantId}/v2.0`);
    for (const key of [
      'authorization_endpoint',
      'token_endpoint',
      'device_authorization_endpoint',
      'jwks_uri',
      'end_session_endpoint',
    ]) {
      expect(metadata[key]).toMatch(new RegExp(`^${h.emu.baseUrl}/${SEED.tenantId}/`));
    }
    expect(metadata.device_authorization_endpoint).toBe(`${h.emu.baseUrl}/${SEED.tenantId}/oauth2/v2.0/devicecode`);
    // The built layout the adapter uses must be the one the emulator publishes.
    const built = JSON.parse(msalAuthorityOptions(h.config).authorityMetadata);
    for (const key of Object.keys(built)) expect(built[key]).toBe(metadata[key]);
  });

  test('the multi-tenant document carries the templated issuer, like Entra', async () => {
    const metadata = (await (
      await h.fetch(`${h.emu.baseUrl}/organizations/v2.0/.well-known/openid-configuration`)
    ).json()) as Record<string, string>;
    expect(metadata.issuer).toBe(`${h.emu.baseUrl}/{tenantid}/v2.0`);
  });

  test('an unknown tenant is a 400 with Entra error body and AADSTS90002', async () => {
    const response = await h.fetch(`${h.emu.baseUrl}/not-a-tenant.example/v2.0/.well-known/openid-configuration`);
    expect(response.status).toBe(400);
    const body = (await response.json()) as any;
    expect(body.error).toBe('invalid_tenant');
    expect(body.error_codes).toEqual([90002]);
    expect(body.error_description).toMatch(/^AADSTS90002: Tenant 'not-a-tenant.example' not found/);
    expect(body.trace_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  });

  test('the tenant can also be named by its domain', async () => {
    const response = await h.fetch(`${h.emu.baseUrl}/${SEED.domain}/v2.0/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    // Read to the end: an unread body keeps fetchWithCa's deadline timer alive after the test.
    expect(((await response.json()) as { token_endpoint: string }).token_endpoint).toBe(
      `${h.emu.baseUrl}/${SEED.domain}/oauth2/v2.0/token`,
    );
  });

  test('instance discovery answers for the emulator host, with or without its port (as MSAL Python sends it), and rejects others', async () => {
    const host = new URL(h.emu.baseUrl).host;
    const known = await h.fetch(
      `${h.emu.baseUrl}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`${h.emu.baseUrl}/${SEED.tenantId}/oauth2/v2.0/authorize`)}`,
    );
    const body = (await known.json()) as any;
    expect(known.status).toBe(200);
    expect(body.tenant_discovery_endpoint).toBe(
      `${h.emu.baseUrl}/${SEED.tenantId}/v2.0/.well-known/openid-configuration`,
    );
    expect(body.metadata).toEqual([{ preferred_network: host, preferred_cache: host, aliases: [host, '127.0.0.1'] }]);
    // MSAL Python sends the authority's host without the port; Entra matches by host name.
    const hostname = new URL(h.emu.baseUrl).hostname;
    const withoutPort = await h.fetch(
      `${h.emu.baseUrl}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`https://${hostname}/${SEED.tenantId}/oauth2/v2.0/authorize`)}`,
    );
    expect(withoutPort.status).toBe(200);
    expect(((await withoutPort.json()) as any).tenant_discovery_endpoint).toBe(
      `${h.emu.baseUrl}/${SEED.tenantId}/v2.0/.well-known/openid-configuration`,
    );
    const otherPort = await h.fetch(
      `${h.emu.baseUrl}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`https://${hostname}:1/${SEED.tenantId}/oauth2/v2.0/authorize`)}`,
    );
    expect(otherPort.status).toBe(400);
    const unknown = await h.fetch(
      `${h.emu.baseUrl}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent('https://login.evil.example/x/oauth2/v2.0/authorize')}`,
    );
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as any).error).toBe('invalid_instance');
  });

  test('with knownAuthorities and authorityMetadata msal makes no discovery call at all', async () => {
    h.requested.length = 0;
    const cca = confidentialClient(h, { clientSecret: h.emu.secrets!.automationClientSecret });
    await cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    // msal adds ?client-request-id=… to the token URL; what matters is that nothing else was asked.
    expect(h.requested.map((url) => url.split('?')[0])).toEqual([
      `${h.emu.baseUrl}/${SEED.tenantId}/oauth2/v2.0/token`,
    ]);
  });

  test('with knownAuthorities alone msal reads the emulator OpenID configuration (and accepts its issuer)', async () => {
    h.requested.length = 0;
    const { authority, knownAuthorities } = msalAuthorityOptions(h.config);
    const cca = new ConfidentialClientApplication({
      auth: {
        clientId: SEED.automationAppId,
        authority,
        knownAuthorities,
        clientSecret: h.emu.secrets!.automationClientSecret,
      },
      system: { networkClient: networkClient(h) },
    });
    const result = await cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    expect(result?.accessToken).toBeTruthy();
    expect(h.requested[0]).toBe(`${h.emu.baseUrl}/${SEED.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(h.requested.every((url) => url.startsWith(h.emu.baseUrl))).toBe(true);
  });
});

describe('Entra emulator: client credentials', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.emu.stop());

  test('a client secret yields an app-only token carrying the granted application permissions', async () => {
    const cca = confidentialClient(h, { clientSecret: h.emu.secrets!.automationClientSecret });
    const result = await cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    const issued = h.emu.world.tokens.get(result!.accessToken)!;
    expect(issued.principalType).toBe('app');
    expect(issued.appId).toBe(SEED.automationAppId);
    expect(issued.roles).toEqual([...SEED.automationApplicationPermissions]);
    expect(claimsOf(result!.accessToken).roles).toEqual([...SEED.automationApplicationPermissions]);
    // Expiry is an hour of virtual time from issue.
    expect(issued.expiresAt - h.emu.world.now()).toBeGreaterThan(3590_000);
    expect(issued.expiresAt - h.emu.world.now()).toBeLessThanOrEqual(3600_000);
  });

  test('the emulator base URL is accepted as the Graph resource too', async () => {
    const cca = confidentialClient(h, { clientSecret: h.emu.secrets!.automationClientSecret });
    const result = await cca.acquireTokenByClientCredential({ scopes: [`${h.emu.baseUrl}/.default`] });
    expect(h.emu.world.tokens.get(result!.accessToken)?.principalType).toBe('app');
  });

  test('a wrong secret is invalid_client AADSTS7000215 with HTTP 401', async () => {
    const cca = confidentialClient(h, { clientSecret: 'not-the-secret' });
    const error = await expectRejection(
      cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }),
    );
    expect(error).toBeInstanceOf(ServerError);
    expect(error.errorCode).toBe('invalid_client');
    expect(error.errorMessage).toContain('AADSTS7000215');
    expect(tokenCalls(h).at(-1)?.status).toBe(401);
  });

  test('a secret in an HTTP Basic header (client_secret_basic) is accepted', async () => {
    const basic = Buffer.from(
      `${SEED.automationAppId}:${encodeURIComponent(h.emu.secrets!.automationClientSecret)}`,
    ).toString('base64');
    const response = await postForm(
      h,
      TOKEN_PATH,
      { grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' },
      { authorization: `Basic ${basic}` },
    );
    expect(response.status).toBe(200);
    expect(response.body.token_type).toBe('Bearer');
  });

  test('a scope without /.default is invalid_scope AADSTS1002012', async () => {
    const cca = confidentialClient(h, { clientSecret: h.emu.secrets!.automationClientSecret });
    const error = await expectRejection(
      cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/User.Read.All'] }),
    );
    expect(error.errorCode).toBe('invalid_scope');
    expect(error.errorMessage).toContain('AADSTS1002012');
  });

  test('another resource is invalid_resource AADSTS500011', async () => {
    const cca = confidentialClient(h, { clientSecret: h.emu.secrets!.automationClientSecret });
    const error = await expectRejection(
      cca.acquireTokenByClientCredential({ scopes: ['https://management.azure.com/.default'] }),
    );
    expect(error.errorCode).toBe('invalid_resource');
    expect(error.errorMessage).toContain('AADSTS500011');
  });

  test('a public client cannot use client credentials (AADSTS7000218)', async () => {
    const response = await postForm(h, TOKEN_PATH, {
      grant_type: 'client_credentials',
      client_id: SEED.cliAppId,
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('invalid_client');
    expect(response.body.error_codes).toEqual([7000218]);
  });

  test('an unknown client is unauthorized_client AADSTS700016', async () => {
    const response = await postForm(h, TOKEN_PATH, {
      grant_type: 'client_credentials',
      client_id: '99999999-9999-4999-8999-999999999999',
      client_secret: 'x',
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('unauthorized_client');
    expect(response.body.error_codes).toEqual([700016]);
  });

  test('a registered certificate works with msal’s PS256 (x5t#S256) and RS256 (x5t) assertions', async () => {
    const certificate = generateClientCertificate({ clock: systemClock });
    const thumbprints = registerAppCertificate(h.emu.world, SEED.automationAppId, certificate.certificatePem);
    expect(thumbprints.thumbprintSha256).toBe(certificate.thumbprintSha256);
    const withSha256 = confidentialClient(h, {
      clientCertificate: { thumbprintSha256: thumbprints.thumbprintSha256, privateKey: certificate.privateKeyPem },
    });
    const ps256 = await withSha256.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    expect(h.emu.world.tokens.get(ps256!.accessToken)?.appId).toBe(SEED.automationAppId);
    const withSha1 = confidentialClient(h, {
      clientCertificate: { thumbprint: thumbprints.thumbprintSha1, privateKey: certificate.privateKeyPem },
    });
    const rs256 = await withSha1.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    expect(h.emu.world.tokens.get(rs256!.accessToken)?.roles).toEqual([...SEED.automationApplicationPermissions]);
  });

  test('a certificate can be registered through the control endpoint', async () => {
    const certificate = generateClientCertificate({ clock: systemClock });
    const response = await control(h, `apps/${SEED.automationAppId}/certificates`, {
      certificatePem: certificate.certificatePem,
    });
    expect(response.status).toBe(201);
    expect(response.body.thumbprintSha256).toBe(certificate.thumbprintSha256);
    expect(h.emu.world.apps.get(SEED.automationAppId)!.certificates.map((entry) => entry.thumbprintSha256)).toContain(
      certificate.thumbprintSha256,
    );
  });

  test('an unregistered certificate is invalid_client AADSTS700027', async () => {
    const stranger = generateClientCertificate({ clock: systemClock });
    const cca = confidentialClient(h, {
      clientCertificate: { thumbprintSha256: stranger.thumbprintSha256, privateKey: stranger.privateKeyPem },
    });
    const error = await expectRejection(
      cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }),
    );
    expect(error.errorCode).toBe('invalid_client');
    expect(error.errorMessage).toContain('AADSTS700027');
  });

  test('an assertion signed by another key under a registered thumbprint fails signature validation', async () => {
    const registered = generateClientCertificate({ clock: systemClock });
    const impostor = generateClientCertificate({ clock: systemClock });
    registerAppCertificate(h.emu.world, SEED.automationAppId, registered.certificatePem);
    const cca = confidentialClient(h, {
      clientCertificate: { thumbprintSha256: registered.thumbprintSha256, privateKey: impostor.privateKeyPem },
    });
    const error = await expectRejection(
      cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }),
    );
    expect(error.errorMessage).toContain('AADSTS700027: Client assertion failed signature validation');
  });
});

describe('Entra emulator: assertion lifetime follows the virtual clock', () => {
  test('msal’s assertion, valid by the system clock, is expired once the emulator clock is an hour ahead', async () => {
    const h = await harness();
    try {
      const certificate = generateClientCertificate({ clock: systemClock });
      registerAppCertificate(h.emu.world, SEED.automationAppId, certificate.certificatePem);
      const advanced = await control(h, 'clock/advance', { hours: 1 });
      expect(advanced.status).toBe(200);
      const cca = confidentialClient(h, {
        clientCertificate: { thumbprintSha256: certificate.thumbprintSha256, privateKey: certificate.privateKeyPem },
      });
      const error = await expectRejection(
        cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }),
      );
      expect(error.errorCode).toBe('invalid_client');
      expect(error.errorMessage).toContain('AADSTS700024');
    } finally {
      await h.emu.stop();
    }
  });
});

// One emulator for the whole block: its clock only moves forward and every test makes its own grants.
describe('Entra emulator: device code', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.emu.stop());

  test('protocol: pending until completed, then tokens, id_token and client_info; a code is redeemed once', async () => {
    const device = await postForm(h, DEVICECODE_PATH, {
      client_id: SEED.cliAppId,
      scope: 'User.ReadWrite openid profile offline_access',
    });
    expect(device.status).toBe(200);
    expect(device.body).toEqual(
      expect.objectContaining({
        expires_in: 900,
        interval: 1,
        verification_uri: `${h.emu.baseUrl}/_emulator/devicelogin`,
        user_code: expect.stringMatching(/^[A-Z0-9]{9}$/),
      }),
    );
    expect(device.body.message).toContain(device.body.user_code);
    const poll = () =>
      postForm(h, TOKEN_PATH, {
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        client_id: SEED.cliAppId,
        device_code: device.body.device_code,
        client_info: '1',
      });
    const pending = await poll();
    expect(pending.status).toBe(400);
    expect(pending.body.error).toBe('authorization_pending');
    expect(pending.body.error_codes).toEqual([70016]);

    completeDeviceCode(h.emu.world, device.body.user_code, ALICE);
    const done = await poll();
    expect(done.status).toBe(200);
    expect(done.body.scope.split(' ')).toEqual(expect.arrayContaining(['User.ReadWrite', 'openid', 'profile']));
    expect(done.body.refresh_token).toBeTruthy();
    expect(JSON.parse(Buffer.from(done.body.client_info, 'base64url').toString())).toEqual({
      uid: SEED.users.alice,
      utid: SEED.tenantId,
    });
    const issued = h.emu.world.tokens.get(done.body.access_token)!;
    expect(issued).toEqual(
      expect.objectContaining({ principalType: 'user', userId: SEED.users.alice, scopes: ['User.ReadWrite'] }),
    );

    // The id_token is signed with the key published at jwks_uri.
    const [header, payload, signature] = done.body.id_token.split('.');
    const jwks = (await (await h.fetch(`${h.emu.baseUrl}/${SEED.tenantId}/discovery/v2.0/keys`)).json()) as any;
    const kid = JSON.parse(Buffer.from(header, 'base64url').toString()).kid;
    const jwk = jwks.keys.find((key: any) => key.kid === kid);
    expect(
      cryptoVerify(
        'sha256',
        Buffer.from(`${header}.${payload}`),
        createPublicKey({ key: jwk, format: 'jwk' }),
        Buffer.from(signature, 'base64url'),
      ),
    ).toBe(true);

    const again = await poll();
    expect(again.body.error).toBe('invalid_grant');
  });

  test('msal sign-in completed through the control endpoint while msal polls', async () => {
    let completion: Promise<{ status: number }> | undefined;
    const result = await deviceCodeLogin(h, (response) => {
      expect(response.verificationUri).toBe(`${h.emu.baseUrl}/_emulator/devicelogin`);
      completion = control(h, 'devicecode/complete', { userCode: response.userCode, user: ALICE });
    });
    expect((await completion!).status).toBe(200);
    expect(result.account?.username).toBe(ALICE);
    expect(result.account?.localAccountId).toBe(SEED.users.alice);
    expect(result.account?.tenantId).toBe(SEED.tenantId);
    expect(result.idTokenClaims).toEqual(
      expect.objectContaining({
        aud: SEED.cliAppId,
        iss: `${h.emu.baseUrl}/${SEED.tenantId}/v2.0`,
        tid: SEED.tenantId,
        oid: SEED.users.alice,
        preferred_username: ALICE,
        name: 'Alice Adams',
      }),
    );
    expect(result.scopes).toEqual(expect.arrayContaining(['User.ReadWrite', 'GroupMember.ReadWrite.All']));
    expect(h.emu.world.tokens.get(result.accessToken)?.scopes).toEqual(['User.ReadWrite', 'GroupMember.ReadWrite.All']);
  });

  test('forceRefresh redeems the refresh token for a new access token and a new refresh token', async () => {
    const pca = publicClient(h);
    const first = (await pca.acquireTokenByDeviceCode({
      scopes: CLI_SCOPES,
      deviceCodeCallback: (r) => completeDeviceCode(h.emu.world, r.userCode, ALICE),
    }))!;
    const refreshTokensBefore = [...h.emu.world.tokens.values()].filter((token) => token.kind === 'refresh').length;
    const refreshed = await pca.acquireTokenSilent({ account: first.account!, scopes: CLI_SCOPES, forceRefresh: true });
    expect(refreshed.accessToken).not.toBe(first.accessToken);
    expect(h.emu.world.tokens.get(refreshed.accessToken)?.userId).toBe(SEED.users.alice);
    expect([...h.emu.world.tokens.values()].filter((token) => token.kind === 'refresh')).toHaveLength(
      refreshTokensBefore + 1,
    );
    expect(tokenCalls(h).at(-1)).toEqual(expect.objectContaining({ status: 200, principal: SEED.users.alice }));
  });

  test('token lifetimes follow the virtual clock: access token after 1 h, refresh token after 90 days', async () => {
    const pca = publicClient(h);
    const first = (await pca.acquireTokenByDeviceCode({
      scopes: CLI_SCOPES,
      deviceCodeCallback: (r) => completeDeviceCode(h.emu.world, r.userCode, ALICE),
    }))!;
    expect(h.emu.world.tokens.get(first.accessToken)!.expiresAt).toBeGreaterThan(h.emu.world.now());

    await control(h, 'clock/advance', { minutes: 61 });
    expect(h.emu.world.tokens.get(first.accessToken)!.expiresAt).toBeLessThanOrEqual(h.emu.world.now());
    // msal judges its cache by the system clock, so it still hands out the token the emulator considers expired…
    const cached = await pca.acquireTokenSilent({ account: first.account!, scopes: CLI_SCOPES });
    expect(cached.accessToken).toBe(first.accessToken);
    // …and a forced refresh gets one valid at virtual time.
    const renewed = await pca.acquireTokenSilent({ account: first.account!, scopes: CLI_SCOPES, forceRefresh: true });
    expect(h.emu.world.tokens.get(renewed.accessToken)!.expiresAt).toBeGreaterThan(h.emu.world.now());

    await control(h, 'clock/advance', { hours: 91 * 24 });
    const error = await expectRejection(
      pca.acquireTokenSilent({ account: first.account!, scopes: CLI_SCOPES, forceRefresh: true }),
    );
    expect(error).toBeInstanceOf(InteractionRequiredAuthError);
    expect(error.errorCode).toBe('invalid_grant');
    expect(error.errorMessage).toContain('AADSTS700082: The refresh token has expired due to inactivity');
  });

  test('a device code expires by the virtual clock: expired_token', async () => {
    const since = h.emu.world.requestLog.length;
    let userCode = '';
    const error = await expectRejection(
      deviceCodeLogin(h, (response) => {
        userCode = response.userCode;
        h.emu.world.clockOffsetMs += 16 * 60_000;
      }),
    );
    expect(error).toBeInstanceOf(MsalAuthError);
    expect(`${error.errorCode} ${error.errorMessage}`).toContain('expired_token');
    // One poll, answered at once: msal stops on expired_token rather than waiting out its own timer.
    expect(tokenCalls(h, since).map((entry) => entry.status)).toEqual([400]);
    expect((await control(h, 'devicecode/complete', { userCode, user: ALICE })).status).toBe(410);
  });

  test('a declined sign-in is authorization_declined', async () => {
    const error = await expectRejection(
      deviceCodeLogin(h, (r) => completeDeviceCode(h.emu.world, r.userCode, ALICE, { deny: true })),
    );
    expect(`${error.errorCode} ${error.errorMessage}`).toContain('authorization_declined');
  });

  test('revoking the user’s sessions voids the refresh token (AADSTS50173) but not the live access token', async () => {
    const pca = publicClient(h);
    const first = (await pca.acquireTokenByDeviceCode({
      scopes: CLI_SCOPES,
      deviceCodeCallback: (r) => completeDeviceCode(h.emu.world, r.userCode, ALICE),
    }))!;
    const live = (kind: 'access' | 'refresh') =>
      [...h.emu.world.tokens.values()].filter(
        (token) => token.userId === SEED.users.alice && token.kind === kind && !token.revoked,
      ).length;
    const liveRefreshTokens = live('refresh');
    const liveAccessTokens = live('access');
    expect(liveRefreshTokens).toBeGreaterThan(0);
    const revoked = await control(h, 'tokens/revoke', { user: ALICE });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked).toBe(liveRefreshTokens);
    expect(live('refresh')).toBe(0);
    expect(h.emu.world.tokens.get(first.accessToken)!.revoked).toBe(false);
    const error = await expectRejection(
      pca.acquireTokenSilent({ account: first.account!, scopes: CLI_SCOPES, forceRefresh: true }),
    );
    expect(error).toBeInstanceOf(InteractionRequiredAuthError);
    expect(error.errorMessage).toContain('AADSTS50173');
    // Continuous access evaluation cuts off only tokens of clients that declared cp1: this one did not.
    expect(liveAccessTokens).toBeGreaterThan(0);
    expect(revokeUserTokens(h.emu.world, ALICE, { accessTokens: true }).revoked).toBe(0);
    expect(h.emu.world.tokens.get(first.accessToken)!.revoked).toBe(false);
    const graph = await h.fetch(`${h.emu.baseUrl}/v1.0/me`, {
      headers: { authorization: `Bearer ${first.accessToken}` },
    });
    expect(graph.status).toBe(200);
  });

  test('continuous access evaluation: only a client that declares cp1 gets a claims challenge from Graph', async () => {
    const plain = publicClient(h);
    const capable = new PublicClientApplication({
      auth: { clientId: SEED.cliAppId, ...msalAuthorityOptions(h.config), clientCapabilities: ['cp1'] },
      system: { networkClient: networkClient(h) },
    });
    const signIn = (pca: PublicClientApplication) =>
      pca.acquireTokenByDeviceCode({
        scopes: CLI_SCOPES,
        deviceCodeCallback: (r) => completeDeviceCode(h.emu.world, r.userCode, 'carol@contoso.example'),
      });
    const withoutCp1 = (await signIn(plain))!;
    const withCp1 = (await signIn(capable))!;
    expect(h.emu.world.tokens.get(withCp1.accessToken)!.clientCapabilities).toEqual(['cp1']);
    expect(h.emu.world.tokens.get(withoutCp1.accessToken)!.clientCapabilities).toBeUndefined();

    revokeUserTokens(h.emu.world, 'carol@contoso.example', { accessTokens: true });
    const me = (token: string) =>
      h.fetch(`${h.emu.baseUrl}/v1.0/me`, { headers: { authorization: `Bearer ${token}` } });
    const challenged = await me(withCp1.accessToken);
    expect(challenged.status).toBe(401);
    const challenge = challenged.headers.get('www-authenticate')!;
    expect(challenge).toMatch(
      /^Bearer realm="", authorization_uri="[^"]+", error="insufficient_claims", claims="[A-Za-z0-9+/=]+"$/,
    );
    const claims = JSON.parse(Buffer.from(/claims="([^"]+)"/.exec(challenge)![1]!, 'base64').toString('utf8'));
    expect(claims).toEqual({ access_token: { nbf: { essential: true, value: expect.stringMatching(/^\d+$/) } } });
    // The client without cp1 is never challenged: its access token works until it expires.
    const unchallenged = await me(withoutCp1.accessToken);
    expect(unchallenged.status).toBe(200);
    expect(unchallenged.headers.get('www-authenticate')).toBeNull();
  });

  test('a disabled user can neither complete a sign-in nor refresh (AADSTS50057)', async () => {
    const pca = publicClient(h);
    const first = (await pca.acquireTokenByDeviceCode({
      scopes: CLI_SCOPES,
      deviceCodeCallback: (r) => completeDeviceCode(h.emu.world, r.userCode, 'dave@contoso.example'),
    }))!;
    const dave = h.emu.world.users.get(SEED.users.dave)!;
    dave.accountEnabled = false;
    try {
      const error = await expectRejection(
        pca.acquireTokenSilent({ account: first.account!, scopes: CLI_SCOPES, forceRefresh: true }),
      );
      // Not "interaction required": signing in again will not help a disabled account.
      expect(error).toBeInstanceOf(ServerError);
      expect(error).not.toBeInstanceOf(InteractionRequiredAuthError);
      expect(error.errorCode).toBe('invalid_grant');
      expect(error.errorMessage).toContain('AADSTS50057');
      const device = await postForm(h, DEVICECODE_PATH, { client_id: SEED.cliAppId, scope: 'openid' });
      expect(
        (await control(h, 'devicecode/complete', { userCode: device.body.user_code, user: 'dave@contoso.example' }))
          .status,
      ).toBe(403);
    } finally {
      dave.accountEnabled = true;
    }
  });

  test('a confidential app must authenticate to redeem a device code (AADSTS7000218)', async () => {
    const error = await expectRejection(
      deviceCodeLogin(h, (r) => completeDeviceCode(h.emu.world, r.userCode, ALICE), SEED.automationAppId, ['openid']),
    );
    expect(`${error.errorCode} ${error.errorMessage}`).toContain('invalid_client');
  });

  test('a delegated permission the app was not consented for is invalid_grant AADSTS65001 consent_required', async () => {
    const device = await postForm(h, DEVICECODE_PATH, {
      client_id: SEED.cliAppId,
      scope: 'Mail.Read openid offline_access',
    });
    completeDeviceCode(h.emu.world, device.body.user_code, 'bob@contoso.example');
    const response = await postForm(h, TOKEN_PATH, {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      client_id: SEED.cliAppId,
      device_code: device.body.device_code,
    });
    expect(response.body.error).toBe('invalid_grant');
    expect(response.body.error_codes).toEqual([65001]);
    expect(response.body.suberror).toBe('consent_required');
  });

  test('the control endpoint names an unknown user code or user', async () => {
    expect((await control(h, 'devicecode/complete', { userCode: 'NOPE12345', user: ALICE })).status).toBe(404);
    const device = await postForm(h, DEVICECODE_PATH, { client_id: SEED.cliAppId, scope: 'openid' });
    const unknownUser = await control(h, 'devicecode/complete', {
      userCode: device.body.user_code,
      user: 'nobody@contoso.example',
    });
    expect(unknownUser.status).toBe(404);
    expect(unknownUser.body.message).toContain('nobody@contoso.example');
    const pending = (await (await h.fetch(`${h.emu.baseUrl}/_emulator/devicecodes`)).json()) as any;
    expect(pending.pending.map((entry: any) => entry.userCode)).toContain(device.body.user_code);
    completeDeviceCode(h.emu.world, device.body.user_code, ALICE);
    const after = (await (await h.fetch(`${h.emu.baseUrl}/_emulator/devicecodes`)).json()) as any;
    expect(after.pending.map((entry: any) => entry.userCode)).not.toContain(device.body.user_code);
  });
});

describe('Entra emulator: browser sign-in (authorization code + PKCE)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.emu.stop());

  function unescapeHtml(value: string): string {
    return value.replace(/&#(\d+);/g, (_match, code: string) => String.fromCharCode(Number(code)));
  }

  /** Plays the browser: loads the authorize URL, then submits the form_post page to the loopback listener. */
  async function browser(url: string): Promise<void> {
    const page = await (await h.fetch(url)).text();
    const action = unescapeHtml(/<form method="POST" name="hiddenform" action="([^"]+)"/.exec(page)![1]!);
    const fields = [...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map(
      ([, name, value]): [string, string] => [unescapeHtml(name!), unescapeHtml(value!)],
    );
    await fetch(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  test('msal acquireTokenInteractive signs bob in through the loopback redirect', async () => {
    const pca = publicClient(h);
    const result = await pca.acquireTokenInteractive({
      scopes: CLI_SCOPES,
      loginHint: `bob@${SEED.domain}`,
      openBrowser: browser,
    });
    expect(result.account?.username).toBe(`bob@${SEED.domain}`);
    expect(h.emu.world.tokens.get(result.accessToken)?.userId).toBe(SEED.users.bob);
    const silent = await pca.acquireTokenSilent({ account: result.account!, scopes: CLI_SCOPES, forceRefresh: true });
    expect(h.emu.world.tokens.get(silent.accessToken)?.userId).toBe(SEED.users.bob);
  });

  test('a code redeemed with the wrong PKCE verifier is invalid_grant AADSTS501481', async () => {
    const authorize = new URL(`${h.emu.baseUrl}/${SEED.tenantId}/oauth2/v2.0/authorize`);
    const redirectUri = 'http://localhost:9/';
    authorize.search = new URLSearchParams({
      client_id: SEED.cliAppId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid offline_access User.ReadWrite',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      login_hint: ALICE,
    }).toString();
    const response = await h.fetch(authorize, { redirect: 'manual' });
    expect(response.status).toBe(302);
    const code = new URL(response.headers.get('location')!).searchParams.get('code')!;
    const redeem = (verifier: string) =>
      postForm(h, TOKEN_PATH, {
        grant_type: 'authorization_code',
        client_id: SEED.cliAppId,
        code,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      });
    const wrong = await redeem('not-the-verifier-not-the-verifier-not-the-verifier');
    expect(wrong.body.error_codes).toEqual([501481]);
    // RFC 7636 appendix B's verifier for that challenge.
    const right = await redeem('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk');
    expect(right.status).toBe(200);
    expect((await redeem('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).body.error_codes).toEqual([54005]);
  });
});
