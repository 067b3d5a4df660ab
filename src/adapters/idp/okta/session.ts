/**
 * Sign-in with Okta, with the surface the commands use for Entra's
 * (AuthSession): people log in with the device authorization grant, their
 * refresh token and access tokens are kept in the same token store as
 * Entra's (keychain-encrypted file, or a 0600 file), and the automation gets
 * client-credentials tokens with a private_key_jwt assertion.
 *
 * Okta adds no scope to a refresh token after sign-in, so a person signs in
 * for a role (`login --role approver`); a command that needs more fails with
 * SCOPE_NOT_GRANTED naming the login that grants it.
 */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../../../context.js';
import type { OktaIdpConfig } from '../../../config/schema.js';
import { AuthError, ConfigError } from '../../../errors.js';
import { assertSafeFile, type FileHost } from '../../../file-safety.js';
import type { HttpFetch } from '../../http/tls.js';
import type { AccessToken, DevicePrompt, SignedInAccount } from '../../auth/session.js';
import type { DelegatedRole } from '../../auth/scopes.js';
import { openTokenStore, type KeyringBackend, type TokenStore } from '../../auth/token-store.js';
import { OktaOAuth, OktaOAuthRefusal, loginFailure, rsaPrivateKey, type OktaTokenAnswer } from './oauth.js';
import { DpopKey } from './dpop.js';
import { bearer } from './api.js';
import { stripControls } from '../../../core/text.js';

/** docs/okta.md, Scopes: what each role asks for at sign-in. */
const PERSON_SCOPES = ['openid', 'profile', 'offline_access', 'okta.users.read.self', 'okta.users.manage.self'];
const READER_SCOPES = ['okta.users.read', 'okta.groups.read'];
const ROLE_SCOPES: Record<DelegatedRole, readonly string[]> = {
  requester: [...PERSON_SCOPES, ...READER_SCOPES],
  approver: [...PERSON_SCOPES, ...READER_SCOPES, 'okta.groups.manage'],
  operator: [...PERSON_SCOPES, ...READER_SCOPES, 'okta.groups.manage'],
};
/** The automation's scopes (sweep): read people and groups, change memberships and the group's record. */
export const OKTA_APP_SCOPES = ['okta.users.read', 'okta.groups.read', 'okta.groups.manage'] as const;

export function oktaDelegatedScopes(role: DelegatedRole): string[] {
  return [...ROLE_SCOPES[role]];
}

/** Renew this long before expiry, so a token does not lapse between handing it out and the call. */
const EXPIRY_MARGIN_MS = 5 * 60_000;
const LOGIN_HINT = 'Run `ociaccess login`.';

/** What the token store holds for Okta (one person). */
interface OktaCache {
  okta: {
    orgUrl: string;
    clientId: string;
    account: SignedInAccount;
    refreshToken: string;
    /** Scopes granted at sign-in: a refresh may ask for these, never more. */
    granted: string[];
    access?: { token: string; expiresOn: string; scopes: string[] };
  };
}

export interface OktaSessionDeps {
  clock: Clock;
  env: Readonly<Record<string, string | undefined>>;
  stateDir: string;
  platform: NodeJS.Platform;
  uid?: number;
  abortSignal?: AbortSignal;
  keyring?: () => Promise<KeyringBackend>;
  fetch: HttpFetch;
  readOnly?: boolean;
  /** Where a relative idp.automation.privateKeyFile is resolved. */
  cwd: string;
}

export class OktaSession {
  private readonly oauth: OktaOAuth;
  private store: Promise<TokenStore> | undefined;
  private appKey: Promise<KeyObject> | undefined;
  /** Made when Okta first asks for DPoP (the service app requires it), kept for this process only. */
  private dpop: { key: DpopKey; nonce?: string } | undefined;
  /** The access tokens Okta bound to `dpop`'s key: calls with them carry a proof. */
  private readonly dpopBound = new Set<string>();

