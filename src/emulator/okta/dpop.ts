/**
 * DPoP (RFC 9449) as Okta's org authorization server and management API
 * apply it to an app with "Require Demonstrating Proof of Possession (DPoP)
 * header in token requests" (docs/okta.md, "DPoP"; docs/emulator.md):
 * - a token request needs a `DPoP` proof: none is 400 invalid_dpop_proof; a
 *   proof without the server's nonce is 400 use_dpop_nonce with a DPoP-Nonce
 *   header; the token then comes back as token_type DPoP, bound to the key;
 * - each call with a bound token needs `Authorization: DPoP <token>` and a
 *   new proof of that request (htm, htu, ath, a jti not seen before, a
 *   recent iat); anything else is 401.
 */
import { createHash, createPublicKey, randomBytes, verify, type JsonWebKey } from 'node:crypto';
import type { EmulatorApi } from '../http.js';
import { decodePart } from './client-assertion.js';

/** How far a proof's iat may be from the server's time (emulator's choice: Okta does not publish it). */
const IAT_WINDOW_S = 300;

const ALGORITHMS: Readonly<Record<string, { hash: string; ec: boolean }>> = {
  ES256: { hash: 'sha256', ec: true },
  ES384: { hash: 'sha384', ec: true },
  ES512: { hash: 'sha512', ec: true },
  RS256: { hash: 'sha256', ec: false },
  RS384: { hash: 'sha384', ec: false },
  RS512: { hash: 'sha512', ec: false },
};

/** RFC 7638: the SHA-256 thumbprint of a public JWK's required members, in lexicographic order. */
export function jwkThumbprint(jwk: Record<string, unknown>): string {
  const members = jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['e', 'kty', 'n'];
  const canonical = JSON.stringify(Object.fromEntries(members.map((name) => [name, jwk[name]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

export type ProofCheck = { ok: true; jkt: string; nonce?: unknown } | { ok: false; description: string };

/** The server's current nonce, made on first use. */
export function currentDpopNonce(emu: EmulatorApi): string {
  const okta = emu.world.okta;
  if (!okta.dpopNonce) okta.dpopNonce = randomBytes(16).toString('base64url');
  return okta.dpopNonce;
}

/**
 * Checks one proof for a request to `htu` with `htm`: its form, signature, claims and
 * freshness; with `accessToken`, its ath and that its key is the one the token is bound to.
 */
export function verifyDpopProof(
  emu: EmulatorApi,
  proof: string | string[] | undefined,
  request: { htm: string; htu: string; accessToken?: string; jkt?: string },
): ProofCheck {
  if (typeof proof !== 'string' || proof === '')
    return { ok: false, description: 'The DPoP proof JWT header is missing.' };
  const parts = proof.split('.');
  const header = parts.length === 3 ? decodePart(parts[0]!) : undefined;
  const claims = parts.length === 3 ? decodePart(parts[1]!) : undefined;
  if (!header || !claims) return { ok: false, description: 'The DPoP proof JWT is malformed.' };
  if (header.typ !== 'dpop+jwt') return { ok: false, description: "The DPoP proof JWT 'typ' must be 'dpop+jwt'." };
  const algorithm = typeof header.alg === 'string' ? ALGORITHMS[header.alg] : undefined;
  if (!algorithm) return { ok: false, description: 'The DPoP proof JWT signature algorithm is not supported.' };
  const jwk = header.jwk;
  if (!jwk || typeof jwk !== 'object' || 'd' in jwk)
    return { ok: false, description: "The DPoP proof JWT 'jwk' header must be a public key." };
  let signatureOk = false;
  try {
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    signatureOk = verify(
      algorithm.hash,
      Buffer.from(`${parts[0]}.${parts[1]}`),
      algorithm.ec ? { key, dsaEncoding: 'ieee-p1363' } : key,
      Buffer.from(parts[2]!, 'base64url'),
    );
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) return { ok: false, description: 'The DPoP proof JWT signature is invalid.' };
  const jkt = jwkThumbprint(jwk as Record<string, unknown>);
  if (claims.htm !== request.htm) return { ok: false, description: "The DPoP proof 'htm' does not match the request." };
  if (claims.htu !== request.htu) return { ok: false, description: "The DPoP proof 'htu' does not match the request." };
  const nowS = emu.world.now() / 1000;
  if (typeof claims.iat !== 'number' || Math.abs(claims.iat - nowS) > IAT_WINDOW_S)
    return { ok: false, description: "The DPoP proof 'iat' is not within the allowed window." };
  if (typeof claims.jti !== 'string' || claims.jti === '')
    return { ok: false, description: "The DPoP proof must have a 'jti'." };
  if (request.accessToken !== undefined) {
    const ath = createHash('sha256').update(request.accessToken, 'ascii').digest('base64url');
    if (claims.ath !== ath) return { ok: false, description: "The DPoP proof 'ath' does not match the access token." };
    if (request.jkt !== jkt)
      return { ok: false, description: 'The DPoP proof key is not the key the token is bound to.' };
  }
  const used = emu.world.okta.usedDpopProofs;
  for (const [seen, until] of used) if (until <= nowS) used.delete(seen);
  const seen = `${jkt} ${claims.jti}`;
  if (used.has(seen)) return { ok: false, description: "The DPoP proof 'jti' has already been used." };
  used.set(seen, nowS + 2 * IAT_WINDOW_S);
  return { ok: true, jkt, nonce: claims.nonce };
}
