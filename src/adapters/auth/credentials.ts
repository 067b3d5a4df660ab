/**
 * The automation's client credential: a certificate (preferred) or a secret,
 * read from files or the environment as the config names them. Never from
 * argv, and never echoed: errors name the file or variable, not its content.
 */
import { readFile } from 'node:fs/promises';
import {
  X509Certificate,
  createPrivateKey,
  randomUUID,
  sign,
  constants as cryptoConstants,
  type KeyObject,
} from 'node:crypto';
import type { ClientAssertionCallback } from '@azure/msal-node';
import type { Clock } from '../../context.js';
import type { Config } from '../../config/schema.js';
import { AuthError, ConfigError } from '../../errors.js';
import { assertSafeFile, type FileHost } from '../../file-safety.js';

/** SHA-256 thumbprint of the first certificate in a PEM, hex upper case. */
export function thumbprintOf(certificatePem: string): string {
  return new X509Certificate(certificatePem).fingerprint256.replace(/:/g, '').toUpperCase();
}

export type AutomationConfig = NonNullable<Config['automation']>;

export type AutomationCredential =
  | {
      kind: 'secret';
      /** Where it came from, for messages: "file /etc/…" or "environment variable X". */ source: string;
      secret: string;
    }
  | { kind: 'certificate'; source: string; thumbprintSha256: string; privateKey: KeyObject };

/** Tells the config's credential settings apart without reading anything (for `whoami`, `doctor`). */
export function describeAutomationCredential(automation: AutomationConfig): string {
  if (automation.certificateFile || automation.certificateKeyFile)
    return `certificate (${automation.certificateKeyFile ?? automation.certificateFile})`;
  if (automation.clientSecretFile) return `client secret from file ${automation.clientSecretFile}`;
  if (automation.clientSecretEnv) return `client secret from environment variable ${automation.clientSecretEnv}`;
  return 'none configured';
}

/**
 * Reads a credential file. A secret or key (`secret`) must be readable by its
 * owner only, in directories nobody else can change: checked before reading,
 * so a leaked copy is not used as if nothing happened.
 */
async function readConfiguredFile(
  file: string,
  what: string,
  code: string,
  files: FileHost | undefined,
  secret: boolean,
): Promise<string> {
  if (files && secret) {
    assertSafeFile(
      file,
      'private',
      files,
      `automation ${what} file`,
      'it holds the credential the sweep signs in with, and other users can read it or swap it',
    );
  }
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new AuthError(code, `The automation ${what} file ${file} cannot be read (${reason}).`, {
      hint: `Check that the file exists and that this user can read it, or fix the path in the config's "automation" section.`,
      details: { file },
    });
  }
}

export async function loadAutomationCredential(
  automation: AutomationConfig | undefined,
  env: Readonly<Record<string, string | undefined>>,
  /** The machine's platform and uid, for the checks on secret and key files; omitted, nothing is checked. */
  files?: FileHost,
): Promise<AutomationCredential> {
  if (!automation) {
    throw new ConfigError(
      'CONFIG_INVALID',
      'The config has no "automation" section, so no app-only token can be requested.',
      {
        hint: 'Add automation.clientId and a credential (certificateFile + certificateKeyFile, clientSecretFile or clientSecretEnv).',
      },
    );
  }
  if (automation.certificateFile || automation.certificateKeyFile) return loadCertificate(automation, files);
  if (automation.clientSecretFile) {
    const secret = (
      await readConfiguredFile(
        automation.clientSecretFile,
        'client secret',
        'AUTOMATION_SECRET_UNREADABLE',
        files,
        true,
      )
    ).trim();
    if (!secret) {
      throw new AuthError(
        'AUTOMATION_SECRET_EMPTY',
        `The automation client secret file ${automation.clientSecretFile} is empty.`,
        {
          hint: 'Write the secret value (not its id) into the file, on one line.',
        },
      );
    }
    return { kind: 'secret', source: `file ${automation.clientSecretFile}`, secret };
  }
  if (automation.clientSecretEnv) {
    const secret = env[automation.clientSecretEnv]?.trim();
    if (!secret) {
      throw new AuthError(
        'AUTOMATION_SECRET_MISSING',
        `The environment variable ${automation.clientSecretEnv}, which should hold the automation's client secret, is not set.`,
        {
          hint: `Set ${automation.clientSecretEnv} in the scheduler's environment (not on the command line).`,
        },
      );
    }
    return { kind: 'secret', source: `environment variable ${automation.clientSecretEnv}`, secret };
  }
  throw new ConfigError(
    'CONFIG_INVALID',
    'automation has no credential: none of certificateFile, clientSecretFile or clientSecretEnv is set.',
    {
      hint: 'Prefer a certificate: set automation.certificateFile and automation.certificateKeyFile.',
    },
  );
}

