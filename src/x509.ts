/**
 * The one place certificates are made: an RSA key from Node (native, ~100x
 * faster than forge's pure-JS generation) and a certificate that node-forge
 * builds and signs with SHA-256. The automation's self-signed client
 * certificate (adapters/auth/certificate.ts) and the emulator's throw-away CA
 * and server certificate (emulator/tls.ts) both come from here. Loaded only by
 * them: node-forge takes ~30 ms to load, which no sign-in should pay.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/** An extension as node-forge takes it (basicConstraints, keyUsage, extKeyUsage, subjectAltName, …). */
export type CertificateExtension = Record<string, unknown> & { name: string };

export interface CertificateSpec {
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  extensions: CertificateExtension[];
  /** Who signs it; without one the certificate is self-signed. */
  issuer?: IssuedCertificate;
}

export interface IssuedCertificate {
  commonName: string;
  certificatePem: string;
  /** PKCS#8 PEM: what MSAL, our assertion signer and Node's TLS server take. */
  privateKeyPem: string;
}

export function issueCertificate(spec: CertificateSpec): IssuedCertificate {
  const { privateKey: privateKeyPem } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const key = forge.pki.privateKeyFromPem(privateKeyPem) as forge.pki.rsa.PrivateKey;
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  // A positive serial: forge writes the hex as is, and a leading high bit would make it negative.
  certificate.serialNumber = `01${randomBytes(15).toString('hex')}`;
  certificate.validity.notBefore = spec.notBefore;
  certificate.validity.notAfter = spec.notAfter;
  certificate.setSubject([{ name: 'commonName', value: spec.commonName }]);
  certificate.setIssuer([{ name: 'commonName', value: spec.issuer?.commonName ?? spec.commonName }]);
  certificate.setExtensions(spec.extensions);
  const signingKey = spec.issuer
    ? (forge.pki.privateKeyFromPem(spec.issuer.privateKeyPem) as forge.pki.rsa.PrivateKey)
    : key;
  certificate.sign(signingKey, forge.md.sha256.create());
  return { commonName: spec.commonName, certificatePem: forge.pki.certificateToPem(certificate), privateKeyPem };
}
