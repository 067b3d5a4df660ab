/**
 * The sign-in state of one emulated tenant that its directory (World) does not
 * model: tunable lifetimes, the ID token signing key, authorization codes,
 * refresh token bookkeeping, the user signed in to the emulated browser. Each
 * World holds one (world.entra); nothing is shared between emulators.
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';

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

export const DEFAULT_ENTRA_SETTINGS: Readonly<EntraSettings> = Object.freeze({
  deviceCodeLifetimeSeconds: 900,
  deviceCodeIntervalSeconds: 5,
  accessTokenLifetimeSeconds: 3600,
  refreshTokenLifetimeSeconds: 90 * 24 * 3600,
  authorizationCodeLifetimeSeconds: 600,
  assertionClockSkewSeconds: 300,
});

export interface AuthorizationCodeGrant {
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
export interface RefreshTokenInfo {
  issuedAt: number;
  clientId: string;
}

export interface SigningKey {
  privateKey: KeyObject;
  kid: string;
  publicJwk: Record<string, unknown>;
}

export class EntraState {
  readonly settings: EntraSettings = { ...DEFAULT_ENTRA_SETTINGS };
  readonly authorizationCodes = new Map<string, AuthorizationCodeGrant>();
  readonly refreshTokens = new Map<string, RefreshTokenInfo>();
  /** SHA-1 thumbprint (hex upper) → SHA-256 thumbprint, for assertions that carry x5t instead of x5t#S256. */
  readonly sha1Thumbprints = new Map<string, string>();
  /** Virtual time before which a user's refresh tokens are void (revokeSignInSessions). */
  readonly tokensValidFrom = new Map<string, number>();
  /** The user "signed in" to the emulated browser; the authorize endpoint answers for them without a page. */
  browserUserId: string | null = null;
  private key: SigningKey | undefined;

  /**
   * The key ID tokens are signed with. startEmulator hands one over up front
   * (useSigningKey): an RSA key takes 0.1–1 s to make, a delay Entra does not
   * have on a client's first sign-in. A bare World makes its own on first use.
   */
  signingKey(): SigningKey {
    this.key ??= generateSigningKey();
    return this.key;
  }

  useSigningKey(key: SigningKey): void {
    this.key = key;
  }
}

export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const kid = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64url')
    .slice(0, 27);
  return { privateKey, kid, publicJwk: { kty: 'RSA', use: 'sig', kid, n: jwk.n, e: jwk.e } };
}
