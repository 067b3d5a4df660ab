/**
 * The sign-in API the commands use: log a person in (device code or
 * browser), hand out access tokens for Graph, sign out, and get the
 * automation's app-only token. MSAL's errors become typed errors with stable
 * codes and a hint; MSAL itself stays behind this file.
 *
 * Time comes from the context's clock, not from MSAL: MSAL judges a cached
 * token by the system time, which under the emulator's virtual clock is
 * hours behind. So a token whose own `exp` is (nearly) past by our clock is
 * refreshed even when MSAL would still hand it out.
 */
import type { HttpFetch } from '../http/tls.js';
import { describeUnreachable, limitErrorOf, unreachableCodeIn } from '../http/request.js';
import {
  AuthError as MsalAuthError,
  InteractionRequiredAuthError,
  ServerError,
  type AccountInfo,
  type AuthenticationResult,
  type ConfidentialClientApplication,
  type DeviceCodeRequest,
  type PublicClientApplication,
} from '@azure/msal-node';
import type { Clock, Context } from '../../context.js';
import { AuthError, UpstreamError, type OciAccessError } from '../../errors.js';
import { describeAutomationCredential } from './credentials.js';
import {
  createMsalConfidentialClient,
  createMsalPublicClient,
  type AuthAdapterConfig,
  type MsalLogLevel,
} from './msal.js';
import { MSAL_NETWORK_ERROR, type NetworkObserver } from './network.js';
import { appOnlyGraphScope, delegatedScopes, scopesBeyondRequester } from './scopes.js';
import { openTokenStore, type KeyringBackend, type TokenStore } from './token-store.js';
import { stripControls } from '../../core/text.js';

export interface SignedInAccount {
  /** The user principal name, e.g. alice@contoso.com. */
  username: string;
  name?: string;
  /** The user's Entra object id. */
  objectId: string;
  tenantId: string;
  /** MSAL's key for the account in the cache. */
  homeAccountId: string;
}

export interface AccessToken {
  token: string;
  expiresOn: Date;
  scopes: string[];
  /** Absent for app-only tokens. */
  account?: SignedInAccount;
}

export interface AuthSessionDeps {
  clock: Clock;
  env: Readonly<Record<string, string | undefined>>;
  /** The token cache goes under `${stateDir}/auth`. */
  stateDir: string;
  platform: NodeJS.Platform;
  /** The effective uid (file owner checks); undefined on Windows. */
  uid?: number;
  /** Stops a device code login that is still waiting. */
  abortSignal?: AbortSignal;
  /** For loginInteractive: opens the sign-in URL in the user's browser. */
  openBrowser?: (url: string) => Promise<void>;
  /** Replaces the OS keychain (tests). */
  keyring?: () => Promise<KeyringBackend>;
  observer?: NetworkObserver;
  log?: (level: MsalLogLevel, message: string) => void;
  fetch?: HttpFetch;
  /** The token cache is read and never written (shell completion): see TokenStoreOptions.readOnly. */
  readOnly?: boolean;
}

export type DevicePrompt = (message: string, userCode: string, verificationUri: string) => void;

/** Renew this long before expiry, so a token does not lapse between handing it out and the Graph call. */
const EXPIRY_MARGIN_MS = 5 * 60_000;

const LOGIN_HINT = 'Run `ociaccess login`.';

/** "AADSTS700082: The refresh token has expired due to inactivity." out of MSAL's long error text. */
export function entraReason(error: unknown): { aadsts?: string; summary?: string } {
  const text = error instanceof MsalAuthError ? `${error.errorMessage}` : String((error as Error)?.message ?? '');
  const match = /AADSTS(\d+):\s*([^\r\n]*?)(?=\s*(?:\r|\n| - Correlation ID| - Trace ID|Trace ID:|$))/.exec(text);
  if (!match) return {};
  const firstSentence = match[2]!.match(/^.*?\.(?=\s|$)/)?.[0] ?? match[2]!;
  return { aadsts: `AADSTS${match[1]}`, summary: `AADSTS${match[1]}: ${firstSentence}` };
}

