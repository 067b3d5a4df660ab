/**
 * What an admin does to the tenant's users and app registrations in the
 * portal: revoke a user's sessions, upload an app certificate. Helpers for
 * tests and the demo; the control routes call the same functions.
 */
import { X509Certificate } from 'node:crypto';
import type { EntraUser, World } from '../state.js';
import { declaresCp1 } from '../tokens.js';
import { EmulatorInputError } from './errors.js';

export function requireUser(world: World, idOrUpn: string | undefined): EntraUser {
  const user = idOrUpn ? world.userByIdOrUpn(idOrUpn) : undefined;
  if (!user) throw new EmulatorInputError(404, `no user "${idOrUpn ?? ''}" in the tenant`);
  return user;
}

/**
 * What an admin's "Revoke sessions" (Graph revokeSignInSessions) does: every
 * refresh token of the user stops working. Access tokens already issued stay
 * valid until they expire, as in Entra. With `accessTokens` set, continuous
 * access evaluation reacts to the event too — but only for tokens of clients
 * that declared the cp1 capability: those are cut off and Graph answers them
 * with a claims challenge. A client without cp1 keeps its access token until it
 * expires and sees the revocation at its next refresh ("Your application
 * receives claims challenges from popular services like Microsoft Graph only if
 * it declares its client capabilities", Entra: claims-challenge).
 */
export function revokeUserTokens(
  world: World,
  user: string,
  options: { accessTokens?: boolean } = {},
): { userId: string; revoked: number } {
  const target = requireUser(world, user);
  world.entra.tokensValidFrom.set(target.id, world.now());
  let revoked = 0;
  for (const token of world.tokens.values()) {
    if (token.userId !== target.id || token.revoked) continue;
    if (token.kind === 'access' && !(options.accessTokens && declaresCp1(token))) continue;
    token.revoked = true;
    revoked += 1;
  }
  return { userId: target.id, revoked };
}

/**
 * Registers a certificate credential on an app registration (what uploading a
 * .cer in the portal does). Returns its thumbprints, hex upper case.
 */
export function registerAppCertificate(
  world: World,
  appId: string,
  certPem: string,
): { thumbprintSha256: string; thumbprintSha1: string } {
  const app = world.apps.get(appId);
  if (!app) throw new EmulatorInputError(404, `no app registration "${appId}"`);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch (error) {
    throw new EmulatorInputError(400, `not a PEM certificate: ${(error as Error).message}`);
  }
  const thumbprintSha256 = certificate.fingerprint256.replace(/:/g, '').toUpperCase();
  const thumbprintSha1 = certificate.fingerprint.replace(/:/g, '').toUpperCase();
  const publicKeyPem = certificate.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  if (!app.certificates.some((entry) => entry.thumbprintSha256.toUpperCase() === thumbprintSha256)) {
    app.certificates.push({ thumbprintSha256, publicKeyPem });
  }
  world.entra.sha1Thumbprints.set(thumbprintSha1, thumbprintSha256);
  return { thumbprintSha256, thumbprintSha1 };
}
