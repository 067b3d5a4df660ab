/**
 * The sweep: for every managed group, apply the deny-by-default rule, carry out
 * auto-approvals, note timed-out requests, and check OCI for every removal not
 * yet confirmed. Every action is idempotent and decided from Entra's current
 * state, so several hosts may sweep at once and a crashed sweep can re-run.
 */
import type { GroupConfig } from '../config/schema.js';
import type { AuditInput, CoreDeps } from './deps.js';
import { resolvePeople } from './deps.js';
import type { DirectoryUser, OciPort } from './ports.js';
import { loadRecordBook } from './record-book.js';
import { planGroupSweep, type PlannedRemoval } from './sweep-plan.js';
import { AUTO_APPROVER, DECISIONS_EXTENSION, decodeDecisions, encodeDecisions, type AccessRequest, type Decision } from './records.js';
import type { PendingRemoval } from '../store/state-store.js';

const HOUR = 3600_000;
/** After this many failed attempts a removal is flagged irrevocable (still retried on every sweep). */
export const IRREVOCABLE_AFTER_ATTEMPTS = 6;

export interface SweepOptions {
  dryRun: boolean;
  provisionNow: boolean;
  /** A removal still in OCI after this long is removed there directly (0 = never). */
  forceOciAfterMs: number;
  /** Length of Entra's provisioning cycle; a removal pending for two cycles is reported as stuck. */
  cycleMs: number;
  actor: AuditInput['actor'];
  onProgress?: (message: string) => void;
}

export interface SweepMemberAction { userId: string; upn: string; reason: string; requestId?: string; outcome?: string; expiresAt?: string }

export interface GroupSweepReport {
  group: string;
  entraGroupId: string;
  members: number;
  kept: SweepMemberAction[];
  removed: SweepMemberAction[];
  autoApproved: SweepMemberAction[];
  timedOut: SweepMemberAction[];
  pendingInOci: SweepMemberAction[];
  confirmedInOci: SweepMemberAction[];
  forcedInOci: SweepMemberAction[];
  stuck: SweepMemberAction[];
  failed: SweepMemberAction[];
  provisioning?: { code: string; quarantineReason: string | null } | null;
  problems: string[];
}

export interface SweepReport {
  startedAt: string;
  finishedAt: string;
  dryRun: boolean;
  groups: GroupSweepReport[];
  outcome: 'clean' | 'pending' | 'failed';
}

function action(user: Pick<DirectoryUser, 'id' | 'userPrincipalName'>, reason: string, extra: Partial<SweepMemberAction> = {}): SweepMemberAction {
  return { userId: user.id, upn: user.userPrincipalName, reason, ...extra };
}

export async function runSweep(deps: CoreDeps, groups: GroupConfig[], options: SweepOptions): Promise<SweepReport> {
  const startedAt = deps.clock.now();
  const reports: GroupSweepReport[] = [];
  let job: Awaited<ReturnType<CoreDeps['directory']['provisioningJob']>> | undefined;
  try {
    job = await deps.directory.provisioningJob();
  } catch (error) {
    job = undefined;
    options.onProgress?.(`could not read the provisioning job: ${(error as Error).message}`);
  }
  for (const group of groups) {
    reports.push(await sweepGroup(deps, group, options, job));
  }
  const failed = reports.some((r) => r.failed.length > 0 || r.stuck.length > 0 || r.problems.length > 0);
  const pending = reports.some((r) => r.pendingInOci.length > 0);
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: deps.clock.now().toISOString(),
    dryRun: options.dryRun,
    groups: reports,
    outcome: failed ? 'failed' : pending ? 'pending' : 'clean',
  };
}

