/** What the use cases need from the world, injected (see cli/services.ts for the real wiring). */
import type { Clock, IdSource } from '../context.js';
import type { Config, GroupConfig } from '../config/schema.js';
import type { DirectoryPort, DirectoryUser, OciPort } from './ports.js';
import type { LocalState } from '../store/state-store.js';
import { DEFAULT_MAX_SKEW_MS, type PolicyContext } from './grants.js';
import { isObjectId } from '../config/object-id.js';

export interface AuditInput {
  actor: { id: string; upn: string; kind: 'user' | 'app' };
  action: string;
  target: { groupId?: string; groupName?: string; userId?: string; upn?: string; requestId?: string };
  reason?: string;
  result: 'ok' | 'failed' | 'pending';
  details?: Record<string, unknown>;
}

export interface StatePort {
  read(): Promise<LocalState>;
  update(mutator: (state: LocalState) => void | Promise<void>): Promise<LocalState>;
}

export interface CoreDeps {
  config: Config;
  clock: Clock;
  ids: IdSource;
  directory: DirectoryPort;
  oci(): Promise<OciPort>;
  state: StatePort;
  audit(entry: AuditInput): Promise<void>;
  /** Many entries in one durable write (a sweep of a big group audits thousands of actions). Falls back to audit() one by one. */
  auditMany?(entries: AuditInput[]): Promise<void>;
}

/** Writes the entries in order, in one append when the deps allow it. */
export async function auditAll(deps: CoreDeps, entries: AuditInput[]): Promise<void> {
  if (entries.length === 0) return;
  if (deps.auditMany) {
    await deps.auditMany(entries);
    return;
  }
  for (const entry of entries) await deps.audit(entry);
}

/** How far ahead of this machine's clock a decision may be dated (the config's maxClockSkewMinutes). */
export function maxSkewMsOf(config: Pick<Config, 'maxClockSkewMinutes'> | undefined): number {
  return config?.maxClockSkewMinutes === undefined ? DEFAULT_MAX_SKEW_MS : config.maxClockSkewMinutes * 60_000;
}

/** Resolves the group's configured people (UPNs) to directory users, in one batched read. */
export async function resolvePeople(directory: DirectoryPort, group: GroupConfig, maxSkewMs = DEFAULT_MAX_SKEW_MS): Promise<{
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
  const upns = [...new Set([...group.eligibleRequesters, ...group.approvers, ...standingUpns, ...(group.autoApproval?.requesters ?? [])].map((u) => u.toLowerCase()))];
  const found = await directory.getUsers(upns);
  const byUpn = new Map<string, DirectoryUser>();
  for (const [key, user] of found) byUpn.set(key.toLowerCase(), user);
  const idsOf = (list: string[]) => new Set(list.map((upn) => byUpn.get(upn.toLowerCase())?.id).filter((id): id is string => Boolean(id)));
  const approverIds = idsOf(group.approvers);
  const eligibleIds = idsOf(group.eligibleRequesters);
  return {
    byUpn,
    policy: { group, approverIds, autoApprovableIds: group.autoApproval ? idsOf(group.autoApproval.requesters) : null, eligibleIds, maxSkewMs },
    eligibleIds,
    standingIds: new Set([...idsOf(standingUpns), ...standingObjectIds]),
    approvers: group.approvers.map((upn) => byUpn.get(upn.toLowerCase())).filter((u): u is DirectoryUser => Boolean(u)),
    eligible: group.eligibleRequesters.map((upn) => byUpn.get(upn.toLowerCase())).filter((u): u is DirectoryUser => Boolean(u)),
  };
}

/**
 * User principal names are compared case-insensitively (as Entra does) but
 * never after Unicode folding: "аlice" with a Cyrillic "а" is another person.
 */
export function sameUpn(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