async function loadCertificate(
  automation: AutomationConfig,
  files: FileHost | undefined,
): Promise<AutomationCredential> {
  const keyFile = automation.certificateKeyFile ?? automation.certificateFile!;
  const keyPem = await readConfiguredFile(keyFile, 'certificate key', 'AUTOMATION_CERTIFICATE_UNREADABLE', files, true);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch {
    throw new AuthError(
      'AUTOMATION_CERTIFICATE_INVALID',
      `${keyFile} holds no usable (unencrypted) private key in PEM form.`,
      {
        hint: 'Give the PEM private key of the certificate uploaded to the app registration in automation.certificateKeyFile.',
      },
    );
  }
  let thumbprintSha256 = automation.certificateThumbprintSha256?.toUpperCase();
  if (!thumbprintSha256) {
    if (!automation.certificateFile) {
      throw new ConfigError(
        'CONFIG_INVALID',
        'automation.certificateKeyFile is set but neither certificateFile nor certificateThumbprintSha256 says which certificate it belongs to.',
        {
          hint: 'Set automation.certificateFile to the public certificate (PEM) uploaded to the app registration.',
        },
      );
    }
    const certificatePem = await readConfiguredFile(
      automation.certificateFile,
      'certificate',
      'AUTOMATION_CERTIFICATE_UNREADABLE',
      files,
      false,
    );
    try {
      thumbprintSha256 = thumbprintOf(certificatePem);
    } catch {
      throw new AuthError('AUTOMATION_CERTIFICATE_INVALID', `${automation.certificateFile} holds no PEM certificate.`, {
        hint: 'automation.certificateFile must contain a "-----BEGIN CERTIFICATE-----" block.',
      });
    }
  }
  return {
    kind: 'certificate',
    source: `certificate ${automation.certificateFile ?? keyFile}`,
    thumbprintSha256,
    privateKey,
  };
}

/**
 * Signs the client assertion (RFC 7523, PS256, x5t#S256) with the context's
 * clock instead of letting MSAL use the system time: under the emulator the
 * clock is virtual, and an assertion must be valid at the verifier's time.
 */
export function certificateAssertion(
  credential: Extract<AutomationCredential, { kind: 'certificate' }>,
  clock: Clock,
  fallbackTokenEndpoint: string,
): ClientAssertionCallback {
  return async ({ clientId, tokenEndpoint }) => {
    const now = Math.floor(clock.now().getTime() / 1000);
    const header = {
      alg: 'PS256',
      typ: 'JWT',
      'x5t#S256': Buffer.from(credential.thumbprintSha256, 'hex').toString('base64url'),
    };
    const claims = {
      aud: tokenEndpoint ?? fallbackTokenEndpoint,
      iss: clientId,
      sub: clientId,
      jti: randomUUID(),
      nbf: now,
      iat: now,
      exp: now + 600,
    };
    const signingInput = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const signature = sign('sha256', Buffer.from(signingInput), {
      key: credential.privateKey,
      padding: cryptoConstants.RSA_PKCS1_PSS_PADDING,
      saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST,
    });
    return `${signingInput}.${signature.toString('base64url')}`;
  };
}
