/**
 * Self-signed client certificates for the automation's app registration.
 * Entra only needs the public certificate uploaded to the app and the private
 * key kept by whoever runs `sweep`; a self-signed one is what Microsoft's own
 * guides generate for this. Used by tests and available to `init`. Kept out
 * of the sign-in path (and of index.ts): the certificate builder loads
 * node-forge, which takes ~30 ms, on every sweep.
 */
import type { Clock } from '../../context.js';
import { issueCertificate } from '../../x509.js';
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
  const now = options.clock.now();
  const { certificatePem, privateKeyPem } = issueCertificate({
    commonName: options.commonName ?? 'ociaccess automation',
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + (options.validDays ?? 365) * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
    ],
  });
  return { certificatePem, privateKeyPem, thumbprintSha256: thumbprintOf(certificatePem) };
}
