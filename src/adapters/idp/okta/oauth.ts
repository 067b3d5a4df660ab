/**
 * The Okta org authorization server (`{orgUrl}/oauth2/v1/…`, docs/okta.md
 * O2–O5), spoken directly over the project's HTTP path: the device
 * authorization grant for people (RFC 8628: interval, slow_down,
 * expired_token, access_denied), refresh tokens, and client credentials with
 * a private_key_jwt client assertion for the automation. Nothing here stores
 * a token (session.ts does); errors are typed and quote Okta's error string,
 * never a token or a key.
 */
import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import type { Clock } from '../../../context.js';
import { AuthError, OciAccessError, UpstreamError } from '../../../errors.js';
import type { HttpFetch } from '../../http/tls.js';
import { describeUnreachable, unreachableCodeIn } from '../../http/request.js';
import { stripControls } from '../../../core/text.js';
import type { DpopKey } from './dpop.js';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The client assertion lives this long: Okta accepts at most an hour; it is used once, at once. */
const ASSERTION_LIFETIME_S = 300;
/** RFC 8628 §3.5: slow_down adds five seconds to the polling interval. */
const SLOW_DOWN_STEP_S = 5;

export interface OktaTokenAnswer {
  accessToken: string;
  /** DPoP when Okta bound the token to the proof's key (RFC 9449 §5): calls then carry a proof. */
  tokenType: 'Bearer' | 'DPoP';
  /** By the expires_in of the answer, on our clock. */
  expiresOn: Date;
  scopes: string[];
  refreshToken?: string;
}

export interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  expiresInS: number;
  intervalS: number;
}

export interface OktaOAuthOptions {
  orgUrl: string;
  fetch: HttpFetch;
  clock: Clock;
  /** Ends a device-code wait (Ctrl-C). */
  abortSignal?: AbortSignal;
}

interface OAuthErrorBody {
  error?: unknown;
  error_description?: unknown;
}

/** An OAuth error answer from the org authorization server, typed by the caller. */
export class OktaOAuthRefusal extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status: number,
    /** The DPoP-Nonce header of the answer (use_dpop_nonce, RFC 9449 §8). */
    readonly dpopNonce?: string,
  ) {
    super(`${error}${description ? `: ${description}` : ''}`);
  }
}

export class OktaOAuth {
  private readonly base: string;

  constructor(private readonly options: OktaOAuthOptions) {
    this.base = `${options.orgUrl.replace(/\/+$/, '')}/oauth2/v1`;
  }

  get tokenEndpoint(): string {
    return `${this.base}/token`;
  }

  /** O2: asks for a device code and the user code a person types at the verification URI. */
  async deviceAuthorize(clientId: string, scopes: readonly string[]): Promise<DeviceAuthorization> {
    const body = (await this.post(`${this.base}/device/authorize`, {
      client_id: clientId,
      scope: scopes.join(' '),
    })) as {
      device_code?: unknown;
      user_code?: unknown;
      verification_uri?: unknown;
      verification_uri_complete?: unknown;
      expires_in?: unknown;
      interval?: unknown;
    };
    if (
      typeof body.device_code !== 'string' ||
      typeof body.user_code !== 'string' ||
      typeof body.verification_uri !== 'string'
    )
      throw new AuthError('LOGIN_FAILED', 'Okta answered the device authorization without a device code.', {
        hint: 'Check idp.orgUrl and idp.clientId (an OIDC native app with the Device Authorization grant).',
      });
    return {
      deviceCode: body.device_code,
      userCode: stripControls(body.user_code),
      verificationUri: stripControls(body.verification_uri),
      verificationUriComplete:
        typeof body.verification_uri_complete === 'string' ? stripControls(body.verification_uri_complete) : undefined,
      expiresInS: typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 600,
      intervalS: typeof body.interval === 'number' && body.interval > 0 ? body.interval : 5,
    };
  }