async function sweepGroup(
  deps: CoreDeps,
  group: GroupConfig,
  options: SweepOptions,
  job: Awaited<ReturnType<CoreDeps['directory']['provisioningJob']>> | undefined,
): Promise<GroupSweepReport> {
  const now = deps.clock.now();
  const report: GroupSweepReport = {
    group: group.name, entraGroupId: group.entraGroupId, members: 0,
    kept: [], removed: [], autoApproved: [], timedOut: [], pendingInOci: [], confirmedInOci: [], forcedInOci: [], stuck: [], failed: [],
    provisioning: job ? { code: job.code, quarantineReason: job.quarantineReason } : job === null ? null : undefined,
    problems: [],
  };
  if (job && job.code === 'Quarantine') {
    report.problems.push(`The provisioning job is in quarantine (${job.quarantineReason ?? 'no reason given'}): removals will not reach OCI until it is fixed.`);
  }
  const progress = (message: string) => options.onProgress?.(`${group.name}: ${message}`);
  const audit = (entry: Omit<AuditInput, 'actor'>) => deps.audit({ actor: options.actor, ...entry });
  const target = (user: Pick<DirectoryUser, 'id' | 'userPrincipalName'>, requestId?: string) => ({
    groupId: group.entraGroupId, groupName: group.name, userId: user.id, upn: user.userPrincipalName, ...(requestId ? { requestId } : {}),
  });

  progress('reading members and records');
  const people = await resolvePeople(deps.directory, group);
  const members = await deps.directory.listGroupMembers(group.entraGroupId);
  report.members = members.length;
  const book = await loadRecordBook(deps.directory, group, [...people.eligibleIds, ...members.map((m) => m.id)], people.policy.approverIds);
  const state = await deps.state.read();
  const plan = planGroupSweep({
    policy: people.policy,
    members,
    standingIds: people.standingIds,
    eligibleIds: people.eligibleIds,
    requestsByUser: book.requestsByUser,
    decisions: book.decisions,
    firstSeen: state.sweep.firstSeen[group.entraGroupId] ?? {},
    now,
  });
  const userById = new Map<string, DirectoryUser>([...people.byUpn.values(), ...members].map((u) => [u.id, u]));
  const userOf = (id: string): DirectoryUser => userById.get(id) ?? { id, userPrincipalName: id, displayName: id };

  report.kept = plan.keep.map((k) => action(k.user, k.reason, { requestId: k.requestId, expiresAt: k.expiresAt?.toISOString() }));
  report.timedOut = plan.timedOut.map((r) => action(userOf(r.requesterId), 'pending-timeout', { requestId: r.id }));
  for (const removal of plan.remove) report.removed.push(action(removal.user, removal.reason, { requestId: removal.requestId, outcome: options.dryRun ? 'planned' : undefined }));
  for (const request of plan.autoApprove) report.autoApproved.push(action(userOf(request.requesterId), 'auto-approval', { requestId: request.id, outcome: options.dryRun ? 'planned' : undefined }));
  if (options.dryRun) return report;

  // Auto-approvals: record first (so no sweep elsewhere removes the member), then add.
  if (plan.autoApprove.length > 0) {
    await autoApprove(deps, group, plan.autoApprove, now, audit, target, userOf, report);
  }

  // Removals, batched; only a 204 or 404 counts as removed.
  if (plan.remove.length > 0) {
    progress(`removing ${plan.remove.length} member(s)`);
    await removeMembers(deps, group, plan.remove, now, audit, target, report);
  }

  await deps.state.update((s) => {
    s.sweep.firstSeen[group.entraGroupId] = plan.firstSeen;
  });

  progress('checking OCI');
  // Who is in the Entra group now: before the sweep, less those it removed, plus those it added.
  const memberIdsNow = new Set(members.map((m) => m.id));
  for (const removed of report.removed) memberIdsNow.delete(removed.userId);
  for (const added of report.autoApproved) memberIdsNow.add(added.userId);
  await checkOci(deps, group, options, now, audit, target, report, memberIdsNow);
  return report;
}

