/** Picking a managed group by name; kept apart from the schema so commands load no validator at start-up. */
import { UsageError, quoteInput } from '../errors.js';
import type { Config, GroupConfig } from './schema.js';

export function findGroup(config: Config, name: string | undefined): GroupConfig {
  const wanted = name ?? config.defaultGroup ?? (config.groups.length === 1 ? config.groups[0]!.name : undefined);
  if (!wanted) {
    throw new UsageError('Several groups are configured and no --group was given.', {
      code: 'GROUP_REQUIRED',
      hint: `Pass --group with one of: ${config.groups.map((g) => g.name).join(', ')}; or set defaultGroup in the config.`,
    });
  }
  const group = config.groups.find(
    (candidate) => candidate.name.toLowerCase() === wanted.toLowerCase() || candidate.entraGroupId === wanted,
  );
  if (!group) {
    throw new UsageError(`Unknown group ${quoteInput(wanted)}.`, {
      code: 'UNKNOWN_GROUP',
      hint: `Configured groups: ${config.groups.map((g) => g.name).join(', ')}.`,
    });
  }
  return group;
}

/** The group --group names, or every configured group when it is not given (list, status, approve, sweep). */
export function groupsOrAll(config: Config, name: string | undefined): GroupConfig[] {
  return name ? [findGroup(config, name)] : config.groups;
}
