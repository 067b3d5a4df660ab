/**
 * The sweep's rule, written again from design.md and docs/records.md, over
 * what the emulator stores — deliberately not calling the product's code, so
 * that a bug in the product's derivation cannot hide itself in the test's
 * expectation.
 *
 * A member keeps the membership only if they are a standing member, or hold an
 * approval of a request of theirs for the group — by a configured approver who
 * is not themselves (a record on the approver's own user object), or by the
 * auto-approval rule (the group's own record, within the rule's hours and
 * people) — that is not revoked (by a trusted revocation, or by the requester
 * withdrawing it) and whose expiry, the earliest of every bound, is in the
 * future. (Grants here never exceed the group's maximum, so the
 * maximum-since-first-seen bound never bites first.)
 */
import type { World } from '../../../src/emulator/state.js';
import { SEED } from '../../../src/emulator/seed.js';

const HOUR_S = 3600;

export interface RulePolicy {
  groupId: string;
  maxHours: number;
  approvers: string[];
  standing: string[];
  autoApproval: { maxHours: number; requesters: string[] } | null;
}

/** The emulator's default config (src/emulator/index.ts clientConfig), as object ids. */
export const DEFAULT_POLICY: RulePolicy = {
  groupId: SEED.tempGroupId,
  maxHours: 8,
  approvers: [SEED.users.bob, SEED.users.carol],
  standing: [SEED.users.breakglass],
  autoApproval: { maxHours: 1, requesters: [SEED.users.alice] },
};

interface StoredDecision {
  r: string;
  u: string;
  g: string;
  d: 'a' | 'n' | 'x';
  a: number;
  e?: number;
  h?: number;
}
interface StoredRequest {
  i: string;
  g: string;
  h: number;
  a: number;
  w?: 'c' | 'r';
}

function recordsOf(extensions: Map<string, { properties: Record<string, unknown> }>, name: string): any[] {
  const records = extensions.get(name)?.properties.records;
  if (typeof records !== 'string') return [];
  try {
    const parsed = JSON.parse(records);
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

/** The trusted decisions (approver id → its decisions) and every user's requests, as stored now. */
function snapshot(world: World, policy: RulePolicy) {
  const decisions: { approver: string; record: StoredDecision }[] = [];
  for (const approver of policy.approvers) {
    const user = world.users.get(approver);
    if (user)
      for (const record of recordsOf(user.extensions, 'com.ociaccess.decisions')) decisions.push({ approver, record });
  }
  const group = world.groups.get(policy.groupId);
  if (group && policy.autoApproval) {
    for (const record of recordsOf(group.extensions, 'com.ociaccess.decisions'))
      decisions.push({ approver: 'auto', record });
  }
  const requests = new Map<string, StoredRequest[]>();
  for (const user of world.users.values()) requests.set(user.id, recordsOf(user.extensions, 'com.ociaccess.requests'));
  return { decisions, requests };
}

/** The expiry (Unix seconds) of the live grant `userId` holds at `nowS`, or null. */
export function liveGrantExpiry(
  world: World,
  userId: string,
  nowS = Math.floor(world.now() / 1000),
  policy: RulePolicy = DEFAULT_POLICY,
): number | null {
  const { decisions, requests } = snapshot(world, policy);
  const mine = requests.get(userId) ?? [];
  let best: number | null = null;
  for (const { approver, record } of decisions) {
    if (record.d !== 'a' || record.u !== userId || record.g !== policy.groupId) continue;
    if (approver === userId) continue;
    if (approver === 'auto') {
      const rule = policy.autoApproval!;
      if ((record.h ?? Infinity) > rule.maxHours) continue;
      if (rule.requesters.length > 0 && !rule.requesters.includes(userId)) continue;
    }
    const request = mine.find((r) => r.i === record.r);
    if (request && request.g !== policy.groupId) continue;
    if (request?.w === 'r') continue;
    const revoked = decisions.some(
      ({ approver: by, record: other }) =>
        other.d === 'x' && other.r === record.r && other.u === userId && other.g === policy.groupId && by !== userId,
    );
    if (revoked) continue;
    // Two approvers racing: the first decision settles the request.
    const settling = decisions
      .filter(
        ({ approver: by, record: other }) =>
          other.r === record.r && other.u === userId && other.g === policy.groupId && other.d !== 'x' && by !== userId,
      )
      .sort((x, y) => x.record.a - y.record.a)[0];
    if (settling && settling.record.d !== 'a') continue;
    const bounds = [record.a + policy.maxHours * HOUR_S];
    if (record.e !== undefined) bounds.push(record.e);
    if (record.h !== undefined) bounds.push(record.a + record.h * HOUR_S);
    if (approver === 'auto') bounds.push(record.a + policy.autoApproval!.maxHours * HOUR_S);
    const expiry = Math.min(...bounds);
    if (expiry > nowS && (best === null || expiry > best)) best = expiry;
  }
  return best;
}

/** Object ids that must be in the group at `nowS` per the rule (only among `candidates`: the group cannot hold anyone else legitimately). */
export function mustBeMember(
  world: World,
  userId: string,
  nowS?: number,
  policy: RulePolicy = DEFAULT_POLICY,
): boolean {
  return policy.standing.includes(userId) || liveGrantExpiry(world, userId, nowS, policy) !== null;
}

/** The Entra group's members as object ids. */
export function memberIds(world: World, groupId = SEED.tempGroupId): string[] {
  return [...(world.groups.get(groupId)?.members ?? [])].sort();
}

/**
 * What the group must hold after a complete sweep at the current virtual time:
 * the standing members and everyone with a live grant (every approval in
 * these tests ran to its end, so each live grant was added).
 */
export function expectedMembers(world: World, policy: RulePolicy = DEFAULT_POLICY): string[] {
  const nowS = Math.floor(world.now() / 1000);
  const out = new Set(policy.standing);
  for (const id of world.users.keys()) if (mustBeMember(world, id, nowS, policy)) out.add(id);
  return [...out].sort();
}

/**
 * Watches the Entra group: calls `onRemove(userId)` synchronously whenever a
 * member is taken out (by any route), before it happens.
 */
export function watchRemovals(
  world: World,
  onRemove: (userId: string) => void,
  groupId = SEED.tempGroupId,
): () => void {
  const group = world.groups.get(groupId)!;
  const original = group.members;
  class WatchedSet extends Set<string> {
    override delete(value: string): boolean {
      if (this.has(value)) onRemove(value);
      return super.delete(value);
    }
  }
  group.members = new WatchedSet(original);
  return () => {
    group.members = new Set(group.members);
  };
}
