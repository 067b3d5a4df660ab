/**
 * The sign-in adapter against the in-process emulator, with the real
 * @azure/msal-node underneath: token store selection and its file rules,
 * device code and browser login, silent tokens that follow the (virtual)
 * clock, logout, and the automation's app-only token from a secret or a
 * certificate.
 */
import { mkdtemp, readFile, stat, writeFile, chmod, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmulator, clientConfig, type RunningEmulator } from '../../src/emulator/index.js';
import { SEED } from '../../src/emulator/seed.js';
import { configureEntra, registerAppCertificate, signInBrowser } from '../../src/emulator/entra/index.js';
import { delegatedScopes } from '../../src/adapters/auth/scopes.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { systemClock, type Clock } from '../../src/context.js';
import { AuthError, ConfigError, OciAccessError, StateError, UpstreamError, UsageError } from '../../src/errors.js';
import { fetchWithCa } from '../../src/adapters/http/tls.js';
import {
  AuthSession,
  CLI_SCOPES,
  appOnlyGraphScope,
  msalAuthorityOptions,
  openTokenStore,
  osKeyring,
  type AuthSessionDeps,
  type KeyringBackend,
} from '../../src/adapters/auth/index.js';
import { generateClientCertificate } from '../../src/adapters/auth/certificate.js';
import { caught } from '../store/support/helpers.js';
import { postControl } from '../support/emulator-control.js';

const ALICE = `alice@${SEED.domain}`;

let emu: RunningEmulator;
let baseConfig: Config;
let controlFetch: typeof fetch;
/** The CLI's clock under the emulator: the emulator's virtual time. */
let virtualClock: Clock;

beforeAll(async () => {
  emu = await startEmulator();
  baseConfig = configSchema.parse(
    clientConfig(emu.baseUrl, {
      caFile: emu.caFile,
      ociConfigFile: emu.ociConfigFile,
      automationSecretFile: emu.automationSecretFile,
    }),
  );
  configureEntra(emu.world, { deviceCodeIntervalSeconds: 1 });
  controlFetch = fetchWithCa(emu.caFile);
  virtualClock = { now: () => new Date(emu.world.now()), sleep: systemClock.sleep };
});
afterAll(async () => emu.stop());

async function control(pathName: string, body: unknown): Promise<number> {
  const response = await postControl(controlFetch, emu.baseUrl, pathName, body);
  await response.arrayBuffer();
  return response.status;
}

async function advance(body: { minutes?: number; hours?: number }): Promise<void> {
  expect(await control('clock/advance', body)).toBe(200);
}

/** A keychain that works, kept in memory, recording what was asked of it. */
function memoryKeyring() {
  const entries = new Map<string, string>();
  const calls: string[] = [];
  const backend: KeyringBackend = {
    get: async (service, account) => {
      calls.push('get');
      return entries.get(`${service}\u0000${account}`) ?? null;
    },
    set: async (service, account, value) => {
      calls.push('set');
      entries.set(`${service}\u0000${account}`, value);
    },
    delete: async (service, account) => {
      calls.push('delete');
      entries.delete(`${service}\u0000${account}`);
    },
  };
  return { entries, calls, keyring: async () => backend };
}

/** What @napi-rs/keyring does on a Linux host without a Secret Service. */
function unreachableKeyring(): () => Promise<KeyringBackend> {
  const fail = async (): Promise<never> => {
    throw new Error("Couldn't access platform storage: AccessDenied");
  };
  return async () => ({ get: fail, set: fail, delete: fail });
}

async function stateDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'ociaccess-auth-'));
}

interface SessionSetup {
  session: AuthSession;
  stateDir: string;
  requested: string[];
}