  constructor(
    private readonly idp: OktaIdpConfig,
    private readonly deps: OktaSessionDeps,
  ) {
    this.oauth = new OktaOAuth({
      orgUrl: idp.orgUrl,
      fetch: deps.fetch,
      clock: deps.clock,
      abortSignal: deps.abortSignal,
    });
  }

  tokenStore(): Promise<TokenStore> {
    this.store ??= openTokenStore(this.deps);
    return this.store;
  }

  /** The device authorization grant (O2, O3), then who signed in (/users/me). Replaces whoever was cached. */
  async loginWithDeviceCode(
    onPrompt: DevicePrompt,
    scopes: readonly string[] = oktaDelegatedScopes('requester'),
  ): Promise<SignedInAccount> {
    let token;
    try {
      const device = await this.oauth.deviceAuthorize(this.idp.clientId, scopes);
      onPrompt(
        `To sign in, open ${device.verificationUri} and enter the code ${device.userCode} (valid ${Math.round(device.expiresInS / 60)} minutes).`,
        device.userCode,
        device.verificationUri,
      );
      token = await this.oauth.pollDeviceToken(this.idp.clientId, device);
    } catch (error) {
      throw error instanceof OktaOAuthRefusal ? loginFailure(error, this.idp.clientId) : error;
    }
    if (!token.refreshToken)
      throw new AuthError('LOGIN_FAILED', 'Okta answered the sign-in without a refresh token.', {
        hint: `Allow the Refresh Token grant on the app ${this.idp.clientId} and grant offline_access.`,
      });
    const account = await this.whoIs(token.accessToken);
    await this.write({
      okta: {
        orgUrl: this.idp.orgUrl,
        clientId: this.idp.clientId,
        account,
        refreshToken: token.refreshToken,
        granted: token.scopes.length > 0 ? token.scopes : [...scopes],
        access: { token: token.accessToken, expiresOn: token.expiresOn.toISOString(), scopes: token.scopes },
      },
    });
    return account;
  }

  async loginInteractive(): Promise<SignedInAccount> {
    throw new AuthError('BROWSER_UNAVAILABLE', 'Signing in to Okta through the local browser is not supported yet.', {
      hint: 'Sign in with a code (the default): `ociaccess login`; the code can be entered in any browser.',
    });
  }

  async currentAccount(): Promise<SignedInAccount | null> {
    return (await this.read())?.okta.account ?? null;
  }

  async logout(): Promise<SignedInAccount | null> {
    const cached = await this.read();
    await (await this.tokenStore()).clear();
    return cached?.okta.account ?? null;
  }

  /** A token for the signed-in person carrying `scopes`, refreshed when due (O4). */
  async getAccessToken(
    scopes: readonly string[] = oktaDelegatedScopes('requester'),
    options: { forceRefresh?: boolean } = {},
  ): Promise<AccessToken> {
    const cached = await this.read();
    if (!cached) throw new AuthError('NOT_SIGNED_IN', 'You are not signed in.', { hint: LOGIN_HINT });
    const { okta } = cached;
    const missing = scopes.filter((scope) => !okta.granted.includes(scope));
    if (missing.length > 0)
      throw new AuthError(
        'SCOPE_NOT_GRANTED',
        `Your Okta sign-in as ${okta.account.username} does not carry ${missing.join(', ')}, which this command needs.`,
        {
          hint: `Sign in for that role: \`ociaccess login --role ${missing.includes('okta.groups.manage') ? 'approver' : 'requester'}\` (Okta adds no scope to a sign-in afterwards).`,
          details: { missing },
        },
      );
    const access = okta.access;
    const covers = access && scopes.every((scope) => access.scopes.includes(scope));
    if (!options.forceRefresh && access && covers && !this.isStale(new Date(access.expiresOn)))
      return {
        token: access.token,
        expiresOn: new Date(access.expiresOn),
        scopes: access.scopes,
        account: okta.account,
      };
    let token;
    try {
      // The whole granted set: one token then serves every call of this role.
      token = await this.oauth.refresh(okta.clientId, okta.refreshToken, okta.granted);
    } catch (error) {
      if (error instanceof OktaOAuthRefusal && error.error === 'invalid_grant')
        throw new AuthError('SESSION_EXPIRED', `Your sign-in as ${okta.account.username} has expired or was revoked.`, {
          hint: LOGIN_HINT,
          details: { oauthError: error.error },
        });
      if (error instanceof OktaOAuthRefusal)
        throw new AuthError(
          'TOKEN_REQUEST_FAILED',
          `Okta refused a token for ${okta.account.username}: ${error.message}.`,
          {
            hint: LOGIN_HINT,
            details: { oauthError: error.error },
          },
        );
      throw error;
    }
    const granted = token.scopes.length > 0 ? token.scopes : okta.granted;
    await this.write({
      okta: {
        ...okta,
        refreshToken: token.refreshToken ?? okta.refreshToken,
        access: { token: token.accessToken, expiresOn: token.expiresOn.toISOString(), scopes: granted },
      },
    });
    return { token: token.accessToken, expiresOn: token.expiresOn, scopes: granted, account: okta.account };
  }

