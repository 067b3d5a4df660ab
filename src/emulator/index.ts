/**
 * Starts the emulator and writes what a client needs beside it: the CA
 * certificate, a ready ociaccess config, an OCI config file with its API key,
 * and the automation's client secret (as a 0600 file, never in argv).
 */
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmulatorServer } from './server.js';
import { generateTls, type EmulatorTls } from './tls.js';
import { World } from './state.js';
import { generateSigningKey, prepareEntra, type SigningKey } from './entra/index.js';
import { SEED, seedDefault, type SeedSecrets } from './seed.js';
import { generateOktaServiceKey, oktaOrgUrl, seedOkta, type OktaServiceKey } from './okta/index.js';
import type { ConfigInput } from '../config/schema.js';

export interface StartEmulatorOptions {
  /** Directory for the files a client needs; a fresh temporary one by default. */
  dir?: string;
  host?: string;
  port?: number;
  /** Provisioning cycle length in virtual milliseconds (default 40 minutes). */
  cycleMs?: number;
  /** 'empty' starts with no tenant content at all. */
  seed?: 'default' | 'empty';
  /**
   * Key material to reuse: RSA key generation is slow, so a test file that
   * starts many emulators makes it once (generateEmulatorKeys) and passes it
   * to each. New keys by default.
   */
  keys?: EmulatorKeys;
}

/** Everything an emulator signs with: its CA and server certificate, and Entra's ID token key. */
export interface EmulatorKeys {
  tls: EmulatorTls;
  idTokenSigningKey: SigningKey;
  /** The Okta service app's RSA key (made when absent). */
  oktaServiceKey?: OktaServiceKey;
}

export function generateEmulatorKeys(): EmulatorKeys {
  return { tls: generateTls(), idTokenSigningKey: generateSigningKey(), oktaServiceKey: generateOktaServiceKey() };
}

export interface RunningEmulator {
  server: EmulatorServer;
  world: World;
  baseUrl: string;
  dir: string;
  caFile: string;
  configFile: string;
  ociConfigFile: string;
  automationSecretFile: string;
  /** The Okta org URL (base URL + /okta). */
  oktaOrgUrl: string;
  /** PEM private key of the seeded Okta service app (0600), for private_key_jwt; absent with seed 'empty'. */
  oktaServiceKeyFile: string;
  secrets: SeedSecrets | null;
  /** Environment a client process needs (the CA to trust, the config to read). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export function clientConfig(
  baseUrl: string,
  files: { caFile: string; ociConfigFile: string; automationSecretFile: string },
  cycleMs = 40 * 60_000,
): ConfigInput {
  const upn = (name: string) => `${name}@${SEED.domain}`;
  return {
    version: 1,
    tenantId: SEED.tenantId,
    clientId: SEED.cliAppId,
    cloud: { authorityHost: baseUrl, graphBaseUrl: baseUrl },
    tls: { caFile: files.caFile },
    automation: { clientId: SEED.automationAppId, clientSecretFile: files.automationSecretFile },
    defaultGroup: SEED.tempGroupName,
    groups: [
      {
        name: SEED.tempGroupName,
        entraGroupId: SEED.tempGroupId,
        ociGroupName: SEED.tempGroupName,
        maxHours: 8,
        defaultHours: 2,
        eligibleRequesters: [upn('alice'), upn('bob'), upn('carol')],
        approvers: [upn('bob'), upn('carol')],
        standingMembers: [upn('breakglass')],
        autoApproval: { maxHours: 1, requesters: [upn('alice')] },
        pendingTimeoutHours: 24,
      },
      {
        // Governed by PIM for Groups: its policy names the approvers, its eligibility schedules the requesters.
        name: SEED.pimGroupName,
        entraGroupId: SEED.pimGroupId,
        ociGroupName: SEED.pimGroupName,
        backend: 'pim',
        maxHours: 8,
        defaultHours: 2,
        eligibleRequesters: [],
        approvers: [],
        pendingTimeoutHours: 24,
      },
    ],
    // Read-only, as on people's machines: a sweep host that removes in OCI directly (--fix-drift, forced removals) sets "write".
    oci: { domainUrl: baseUrl, configFile: files.ociConfigFile, profile: 'DEFAULT', access: 'read' },
    provisioning: {
      servicePrincipalId: SEED.ociServicePrincipalId,
      jobId: SEED.syncJobId,
      ruleId: SEED.syncRuleId,
      provisionOnDemand: false,
      cycleMinutes: cycleMs / 60_000,
    },
    emulator: { controlUrl: `${baseUrl}/_emulator` },
  };
}

export async function startEmulator(options: StartEmulatorOptions = {}): Promise<RunningEmulator> {
  const world = new World(SEED.tenantId);
  const secrets = options.seed === 'empty' ? null : seedDefault(world);
  const keys = options.keys ?? generateEmulatorKeys();
  prepareEntra(world, keys.idTokenSigningKey);
  const oktaServiceKey = keys.oktaServiceKey ?? generateOktaServiceKey();
  if (secrets) seedOkta(world, oktaServiceKey);
  if (options.cycleMs !== undefined) {
    for (const sp of world.servicePrincipals.values()) {
      for (const job of sp.synchronizationJobs) {
        job.intervalMs = options.cycleMs;
        job.nextCycleAt = world.now() + options.cycleMs;
      }
    }
  }
  const tls = keys.tls;
  const server = await new EmulatorServer({ world, host: options.host, port: options.port, tls }).start();
  const dir = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'ociaccess-emulator-')));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caFile = path.join(dir, 'ca.pem');
  const configFile = path.join(dir, 'config.json');
  const ociConfigFile = path.join(dir, 'oci-config');
  const ociKeyFile = path.join(dir, 'oci-api-key.pem');
  const automationSecretFile = path.join(dir, 'automation-secret');
  const oktaServiceKeyFile = path.join(dir, 'okta-service-key.pem');
  await writeFile(caFile, server.tls.caCertPem, { mode: 0o644 });
  if (secrets) {
    await writeFile(automationSecretFile, secrets.automationClientSecret, { mode: 0o600 });
    await writeFile(oktaServiceKeyFile, oktaServiceKey.privateKeyPem, { mode: 0o600 });
    await writeFile(ociKeyFile, secrets.ociApiKey.privateKeyPem, { mode: 0o600 });
    await writeFile(
      ociConfigFile,
      [
        '[DEFAULT]',
        `user=${secrets.ociApiKey.userOcid}`,
        `fingerprint=${secrets.ociApiKey.fingerprint}`,
        `tenancy=${secrets.ociApiKey.tenancyOcid}`,
        'region=us-ashburn-1',
        `key_file=${ociKeyFile}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  }
  const config = clientConfig(server.baseUrl, { caFile, ociConfigFile, automationSecretFile }, options.cycleMs);
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return {
    server,
    world,
    baseUrl: server.baseUrl,
    dir,
    caFile,
    configFile,
    ociConfigFile,
    automationSecretFile,
    oktaOrgUrl: oktaOrgUrl(server.baseUrl),
    oktaServiceKeyFile,
    secrets,
    env: { NODE_EXTRA_CA_CERTS: caFile, OCIACCESS_CONFIG: configFile },
    stop: () => server.stop(),
  };
}