async function newSession(
  options: { config?: Config; deps?: Partial<AuthSessionDeps>; dir?: string } = {},
): Promise<SessionSetup> {
  const dir = options.dir ?? (await stateDir());
  const requested: string[] = [];
  const session = new AuthSession(options.config ?? baseConfig, {
    clock: virtualClock,
    env: { OCIACCESS_TOKEN_STORE: 'file' },
    stateDir: dir,
    platform: process.platform,
    observer: { onRequest: (method, url) => requested.push(`${method} ${url}`) },
    ...options.deps,
  });
  return { session, stateDir: dir, requested };
}

/** Signs `user` in through the device code flow, completing it "in the browser" via the control endpoint. */
async function deviceLogin(session: AuthSession, user = ALICE) {
  const prompts: { message: string; userCode: string; verificationUri: string }[] = [];
  let completion: Promise<number> | undefined;
  const account = await session.loginWithDeviceCode((message, userCode, verificationUri) => {
    prompts.push({ message, userCode, verificationUri });
    completion = control('devicecode/complete', { userCode, user });
  });
  expect(await completion).toBe(200);
  return { account, prompts };
}

const rejection = (promise: Promise<unknown>): Promise<any> => caught(() => promise);

function modeOf(stats: { mode: number }): number {
  return stats.mode & 0o777;
}

