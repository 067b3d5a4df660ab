/**
 * The emulator's config turned to Okta (docs/okta.md, "The emulator's seed"):
 * the org at ${baseUrl}/okta, the seeded native app for people and service app
 * for the sweep (private_key_jwt with the emulator's key), the OCI app whose
 * Push Groups mappings doctor checks, and the temp group
 * by its Okta id, which Push Groups sends to OCI-Temp-Admins-Okta. The Entra
 * settings are dropped, as a real Okta config has none; the PIM group too,
 * PIM for Groups being Entra's. Used by `demo --idp okta` and by the tests.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { ConfigInput } from '../config/schema.js';
import type { RunningEmulator } from '../emulator/index.js';
import { SEED, SEED_OKTA } from '../emulator/seed.js';

export function oktaConfigOf(
  entraConfig: ConfigInput,
  emulator: Pick<RunningEmulator, 'oktaOrgUrl' | 'oktaServiceKeyFile'>,
): ConfigInput {
  const {
    tenantId: _tenant,
    clientId: _client,
    automation: _automation,
    provisioning: _provisioning,
    ...rest
  } = entraConfig;
  const temp = entraConfig.groups.find((group) => group.name === SEED.tempGroupName);
  if (!temp) throw new Error(`the emulator's config has no group ${SEED.tempGroupName}`);
  return {
    ...rest,
    idp: {
      type: 'okta',
      orgUrl: emulator.oktaOrgUrl,
      clientId: SEED_OKTA.nativeAppClientId,
      automation: {
        clientId: SEED_OKTA.serviceAppClientId,
        privateKeyFile: emulator.oktaServiceKeyFile,
        keyId: SEED_OKTA.serviceAppKeyId,
      },
      ociAppId: SEED_OKTA.ociAppId,
    },
    groups: [
      {
        ...temp,
        entraGroupId: undefined,
        oktaGroupId: SEED_OKTA.tempGroupId,
        ociGroupName: SEED_OKTA.ociGroupName,
      },
    ],
  };
}

/** Writes oktaConfigOf(the emulator's config) to `file` (0600, as the config must be) and returns its path. */
export async function writeOktaConfig(emulator: RunningEmulator, file: string): Promise<string> {
  const entraConfig = JSON.parse(await readFile(emulator.configFile, 'utf8')) as ConfigInput;
  await writeFile(file, `${JSON.stringify(oktaConfigOf(entraConfig, emulator), null, 2)}\n`, { mode: 0o600 });
  return file;
}
