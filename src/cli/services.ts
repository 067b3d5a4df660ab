/**
 * Wires the real adapters into the ports the core uses. Loaded lazily (only
 * by commands that need the network), so `--help`, `--version` and flag
 * validation never import an SDK.
 */
import path from 'node:path';
import { offsetClock, type Clock, type Context } from '../context.js';
import type { Config } from '../config/schema.js';
import { ConfigError, UpstreamError, quoteInput } from '../errors.js';
import { requireOci } from '../config/oci.js';
import { terminalText, type Output } from './output.js';
import { stripControlsDeep } from '../core/text.js';
import type { CoreDeps } from '../core/deps.js';
import {
  DEFAULT_CONNECTIONS_PER_ORIGIN,
  READS_BESIDE_BATCHES,
  connectionsForCaFile,
  httpFetch,
  httpTimeoutMs,
  type HttpConnections,
} from '../adapters/http/tls.js';
import { GraphDirectory } from '../adapters/graph/graph-directory.js';
import type { DirectoryPort } from '../core/ports.js';
import { GraphPim } from '../adapters/graph/pim.js';
import type { OciDomain } from '../adapters/oci/oci-domain.js';
import { proxySettings } from '../adapters/http/proxy.js';
import { AuthSession, authSessionFromContext, type AccessToken } from '../adapters/auth/index.js';
import { delegatedScopes, type DelegatedRole } from '../adapters/auth/scopes.js';
import { openStateStore, stateLedger, type StateStore } from '../store/state-store.js';
import { auditRecorder } from '../store/audit-trail.js';
import { EventBus } from '../core/events.js';
import { openAuditLog, type AuditLog } from '../store/audit-log.js';
import { heartbeatLockOptions, runWithHeartbeat, type HeartbeatRun } from '../store/lock.js';
import { auditKeySource } from '../store/audit-key.js';

/** Sign-in as the commands use it, whichever the identity provider (Entra through MSAL, or Okta). */
export type SignInSession = Pick<
  AuthSession,
  | 'loginWithDeviceCode'
  | 'loginInteractive'
  | 'currentAccount'
  | 'logout'
  | 'getAccessToken'
  | 'getAppToken'
  | 'tokenStore'
>;

export interface Services {
  config: Config;
  clock: Clock;
  session: SignInSession;
  /** The delegated scopes a role signs in with, in the configured identity provider's terms. */
  scopesFor(role: DelegatedRole): string[];
  state: StateStore;
  auditLog: AuditLog;
  /**
   * The domain-event port every core call of this command emits through; the
   * audit log is its recorder. Add a subscriber with `events.subscribe(fn)`
   * (notifications, progress); `events.settled()` waits for them.
   */
  events: EventBus;
  /** Core dependencies acting as the signed-in user (delegated), with the permissions of that role (default: requester). */
  userDeps(role?: DelegatedRole): Promise<CoreDeps>;
  /** Core dependencies acting as the automation app (app-only), for sweep. */
  appDeps(options?: { concurrency?: number; batching?: boolean }): Promise<CoreDeps>;
  /**
   * Runs fn holding the sweep lock of this state directory (a heartbeat lock,
   * so a holder killed on any host is taken over within a minute); says who
   * holds it instead when another sweep does. fn's signal fires if the lock is lost.
   */
  withSweepLock<T>(fn: (lost: AbortSignal) => Promise<T>): Promise<HeartbeatRun<T>>;
  /** HTTP calls made so far through the Graph and OCI adapters (benchmarks and --debug). */
  requestCounts: { graph: number; oci: number };
}

/**
 * In a config written by `ociaccess emulator`, time is the emulator's virtual
 * time, so that the CLI and the emulator agree on expiries when a test or the
 * demo moves the clock forward.
 */