describe('token store selection', () => {
  test('no reachable keychain: falls back to a 0600 file and warns once per machine', async () => {
    const dir = await stateDir();
    const store = await openTokenStore({
      stateDir: dir,
      env: {},
      platform: process.platform,
      keyring: unreachableKeyring(),
    });
    expect(store.kind).toBe('file');
    expect(store.fallbackReason).toContain('AccessDenied');
    expect(store.description).toContain(path.join(dir, 'auth', 'msal-cache.json'));
    const warning = await store.takeFallbackWarning();
    expect(warning).toContain('No OS keychain is reachable');
    expect(warning).toContain('OCIACCESS_TOKEN_STORE=file');
    expect(await store.takeFallbackWarning()).toBeUndefined();
    // A later run on the same machine is not warned again, but still knows why.
    const later = await openTokenStore({
      stateDir: dir,
      env: {},
      platform: process.platform,
      keyring: unreachableKeyring(),
    });
    expect(later.fallbackReason).toContain('AccessDenied');
    expect(await later.takeFallbackWarning()).toBeUndefined();
  });

  const headlessLinux = process.platform === 'linux' && !process.env.DBUS_SESSION_BUS_ADDRESS;
  (headlessLinux ? test : test.skip)(
    'on this headless Linux host the real @napi-rs/keyring is unreachable and the fallback is reported',
    async () => {
      const store = await openTokenStore({
        stateDir: await stateDir(),
        env: {},
        platform: 'linux',
        keyring: osKeyring,
      });
      expect(store.kind).toBe('file');
      expect(store.fallbackReason).toBeTruthy();
      expect(await store.takeFallbackWarning()).toMatch(/No OS keychain is reachable/);
    },
  );

  test('OCIACCESS_TOKEN_STORE=file uses the file without asking the keychain or warning', async () => {
    const keychain = memoryKeyring();
    const store = await openTokenStore({
      stateDir: await stateDir(),
      env: { OCIACCESS_TOKEN_STORE: 'file' },
      platform: process.platform,
      keyring: keychain.keyring,
    });
    expect(store.kind).toBe('file');
    expect(store.fallbackReason).toBeUndefined();
    expect(await store.takeFallbackWarning()).toBeUndefined();
    expect(keychain.calls).toEqual([]);
  });

  test('OCIACCESS_TOKEN_STORE=keychain without a keychain is an error, not a silent fallback', async () => {
    const error = await rejection(
      openTokenStore({
        stateDir: await stateDir(),
        env: { OCIACCESS_TOKEN_STORE: 'keychain' },
        platform: process.platform,
        keyring: unreachableKeyring(),
      }),
    );
    expect(error).toBeInstanceOf(AuthError);
    expect(error.code).toBe('TOKEN_STORE_UNAVAILABLE');
    expect(error.hint).toContain('OCIACCESS_TOKEN_STORE=file');
  });

  test('an unknown OCIACCESS_TOKEN_STORE value is a usage error', async () => {
    const error = await rejection(
      openTokenStore({
        stateDir: await stateDir(),
        env: { OCIACCESS_TOKEN_STORE: 'floppy' },
        platform: process.platform,
      }),
    );
    expect(error).toBeInstanceOf(UsageError);
    expect(error.code).toBe('TOKEN_STORE_INVALID');
  });

  test('keychain: the cache is encrypted on disk with a key kept in the keychain', async () => {
    const keychain = memoryKeyring();
    const { session, stateDir: dir } = await newSession({ deps: { env: {}, keyring: keychain.keyring } });
    expect((await session.tokenStore()).kind).toBe('keychain');
    await deviceLogin(session);
    expect(keychain.entries.size).toBe(1);
    const encrypted = path.join(dir, 'auth', 'msal-cache.enc');
    expect(modeOf(await stat(encrypted))).toBe(0o600);
    const onDisk = await readFile(encrypted, 'utf8');
    expect(onDisk).not.toContain(ALICE);
    expect(onDisk).not.toContain('emu-rt.');
    // Another run with the same keychain reads it back…
    const again = await newSession({ dir, deps: { env: {}, keyring: keychain.keyring } });
    expect((await again.session.currentAccount())?.username).toBe(ALICE);
    // …one whose keychain lost the key cannot, and says the user is not signed in.
    const lostKey = await newSession({ dir, deps: { env: {}, keyring: memoryKeyring().keyring } });
    expect(await lostKey.session.currentAccount()).toBeNull();
    expect((await rejection(lostKey.session.getAccessToken())).code).toBe('NOT_SIGNED_IN');
  });

  const posix = process.platform !== 'win32';
  (posix ? test : test.skip)('a token cache directory open to others is refused with the chmod fix', async () => {
    const dir = await stateDir();
    await openTokenStore({ stateDir: dir, env: { OCIACCESS_TOKEN_STORE: 'file' }, platform: process.platform });
    const authDir = path.join(dir, 'auth');
    expect(modeOf(await stat(authDir))).toBe(0o700);
    await chmod(authDir, 0o755);
    const error = await rejection(
      openTokenStore({ stateDir: dir, env: { OCIACCESS_TOKEN_STORE: 'file' }, platform: process.platform }),
    );
    expect(error).toBeInstanceOf(StateError);
    expect(error.code).toBe('STATE_PERMISSIONS');
    expect(error.message).toContain('sign-in tokens');
    expect(error.hint).toContain(`chmod 700 ${authDir}`);
  });

  (posix ? test : test.skip)('a token cache file readable by others is refused with the chmod fix', async () => {
    const { session, stateDir: dir } = await newSession();
    await deviceLogin(session);
    const file = path.join(dir, 'auth', 'msal-cache.json');
    expect(modeOf(await stat(file))).toBe(0o600);
    await chmod(file, 0o644);
    const error = await rejection(
      openTokenStore({ stateDir: dir, env: { OCIACCESS_TOKEN_STORE: 'file' }, platform: process.platform }),
    );
    expect(error.code).toBe('STATE_PERMISSIONS');
    expect(error.hint).toContain(`chmod 600 ${file}`);
  });
});