  /** The automation's token (O5): client credentials with a fresh private_key_jwt assertion. */
  getAppToken(): Promise<AccessToken> {
    return this.appTokenFor(OKTA_APP_SCOPES);
  }

  /**
   * A client-credentials token for these scopes (doctor asks for its own, and for one scope at a
   * time to name the ones the service app lacks: Okta's invalid_scope does not say which).
   */
  async appTokenFor(scopes: readonly string[]): Promise<AccessToken> {
    const automation = this.idp.automation;
    if (!automation)
      throw new ConfigError(
        'CONFIG_INVALID',
        'This command runs as the automation, but the config has no idp.automation.',
        {
          hint: 'Add idp.automation.clientId and idp.automation.privateKeyFile (docs/configuration.md#idp-okta).',
        },
      );
    this.appKey ??= this.readAppKey(automation.privateKeyFile).catch((error: unknown) => {
      this.appKey = undefined;
      throw error;
    });
    const key = await this.appKey;
    try {
      const token = await this.clientCredentials(automation.clientId, key, automation.keyId, scopes);
      if (token.tokenType === 'DPoP') this.dpopBound.add(token.accessToken);
      return { token: token.accessToken, expiresOn: token.expiresOn, scopes: token.scopes };
    } catch (error) {
      if (!(error instanceof OktaOAuthRefusal)) throw error;
      const rejected = error.error === 'invalid_client';
      throw new AuthError(
        rejected ? 'AUTOMATION_CREDENTIAL_REJECTED' : 'APP_TOKEN_FAILED',
        rejected
          ? `Okta rejected the automation's client assertion (key file ${automation.privateKeyFile}): ${error.message}.`
          : `Okta refused a token for the service app ${automation.clientId}: ${error.message}.`,
        {
          hint: rejected
            ? `Check that the key's public half is registered on the service app ${automation.clientId} (and idp.automation.keyId when it has several keys), and this machine's clock.`
            : error.error.includes('dpop')
              ? 'The service app requires DPoP and refused this machine\'s proof: check this machine\'s clock (a proof carries the time), and docs/okta.md, "DPoP".'
              : `Grant ${scopes.join(', ')} on the service app's Okta API Scopes tab, with an admin role that covers them.`,
          details: { oauthError: error.error },
        },
      );
    }
  }

