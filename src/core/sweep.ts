/**
 * The sweep: for every managed group, apply the deny-by-default rule, carry out
 * auto-approvals, note timed-out requests, check OCI for every removal not yet
 * confirmed, and report (or fix) drift: OCI members with neither an Entra
 * membership nor a grant. Every action is idempotent and decided from Entra's
 * current state, so several hosts may sweep at once and a crashed sweep can re-run.
 *
 * Each group is swept in four steps, each reading what the one before left
 * in one GroupRun:
 *   read  — members, the configured people, their records and the ledger,
 *           side by side (this file);
 *   plan  — the rule, pure (sweep-plan.ts);
 *   act   — auto-approvals, completions, removals, restores (sweep-act.ts);
 *   check — OCI, read once: confirm, provision on demand, forced removals, drift (sweep-check.ts).
 * Entra is read in paged lists and $batch calls (the directory adapter bounds
 * them); what happened goes out as domain events, one emit per step.
 */
import type { GroupConfig } from '../config/schema.js';
import type { CoreDeps } from './deps.js';
import { maxSkewMsOf, resolvePeople } from './deps.js';
import type { ProvisioningJobStatus } from './ports.js';
import { describeSyncError, provisioningHealth, provisioningProblem } from './provisioning-health.js';
import { isObjectId } from '../config/object-id.js';
import { loadRecordBookByUpn, type RecordBook } from './record-book.js';
import { planGroupSweep, type GroupSweepPlan } from './sweep-plan.js';
import { GrantViews, liveGrant, type ApprovalProblem } from './grants.js';
import { AUTO_APPROVER, type Decision } from './records.js';
import { GroupRun, action, type GroupRead, type OciView } from './sweep-run.js';
import { act } from './sweep-act.js';
import { pimRemovals, readPimGroup } from './pim/sweep-input.js';
import { requirePim } from './pim/policy.js';
import { UNAVAILABLE_CODES, checkOci } from './sweep-check.js';
import type { GroupSweepReport, PlannedCounts, SweepOptions, SweepReport } from './sweep-report.js';

export type * from './sweep-report.js';
export { IRREVOCABLE_AFTER_ATTEMPTS, describeNonUser } from './sweep-names.js';

type JobRead = () => Promise<ProvisioningJobStatus | null | undefined>;

export async function runSweep(deps: CoreDeps, groups: GroupConfig[], options: SweepOptions): Promise<SweepReport> {
  const startedAt = deps.clock.now();
  // Every group's report names the provisioning job's state: read once, beside the first group's OCI read.
  let jobRead: ReturnType<JobRead> | undefined;
  const job: JobRead = () =>
    (jobRead ??= deps.directory.provisioningJob().catch((error: unknown) => {
      options.onProgress?.(`could not read the provisioning job: ${(error as Error).message}`);
      return undefined;
    }));
  const reports: GroupSweepReport[] = [];
  for (const group of groups) reports.push(await sweepGroup(deps, group, options, job));
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: deps.clock.now().toISOString(),
    dryRun: options.dryRun,
    groups: reports,
    outcome: outcomeOf(reports, options.dryRun),
    ...(options.dryRun ? { planned: plannedCounts(reports) } : {}),
  };
}

/** What a dry run would change, counted over every group. */
export function plannedCounts(reports: GroupSweepReport[]): PlannedCounts {
  const count = (list: (r: GroupSweepReport) => { outcome?: string; state?: string }[]) =>
    reports.reduce(
      (sum, r) => sum + list(r).filter((a) => (a.outcome ?? a.state ?? '').startsWith('planned')).length,
      0,
    );
  return {
    remove: count((r) => r.removed),
    autoApprove: count((r) => r.autoApproved),
    removeInOci: count((r) => [...r.forcedInOci, ...r.removedInOci]),
    fixDrift: count((r) => r.drift.map((d) => ({ state: d.state }))),
  };
}