describe('signing in and delegated tokens', () => {
  test('device code login: the prompt carries the code, the account persists for the next command', async () => {
    const { session, stateDir: dir, requested } = await newSession();
    const { account, prompts } = await deviceLogin(session);
    expect(account).toEqual({
      username: ALICE,
      name: 'Alice Adams',
      objectId: SEED.users.alice,
      tenantId: SEED.tenantId,
      homeAccountId: `${SEED.users.alice}.${SEED.tenantId}`,
    });
    expect(prompts).toHaveLength(1);
    expect(prompts[0]!.message).toContain(prompts[0]!.userCode);
    expect(prompts[0]!.verificationUri).toBe(`${emu.baseUrl}/_emulator/devicelogin`);
    // No discovery, no public cloud: only the emulator's devicecode and token endpoints.
    expect(new Set(requested.map((entry) => entry.split('?')[0]))).toEqual(
      new Set([
        `POST ${emu.baseUrl}/${SEED.tenantId}/oauth2/v2.0/devicecode`,
        `POST ${emu.baseUrl}/${SEED.tenantId}/oauth2/v2.0/token`,
      ]),
    );
    const nextCommand = await newSession({ dir });
    expect((await nextCommand.session.currentAccount())?.username).toBe(ALICE);
  });

  test("getAccessToken gives a Graph token the emulator accepts, with a requester's scopes by default and more when asked", async () => {
    const { session } = await newSession();
    await deviceLogin(session);
    const token = await session.getAccessToken();
    const issued = emu.world.tokens.get(token.token)!;
    expect(issued).toEqual(expect.objectContaining({ principalType: 'user', userId: SEED.users.alice }));
    expect(issued.scopes).toEqual(delegatedScopes('requester').filter((scope) => scope !== 'offline_access'));
    // An approver's scopes, later, from the same sign-in (the tenant consented to them).
    const approver = await session.getAccessToken(delegatedScopes('approver'));
    expect(emu.world.tokens.get(approver.token)!.scopes).toContain('GroupMember.ReadWrite.All');
    expect(token.expiresOn.getTime()).toBe(issued.expiresAt);
    expect(token.account?.username).toBe(ALICE);
  });

  test('a token expired by the virtual clock is renewed even though msal would still hand it out', async () => {
    const { session } = await newSession();
    await deviceLogin(session);
    const first = await session.getAccessToken();
    expect((await session.getAccessToken()).token).toBe(first.token);
    await advance({ minutes: 61 });
    const second = await session.getAccessToken();
    expect(second.token).not.toBe(first.token);
    expect(emu.world.tokens.get(second.token)!.expiresAt).toBeGreaterThan(emu.world.now());
    const forced = await session.getAccessToken(CLI_SCOPES, { forceRefresh: true });
    expect(forced.token).not.toBe(second.token);
  });

  test('a refresh token past its 90 days is SESSION_EXPIRED with the login hint', async () => {
    const { session } = await newSession();
    await deviceLogin(session);
    await advance({ hours: 91 * 24 });
    const error = await rejection(session.getAccessToken());
    expect(error).toBeInstanceOf(AuthError);
    expect(error.code).toBe('SESSION_EXPIRED');
    expect(error.exitCode).toBe(4);
    expect(error.message).toContain('AADSTS700082');
    expect(error.hint).toContain('ociaccess login');
  });

  test('sessions revoked by an admin are SESSION_EXPIRED at the next refresh', async () => {
    const { session } = await newSession();
    await deviceLogin(session, `carol@${SEED.domain}`);
    expect(await control('tokens/revoke', { user: `carol@${SEED.domain}` })).toBe(200);
    const error = await rejection(session.getAccessToken(CLI_SCOPES, { forceRefresh: true }));
    expect(error.code).toBe('SESSION_EXPIRED');
    expect(error.message).toContain('AADSTS50173');
  });

  test('nobody signed in is NOT_SIGNED_IN', async () => {
    const { session } = await newSession();
    expect(await session.currentAccount()).toBeNull();
    const error = await rejection(session.getAccessToken());
    expect(error.code).toBe('NOT_SIGNED_IN');
    expect(error.hint).toContain('ociaccess login');
  });

  test('logout forgets the account and deletes the cache file', async () => {
    const { session, stateDir: dir } = await newSession();
    await deviceLogin(session);
    expect(await readdir(path.join(dir, 'auth'))).toContain('msal-cache.json');
    expect((await session.logout())?.username).toBe(ALICE);
    expect(await session.currentAccount()).toBeNull();
    expect(await readdir(path.join(dir, 'auth'))).not.toContain('msal-cache.json');
    expect((await rejection(session.getAccessToken())).code).toBe('NOT_SIGNED_IN');
    expect(await session.logout()).toBeNull();
  });

  test('a new login replaces the previous account', async () => {
    const { session, stateDir: dir } = await newSession();
    await deviceLogin(session, ALICE);
    await deviceLogin(session, `bob@${SEED.domain}`);
    const fresh = await newSession({ dir });
    expect((await fresh.session.currentAccount())?.username).toBe(`bob@${SEED.domain}`);
    expect(emu.world.tokens.get((await fresh.session.getAccessToken()).token)?.userId).toBe(SEED.users.bob);
  });

  test('a device code left unused past its lifetime is DEVICE_CODE_EXPIRED', async () => {
    const { session } = await newSession();
    const error = await rejection(
      session.loginWithDeviceCode(() => {
        emu.world.clockOffsetMs += 16 * 60_000;
      }),
    );
    expect(error).toBeInstanceOf(AuthError);
    expect(error.code).toBe('DEVICE_CODE_EXPIRED');
  });

  test('a declined sign-in is LOGIN_DECLINED', async () => {
    const { session } = await newSession();
    let completion: Promise<number> | undefined;
    const error = await rejection(
      session.loginWithDeviceCode((_message, userCode) => {
        completion = control('devicecode/complete', { userCode, user: ALICE, deny: true });
      }),
    );
    expect(await completion).toBe(200);
    expect(error.code).toBe('LOGIN_DECLINED');
  });

  test('an abort (Ctrl-C) stops waiting for the code: LOGIN_CANCELLED', async () => {
    const controller = new AbortController();
    const { session } = await newSession({ deps: { abortSignal: controller.signal } });
    const error = await rejection(session.loginWithDeviceCode(() => controller.abort()));
    expect(error.code).toBe('LOGIN_CANCELLED');
  });

  test('a client id whose app does not allow public client flows is LOGIN_FAILED with that fix', async () => {
    const { session } = await newSession({ config: { ...baseConfig, clientId: SEED.automationAppId } });
    const error = await rejection(
      session.loginWithDeviceCode(
        (_message, userCode) => void control('devicecode/complete', { userCode, user: ALICE }),
      ),
    );
    expect(error.code).toBe('LOGIN_FAILED');
    // Entra's own code and description (AADSTS7000218: the app wants a client secret, i.e. public client flows are off).
    expect(error.message).toContain('AADSTS7000218');
    expect(error.hint).toContain('Allow public client flows');
  });

  test('browser login through the loopback redirect', async () => {
    signInBrowser(emu.world, `carol@${SEED.domain}`);
    try {
      const opened: string[] = [];
      const { session } = await newSession({
        deps: {
          openBrowser: async (url) => {
            opened.push(url);
            const page = await (await controlFetch(url)).text();
            const action = /action="([^"]+)"/
              .exec(page)![1]!
              .replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)));
            const fields = [...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map(
              ([, name, value]): [string, string] => [name!, value!],
            );
            await fetch(action, {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: new URLSearchParams(fields).toString(),
            });
          },
        },
      });
      const account = await session.loginInteractive();
      expect(account.username).toBe(`carol@${SEED.domain}`);
      expect(opened[0]).toMatch(new RegExp(`^${emu.baseUrl}/${SEED.tenantId}/oauth2/v2.0/authorize\\?`));
      expect(new URL(opened[0]!).searchParams.get('code_challenge_method')).toBe('S256');
    } finally {
      signInBrowser(emu.world, null);
    }
  });

  test('browser login without a browser says to use the device code', async () => {
    const { session } = await newSession();
    const error = await rejection(session.loginInteractive());
    expect(error.code).toBe('BROWSER_UNAVAILABLE');
    expect(error.hint).toContain('--device-code');
  });
});