function toAccount(account: AccountInfo): SignedInAccount {
  return {
    username: account.username,
    name: account.name,
    objectId: account.localAccountId,
    tenantId: account.tenantId,
    homeAccountId: account.homeAccountId,
  };
}

/** The token's own `exp` when it is a JWT (Entra's are), else MSAL's computed expiry. */
function expiryOf(result: AuthenticationResult): Date {
  const payload = result.accessToken.split('.')[1];
  if (payload) {
    try {
      const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
      if (typeof exp === 'number') return new Date(exp * 1000);
    } catch {
      // Not a JWT: fall back to what MSAL computed.
    }
  }
  return result.expiresOn ?? new Date(0);
}

function networkFailure(error: unknown): OciAccessError | undefined {
  if (error instanceof MsalAuthError) {
    const limit = limitErrorOf({ code: error.errorCode, message: error.errorMessage });
    if (limit) return limit;
  }
  if (error instanceof MsalAuthError && error.errorCode === MSAL_NETWORK_ERROR) {
    const text = stripControls(error.errorMessage);
    const unreachable = unreachableCodeIn(text);
    const host = /Network request to (\S+) failed/
      .exec(text)?.[1]
      ?.replace(/^https?:\/\//, '')
      .replace(/\/.*$/, '');
    return new UpstreamError(
      'ENTRA_UNREACHABLE',
      unreachable && host
        ? `The Entra sign-in service at ${host} could not be reached (${describeUnreachable(unreachable)}).`
        : `Cannot reach the Entra sign-in service. ${text}`,
      {
        hint: 'Check the network or proxy, cloud.authorityHost, and tls.caFile if a proxy inspects TLS.',
        cause: error,
      },
    );
  }
  return undefined;
}

export class AuthSession {
  private readonly config: AuthAdapterConfig;
  private readonly deps: AuthSessionDeps;
  private store: Promise<TokenStore> | undefined;
  private publicClientApp: Promise<PublicClientApplication> | undefined;
  private confidentialClientApp: Promise<ConfidentialClientApplication> | undefined;

  constructor(config: AuthAdapterConfig, deps: AuthSessionDeps) {
    this.config = config;
    this.deps = deps;
  }

  /** The store the user's tokens live in (opened on first use). */
  tokenStore(): Promise<TokenStore> {
    this.store ??= openTokenStore(this.deps);
    return this.store;
  }

  private publicClient(): Promise<PublicClientApplication> {
    this.publicClientApp ??= this.tokenStore().then((store) =>
      createMsalPublicClient(this.config, { ...this.msalDeps(), cachePlugin: store.cachePlugin }),
    );
    return this.publicClientApp;
  }

  /** Entra's last OAuth error answer other than "still waiting" (for sign-in failures MSAL reduces to their error string). */
  private lastEntraError: { error: string; description: string } | undefined;

  private msalDeps() {
    const observer: NetworkObserver = {
      onRequest: (method, url) => this.deps.observer?.onRequest?.(method, url),
      onOAuthError: (error, description) => {
        if (error !== 'authorization_pending' && error !== 'slow_down') this.lastEntraError = { error, description };
        this.deps.observer?.onOAuthError?.(error, description);
      },
    };
    return {
      clock: this.deps.clock,
      env: this.deps.env,
      files: { platform: this.deps.platform, uid: this.deps.uid },
      observer,
      log: this.deps.log,
      fetch: this.deps.fetch,
    };
  }

  private isStale(expiresOn: Date): boolean {
    return expiresOn.getTime() - EXPIRY_MARGIN_MS <= this.deps.clock.now().getTime();
  }

  /** Signs in with a code typed into a browser anywhere (works over SSH and without a local browser). */
  async loginWithDeviceCode(
    onPrompt: DevicePrompt,
    scopes: readonly string[] = delegatedScopes('requester'),
  ): Promise<SignedInAccount> {
    const pca = await this.publicClient();
    this.lastEntraError = undefined;
    const request: DeviceCodeRequest = {
      scopes: [...scopes],
      deviceCodeCallback: (response) => onPrompt(response.message, response.userCode, response.verificationUri),
    };
    // MSAL reads `cancel` between polls; that is its only way to stop waiting.
    const cancel = () => {
      request.cancel = true;
    };
    this.deps.abortSignal?.addEventListener('abort', cancel, { once: true });
    try {
      const result = await pca.acquireTokenByDeviceCode(request);
      return await this.keepOnly(pca, result);
    } catch (error) {
      throw this.loginFailure(error);
    } finally {
      this.deps.abortSignal?.removeEventListener('abort', cancel);
    }
  }

  /** Signs in through the local browser (loopback redirect, PKCE). */
  async loginInteractive(options: { loginHint?: string; scopes?: readonly string[] } = {}): Promise<SignedInAccount> {
    const openBrowser = this.deps.openBrowser;
    if (!openBrowser) {
      throw new AuthError('BROWSER_UNAVAILABLE', 'No browser can be opened from this session.', {
        hint: 'Sign in with a code instead: `ociaccess login --device-code`.',
      });
    }
    const pca = await this.publicClient();
    this.lastEntraError = undefined;
    try {
      const result = await pca.acquireTokenInteractive({
        scopes: [...(options.scopes ?? delegatedScopes('requester'))],
        openBrowser,
        loginHint: options.loginHint,
        successTemplate: '<h1>Signed in to ociaccess.</h1><p>You can close this window and return to the terminal.</p>',
        errorTemplate: '<h1>ociaccess sign-in failed.</h1><p>Return to the terminal for details.</p>',
      });
      return await this.keepOnly(pca, result);
    } catch (error) {
      throw this.loginFailure(error);
    }
  }

  /** The CLI holds one signed-in person: a new login replaces whoever was cached before. */
  private async keepOnly(pca: PublicClientApplication, result: AuthenticationResult | null): Promise<SignedInAccount> {
    if (!result?.account)
      throw new AuthError('LOGIN_FAILED', 'Entra answered the sign-in without an account.', { hint: LOGIN_HINT });
    for (const other of await pca.getAllAccounts()) {
      if (other.homeAccountId !== result.account.homeAccountId) await pca.getTokenCache().removeAccount(other);
    }
    return toAccount(result.account);
  }

  private loginFailure(error: unknown): unknown {
    const network = networkFailure(error);
    if (network) return network;
    if (!(error instanceof MsalAuthError)) return error;
    // Device code polling reports the server's error string only (e.g. "expired_token").
    const text = `${error.errorCode} ${error.errorMessage}`;
    if (error.errorCode === 'device_code_polling_cancelled') {
      return new AuthError('LOGIN_CANCELLED', 'Sign-in was cancelled before it completed.', {
        hint: LOGIN_HINT,
        cause: error,
      });
    }
    if (error.errorCode === 'device_code_expired' || /\bexpired_token\b/.test(text)) {
      return new AuthError('DEVICE_CODE_EXPIRED', 'The sign-in code expired before it was used.', {
        hint: 'Run `ociaccess login` again and enter the new code within 15 minutes.',
        cause: error,
      });
    }
    if (/\bauthorization_declined\b/.test(text)) {
      return new AuthError('LOGIN_DECLINED', 'The sign-in was declined in the browser.', {
        hint: LOGIN_HINT,
        cause: error,
      });
    }
    // Device code polling keeps only Entra's error string (e.g. "invalid_grant"): the description
    // (AADSTS code, and for consent the missing permissions) comes from Entra's answer itself.
    const answered =
      this.lastEntraError?.error === error.errorMessage || this.lastEntraError?.error === error.errorCode
        ? this.lastEntraError
        : undefined;
    const reason = entraReason(error).aadsts
      ? entraReason(error)
      : answered
        ? entraReason(new Error(answered.description))
        : {};
    const missing = answered ? /\bMissing: ([^\r\n]+?)\.(?=\s|$)/.exec(answered.description)?.[1] : undefined;
    // Entra's own text, quoted in ours: one line, no control characters.
    const said = stripControls(
      `${reason.summary ?? `Entra answered "${error.errorMessage || error.errorCode}"`}${missing && !reason.summary?.includes(missing) ? ` Missing: ${missing}.` : ''}`,
    );
    return new AuthError('LOGIN_FAILED', `Sign-in failed: ${said.replace(/\.$/, '')}.`, {
      hint: /\binvalid_client\b/.test(text)
        ? `The app registration ${this.config.clientId} must allow public client flows ("Allow public client flows" = Yes).`
        : reason.aadsts === 'AADSTS65001'
          ? `An administrator grants consent to the ociaccess app (${this.config.clientId}) for ${missing ?? 'the permissions asked for'} (docs/setup-entra.md §1: API permissions → Grant admin consent); then run \`ociaccess login\` again.`
          : LOGIN_HINT,
      details: { msalCode: error.errorCode, aadsts: reason.aadsts },
      cause: error,
    });
  }

  /** The signed-in person, or null. Reads only the local cache. */
  async currentAccount(): Promise<SignedInAccount | null> {
    const [account] = await (await this.publicClient()).getAllAccounts();
    return account ? toAccount(account) : null;
  }

  /** Forgets the signed-in person's tokens on this machine. Returns who was signed in. */
  async logout(): Promise<SignedInAccount | null> {
    const pca = await this.publicClient();
    const accounts = await pca.getAllAccounts();
    for (const account of accounts) await pca.getTokenCache().removeAccount(account);
    await (await this.tokenStore()).clear();
    return accounts[0] ? toAccount(accounts[0]) : null;
  }

  /** A delegated Graph token for the signed-in person, refreshed when due. */
  async getAccessToken(
    scopes: readonly string[] = delegatedScopes('requester'),
    options: { forceRefresh?: boolean } = {},
  ): Promise<AccessToken> {
    const pca = await this.publicClient();
    const [account] = await pca.getAllAccounts();
    if (!account) throw new AuthError('NOT_SIGNED_IN', 'You are not signed in.', { hint: LOGIN_HINT });
    let result = await this.silent(pca, account, scopes, options.forceRefresh ?? false);
    if (!options.forceRefresh && this.isStale(expiryOf(result))) result = await this.silent(pca, account, scopes, true);
    return {
      token: result.accessToken,
      expiresOn: expiryOf(result),
      scopes: result.scopes,
      account: toAccount(result.account ?? account),
    };
  }

  private async silent(
    pca: PublicClientApplication,
    account: AccountInfo,
    scopes: readonly string[],
    forceRefresh: boolean,
  ): Promise<AuthenticationResult> {
    try {
      return await pca.acquireTokenSilent({ account, scopes: [...scopes], forceRefresh });
    } catch (error) {
      const network = networkFailure(error);
      if (network) throw network;
      const reason = entraReason(error);
      // The tenant has not consented to a permission this command asks for (beyond what sign-in asked):
      // not an expired session, and signing in again the same way would not help.
      if (
        reason.aadsts === 'AADSTS65001' ||
        (error instanceof MsalAuthError && error.errorCode === 'consent_required')
      ) {
        const missing = scopesBeyondRequester(scopes);
        const named = missing.length > 0 ? missing.join(', ') : scopes.join(', ');
        throw new AuthError(
          'SCOPE_NOT_GRANTED',
          `Entra has no consent for ${named}, which this command needs for ${account.username} (${reason.summary ?? 'consent required'}).`,
          {
            hint: `An administrator grants it to the ociaccess app (docs/setup-entra.md §1: API permissions → add ${named} → Grant admin consent); then run the command again. Where users may consent themselves: \`ociaccess login --role ${missing.includes('Synchronization.ReadWrite.All') ? 'operator' : 'approver'}\`.`,
            details: { aadsts: reason.aadsts, missing },
            cause: error,
          },
        );
      }
      if (error instanceof InteractionRequiredAuthError) {
        throw new AuthError(
          'SESSION_EXPIRED',
          `Your sign-in as ${account.username} has expired or was revoked${reason.summary ? ` (${reason.summary})` : ''}.`,
          {
            hint: LOGIN_HINT,
            details: { aadsts: reason.aadsts, msalCode: error.errorCode },
            cause: error,
          },
        );
      }
      if (error instanceof MsalAuthError) {
        throw new AuthError(
          'TOKEN_REQUEST_FAILED',
          `Entra refused a token for ${account.username}: ${reason.summary ?? error.errorCode}.`,
          {
            hint: LOGIN_HINT,
            details: { aadsts: reason.aadsts, msalCode: error.errorCode },
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  /** The automation's app-only Graph token (client credentials). */
  async getAppToken(options: { forceRefresh?: boolean } = {}): Promise<AccessToken> {
    this.confidentialClientApp ??= createMsalConfidentialClient(this.config, this.msalDeps());
    let cca: ConfidentialClientApplication;
    try {
      cca = await this.confidentialClientApp;
    } catch (error) {
      // A fixed credential file should be picked up by the next call, not remembered as broken.
      this.confidentialClientApp = undefined;
      throw error;
    }
    const scopes = [appOnlyGraphScope(this.config.cloud.graphBaseUrl)];
    let result = await this.clientCredential(cca, scopes, options.forceRefresh ?? false);
    if (!options.forceRefresh && this.isStale(expiryOf(result)))
      result = await this.clientCredential(cca, scopes, true);
    return { token: result.accessToken, expiresOn: expiryOf(result), scopes: result.scopes };
  }

  private async clientCredential(
    cca: ConfidentialClientApplication,
    scopes: string[],
    skipCache: boolean,
  ): Promise<AuthenticationResult> {
    let result: AuthenticationResult | null;
    try {
      result = await cca.acquireTokenByClientCredential({ scopes, skipCache });
    } catch (error) {
      const network = networkFailure(error);
      if (network) throw network;
      if (!(error instanceof MsalAuthError)) throw error;
      // Only the credential's source and Entra's reason are named: never the secret or key itself.
      const automation = this.config.automation!;
      const reason = entraReason(error);
      const rejected = error instanceof ServerError && error.errorCode === 'invalid_client';
      throw new AuthError(
        rejected ? 'AUTOMATION_CREDENTIAL_REJECTED' : 'APP_TOKEN_FAILED',
        rejected
          ? `Entra rejected the automation's credential (${describeAutomationCredential(automation)}): ${reason.summary ?? error.errorCode}.`
          : `Entra refused an app-only token for ${automation.clientId} for the resource ${scopes.join(' ')}: ${reason.summary ?? error.errorCode}.`,
        {
          hint: rejected
            ? `Check that the credential is current for app ${automation.clientId}: a secret's value (not its id), or a certificate uploaded to the app registration.`
            : reason.aadsts === 'AADSTS500011'
              ? `The resource ${scopes.join(' ')} does not exist in this tenant's cloud: check cloud.graphBaseUrl (each Microsoft cloud has its own Graph host).`
              : `The token was asked for ${scopes.join(' ')}: check cloud.graphBaseUrl for that resource, then automation.clientId, tenantId, and that the app has admin-consented Graph application permissions.`,
          details: { aadsts: reason.aadsts, msalCode: error.errorCode, scopes },
          cause: error,
        },
      );
    }
    if (!result)
      throw new AuthError('APP_TOKEN_FAILED', 'Entra answered the client credentials request without a token.', {
        hint: 'Retry; if it persists, run `ociaccess doctor`.',
      });
    return result;
  }
}

/** The session for the running command, from its context. */
export function authSessionFromContext(
  ctx: Context,
  config: AuthAdapterConfig,
  extra: Pick<AuthSessionDeps, 'openBrowser' | 'keyring' | 'observer' | 'log' | 'fetch' | 'readOnly'> = {},
): AuthSession {
  return new AuthSession(config, {
    clock: ctx.clock,
    env: ctx.env,
    stateDir: ctx.paths.stateDir,
    platform: ctx.platform,
    uid: ctx.uid,
    abortSignal: ctx.abortSignal,
    ...extra,
  });
}
