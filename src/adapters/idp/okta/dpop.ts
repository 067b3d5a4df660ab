/**
 * OAuth 2.0 Demonstrating Proof-of-Possession (RFC 9449) for the automation's
 * service app (docs/okta.md, "DPoP"). Okta offers "Require Demonstrating Proof
 * of Possession (DPoP) header in token requests" on an app; with it, a token
 * request needs a DPoP proof (and then Okta's nonce), and the token it returns
 * is bound to the proof's key: every API call sends `Authorization: DPoP` and a
 * fresh proof carrying the token's hash. The key is made per process and never
 * written anywhere, so a copied token is useless without this process.
 */
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';

/** RFC 9449 §4.2: the htu claim is the request's URI without query and fragment. */
export function htuOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** RFC 9449 §4.2: ath is the base64url SHA-256 of the access token's ASCII. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

export interface DpopProofInput {
  method: string;
  url: string;
  now: Date;
  /** The server's DPoP-Nonce, once it asked for one. */
  nonce?: string;
  /** For a call with a DPoP-bound token: its hash goes in as ath. */
  accessToken?: string;
}

/** An ES256 key pair held in memory for this process, and the proofs it signs. */
export class DpopKey {
  private readonly privateKey: KeyObject;
  readonly publicJwk: { kty: string; crv: string; x: string; y: string };

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = privateKey;
    const jwk = publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string; y: string };
    this.publicJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  }

  /** A DPoP proof JWT for one request: typ dpop+jwt, ES256, the public JWK; htm, htu, iat, a fresh jti. */
  proof(input: DpopProofInput): string {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const header = encode({ typ: 'dpop+jwt', alg: 'ES256', jwk: this.publicJwk });
    const claims = encode({
      htm: input.method.toUpperCase(),
      htu: htuOf(input.url),
      iat: Math.floor(input.now.getTime() / 1000),
      jti: randomUUID(),
      ...(input.nonce ? { nonce: input.nonce } : {}),
      ...(input.accessToken ? { ath: accessTokenHash(input.accessToken) } : {}),
    });
    // JWS wants ECDSA signatures as r || s (RFC 7518 §3.4), not DER.
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), {
      key: this.privateKey,
      dsaEncoding: 'ieee-p1363',
    }).toString('base64url');
    return `${header}.${claims}.${signature}`;
  }
}
