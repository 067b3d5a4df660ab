/**
 * A throw-away certificate authority made at start-up, and a server
 * certificate it signs for the loopback names. Clients trust the CA through
 * NODE_EXTRA_CA_CERTS (for a child process) or the config's tls.caFile.
 */
import { issueCertificate } from '../x509.js';

export interface EmulatorTls {
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

const DAY_MS = 24 * 3600_000;

export function generateTls(now = new Date()): EmulatorTls {
  const notBefore = new Date(now.getTime() - DAY_MS);
  const ca = issueCertificate({
    commonName: 'ociaccess emulator CA',
    notBefore,
    notAfter: new Date(now.getTime() + 3 * 365 * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ],
  });
  const server = issueCertificate({
    commonName: 'localhost',
    issuer: ca,
    notBefore,
    notAfter: new Date(now.getTime() + 365 * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { caCertPem: ca.certificatePem, serverCertPem: server.certificatePem, serverKeyPem: server.privateKeyPem };
}