async function autoApprove(
  deps: CoreDeps, group: GroupConfig, requests: AccessRequest[], now: Date,
  audit: (e: Omit<AuditInput, 'actor'>) => Promise<void>,
  target: (u: Pick<DirectoryUser, 'id' | 'userPrincipalName'>, requestId?: string) => AuditInput['target'],
  userOf: (id: string) => DirectoryUser, report: GroupSweepReport,
): Promise<void> {
  const fresh: Decision[] = requests.map((request) => ({
    requestId: request.id, requesterId: request.requesterId, groupId: group.entraGroupId, kind: 'approved', approverId: AUTO_APPROVER,
    decidedAt: now, expiresAt: new Date(now.getTime() + request.hours * HOUR), hours: request.hours, reason: 'auto-approval rule',
  }));
  for (const decision of fresh) await audit({ action: 'auto-approve', target: target(userOf(decision.requesterId), decision.requestId), result: 'pending' });
  const owner = { kind: 'group' as const, id: group.entraGroupId };
  // Another host may write the same record at the same time: write, read back, merge again if ours is missing.
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const existing = decodeDecisions(await deps.directory.readRecord(owner, DECISIONS_EXTENSION), AUTO_APPROVER);
    const missing = fresh.filter((d) => !existing.some((e) => e.requestId === d.requestId && e.kind === 'approved'));
    if (missing.length === 0) break;
    await deps.directory.writeRecord(owner, DECISIONS_EXTENSION, encodeDecisions([...existing, ...missing], now));
  }
  report.autoApproved = [];
  for (const decision of fresh) {
    const user = userOf(decision.requesterId);
    try {
      const membership = await deps.directory.addGroupMember(group.entraGroupId, decision.requesterId);
      report.autoApproved.push(action(user, 'auto-approval', { requestId: decision.requestId, outcome: membership, expiresAt: decision.expiresAt!.toISOString() }));
      await audit({ action: 'auto-approve', target: target(user, decision.requestId), result: 'ok', details: { expiresAt: decision.expiresAt!.toISOString(), membership } });
    } catch (error) {
      report.failed.push(action(user, 'auto-approval', { requestId: decision.requestId, outcome: (error as Error).message }));
      await audit({ action: 'auto-approve', target: target(user, decision.requestId), result: 'failed', details: { error: (error as Error).message } });
    }
  }
}

async function removeMembers(
  deps: CoreDeps, group: GroupConfig, removals: PlannedRemoval[], now: Date,
  audit: (e: Omit<AuditInput, 'actor'>) => Promise<void>,
  target: (u: Pick<DirectoryUser, 'id' | 'userPrincipalName'>, requestId?: string) => AuditInput['target'],
  report: GroupSweepReport,
): Promise<void> {
  const results = await deps.directory.removeGroupMembers(group.entraGroupId, removals.map((r) => r.user.id));
  report.removed = [];
  const entries: Omit<AuditInput, 'actor'>[] = [];
  await deps.state.update((s) => {
    for (const removal of removals) {
      const key = `${group.entraGroupId}:${removal.user.id}`;
      const result = results.get(removal.user.id);
      if (result === 'removed' || result === 'not-member') {
        delete s.sweep.failedRemovals[key];
        const previous = s.sweep.pendingRemovals[key];
        s.sweep.pendingRemovals[key] = {
          groupId: group.entraGroupId, userId: removal.user.id, upn: removal.user.userPrincipalName,
          removedInEntraAt: previous?.status === 'pending-oci' ? previous.removedInEntraAt : now.toISOString(),
          reason: removal.reason, attempts: 0, status: 'pending-oci',
        };
        report.removed.push(action(removal.user, removal.reason, { requestId: removal.requestId, outcome: result }));
        entries.push({ action: 'remove', target: target(removal.user, removal.requestId), reason: removal.reason, result: 'ok', details: { entra: result } });
      } else {
        const failure = s.sweep.failedRemovals[key];
        const attempts = (failure?.attempts ?? 0) + 1;
        const message = result instanceof Error ? result.message : 'no answer';
        s.sweep.failedRemovals[key] = {
          groupId: group.entraGroupId, userId: removal.user.id, upn: removal.user.userPrincipalName,
          attempts, lastError: message, firstFailedAt: failure?.firstFailedAt ?? now.toISOString(),
        };
        const irrevocable = attempts >= IRREVOCABLE_AFTER_ATTEMPTS;
        report.failed.push(action(removal.user, removal.reason, { requestId: removal.requestId, outcome: `${irrevocable ? 'IRREVOCABLE after ' + attempts + ' attempts: ' : ''}${message}` }));
        entries.push({ action: 'remove', target: target(removal.user, removal.requestId), reason: removal.reason, result: 'failed', details: { error: message, attempts, irrevocable } });
      }
    }
  });
  for (const entry of entries) await audit(entry);
}