  /**
   * O3: polls the token endpoint until the person approves (RFC 8628 §3.4–3.5): waits `interval`
   * between polls, five seconds more after each slow_down; stops at the code's expiry (by our clock
   * too), on access_denied, on any other error, and when aborted.
   */
  async pollDeviceToken(clientId: string, device: DeviceAuthorization): Promise<OktaTokenAnswer> {
    const clock = this.options.clock;
    const deadline = clock.now().getTime() + device.expiresInS * 1000;
    let intervalS = device.intervalS;
    for (;;) {
      await clock.sleep(intervalS * 1000, this.options.abortSignal);
      if (this.options.abortSignal?.aborted)
        throw new AuthError('LOGIN_CANCELLED', 'Sign-in was cancelled before it completed.', {
          hint: 'Run `ociaccess login`.',
        });
      try {
        return await this.token({ grant_type: DEVICE_CODE_GRANT, client_id: clientId, device_code: device.deviceCode });
      } catch (error) {
        if (!(error instanceof OktaOAuthRefusal)) throw error;
        if (error.error === 'authorization_pending') {
          // RFC 8628 §3.5: keep polling; our clock ends it if the server never says expired_token.
        } else if (error.error === 'slow_down') intervalS += SLOW_DOWN_STEP_S;
        else if (error.error === 'expired_token')
          throw new AuthError('DEVICE_CODE_EXPIRED', 'The sign-in code expired before it was used.', {
            hint: `Run \`ociaccess login\` again and enter the new code within ${Math.round(device.expiresInS / 60)} minutes.`,
          });
        else if (error.error === 'access_denied')
          throw new AuthError('LOGIN_DECLINED', 'The sign-in was declined in the browser.', {
            hint: 'Run `ociaccess login`.',
          });
        else throw loginFailure(error, clientId);
      }
      if (clock.now().getTime() >= deadline)
        throw new AuthError('DEVICE_CODE_EXPIRED', 'The sign-in code expired before it was used.', {
          hint: 'Run `ociaccess login` again and enter the new code sooner.',
        });
    }
  }

  /** O4: a new access token (and perhaps a new refresh token) for these scopes, a subset of those granted. */
  refresh(clientId: string, refreshToken: string, scopes: readonly string[]): Promise<OktaTokenAnswer> {
    return this.token({
      grant_type: 'refresh_token',
      client_id: clientId,
      refresh_token: refreshToken,
      scope: scopes.join(' '),
    });
  }

  /**
   * O5: the automation's token, authenticated by a fresh RS256 client assertion signed with its key;
   * with `dpop`, the request carries a DPoP proof (and the nonce Okta asked for), for an app that requires it.
   */
  clientCredentials(
    clientId: string,
    key: KeyObject,
    keyId: string | undefined,
    scopes: readonly string[],
    dpop?: { key: DpopKey; nonce?: string },
  ): Promise<OktaTokenAnswer> {
    const now = this.options.clock.now();
    return this.token(
      {
        grant_type: 'client_credentials',
        scope: scopes.join(' '),
        client_assertion_type: JWT_BEARER_ASSERTION,
        client_assertion: clientAssertion(clientId, this.tokenEndpoint, key, keyId, now),
      },
      dpop ? { dpop: dpop.key.proof({ method: 'POST', url: this.tokenEndpoint, now, nonce: dpop.nonce }) } : {},
    );
  }

  private async token(form: Record<string, string>, headers: Record<string, string> = {}): Promise<OktaTokenAnswer> {
    const body = (await this.post(this.tokenEndpoint, form, headers)) as {
      token_type?: unknown;
      access_token?: unknown;
      expires_in?: unknown;
      scope?: unknown;
      refresh_token?: unknown;
    };
    if (typeof body.access_token !== 'string')
      throw new AuthError('TOKEN_REQUEST_FAILED', 'Okta answered a token request without an access token.', {
        hint: 'Check idp.orgUrl: it must be the org URL (the org authorization server).',
      });
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600;
    return {
      accessToken: body.access_token,
      tokenType: typeof body.token_type === 'string' && body.token_type.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer',
      expiresOn: new Date(this.options.clock.now().getTime() + expiresIn * 1000),
      scopes: typeof body.scope === 'string' ? body.scope.split(/\s+/).filter(Boolean) : [],
      refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : undefined,
    };
  }

