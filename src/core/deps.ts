/** What the use cases need from the world, injected (see cli/services.ts for the real wiring). */
import type { Clock, IdSource } from '../context.js';
import type { Config, GroupConfig } from '../config/schema.js';
import type { DirectoryPort, DirectoryUser, OciPort, StatePort } from './ports.js';
import type { EventPort } from './events.js';
import type { PimPort } from './pim/port.js';
import { DEFAULT_MAX_SKEW_MS, type PolicyContext } from './grants.js';
import { isObjectId } from '../config/object-id.js';

/** One audit log entry as the recorder writes it (store/audit-trail.ts maps events to these). */
export interface AuditInput {
  actor: { id: string; upn: string; kind: 'user' | 'app' };
  action: string;
  target: { groupId?: string; groupName?: string; userId?: string; upn?: string; requestId?: string };
  reason?: string;
  result: 'ok' | 'failed' | 'pending';
  details?: Record<string, unknown>;
}

export type { StatePort } from './ports.js';

export interface CoreDeps {
  config: Config;
  clock: Clock;
  ids: IdSource;
  directory: DirectoryPort;
  oci(): Promise<OciPort>;
  /** This machine's bookkeeping: local requests and decisions, the sweep's ledger. */
  state: StatePort;
  /** What happened, to the audit log (the recorder) and every other subscriber (core/events.ts). */
  events: EventPort;
  /** PIM for Groups, for groups whose backend is "pim" (absent where nothing can reach it: the use cases then refuse). */
  pim?: PimPort;
}

/** How far ahead of this machine's clock a decision may be dated (the config's maxClockSkewMinutes). */
export function maxSkewMsOf(config: Pick<Config, 'maxClockSkewMinutes'> | undefined): number {
  return config?.maxClockSkewMinutes === undefined ? DEFAULT_MAX_SKEW_MS : config.maxClockSkewMinutes * 60_000;
}

/** Resolves the group's configured people (UPNs) to directory users, in one batched read. */
export async function resolvePeople(
  directory: DirectoryPort,
  group: GroupConfig,
  maxSkewMs = DEFAULT_MAX_SKEW_MS,
): Promise<{
  byUpn: Map<string, DirectoryUser>;
  policy: PolicyContext;
  eligibleIds: Set<string>;
  standingIds: Set<string>;
  approvers: DirectoryUser[];
  eligible: DirectoryUser[];
}> {
  // A standing member named by object id (a nested group, service principal or device) is not looked up as a user.
  const standingUpns = group.standingMembers.filter((entry) => !isObjectId(entry));
  const standingObjectIds = group.standingMembers.filter(isObjectId).map((id) => id.toLowerCase());
  const upns = [
    ...new Set(
      [...group.eligibleRequesters, ...group.approvers, ...standingUpns, ...(group.autoApproval?.requesters ?? [])].map(
        (u) => u.toLowerCase(),
      ),
    ),
  ];
  const found = await directory.getUsers(upns);
  const byUpn = new Map<string, DirectoryUser>();
  for (const [key, user] of found) byUpn.set(key.toLowerCase(), user);
  const idsOf = (list: string[]) =>
    new Set(list.map((upn) => byUpn.get(upn.toLowerCase())?.id).filter((id): id is string => Boolean(id)));
  const approverIds = idsOf(group.approvers);
  const eligibleIds = idsOf(group.eligibleRequesters);
  return {
    byUpn,
    policy: {
      group,
      approverIds,
      autoApprovableIds: group.autoApproval ? idsOf(group.autoApproval.requesters) : null,
      eligibleIds,
      maxSkewMs,
    },
    eligibleIds,
    standingIds: new Set([...idsOf(standingUpns), ...standingObjectIds]),
    approvers: group.approvers.map((upn) => byUpn.get(upn.toLowerCase())).filter((u): u is DirectoryUser => Boolean(u)),
    eligible: group.eligibleRequesters
      .map((upn) => byUpn.get(upn.toLowerCase()))
      .filter((u): u is DirectoryUser => Boolean(u)),
  };
}

/**
 * User principal names are compared case-insensitively (as Entra does) but
 * never after Unicode folding: "аlice" with a Cyrillic "а" is another person.
 */
export function sameUpn(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
