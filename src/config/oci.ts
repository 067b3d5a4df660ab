/**
 * The `oci` section is optional (people's machines need no OCI key); the
 * commands that cannot work without it ask for it here, with the same words.
 */
import { ConfigError } from '../errors.js';
import type { Config, OciConfig } from './schema.js';

/** The `oci` section, or a ConfigError (exit 2) naming it and what to add, for `what` (e.g. "sweep"). */
export function requireOci(config: Config, what: string): OciConfig {
  if (config.oci) return config.oci;
  throw new ConfigError(
    'CONFIG_INVALID',
    `${what} needs the OCI identity domain, but the config has no "oci" section.`,
    {
      hint:
        'Add an "oci" section with domainUrl, configFile and profile (docs/configuration.md); set "access": "write" only on the sweep host, ' +
        'and only if it removes members in OCI directly (--fix-drift, --force-oci-after). docs/setup-oci.md says which OCI roles the key needs.',
    },
  );
}