async function emulatorClock(config: Config, base: Clock, connections: HttpConnections): Promise<Clock> {
  // The schema has already refused a control URL outside the emulator's own config (https, loopback, its cloud).
  const controlUrl = config.emulator?.controlUrl;
  if (!controlUrl) return base;
  let offsetMs: number;
  try {
    const response = await httpFetch(connections)(`${controlUrl.replace(/\/+$/, '')}/clock`);
    const body = JSON.parse(await response.text()) as { offsetMs?: unknown };
    offsetMs = body.offsetMs === undefined ? 0 : Number(body.offsetMs);
  } catch (error) {
    throw new UpstreamError(
      'EMULATOR_UNREACHABLE',
      `The emulator named in the config (${controlUrl}) does not answer: ${(error as Error).message}.`,
      {
        hint: 'Start it with `ociaccess emulator`, or use a config without the "emulator" section.',
      },
    );
  }
  // The emulator's virtual clock only moves forward: an answer that would set this CLI back in
  // time (and so lengthen every grant) is not the emulator's.
  if (!Number.isFinite(offsetMs) || offsetMs < 0) {
    throw new UpstreamError(
      'EMULATOR_CLOCK_INVALID',
      `The emulator at ${controlUrl} reports a clock offset of ${quoteInput(String(offsetMs))} ms; its clock only moves forward, so ociaccess refuses to use it.`,
      {
        hint: 'Restart the emulator (`ociaccess emulator`) and use the config it writes; something else may be answering on its port.',
        details: { controlUrl },
      },
    );
  }
  return offsetClock(offsetMs, base);
}

/** Best effort: the URL is printed too, for machines without a desktop (no browser, no xdg-open, over SSH). */
async function openInBrowser(ctx: Context, url: string): Promise<void> {
  try {
    await ctx.openUrl?.(url);
  } catch {
    // Nothing to add: the person has the URL on stderr.
  }
}

