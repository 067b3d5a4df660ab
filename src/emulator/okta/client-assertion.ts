/**
 * private_key_jwt for the service app ([svcapp] "Create and sign the JWT",
 * docs/okta.md O5): a JWT signed with a key whose public half is in the app's
 * JWKS (RS256/384/512 here), iss = sub = client id, aud = the token endpoint
 * URL, exp in the future and at most one hour ahead, and a jti not seen
 * before. Every failure is 401 invalid_client, as Okta answers a client it
 * cannot authenticate.
 */
import { verify as cryptoVerify } from 'node:crypto';
import type { EmulatorApi } from '../http.js';
import type { OktaApp } from './state.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const HASH_OF: Readonly<Record<string, string>> = { RS256: 'sha256', RS384: 'sha384', RS512: 'sha512' };

/** One JWT part as a JSON object, or undefined when it is not one. */
export function decodePart(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export type AssertionCheck = { ok: true; app: OktaApp } | { ok: false; description: string };

export function verifyClientAssertion(emu: EmulatorApi, assertion: string, tokenEndpoint: string): AssertionCheck {
  const parts = assertion.split('.');
  if (parts.length !== 3) return { ok: false, description: 'The client_assertion is not a valid JWT.' };
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodePart(headerPart);
  const claims = decodePart(payloadPart);
  if (!header || !claims) return { ok: false, description: 'The client_assertion is not a valid JWT.' };
  const clientId = claims.iss;
  if (typeof clientId !== 'string' || claims.sub !== clientId) {
    return { ok: false, description: "The client_assertion token's 'iss' and 'sub' claims must be the client_id." };
  }
  const app = emu.world.okta.apps.get(clientId);
  if (!app || app.kind !== 'service') return { ok: false, description: 'Invalid value for the `client_id` parameter' };
  const hash = typeof header.alg === 'string' ? HASH_OF[header.alg] : undefined;
  if (!hash) return { ok: false, description: 'The client_assertion signature algorithm is not supported.' };
  const keys = typeof header.kid === 'string' ? [app.publicKeys.get(header.kid)] : [...app.publicKeys.values()];
  const signed = Buffer.from(`${headerPart}.${payloadPart}`);
  const signature = Buffer.from(signaturePart, 'base64url');
  if (!keys.some((key) => key && cryptoVerify(hash, signed, key, signature))) {
    return { ok: false, description: 'The client_assertion signature is invalid.' };
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(tokenEndpoint)) {
    return {
      ok: false,
      description: 'The audience claim for client_assertion must be the endpoint invoked for the request.',
    };
  }
  const nowSeconds = emu.world.now() / 1000;
  const exp = claims.exp;
  if (typeof exp !== 'number')
    return { ok: false, description: "The client_assertion token must contain an 'exp' claim." };
  if (exp <= nowSeconds) return { ok: false, description: 'The client_assertion token is expired.' };
  if (exp > nowSeconds + 3600) {
    return { ok: false, description: 'The client_assertion token has an expiration too far into the future.' };
  }
  if (typeof claims.iat === 'number' && claims.iat > nowSeconds + 60) {
    return { ok: false, description: 'The client_assertion token was issued in the future.' };
  }
  const used = emu.world.okta.usedAssertionIds;
  for (const [jti, until] of used) if (until <= nowSeconds) used.delete(jti);
  if (claims.jti !== undefined) {
    if (typeof claims.jti !== 'string')
      return { ok: false, description: "The client_assertion 'jti' must be a string." };
    const key = `${clientId} ${claims.jti}`;
    if (used.has(key))
      return { ok: false, description: "The client_assertion token has already been used (its 'jti')." };
    used.set(key, exp);
  }
  return { ok: true, app };
}
