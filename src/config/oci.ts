/**
 * The `oci` section is optional (people's machines need no OCI key); the
 * commands that cannot work without it ask for it here, with the same words.
 */
import { ConfigError } from '../errors.js';
import type { Config, GroupConfig, OciConfig } from './schema.js';

/** The `oci` section, or a ConfigError (exit 2) naming it and what to add, for `what` (e.g. "sweep"). */
export function requireOci(config: Config, what: string): OciConfig {
  if (config.oci) return config.oci;
  throw new ConfigError(
    'CONFIG_INVALID',
    `${what} needs the OCI identity domain, but the config has no "oci" section.`,
    {
      hint:
        'Add an "oci" section with domainUrl, configFile and profile (docs/configuration.md); set "access": "write" only on the sweep host, ' +
        'where it removes members in OCI directly (oci.removeDirectly, --fix-drift, --force-oci-after). docs/setup-oci.md says which OCI roles the key needs.',
    },
  );
}

/**
 * Whether the sweep removes the group's members from the OCI group itself
 * right after their Entra removal: the group's own removeDirectly, else
 * oci.removeDirectly, else on exactly when the key is declared for writing.
 */
export function removesDirectly(config: Pick<Config, 'oci'>, group: Pick<GroupConfig, 'removeDirectly'>): boolean {
  if (config.oci?.access !== 'write') return false;
  return group.removeDirectly ?? config.oci.removeDirectly ?? true;
}