  /** A form POST; an OAuth error answer becomes OktaOAuthRefusal, anything else unusable a typed error. */
  private async post(
    url: string,
    form: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<unknown> {
    let response: Response;
    try {
      response = await this.options.fetch(url, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(form).toString(),
      });
    } catch (error) {
      // The HTTP path's own limits (deadline, body size) are already typed.
      if (error instanceof OciAccessError) throw error;
      const message = (error as Error)?.message ?? String(error);
      const code = unreachableCodeIn(
        `${message} ${String((error as { cause?: { code?: unknown } })?.cause?.code ?? '')}`,
      );
      const host = new URL(url).host;
      throw new UpstreamError(
        'OKTA_UNAVAILABLE',
        code
          ? `The Okta sign-in service at ${host} could not be reached (${describeUnreachable(code)}).`
          : `The Okta sign-in service at ${host} did not answer: ${stripControls(message)}.`,
        { hint: 'Check the network or proxy, idp.orgUrl, and tls.caFile if a proxy inspects TLS.', cause: error },
      );
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = undefined;
    }
    if (response.ok && body && typeof body === 'object') return body;
    const refusal = (body ?? {}) as OAuthErrorBody;
    if (typeof refusal.error === 'string')
      throw new OktaOAuthRefusal(
        stripControls(refusal.error).slice(0, 64),
        typeof refusal.error_description === 'string' ? stripControls(refusal.error_description).slice(0, 300) : '',
        response.status,
        response.headers.get('dpop-nonce')?.slice(0, 256) ?? undefined,
      );
    throw new UpstreamError(
      'OKTA_UNAVAILABLE',
      `The Okta sign-in service answered ${response.status} without an OAuth answer.`,
      { hint: 'Check idp.orgUrl and any proxy in between; try again later.', details: { status: response.status } },
    );
  }
}

/**
 * The private_key_jwt client assertion (RFC 7523; docs/okta.md O5): RS256, iss = sub = the client
 * id, aud = the token endpoint, a short exp and a random jti, so a copy cannot be replayed.
 */
export function clientAssertion(
  clientId: string,
  tokenEndpoint: string,
  key: KeyObject,
  keyId: string | undefined,
  now: Date,
): string {
  const iat = Math.floor(now.getTime() / 1000);
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const header = encode({ alg: 'RS256', typ: 'JWT', ...(keyId ? { kid: keyId } : {}) });
  const claims = encode({
    iss: clientId,
    sub: clientId,
    aud: tokenEndpoint,
    iat,
    exp: iat + ASSERTION_LIFETIME_S,
    jti: randomUUID(),
  });
  const signature = sign('sha256', Buffer.from(`${header}.${claims}`), key).toString('base64url');
  return `${header}.${claims}.${signature}`;
}

/** A PEM private key for RS256; an error naming the file (never its content) when it is not one. */
export function rsaPrivateKey(pem: string, file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new AuthError(
      'AUTOMATION_KEY_INVALID',
      `The automation key file ${file} holds no readable PEM private key.`,
      {
        hint: 'Write the service app\'s private key there in PEM form, unencrypted ("-----BEGIN PRIVATE KEY-----").',
        details: { file },
      },
    );
  }
  if (key.asymmetricKeyType !== 'rsa')
    throw new AuthError(
      'AUTOMATION_KEY_INVALID',
      `The automation key file ${file} holds a ${key.asymmetricKeyType} key, not RSA.`,
      {
        hint: 'ociaccess signs the Okta client assertion with RS256: register an RSA key on the service app and give its private key.',
        details: { file },
      },
    );
  return key;
}

/** A refused sign-in, with Okta's own error string and what to check. */
export function loginFailure(refusal: OktaOAuthRefusal, clientId: string): OciAccessError {
  const said = `${refusal.error}${refusal.description ? ` (${refusal.description})` : ''}`;
  return new AuthError('LOGIN_FAILED', `Sign-in failed: Okta answered ${said}.`, {
    hint:
      refusal.error === 'invalid_client' || refusal.error === 'unauthorized_client'
        ? `idp.clientId ${clientId} must be an OIDC native app with the Device Authorization and Refresh Token grants.`
        : refusal.error === 'invalid_scope'
          ? `Grant the scopes on the app ${clientId}'s Okta API Scopes tab (docs/configuration.md#idp-okta).`
          : 'Run `ociaccess login`.',
    details: { oauthError: refusal.error },
  });
}
