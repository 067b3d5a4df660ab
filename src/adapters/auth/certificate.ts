/**
 * Self-signed client certificates for the automation's app registration.
 * Entra only needs the public certificate uploaded to the app and the private
 * key kept by whoever runs `sweep`; a self-signed one is what Microsoft's own
 * guides generate for this. Used by tests and available to `init`. Kept out
 * of the sign-in path (and of index.ts): node-forge takes ~30 ms to load, on
 * every sweep.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import type { Clock } from '../../context.js';
import { thumbprintOf } from './credentials.js';

export interface ClientCertificate {
  certificatePem: string;
  /** PKCS#8 PEM, as MSAL and our assertion signer take it. */
  privateKeyPem: string;
  /** Hex, upper case: what Entra shows and what `automation.certificateThumbprintSha256` holds. */
  thumbprintSha256: string;
}

export interface ClientCertificateOptions {
  commonName?: string;
  validDays?: number;
  clock: Clock;
}

export function generateClientCertificate(options: ClientCertificateOptions): ClientCertificate {
  // Node's key generation is native and fast; forge only builds and signs the certificate.
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const forgeKey = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  // A positive serial: forge writes the hex as is, and a leading high bit would make it negative.
  certificate.serialNumber = `01${randomBytes(15).toString('hex')}`;
  const now = options.clock.now();
  certificate.validity.notBefore = new Date(now.getTime() - 5 * 60_000);
  certificate.validity.notAfter = new Date(now.getTime() + (options.validDays ?? 365) * 24 * 3600_000);
  const subject = [{ name: 'commonName', value: options.commonName ?? 'ociaccess automation' }];
  certificate.setSubject(subject);
  certificate.setIssuer(subject);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, critical: true },
  ]);
  certificate.sign(forgeKey, forge.md.sha256.create());
  const certificatePem = forge.pki.certificateToPem(certificate);
  return { certificatePem, privateKeyPem: privateKey, thumbprintSha256: thumbprintOf(certificatePem) };
}