describe('the automation’s app-only token', () => {
  test('from the secret file: a Graph token carrying the application permissions, reused until stale by the clock', async () => {
    const { session } = await newSession();
    const token = await session.getAppToken();
    const issued = emu.world.tokens.get(token.token)!;
    expect(issued).toEqual(expect.objectContaining({ principalType: 'app', appId: SEED.automationAppId }));
    expect(issued.roles).toEqual([...SEED.automationApplicationPermissions]);
    expect(token.scopes).toEqual([appOnlyGraphScope(baseConfig.cloud.graphBaseUrl)]);
    expect((await session.getAppToken()).token).toBe(token.token);
    await advance({ minutes: 61 });
    const renewed = await session.getAppToken();
    expect(renewed.token).not.toBe(token.token);
    expect(emu.world.tokens.get(renewed.token)!.expiresAt).toBeGreaterThan(emu.world.now());
  });

  test('from an environment variable named by clientSecretEnv, never from argv', async () => {
    const config = {
      ...baseConfig,
      automation: { clientId: SEED.automationAppId, clientSecretEnv: 'OCIACCESS_TEST_SECRET' },
    };
    const { session } = await newSession({
      config,
      deps: { env: { OCIACCESS_TOKEN_STORE: 'file', OCIACCESS_TEST_SECRET: emu.secrets!.automationClientSecret } },
    });
    expect(emu.world.tokens.get((await session.getAppToken()).token)?.principalType).toBe('app');

    const missing = await newSession({ config, deps: { env: {} } });
    const error = await rejection(missing.session.getAppToken());
    expect(error.code).toBe('AUTOMATION_SECRET_MISSING');
    expect(error.message).toContain('OCIACCESS_TEST_SECRET');
  });

  test('a rejected secret is AUTOMATION_CREDENTIAL_REJECTED and the secret appears nowhere in the error', async () => {
    const dir = await stateDir();
    const wrongSecret = 'wrong~Secret~Value~4f9c2b7e1d';
    const secretFile = path.join(dir, 'automation-secret');
    await writeFile(secretFile, `${wrongSecret}\n`, { mode: 0o600 });
    const config = { ...baseConfig, automation: { clientId: SEED.automationAppId, clientSecretFile: secretFile } };
    const { session } = await newSession({ config, dir });
    const error = await rejection(session.getAppToken());
    expect(error).toBeInstanceOf(AuthError);
    expect(error.code).toBe('AUTOMATION_CREDENTIAL_REJECTED');
    expect(error.message).toContain('AADSTS7000215');
    expect(error.message).toContain(secretFile);
    const everything = [
      error.message,
      error.hint,
      JSON.stringify((error as OciAccessError).toJSON()),
      String(error.stack),
      String(error.cause?.message),
      String(error.cause?.stack),
    ].join('\n');
    expect(everything).not.toContain(wrongSecret);
    expect(everything).not.toContain(emu.secrets!.automationClientSecret);
  });

  test('from a certificate: the assertion is signed with the context clock, so it holds hours ahead in virtual time', async () => {
    const dir = await stateDir();
    const certificate = generateClientCertificate({ clock: virtualClock });
    registerAppCertificate(emu.world, SEED.automationAppId, certificate.certificatePem);
    const certificateFile = path.join(dir, 'automation.crt');
    const certificateKeyFile = path.join(dir, 'automation.key');
    await writeFile(certificateFile, certificate.certificatePem);
    await writeFile(certificateKeyFile, certificate.privateKeyPem, { mode: 0o600 });
    const config = {
      ...baseConfig,
      automation: { clientId: SEED.automationAppId, certificateFile, certificateKeyFile },
    };
    await advance({ hours: 2 });
    const { session } = await newSession({ config, dir });
    const token = await session.getAppToken();
    expect(emu.world.tokens.get(token.token)).toEqual(
      expect.objectContaining({ principalType: 'app', appId: SEED.automationAppId }),
    );
  });

  test('a certificate the app does not know is AUTOMATION_CREDENTIAL_REJECTED (AADSTS700027)', async () => {
    const dir = await stateDir();
    const stranger = generateClientCertificate({ clock: virtualClock });
    const certificateKeyFile = path.join(dir, 'automation.key');
    await writeFile(certificateKeyFile, stranger.privateKeyPem, { mode: 0o600 });
    const config = {
      ...baseConfig,
      automation: {
        clientId: SEED.automationAppId,
        certificateKeyFile,
        certificateThumbprintSha256: stranger.thumbprintSha256,
      },
    };
    const { session } = await newSession({ config, dir });
    const error = await rejection(session.getAppToken());
    expect(error.code).toBe('AUTOMATION_CREDENTIAL_REJECTED');
    expect(error.message).toContain('AADSTS700027');
    expect(error.message).not.toContain('PRIVATE KEY');
  });

  test('an unreadable secret file names the file and the fix', async () => {
    const config = {
      ...baseConfig,
      automation: { clientId: SEED.automationAppId, clientSecretFile: '/nonexistent/ociaccess-secret' },
    };
    const { session } = await newSession({ config });
    const error = await rejection(session.getAppToken());
    expect(error.code).toBe('AUTOMATION_SECRET_UNREADABLE');
    expect(error.message).toContain('/nonexistent/ociaccess-secret');
  });

  test('no automation section is a config error', async () => {
    const { session } = await newSession({ config: { ...baseConfig, automation: undefined } });
    expect(await rejection(session.getAppToken())).toBeInstanceOf(ConfigError);
  });

  test('an unreachable sign-in service is ENTRA_UNREACHABLE (exit 5)', async () => {
    const config = { ...baseConfig, cloud: { ...baseConfig.cloud, authorityHost: 'https://127.0.0.1:1' } };
    const { session } = await newSession({ config });
    const error = await rejection(session.getAppToken());
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.code).toBe('ENTRA_UNREACHABLE');
    expect(error.exitCode).toBe(5);
  });
});

