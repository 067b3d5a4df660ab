/**
 * The sweep of a pim group, kept backend-neutral: what PIM holds is read and
 * turned into the plan's usual inputs, and the sweep's rule (sweep-plan.ts)
 * does the rest.
 *
 * - Each active membership assignment becomes one approved decision by
 *   PIM_APPROVER (trusted only for groups whose backend is "pim"), dated by
 *   its start, or by the latest extension PIM granted since, and ending when
 *   PIM ends it. So a member PIM holds is kept, bounded like any grant by the
 *   group's maxHours: a permanent or over-long assignment (an admin's, in the
 *   portal) ends maxHours after it began. A pending request covers nobody.
 * - A member no active assignment covers (added by hand) is removed, standing
 *   members aside, as for records.
 * - Removing a member PIM holds goes through adminRemove, not a DELETE of the
 *   membership (PIM would put it back, or refuse): pimRemovals wraps the
 *   directory port for that group.
 */
import type { GroupConfig } from '../../config/schema.js';
import { OciAccessError } from '../../errors.js';
import type { CoreDeps } from '../deps.js';
import { maxSkewMsOf, resolvePeople } from '../deps.js';
import type { DirectoryPort, Progress, RemoveResult } from '../ports.js';
import type { RecordBook } from '../record-book.js';
import { PIM_APPROVER, type AccessRequest, type Decision } from '../records.js';
import type { GroupRead } from '../sweep-run.js';
import { requirePim } from './policy.js';
import { PIM_GRANTED_STATUSES, type PimInstance, type PimPort, type PimRequest } from './port.js';

const HOUR = 3600_000;
const EXTENSIONS: ReadonlySet<string> = new Set(['selfExtend', 'adminExtend']);

/** The plan's inputs from PIM's active assignments (and the extensions granted since each began). */
export function bookOfInstances(
  group: GroupConfig,
  instances: readonly PimInstance[],
  requests: readonly PimRequest[],
): RecordBook {
  const requestsByUser = new Map<string, AccessRequest[]>();
  const decisions: Decision[] = [];
  for (const instance of instances) {
    if (instance.groupId !== group.entraGroupId || instance.memberType === 'group') continue;
    const extension = requests
      .filter(
        (r) =>
          EXTENSIONS.has(r.action) &&
          PIM_GRANTED_STATUSES.has(r.status) &&
          r.principalId === instance.principalId &&
          (r.completedAt ?? r.createdAt) >= instance.startAt,
      )
      .sort((a, b) => (b.completedAt ?? b.createdAt).getTime() - (a.completedAt ?? a.createdAt).getTime())[0];
    const decidedAt = extension ? (extension.completedAt ?? extension.createdAt) : instance.startAt;
    // A grant's key names what granted it: an extension is a new grant, bounded from its own time.
    const id = extension ? extension.id : instance.id;
    const hours =
      extension?.hours ?? (instance.endAt ? (instance.endAt.getTime() - instance.startAt.getTime()) / HOUR : undefined);
    const request: AccessRequest = {
      id,
      groupId: group.entraGroupId,
      requesterId: instance.principalId,
      hours: hours ?? group.maxHours,
      justification: `(PIM ${instance.assignmentType === 'activated' ? 'activation' : 'assignment'})`,
      requestedAt: decidedAt,
    };
    const list = requestsByUser.get(instance.principalId) ?? [];
    list.push(request);
    requestsByUser.set(instance.principalId, list);
    decisions.push({
      requestId: id,
      requesterId: instance.principalId,
      groupId: group.entraGroupId,
      kind: 'approved',
      approverId: PIM_APPROVER,
      decidedAt,
      ...(instance.endAt ? { expiresAt: instance.endAt } : {}),
      ...(hours !== undefined ? { hours } : {}),
    });
  }
  return { requestsByUser, decisions, decisionsByApprover: new Map() };
}

/** Phase 1 of the sweep for a pim group: the same GroupRead as for records, from PIM. */
export async function readPimGroup(deps: CoreDeps, group: GroupConfig): Promise<GroupRead & { holders: Set<string> }> {
  const pim = requirePim(deps, group);
  const reads = [
    resolvePeople(deps.directory, group, maxSkewMsOf(deps.config)),
    deps.directory.listGroupMembers(group.entraGroupId),
    pim.activeInstances(group.entraGroupId),
    pim.groupRequests(group.entraGroupId),
    deps.state.readGroupLedger(group.entraGroupId),
  ] as const;
  const settled = await Promise.allSettled(reads);
  const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  const [people, members, instances, requests, ledger] = await Promise.all(reads);
  // PIM's policy approves: an auto-approval rule in the config means nothing for a pim group.
  const pimGroup: GroupConfig = { ...group, autoApproval: null };
  return {
    people: { ...people, policy: { ...people.policy, group: pimGroup, autoApprovableIds: null } },
    members,
    book: bookOfInstances(group, instances, requests),
    ledger,
    holders: new Set(instances.map((i) => i.principalId)),
  };
}

/**
 * The directory port for one pim group's sweep: a member PIM holds
 * (`holders`) is removed with adminRemove; anyone else (a hand-added member)
 * with the directory's own removal. A holder whose assignment PIM no longer
 * knows (it ended meanwhile) is removed directly too.
 */
export function pimRemovals(
  inner: DirectoryPort,
  pim: PimPort,
  group: GroupConfig,
  holders: ReadonlySet<string>,
): DirectoryPort {
  const adminRemove = async (groupId: string, userId: string): Promise<RemoveResult> => {
    try {
      await pim.submit({
        action: 'adminRemove',
        principalId: userId,
        groupId,
        justification: 'ociaccess sweep: no grant covers this membership',
      });
      return 'removed';
    } catch (error) {
      if (error instanceof OciAccessError && error.code === 'PIM_NO_ASSIGNMENT')
        return inner.removeGroupMember(groupId, userId);
      throw error;
    }
  };
  const removeGroupMember = (groupId: string, userId: string) =>
    groupId === group.entraGroupId && holders.has(userId)
      ? adminRemove(groupId, userId)
      : inner.removeGroupMember(groupId, userId);
  const removeGroupMembers = async (groupId: string, userIds: string[], onProgress?: Progress) => {
    const held = groupId === group.entraGroupId ? userIds.filter((id) => holders.has(id)) : [];
    const others = userIds.filter((id) => !held.includes(id));
    const results = new Map<string, RemoveResult | Error>();
    for (const userId of held) {
      try {
        results.set(userId, await adminRemove(groupId, userId));
      } catch (error) {
        results.set(userId, error as Error);
      }
      onProgress?.(results.size);
    }
    const done = results.size;
    if (others.length > 0) {
      const rest = await inner.removeGroupMembers(
        groupId,
        others,
        onProgress && ((settled) => onProgress(done + settled)),
      );
      for (const [id, outcome] of rest) results.set(id, outcome);
    }
    return results;
  };
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'removeGroupMember') return removeGroupMember;
      if (property === 'removeGroupMembers') return removeGroupMembers;
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