/** Failed before unavailable before pending in OCI; a dry run that would change something is "planned", else clean. */
export function outcomeOf(reports: GroupSweepReport[], dryRun = false): SweepReport['outcome'] {
  const outcome = realOutcomeOf(reports);
  if (outcome !== 'clean' || !dryRun) return outcome;
  const planned = plannedCounts(reports);
  return planned.remove + planned.autoApprove + planned.removeInOci + planned.fixDrift > 0 ? 'planned' : 'clean';
}

function realOutcomeOf(reports: GroupSweepReport[]): SweepReport['outcome'] {
  const failures = reports.flatMap((r) => [...r.failed, ...r.drift.filter((d) => d.state === 'failed')]);
  const hardFailure =
    reports.some(
      (r) =>
        r.stuck.length > 0 ||
        r.problems.length > 0 ||
        r.untrusted.length > 0 ||
        r.drift.some((d) => d.state === 'stuck'),
    ) || failures.some((f) => !f.code || !UNAVAILABLE_CODES.has(f.code));
  if (hardFailure) return 'failed';
  if (failures.length > 0 || reports.some((r) => (r.unavailable?.length ?? 0) > 0)) return 'unavailable';
  const pending = reports.some((r) => r.pendingInOci.length > 0 || r.drift.some((d) => d.state === 'reported'));
  return pending ? 'pending' : 'clean';
}

async function sweepGroup(
  deps: CoreDeps,
  group: GroupConfig,
  options: SweepOptions,
  job: JobRead,
): Promise<GroupSweepReport> {
  options.onProgress?.(`${group.name}: reading members and records`);
  options.onStep?.({ group: group.name, phase: 'reading', done: 0, total: 1 });
  const now = deps.clock.now();
  // A pim group is read from PIM into the same inputs, and its removals go through PIM (pim/sweep-input.ts).
  const pimRead = group.backend === 'pim' ? await readPimGroup(deps, group) : undefined;
  const read = pimRead ?? (await readGroup(deps, group, options));
  const runDeps = pimRead
    ? { ...deps, directory: pimRemovals(deps.directory, requirePim(deps, group), group, pimRead.holders) }
    : deps;
  const grants = new GrantViews(read.book.decisions, read.people.policy, now, read.ledger.grantsFirstSeen);
  const run = new GroupRun(runDeps, group, options, read, grants);
  const plan = planGroupSweep({
    grants,
    policy: read.people.policy,
    standingIds: read.people.standingIds,
    eligibleIds: read.people.eligibleIds,
    members: read.members,
    requestsByUser: read.book.requestsByUser,
    decisions: read.book.decisions,
    firstSeen: read.ledger.firstSeen,
    grantsFirstSeen: read.ledger.grantsFirstSeen,
    now,
  });
  reportPlan(run, plan);
  options.onNextDue?.(nextDueOf(plan, read, grants), group.name);
  try {
    if (!run.dryRun) await act(run, plan);
    await run.emitPending();
    run.progress('checking OCI');
    run.step('oci', 0, 1);
    const [oci] = await Promise.all([readOci(deps, group), job()]);
    const memberIds = membersAfter(run);
    const driftSeen = await checkOci(run, oci, memberIds, entitledUpns(run, memberIds));
    if (!run.dryRun) {
      // One durable write for the whole group (the ledger of a big group is large, and each write is locked and fsynced).
      await deps.state.writeGroupLedger(group.entraGroupId, {
        ...run.changes,
        firstSeen: plan.firstSeen,
        grantsFirstSeen: plan.grantsFirstSeen,
        driftSeen,
      });
    }
  } catch (error) {
    // What was done is written down (audit log, ledger) before the sweep fails: the next one goes on from there.
    await run.emitPending();
    if (!run.dryRun) await deps.state.writeGroupLedger(group.entraGroupId, run.changes).catch(() => undefined);
    throw error;
  }
  await finish(run, job);
  return run.report;
}

/**
 * Phase 1: what the plan needs, side by side (records by UPN, so they need
 * not wait for the ids). When one read fails the sweep waits for the others
 * to end before it fails, so that nothing it started is still retrying after it.
 */