describe('authority and scopes', () => {
  test('the authority is pinned to the configured host, with metadata built from the known layout', () => {
    const options = msalAuthorityOptions({
      ...baseConfig,
      cloud: { ...baseConfig.cloud, authorityHost: 'https://login.microsoftonline.us/' },
    });
    expect(options.authority).toBe(`https://login.microsoftonline.us/${SEED.tenantId}`);
    expect(options.knownAuthorities).toEqual(['login.microsoftonline.us']);
    expect(JSON.parse(options.authorityMetadata)).toEqual(
      expect.objectContaining({
        issuer: `https://login.microsoftonline.us/${SEED.tenantId}/v2.0`,
        token_endpoint: `https://login.microsoftonline.us/${SEED.tenantId}/oauth2/v2.0/token`,
        device_authorization_endpoint: `https://login.microsoftonline.us/${SEED.tenantId}/oauth2/v2.0/devicecode`,
      }),
    );
  });

  test('the CLI asks for exactly the documented delegated scopes per role, and app-only uses the cloud’s Graph /.default', () => {
    expect(delegatedScopes('requester')).toEqual([
      'User.ReadWrite',
      'User.Read.All',
      'offline_access',
      'Group.Read.All',
    ]);
    expect(delegatedScopes('approver')).toEqual([
      'User.ReadWrite',
      'User.Read.All',
      'offline_access',
      'Group.Read.All',
      'GroupMember.ReadWrite.All',
    ]);
    expect([...CLI_SCOPES]).toEqual([
      'User.ReadWrite',
      'User.Read.All',
      'offline_access',
      'Group.Read.All',
      'GroupMember.ReadWrite.All',
      'Synchronization.ReadWrite.All',
    ]);
    expect(appOnlyGraphScope('https://graph.microsoft.us/')).toBe('https://graph.microsoft.us/.default');
  });
});