export async function createServices(
  ctx: Context,
  out: Output,
  config: Config,
  options: {
    debug: boolean;
    /** $batch calls the command keeps in flight (default sweep.concurrency). */ concurrency?: number;
    /** Aborted when the command is over: Graph and OCI retries still waiting give up instead of holding the process. */
    stop?: AbortSignal;
    /** Sign-in is only read, never written (shell completion): see TokenStoreOptions.readOnly. */
    readOnly?: boolean;
  },
): Promise<Services> {
  // Connections per host: the $batch slots and the reads beside them, no more (each one more is
  // only another TLS handshake in the calls' way); never fewer than the default, so that a default
  // sweep shares its connections with sign-in.
  const connections = connectionsForCaFile(config.tls.caFile, {
    timeoutMs: httpTimeoutMs(ctx.env),
    proxy: proxySettings(ctx.env, config.network),
    connectionsPerOrigin: Math.max(
      DEFAULT_CONNECTIONS_PER_ORIGIN,
      (options.concurrency ?? config.sweep.concurrency) + READS_BESIDE_BATCHES,
    ),
  });
  // A state directory someone else owns is refused before anything is asked of anyone.
  const { inspectStateDir } = await import('../store/atomic-file.js');
  await inspectStateDir(ctx.paths.stateDir, { platform: ctx.platform, uid: ctx.uid });
  ctx.clock = await emulatorClock(config, ctx.clock, connections);
  const clock = ctx.clock;
  const host = { clock, pid: ctx.pid, hostname: ctx.hostname, platform: ctx.platform, uid: ctx.uid };
  // Trace lines quote URLs and the SDKs' own messages: cleaned like every other line on stderr.
  const trace = options.debug
    ? (line: string) => ctx.stderr.write(`debug: ${terminalText(line, { colour: false })}\n`)
    : undefined;
  const requestCounts = { graph: 0, oci: 0 };
  const okta = config.idp?.type === 'okta' ? config.idp : undefined;
  const oktaModule = okta ? await import('../adapters/idp/okta/index.js') : undefined;
  const oktaSession = oktaModule
    ? new oktaModule.OktaSession(okta!, {
        clock,
        env: ctx.env,
        stateDir: ctx.paths.stateDir,
        platform: ctx.platform,
        uid: ctx.uid,
        abortSignal: ctx.abortSignal,
        // Sign-in goes out on the same connections as every other call: one pool per origin.
        fetch: httpFetch(connections),
        readOnly: options.readOnly,
        cwd: ctx.cwd,
      })
    : undefined;
  const session: SignInSession =
    oktaSession ??
    authSessionFromContext(ctx, config, {
      openBrowser: async (url) => {
        out.info(`Opening the sign-in page in your browser. If it does not open, visit:\n  ${url}`);
        await openInBrowser(ctx, url);
      },
      observer: trace ? { onRequest: (method, url) => trace(`entra ${method} ${url.split('?')[0]}`) } : undefined,
      // Sign-in goes out on the same connections as Graph and OCI: one pool per origin.
      fetch: httpFetch(connections),
      readOnly: options.readOnly,
    });
  const state = openStateStore(ctx.paths.stateDir, host);
  const auditLog = openAuditLog(ctx.paths.stateDir, host, {
    key: auditKeySource({ env: ctx.env, configKeyFile: config.audit?.keyFile, cwd: ctx.cwd, platform: ctx.platform }),
  });
  // Audit entries name users, groups and reasons that came from Graph, OCI or records; the log
  // is read with `ociaccess audit`, but also with cat and less: its text holds no control characters.
  const events = new EventBus(
    auditRecorder(async (entries) => {
      await auditLog.appendMany(entries.map((entry) => stripControlsDeep(entry)));
    }),
    (error) => out.warn(`an event subscriber failed: ${(error as Error)?.message ?? String(error)}`),
  );
  const ledger = stateLedger(state);
  let ociDomain: Promise<OciDomain> | undefined;
  // The OCI SDK is large: loaded only by commands that talk to OCI.
  // Without an "oci" section (people's machines) the core never asks for it: it says "not checked" instead (core/oci-check.ts).
  const oci = async () => {
    const ociConfig = requireOci(config, 'This command');
    ociDomain ??= import('../adapters/oci/oci-domain.js').then(
      ({ OciDomain }) =>
        new OciDomain({
          domainUrl: ociConfig.domainUrl,
          configFile: path.resolve(ctx.cwd, ociConfig.configFile),
          profile: ociConfig.profile,
          access: ociConfig.access,
          connections,
          files: { platform: ctx.platform, uid: ctx.uid },
          sleep: (ms) => clock.sleep(ms, options.stop),
          stop: options.stop,
          trace,
          onRequest: (operation) => {
            requestCounts.oci += 1;
            trace?.(`oci ${operation}`);
          },
        }),
    );
    return ociDomain;
  };
  const graph = (
    identity: 'user' | 'app',
    getToken: (force: boolean) => Promise<string>,
    extra: { concurrency?: number; batching?: boolean } = {},
  ) =>
    new GraphDirectory({
      graphBaseUrl: config.cloud.graphBaseUrl,
      getToken,
      connections,
      clock,
      identity,
      concurrency: extra.concurrency ?? config.sweep.concurrency,
      batching: extra.batching,
      provisioning: config.provisioning,
      stop: options.stop,
      onRequest: () => {
        requestCounts.graph += 1;
      },
      trace,
    });
  const oktaDirectory = (identity: 'user' | 'app', getToken: (force: boolean) => Promise<string>) =>
    new oktaModule!.OktaDirectory({
      orgUrl: okta!.orgUrl,
      fetch: httpFetch(connections),
      getToken,
      // A DPoP-bound token (a service app that requires DPoP) is presented with a proof on every call.
      authorization: (token, method, url) => oktaSession!.authorizationFor(token, method, url),
      identity,
      clock,
      concurrency: options.concurrency ?? config.sweep.concurrency,
      stop: options.stop,
      onRequest: (method, url, status) => {
        requestCounts.graph += 1;
        trace?.(`okta ${method} ${url.split('?')[0]} -> ${status}`);
      },
    });
  const scopesFor = (role: DelegatedRole) =>
    oktaModule ? oktaModule.oktaDelegatedScopes(role) : delegatedScopes(role, config);
  const deps = (directory: DirectoryPort): CoreDeps => ({
    config,
    clock,
    ids: ctx.ids,
    directory,
    oci,
    state: ledger,
    events,
    // Over the same Graph client (and so the same sign-in) as the directory; Okta has no PIM (the schema refuses it).
    pim: directory instanceof GraphDirectory ? new GraphPim(directory, clock) : undefined,
  });
  let warned = false;
  return {
    config,
    clock,
    session,
    state,
    auditLog,
    events,
    requestCounts,
    scopesFor,
    async userDeps(role = 'requester') {
      // Only what this role uses: a tenant that consents to no more than that signs everyone in.
      const scopes = scopesFor(role);
      // Ask for the token before the first Graph call: a missing, expired or
      // revoked sign-in (or a permission without consent) then fails as itself
      // (exit 4, naming the fix) instead of inside the Graph client, which wraps it as an unknown error.
      await session.getAccessToken(scopes);
      const directory = (okta ? oktaDirectory : graph)('user', async (force) => {
        const token = await session.getAccessToken(scopes, { forceRefresh: force });
        if (!warned) {
          warned = true;
          const warning = await (await session.tokenStore()).takeFallbackWarning();
          if (warning) out.warn(warning);
        }
        return token.token;
      });
      return deps(directory);
    },
    async appDeps(extra = {}) {
      if (!config.automation && !okta) {
        throw new ConfigError(
          'CONFIG_INVALID',
          'This command runs as the automation app, but the config has no "automation" section.',
          {
            hint: 'Add automation.clientId and a credential (clientSecretFile, clientSecretEnv, or certificateFile + certificateKeyFile); see docs/configuration.md.',
          },
        );
      }
      // The sweep host holds the OCI key that writes: refuse one others can read before the sweep changes anything.
      const { assertOciFilesPrivate } = await import('../adapters/oci/key-file.js');
      if (config.oci)
        assertOciFilesPrivate(path.resolve(ctx.cwd, config.oci.configFile), config.oci.profile, {
          platform: ctx.platform,
          uid: ctx.uid,
        });
      // A sweep makes hundreds of calls, side by side: one token serves them
      // all until it is five minutes from expiry (asking MSAL's cache each
      // time costs real CPU), and one request fetches it.
      let current: AccessToken | undefined;
      let inFlight: Promise<AccessToken> | undefined;
      const appToken = async (force: boolean) => {
        if (!force && current && current.expiresOn.getTime() - clock.now().getTime() > 5 * 60_000) return current.token;
        inFlight ??= session.getAppToken({ forceRefresh: force }).finally(() => {
          inFlight = undefined;
        });
        current = await inFlight;
        return current.token;
      };
      // Asked for now, while the caller takes the sweep lock and reads its state; a failure shows at the first call.
      appToken(false).catch(() => undefined);
      return deps(okta ? oktaDirectory('app', appToken) : graph('app', appToken, extra));
    },
    async withSweepLock(fn) {
      const file = path.join(ctx.paths.stateDir, 'sweep.lock');
      const { ensureStateDir } = await import('../store/atomic-file.js');
      await ensureStateDir(ctx.paths.stateDir, { platform: ctx.platform, uid: ctx.uid });
      // The state directory may be a volume shared by hosts (CronJob pods): its
      // lock is judged by heartbeat, not by a pid only this host can check.
      return runWithHeartbeat(
        file,
        heartbeatLockOptions({ clock, pid: ctx.pid, hostname: ctx.hostname }, 'a sweep'),
        fn,
      );
    },
  };
}