async function readGroup(deps: CoreDeps, group: GroupConfig, options: SweepOptions): Promise<GroupRead> {
  const peopleRead = resolvePeople(deps.directory, group, maxSkewMsOf(deps.config));
  const reads = [
    peopleRead,
    deps.directory.listGroupMembers(group.entraGroupId),
    loadRecordBookByUpn(
      deps.directory,
      group,
      group.eligibleRequesters,
      group.approvers,
      peopleRead.then((p) => p.byUpn),
      (done, total) => options.onStep?.({ group: group.name, phase: 'records', done, total }),
    ),
    deps.state.readGroupLedger(group.entraGroupId),
  ] as const;
  const settled = await Promise.allSettled(reads);
  const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  const [people, members, book, ledger] = await Promise.all(reads);
  return { people, members, book, ledger };
}

/** The OCI group and its members (with user names), or why they could not be read. Never rejects. */
async function readOci(deps: CoreDeps, group: GroupConfig): Promise<OciView> {
  try {
    const oci = await deps.oci();
    const ociGroup = await oci.findGroup(group.ociGroupName);
    return { oci, group: ociGroup, members: ociGroup ? await oci.groupMembers(ociGroup.id) : [] };
  } catch (error) {
    return { error: error as Error };
  }
}

/**
 * When this group next needs a sweep although no record changes: the earliest
 * expiry of a grant that keeps a member, and the earliest timeout of a request
 * still pending. Auto-approvals are done by this sweep; new requests and
 * revocations are records, which a watcher re-reads on its interval.
 */
export function nextDueOf(plan: GroupSweepPlan, read: GroupRead, grants: GrantViews): Date | null {
  const { now } = grants;
  const group = grants.policy.group;
  let earliest = Infinity;
  for (const keep of plan.keep) {
    const at = keep.expiresAt?.getTime();
    if (at !== undefined && at > now.getTime()) earliest = Math.min(earliest, at);
  }
  // What this sweep auto-approves (or completes) ends later: its expiry is due like any other.
  for (const request of plan.autoApprove) earliest = Math.min(earliest, now.getTime() + request.hours * 3600_000);
  for (const { expiresAt } of plan.completeAutoApprovals) earliest = Math.min(earliest, expiresAt.getTime());
  const timeoutMs = group.pendingTimeoutHours * 3600_000;
  for (const requests of read.book.requestsByUser.values()) {
    for (const request of requests) {
      if (request.groupId !== group.entraGroupId || grants.of(request).state !== 'pending') continue;
      const at = request.requestedAt.getTime() + timeoutMs;
      if (at > now.getTime()) earliest = Math.min(earliest, at);
    }
  }
  return Number.isFinite(earliest) ? new Date(earliest) : null;
}

/** What the plan says before anything is done: kept, untrusted, timed out; in a dry run, what would be done. */
function reportPlan(run: GroupRun, plan: GroupSweepPlan): void {
  const { report } = run;
  const planned = run.dryRun ? 'planned' : undefined;
  report.kept = plan.keep.map((k) =>
    action(k.user, k.reason, { requestId: k.requestId, expiresAt: k.expiresAt?.toISOString() }),
  );
  reportUntrusted(run, plan.untrusted);
  report.timedOut = plan.timedOut.map((r) => action(run.userOf(r.requesterId), 'pending-timeout', { requestId: r.id }));
  if (run.dryRun)
    for (const r of plan.remove)
      report.removed.push(action(r.user, r.reason, { requestId: r.requestId, outcome: 'planned' }));
  for (const request of plan.autoApprove)
    report.autoApproved.push(
      action(run.userOf(request.requesterId), 'auto-approval', { requestId: request.id, outcome: planned }),
    );
  if (run.dryRun) {
    for (const { request, expiresAt } of plan.completeAutoApprovals) {
      report.autoApproved.push(
        action(run.userOf(request.requesterId), 'auto-approval', {
          requestId: request.id,
          outcome: 'planned',
          expiresAt: expiresAt.toISOString(),
        }),
      );
    }
  }
}