  /**
   * O5, and DPoP when the app requires it (docs/okta.md, "DPoP"): Okta answers invalid_dpop_proof
   * to a request without a proof, then use_dpop_nonce with the nonce to put in it (RFC 9449 §8).
   * Each attempt signs a new client assertion (its jti is single-use); at most three attempts.
   */
  private async clientCredentials(
    clientId: string,
    key: KeyObject,
    keyId: string | undefined,
    scopes: readonly string[],
  ): Promise<OktaTokenAnswer> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.oauth.clientCredentials(clientId, key, keyId, scopes, this.dpop);
      } catch (error) {
        if (!(error instanceof OktaOAuthRefusal) || attempt >= 3) throw error;
        if (error.error === 'invalid_dpop_proof' && !this.dpop) this.dpop = { key: new DpopKey() };
        else if (
          error.error === 'use_dpop_nonce' &&
          this.dpop &&
          error.dpopNonce &&
          error.dpopNonce !== this.dpop.nonce
        )
          this.dpop.nonce = error.dpopNonce;
        else throw error;
      }
    }
  }

  /**
   * The headers that authorize a call with `token`: a bearer token as it is; a DPoP-bound one as
   * `Authorization: DPoP` with a fresh proof of this request (method, URL, the token's hash).
   */
  authorizationFor(token: string, method: string, url: string): Record<string, string> {
    if (!this.dpop || !this.dpopBound.has(token)) return bearer(token);
    return {
      authorization: `DPoP ${token}`,
      dpop: this.dpop.key.proof({ method, url, now: this.deps.clock.now(), accessToken: token }),
    };
  }

  private async readAppKey(file: string): Promise<KeyObject> {
    const resolved = path.resolve(this.deps.cwd, file);
    const host: FileHost = { platform: this.deps.platform, uid: this.deps.uid };
    assertSafeFile(
      resolved,
      'private',
      host,
      'automation key file',
      'it signs in as the automation, and other users can read it or swap it',
    );
    let pem: string;
    try {
      pem = await readFile(resolved, 'utf8');
    } catch (error) {
      throw new AuthError(
        'AUTOMATION_KEY_UNREADABLE',
        `The automation key file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}).`,
        { hint: 'Check idp.automation.privateKeyFile and that this user can read it.', details: { file } },
      );
    }
    return rsaPrivateKey(pem, file);
  }

  private isStale(expiresOn: Date): boolean {
    return expiresOn.getTime() - EXPIRY_MARGIN_MS <= this.deps.clock.now().getTime();
  }

  /** /users/me with the new token: the account is Okta's answer, not an unverified id_token's claims. */
  private async whoIs(accessToken: string): Promise<SignedInAccount> {
    const response = await this.deps.fetch(`${this.idp.orgUrl.replace(/\/+$/, '')}/api/v1/users/me`, {
      headers: { accept: 'application/json', authorization: `Bearer ${accessToken}` },
    });
    const body = (await response.json().catch(() => undefined)) as
      | { id?: unknown; profile?: { login?: unknown; displayName?: unknown; firstName?: unknown; lastName?: unknown } }
      | undefined;
    if (!response.ok || typeof body?.id !== 'string' || typeof body.profile?.login !== 'string')
      throw new AuthError('LOGIN_FAILED', `Okta did not say who signed in (/users/me answered ${response.status}).`, {
        hint: 'Grant okta.users.read.self on the app idp.clientId, then run `ociaccess login` again.',
      });
    return {
      username: stripControls(body.profile.login),
      name: displayNameOf(body.profile),
      objectId: body.id,
      tenantId: this.idp.orgUrl,
      homeAccountId: body.id,
    };
  }

  private async read(): Promise<OktaCache | undefined> {
    const text = await (await this.tokenStore()).readText();
    if (!text) return undefined;
    try {
      const parsed = JSON.parse(text) as Partial<OktaCache>;
      // A cache from another org or app (or Entra's MSAL cache) is not this sign-in.
      const okta = parsed.okta;
      if (!okta || okta.orgUrl !== this.idp.orgUrl || okta.clientId !== this.idp.clientId) return undefined;
      return parsed as OktaCache;
    } catch {
      return undefined;
    }
  }

  private async write(cache: OktaCache): Promise<void> {
    await (await this.tokenStore()).writeText(JSON.stringify(cache));
  }
}

export function displayNameOf(profile: { displayName?: unknown; firstName?: unknown; lastName?: unknown }): string {
  if (typeof profile.displayName === 'string' && profile.displayName) return stripControls(profile.displayName);
  return stripControls(
    [profile.firstName, profile.lastName]
      .filter((part): part is string => typeof part === 'string' && !!part)
      .join(' '),
  );
}