async function checkOci(
  deps: CoreDeps, group: GroupConfig, options: SweepOptions, now: Date,
  audit: (e: Omit<AuditInput, 'actor'>) => Promise<void>,
  target: (u: Pick<DirectoryUser, 'id' | 'userPrincipalName'>) => AuditInput['target'],
  report: GroupSweepReport, entraMemberIds: Set<string>,
): Promise<void> {
  const state = await deps.state.read();
  const pending = Object.entries(state.sweep.pendingRemovals).filter(([, p]) => p.groupId === group.entraGroupId && p.status !== 'confirmed');
  // Someone re-added in Entra (a new grant) is no longer a pending removal.
  const stillRelevant = pending.filter(([, p]) => !entraMemberIds.has(p.userId));
  if (stillRelevant.length === 0) {
    if (pending.length) await deps.state.update((s) => { for (const [key] of pending) delete s.sweep.pendingRemovals[key]; });
    return;
  }
  let oci: OciPort;
  let ociGroup: { id: string } | null;
  let memberIds: Set<string>;
  try {
    oci = await deps.oci();
    ociGroup = await oci.findGroup(group.ociGroupName);
    memberIds = ociGroup ? await oci.groupMemberIds(ociGroup.id) : new Set();
  } catch (error) {
    report.problems.push(`OCI check failed: ${(error as Error).message}`);
    for (const [, p] of stillRelevant) report.pendingInOci.push(action({ id: p.userId, userPrincipalName: p.upn }, p.reason, { outcome: 'not checked' }));
    return;
  }
  if (!ociGroup) report.problems.push(`The OCI group "${group.ociGroupName}" does not exist in the identity domain.`);
  const updates = new Map<string, PendingRemoval | null>();
  const stillInOci: { key: string; removal: PendingRemoval; ociUserId: string }[] = [];
  for (const [key, removal] of stillRelevant) {
    const ociUser = await oci.findUser(removal.upn);
    if (!ociUser || !memberIds.has(ociUser.id)) {
      updates.set(key, { ...removal, status: 'confirmed', lastCheckedAt: now.toISOString(), attempts: removal.attempts + 1 });
      report.confirmedInOci.push(action({ id: removal.userId, userPrincipalName: removal.upn }, removal.reason, { outcome: ociUser ? 'not in OCI group' : 'no OCI user' }));
      await audit({ action: 'confirm-oci', target: target({ id: removal.userId, userPrincipalName: removal.upn }), result: 'ok' });
      continue;
    }
    stillInOci.push({ key, removal, ociUserId: ociUser.id });
  }
  if (options.provisionNow && stillInOci.length > 0) {
    try {
      await deps.directory.provisionOnDemand(group.entraGroupId, stillInOci.map((s) => s.removal.userId));
    } catch (error) {
      report.problems.push(`provision on demand failed: ${(error as Error).message}`);
    }
  }
  for (const { key, removal, ociUserId } of stillInOci) {
    const pendingFor = now.getTime() - new Date(removal.removedInEntraAt).getTime();
    const who = { id: removal.userId, userPrincipalName: removal.upn };
    if (options.forceOciAfterMs > 0 && pendingFor >= options.forceOciAfterMs && ociGroup) {
      try {
        await oci.removeGroupMember(ociGroup.id, ociUserId);
        updates.set(key, { ...removal, status: 'confirmed', forcedInOciAt: now.toISOString(), lastCheckedAt: now.toISOString(), attempts: removal.attempts + 1 });
        report.forcedInOci.push(action(who, removal.reason, { outcome: 'removed in OCI directly' }));
        await audit({ action: 'force-remove-oci', target: target(who), result: 'ok', details: { pendingForMs: pendingFor } });
        continue;
      } catch (error) {
        report.problems.push(`direct OCI removal of ${removal.upn} failed: ${(error as Error).message}`);
      }
    }
    updates.set(key, { ...removal, lastCheckedAt: now.toISOString(), attempts: removal.attempts + 1 });
    if (pendingFor > 2 * options.cycleMs) {
      report.stuck.push(action(who, removal.reason, { outcome: `still in OCI ${Math.round(pendingFor / 60000)} min after removal in Entra` }));
    } else {
      report.pendingInOci.push(action(who, removal.reason, { outcome: 'removed in Entra, pending in OCI' }));
    }
  }

  await deps.state.update((s) => {
    for (const [key, value] of updates) {
      if (value === null) delete s.sweep.pendingRemovals[key];
      else s.sweep.pendingRemovals[key] = value;
    }
    for (const [key, p] of pending) if (entraMemberIds.has(p.userId)) delete s.sweep.pendingRemovals[key];
  });
}