const PROBLEM_TEXT: Record<ApprovalProblem, string> = {
  'future-dated':
    "dated ahead of this sweep's clock by more than the allowed skew (a skewed clock or an edited record): it keeps nobody",
  invalid: 'breaks the input rules (id, hours or text): it keeps nobody',
  'not-eligible': 'for someone who is not an eligible requester of this group: it keeps nobody',
};

/** Approvals that keep nobody although their approver is trusted: reported (exit 1) and told on every sweep that sees them. */
function reportUntrusted(run: GroupRun, untrusted: { decision: Decision; problem: ApprovalProblem }[]): void {
  for (const { decision, problem } of untrusted) {
    const requester = run.userOf(decision.requesterId);
    const approverUpn =
      decision.approverId === AUTO_APPROVER
        ? 'the auto-approval rule'
        : run.userOf(decision.approverId).userPrincipalName;
    const decidedAt = decision.decidedAt.toISOString();
    run.report.untrusted.push({
      requestId: decision.requestId,
      userId: requester.id,
      upn: requester.userPrincipalName,
      approverId: decision.approverId,
      approverUpn,
      problem,
      decidedAt,
      outcome: `approval by ${approverUpn} ${PROBLEM_TEXT[problem]}`,
    });
    run.tell({
      ...run.base(),
      type: 'record.untrusted',
      requester: run.person(requester),
      requestId: decision.requestId,
      approver: { id: decision.approverId, upn: approverUpn },
      problem,
      decidedAt,
    });
  }
}

/** Who is in the Entra group now: before the sweep, less those it removed, plus those it added (a dry run changes nothing). */
function membersAfter(run: GroupRun): Set<string> {
  const ids = new Set(run.read.members.map((m) => m.id));
  if (run.dryRun) return ids;
  for (const removed of run.report.removed) ids.delete(removed.userId);
  for (const added of run.report.autoApproved) ids.add(added.userId);
  return ids;
}

/** Whose OCI membership is not drift, by user name: standing members, Entra members, and holders of a live grant (member or not). */
function entitledUpns(run: GroupRun, memberIds: Set<string>): Set<string> {
  const entitled = new Set<string>(
    run.group.standingMembers.filter((entry) => !isObjectId(entry)).map((upn) => upn.toLowerCase()),
  );
  // Members that are not users have no user name (and provisioning never takes them to OCI).
  for (const id of [...memberIds, ...liveGrantHolders(run.read.book, run.grants)]) {
    const upn = run.knownUser(id)?.userPrincipalName;
    if (upn) entitled.add(upn.toLowerCase());
  }
  return entitled;
}

/** Who holds a live grant, from the book's requests and decisions (a request the requester revoked counts as revoked). */
function liveGrantHolders(book: RecordBook, grants: GrantViews): Set<string> {
  const holders = new Set<string>();
  for (const userId of new Set([...book.requestsByUser.keys(), ...grants.byRequester.keys()])) {
    if (liveGrant(grants.grantsOf(userId, book.requestsByUser.get(userId)))) holders.add(userId);
  }
  return holders;
}

/** The provisioning job's state in the report (a job that is not healthy first among the problems), and the events of the check. */
async function finish(run: GroupRun, job: JobRead): Promise<void> {
  const { report } = run;
  const jobState = await job();
  const health = jobState ? provisioningHealth(jobState) : undefined;
  report.provisioning = health
    ? {
        code: health.code,
        state: health.state,
        quarantineReason: health.reason,
        error: describeSyncError(health.error),
        nextAttempt: health.nextAttempt,
      }
    : jobState === null
      ? null
      : undefined;
  const problem = health && provisioningProblem(health);
  if (problem) report.problems.unshift(problem);
  await run.emitPending();
  const outcome = outcomeOf([report], run.dryRun);
  await run.deps.events.emit({
    ...run.base(),
    type: 'sweep.finished',
    outcome,
    dryRun: run.dryRun,
    removed: report.removed.length,
    failed: report.failed.length,
    stuck: report.stuck.length,
    drift: report.drift.length,
    untrusted: report.untrusted.length,
  });
}
