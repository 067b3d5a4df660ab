/**
 * The sweep: for every managed group, apply the deny-by-default rule, carry out
 * auto-approvals, note timed-out requests, check OCI for every removal not yet
 * confirmed, and report (or fix) drift: OCI members with neither an Entra
 * membership nor a grant. Every action is idempotent and decided from Entra's
 * current state, so several hosts may sweep at once and a crashed sweep can re-run.
 *
 * Scale: nothing here is a chain of one round trip per member. Entra is read
 * in paged lists and $batch calls (the directory adapter bounds them), the OCI
 * group is read once with its members' user names, and the OCI writes that are
 * one call per member (direct removals) run a few at a time. Audit entries are
 * written in one append per phase.
 */
import type { GroupConfig } from '../config/schema.js';
import type { AuditInput, CoreDeps } from './deps.js';
import { auditAll, maxSkewMsOf, resolvePeople } from './deps.js';
import { StateError } from '../errors.js';
import type { DirectoryUser, MemberKind, OciPort, OciUserRef, ProvisioningJobStatus } from './ports.js';
import { isObjectId } from '../config/object-id.js';
import { stripControls } from './text.js';
import { addRequesterRecords, loadRecordBook, loadRecordBookByUpn, type RecordBook } from './record-book.js';
import { planGroupSweep, type PlannedRemoval } from './sweep-plan.js';
import { GrantViews, type ApprovalProblem, type PolicyContext } from './grants.js';
import { AUTO_APPROVER, DECISIONS_EXTENSION, decodeDecisions, encodeDecisions, type AccessRequest, type Decision } from './records.js';
import { mapLimit } from './concurrent.js';
import type { FailedRemoval, LocalState, PendingRemoval } from '../store/state-store.js';

const HOUR = 3600_000;
/** After this many failed attempts a removal is flagged irrevocable (still retried on every sweep). */
export const IRREVOCABLE_AFTER_ATTEMPTS = 6;
/** OCI calls made one per member (direct removals) run this many at a time by default. */
const DEFAULT_OCI_CONCURRENCY = 4;
/** Error codes that mean "the service is unavailable" (exit 5) rather than "something is wrong" (exit 1). */
const UNAVAILABLE_CODES = new Set(['GRAPH_UNAVAILABLE', 'OCI_UNAVAILABLE', 'HTTP_DEADLINE_EXCEEDED']);

export interface SweepOptions {
  dryRun: boolean;
  provisionNow: boolean;
  /** A removal still in OCI after this long is removed there directly (0 = never). */
  forceOciAfterMs: number;
  /** Remove drift (OCI members without an Entra membership or grant) in OCI directly. */
  fixDrift?: boolean;
  /** Length of Entra's provisioning cycle; a removal pending (or drift seen) for two cycles is a failure. */
  cycleMs: number;
  /** OCI calls in flight at once for per-member writes (default 4). */
  ociConcurrency?: number;
  actor: AuditInput['actor'];
  /** Quiet one-line messages (what is happening now). */
  onProgress?: (message: string) => void;
  /** Counted steps, for a progress bar. */
  onStep?: (step: SweepStep) => void;
}

export interface SweepStep {
  group: string;
  phase: 'reading' | 'records' | 'removing' | 'oci';
  done: number;
  total: number;
}

export interface SweepMemberAction {
  userId: string;
  upn: string;
  reason: string;
  requestId?: string;
  outcome?: string;
  expiresAt?: string;
  /** For failures: the error code (GRAPH_UNAVAILABLE, PERMISSION_DENIED, …). */
  code?: string;
  /** Only for members that are not users (upn is then ''): what they are, and their display name ('' when the sweep may not read it). */
  kind?: Exclude<MemberKind, 'user'>;
  displayName?: string;
}

/** An OCI group member with neither an Entra membership nor a grant (added by hand in OCI, or left by JIT "Merge"). */
export interface DriftAction {
  ociUserId: string;
  userName: string;
  firstSeenAt: string;
  /** reported: seen, left in place; stuck: reported for more than two cycles; removed / failed: --fix-drift; planned: --dry-run with --fix-drift. */
  state: 'reported' | 'stuck' | 'removed' | 'failed' | 'planned';
  outcome: string;
  code?: string;
}

/** An approval the sweep does not trust although a trusted approver (or the group's rule) wrote it. */
export interface UntrustedDecision {
  requestId: string;
  /** The requester the approval names. */
  userId: string;
  upn: string;
  approverId: string;
  approverUpn: string;
  problem: ApprovalProblem;
  decidedAt: string;
  outcome: string;
}

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
  drift: DriftAction[];
  /** Approvals by trusted approvers (or the group's rule) that keep nobody: dated ahead of the sweep's clock, malformed, or for someone not eligible (exit 1). */
  untrusted: UntrustedDecision[];
  /** UPNs Entra was asked to provision on demand in this sweep. */
  provisionedOnDemand: string[];
  ociGroupMembers: number | null;
  provisioning?: { code: string; quarantineReason: string | null } | null;
  problems: string[];
  /** What could not be checked because Graph or OCI stayed unavailable (exit 5, not 1: try again later). */
  unavailable?: string[];
}

export interface SweepReport {
  startedAt: string;
  finishedAt: string;
  dryRun: boolean;
  groups: GroupSweepReport[];
  /** clean (exit 0), pending in OCI (6), unavailable: only upstream failures (5), failed: anything else (1). */
  outcome: 'clean' | 'pending' | 'unavailable' | 'failed';
}

type Audit = Omit<AuditInput, 'actor'>;

/**
 * Resolves once requests just started have gone out. A request's first steps
 * run as promise callbacks, and Node's agent writes it from a process.nextTick
 * callback (undici, for what still calls fetch, from a setImmediate); all wait
 * while synchronous work (planning a big group) holds the thread, so requests
 * started "before" that work would leave after it. Two turns of the check
 * phase let them go first.
 */
function sentOff(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
type Who = Pick<DirectoryUser, 'id' | 'userPrincipalName'> & { kind?: MemberKind; displayName?: string };

function action(user: Who, reason: string, extra: Partial<SweepMemberAction> = {}): SweepMemberAction {
  if (user.kind === undefined || user.kind === 'user') return { userId: user.id, upn: user.userPrincipalName, reason, ...extra };
  return { userId: user.id, upn: '', reason, kind: user.kind, displayName: stripControls(user.displayName ?? ''), ...extra };
}

const KIND_NAMES: Record<Exclude<MemberKind, 'user'>, string> = {
  group: 'nested group', servicePrincipal: 'service principal', device: 'device', other: 'directory object',
};

/** "service principal "Build agent" (id)": how a member that is not a user is named in messages. */
export function describeNonUser(member: { kind?: MemberKind; displayName?: string; id: string }): string {
  const kind = member.kind && member.kind !== 'user' ? KIND_NAMES[member.kind] : 'member';
  const name = stripControls(member.displayName ?? '');
  return `${kind} ${name ? `"${name}" ` : ''}(${member.id})`;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

export async function runSweep(deps: CoreDeps, groups: GroupConfig[], options: SweepOptions): Promise<SweepReport> {
  const startedAt = deps.clock.now();
  // Every group needs the job's state, for its report at the end: read once, when the first group
  // starts its OCI read (in phase 2, beside the calls in flight), not in the CPU-bound start.
  let jobRead: Promise<ProvisioningJobStatus | null | undefined> | undefined;
  const job = () =>
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
    outcome: outcomeOf(reports),
  };
}

export function outcomeOf(reports: GroupSweepReport[]): SweepReport['outcome'] {
  const failures = reports.flatMap((r) => [...r.failed, ...r.drift.filter((d) => d.state === 'failed')]);
  const hardFailure =
    reports.some((r) => r.stuck.length > 0 || r.problems.length > 0 || r.untrusted.length > 0 || r.drift.some((d) => d.state === 'stuck')) ||
    failures.some((f) => !f.code || !UNAVAILABLE_CODES.has(f.code));
  if (hardFailure) return 'failed';
  if (failures.length > 0 || reports.some((r) => (r.unavailable?.length ?? 0) > 0)) return 'unavailable';
  const pending = reports.some((r) => r.pendingInOci.length > 0 || r.drift.some((d) => d.state === 'reported'));
  return pending ? 'pending' : 'clean';
}

interface OciView {
  oci: OciPort;
  group: { id: string; displayName: string } | null;
  members: OciUserRef[];
}

/** The OCI group and its members (with user names), or why they could not be read. Never rejects. */
async function readOci(deps: CoreDeps, group: GroupConfig): Promise<OciView | { error: Error }> {
  try {
    const oci = await deps.oci();
    const ociGroup = await oci.findGroup(group.ociGroupName);
    return { oci, group: ociGroup, members: ociGroup ? await oci.groupMembers(ociGroup.id) : [] };
  } catch (error) {
    return { error: error as Error };
  }
}

/** Who holds a live grant (member or not): their OCI membership is not drift. `grants` are those of the book's decisions. */
function liveGrantHolders(book: RecordBook, grants: GrantViews): Set<string> {
  const holders = new Set<string>();
  const groupId = grants.policy.group.entraGroupId;
  for (const [userId, requests] of book.requestsByUser) {
    if (requests.some((request) => request.groupId === groupId && grants.of(request).state === 'approved')) holders.add(userId);
  }
  for (const decision of book.decisions) {
    if (decision.kind !== 'approved' || holders.has(decision.requesterId)) continue;
    if (grants.ofDecidedRequest(decision).state === 'approved') holders.add(decision.requesterId);
  }
  return holders;
}

async function sweepGroup(deps: CoreDeps, group: GroupConfig, options: SweepOptions, job: () => Promise<ProvisioningJobStatus | null | undefined>): Promise<GroupSweepReport> {
  const now = deps.clock.now();
  const report: GroupSweepReport = {
    group: group.name, entraGroupId: group.entraGroupId, members: 0,
    kept: [], removed: [], autoApproved: [], timedOut: [], pendingInOci: [], confirmedInOci: [], forcedInOci: [], stuck: [], failed: [],
    drift: [], untrusted: [], provisionedOnDemand: [], ociGroupMembers: null, problems: [],
  };
  const progress = (message: string) => options.onProgress?.(`${group.name}: ${message}`);
  const step = (phase: SweepStep['phase'], done: number, total: number) => options.onStep?.({ group: group.name, phase, done, total });
  const audits: Audit[] = [];
  // Entries are written in one append per phase: one fsync each would take minutes for a big group.
  // An audit log that cannot be written stops grants (fail closed), never removals: the sweep
  // goes on, reports the problem and fails (exit 1).
  let auditFailed = false;
  const noteAuditFailure = (error: unknown) => {
    if (auditFailed) return;
    auditFailed = true;
    report.problems.push(`The audit log could not be written (${errorCode(error) ?? 'error'}): ${(error as Error).message} Removals went ahead; no grant was made.`);
  };
  const flushAudits = async () => {
    if (options.dryRun) return;
    try {
      await auditAll(deps, audits.splice(0).map((entry) => ({ actor: options.actor, ...entry })));
    } catch (error) {
      noteAuditFailure(error);
    }
  };
  const target = (user: Who, requestId?: string) => ({
    groupId: group.entraGroupId, groupName: group.name, userId: user.id, ...(user.userPrincipalName ? { upn: user.userPrincipalName } : {}), ...(requestId ? { requestId } : {}),
  });

  progress('reading members and records');
  step('reading', 0, 1);
  // Phase 1, everything that needs only the config, side by side: the
  // configured people's ids; the decisions (approvers' records) and the
  // eligible requesters' records, read by UPN so that they need not wait for
  // the ids; the member list; the local ledger; and OCI, which does not
  // depend on what Entra says.
  const peopleRead = resolvePeople(deps.directory, group, maxSkewMsOf(deps.config));
  const bookRead = loadRecordBookByUpn(deps.directory, group, group.eligibleRequesters, group.approvers, peopleRead.then((p) => p.byUpn), (done, total) => step('records', done, total));
  const membersRead = deps.directory.listGroupMembers(group.entraGroupId);
  const stateRead = deps.state.read();
  const [people, members, book, state] = await Promise.all([peopleRead, membersRead, bookRead, stateRead]);
  report.members = members.length;
  // Each grant derived once for who holds a live one, the early plan, the full plan and the OCI check.
  const grantsFirstSeen = state.sweep.grantsFirstSeen?.[group.entraGroupId] ?? {};
  const grants = new GrantViews(book.decisions, people.policy, now, grantsFirstSeen);
  const planInput = {
    grants,
    policy: people.policy,
    standingIds: people.standingIds,
    eligibleIds: people.eligibleIds,
    decisions: book.decisions,
    firstSeen: state.sweep.firstSeen[group.entraGroupId] ?? {},
    grantsFirstSeen,
    now,
  };
  const userById = new Map<string, DirectoryUser>([...people.byUpn.values(), ...members].map((u) => [u.id, u]));
  const userOf = (id: string): DirectoryUser => userById.get(id) ?? { id, userPrincipalName: id, displayName: id };

  // Phase 2: a member's own record can only end a grant (a withdrawal), never
  // make one, so it is read only for members holding a live approval. Everyone
  // else is removed whatever their record says (deny by default): planned
  // from what phase 1 read, and removed while those records are read.
  const holders = liveGrantHolders(book, grants);
  const holderRecords = addRequesterRecords(deps.directory, book, members.filter((m) => holders.has(m.id)).map((m) => m.id), (done, total) => step('records', done, total));
  holderRecords.catch(() => undefined); // awaited below
  await sentOff();
  const ledger: LedgerChanges = { pending: new Map(), failed: new Map(), clearedFailures: new Set(), deletedPending: new Set() };
  const removeNow = (removals: PlannedRemoval[]) => removeMembers(deps, group, removals, now, audits, target, report, state, ledger, (done) => step('removing', done, removals.length));
  let early: PlannedRemoval[] = [];
  let earlyRemoved: Promise<void> = Promise.resolve();
  let removalsAudited: Promise<void> = Promise.resolve();
  // The decisions are read again for races with approvals (see restoreRacedGrants) as soon as
  // the removals made so far are done, in the slots the holders' reads leave: those come first,
  // so the full plan (which needs them) is made while the last of the decisions are read.
  const rereadDecisions = () => {
    const read = loadRecordBook(deps.directory, group, [], people.policy.approverIds, undefined, { behindOtherReads: true });
    read.catch(() => undefined); // awaited by restoreRacedGrants
    return read;
  };
  let decisionsReread: Promise<RecordBook> | undefined;
  if (!options.dryRun) {
    early = planGroupSweep({ ...planInput, members: members.filter((m) => !holders.has(m.id)), requestsByUser: book.requestsByUser }).remove;
    if (early.length > 0) {
      progress(`removing ${early.length} member(s)`);
      // Removals take freed slots first, so they end halfway through the holders' reads: their
      // audit entries are written then, while the reads go on, instead of after everything.
      earlyRemoved = removeNow(early).then(() => {
        decisionsReread = rereadDecisions();
        removalsAudited = flushAudits();
        removalsAudited.catch(() => undefined); // handled where it is awaited below
      });
    }
  }
  // OCI is only needed at the end (the check after the removals). Setting up its client (key
  // parsing, request signing) is CPU work: at the start it held up the Graph connections, in
  // phase 1 the refill of the $batch slots. It starts once phase 2's calls are out: removals
  // answer with almost nothing to read, so the CPU has room while they are in flight.
  await sentOff();
  const ociRead = readOci(deps, group);
  void job();
  const [holdersRead, earlyDone] = await Promise.allSettled([holderRecords, earlyRemoved]);
  const phaseFailure = [holdersRead, earlyDone].find((outcome) => outcome.status === 'rejected');
  if (phaseFailure) {
    // Removals already made are written down (audit log, ledger) before the sweep fails: the next one goes on from there.
    await removalsAudited;
    await flushAudits();
    if (ledger.pending.size + ledger.failed.size > 0) await writeLedger(deps, group, ledger, {}).catch(() => undefined);
    throw (phaseFailure as PromiseRejectedResult).reason;
  }
  await sentOff(); // the decisions' re-read takes the freed slots before the plan holds the CPU
  const plan = planGroupSweep({ ...planInput, members, requestsByUser: book.requestsByUser });
  // Who holds a live grant, for the OCI check at the end: the book is complete now, and working it
  // out here, while the decisions are read again, keeps it off the end of the sweep.
  const grantHolders = liveGrantHolders(book, grants);
  const removedEarly = new Set(early.map((r) => r.user.id));
  // The early plan saw everything the full plan uses for those members; if it ever removed someone the full plan keeps, that is a bug to hear about.
  const keptAfterAll = plan.keep.filter((k) => removedEarly.has(k.user.id));
  if (keptAfterAll.length > 0) report.problems.push(`Internal error: removed ${keptAfterAll.map((k) => k.user.userPrincipalName).join(', ')} although the full plan keeps them; the next sweep re-checks them.`);

  report.kept = plan.keep.map((k) => action(k.user, k.reason, { requestId: k.requestId, expiresAt: k.expiresAt?.toISOString() }));
  reportUntrusted(plan.untrusted, report, audits, target, userOf);
  report.timedOut = plan.timedOut.map((r) => action(userOf(r.requesterId), 'pending-timeout', { requestId: r.id }));
  if (options.dryRun) {
    for (const removal of plan.remove) report.removed.push(action(removal.user, removal.reason, { requestId: removal.requestId, outcome: 'planned' }));
  }
  for (const request of plan.autoApprove) report.autoApproved.push(action(userOf(request.requesterId), 'auto-approval', { requestId: request.id, outcome: options.dryRun ? 'planned' : undefined }));
  if (options.dryRun) {
    for (const { request, expiresAt } of plan.completeAutoApprovals) {
      report.autoApproved.push(action(userOf(request.requesterId), 'auto-approval', { requestId: request.id, outcome: 'planned', expiresAt: expiresAt.toISOString() }));
    }
  }

  if (!options.dryRun) {
    // Auto-approvals: record first (so no sweep elsewhere removes the member), then add.
    let removals = plan.remove.filter((r) => !removedEarly.has(r.user.id));
    if (plan.autoApprove.length > 0) {
      try {
        await autoApprove(deps, group, plan.autoApprove, now, audits, target, userOf, report, options.actor);
      } catch (error) {
        // Fail closed: approvals that could not be audited or recorded are not made, and whoever
        // only they would have kept is removed; the removals still go ahead.
        if (error instanceof StateError) noteAuditFailure(error); // the audit log (or local files); others are reported per approval below
        report.autoApproved = [];
        for (const request of plan.autoApprove) {
          report.failed.push(action(userOf(request.requesterId), 'auto-approval', { requestId: request.id, outcome: `not approved: ${(error as Error).message}`, code: errorCode(error) }));
        }
        const fallbacks = plan.keep.flatMap((k) => (k.removeIfNotAutoApproved ? [k.removeIfNotAutoApproved] : []));
        removals = [...removals, ...fallbacks];
        report.kept = report.kept.filter((k) => !fallbacks.some((r) => r.user.id === k.userId));
      }
    }
    if (plan.completeAutoApprovals.length > 0) await completeAutoApprovals(deps, group, plan.completeAutoApprovals, audits, target, userOf, report);
    // The rest of the removals (withdrawn grants, fallbacks), batched; only a 204 or 404 counts as removed.
    if (removals.length > 0) {
      progress(`removing ${removals.length} member(s)`);
      await removeNow(removals);
      decisionsReread = rereadDecisions(); // after these removals too
    }
    if (report.removed.length > 0) {
      // Written while the decisions are read again and OCI is checked (the log keeps appends in order); awaited before the group ends.
      const earlier = removalsAudited;
      removalsAudited = earlier.then(() => flushAudits());
      removalsAudited.catch(() => undefined); // handled where it is awaited below
      await restoreRacedGrants(deps, group, people.policy, now, audits, target, report, ledger, decisionsReread ?? rereadDecisions(), grantsFirstSeen);
    }
  }

  progress('checking OCI');
  step('oci', 0, 1);
  // Who is in the Entra group now: before the sweep, less those it removed, plus those it added (a dry run changes nothing).
  const memberIdsNow = new Set(members.map((m) => m.id));
  if (!options.dryRun) {
    for (const removed of report.removed) memberIdsNow.delete(removed.userId);
    for (const added of report.autoApproved) memberIdsNow.add(added.userId);
  }
  // By user name: members that are not users have none (and provisioning never takes them to OCI).
  const entitled = new Set<string>(group.standingMembers.filter((entry) => !isObjectId(entry)).map((upn) => upn.toLowerCase()));
  for (const id of [...memberIdsNow, ...grantHolders]) {
    const user = userById.get(id);
    if (user?.userPrincipalName) entitled.add(user.userPrincipalName.toLowerCase());
  }
  const driftSeen = await checkOci(deps, group, options, now, audits, target, report, memberIdsNow, entitled, await ociRead, state, ledger)
    .finally(() => removalsAudited);
  await removalsAudited;
  if (!options.dryRun) {
    // One durable write for the whole group (the ledger of a big group is large, and each write is locked and fsynced).
    await writeLedger(deps, group, ledger, { firstSeen: plan.firstSeen, grantsFirstSeen: plan.grantsFirstSeen, driftSeen });
  }

  const jobState = await job();
  report.provisioning = jobState ? { code: jobState.code, quarantineReason: jobState.quarantineReason } : jobState === null ? null : undefined;
  if (jobState && jobState.code === 'Quarantine') {
    report.problems.unshift(`The provisioning job is in quarantine (${jobState.quarantineReason ?? 'no reason given'}): removals will not reach OCI until it is fixed.`);
  }
  await flushAudits();
  return report;
}

const PROBLEM_TEXT: Record<ApprovalProblem, string> = {
  'future-dated': 'dated ahead of this sweep\'s clock by more than the allowed skew (a skewed clock or an edited record): it keeps nobody',
  invalid: 'breaks the input rules (id, hours or text): it keeps nobody',
  'not-eligible': 'for someone who is not an eligible requester of this group: it keeps nobody',
};

/** Approvals that keep nobody although their approver is trusted: reported (exit 1) and audited on every sweep that sees them. */
function reportUntrusted(
  untrusted: { decision: Decision; problem: ApprovalProblem }[], report: GroupSweepReport, audits: Audit[],
  target: (u: Who, requestId?: string) => AuditInput['target'], userOf: (id: string) => DirectoryUser,
): void {
  for (const { decision, problem } of untrusted) {
    const requester = userOf(decision.requesterId);
    const approverUpn = decision.approverId === AUTO_APPROVER ? 'the auto-approval rule' : userOf(decision.approverId).userPrincipalName;
    report.untrusted.push({
      requestId: decision.requestId, userId: requester.id, upn: requester.userPrincipalName, approverId: decision.approverId, approverUpn,
      problem, decidedAt: decision.decidedAt.toISOString(), outcome: `approval by ${approverUpn} ${PROBLEM_TEXT[problem]}`,
    });
    audits.push({
      action: 'untrusted-record', target: target(requester, decision.requestId), reason: problem, result: 'failed',
      details: { approverId: decision.approverId, decidedAt: decision.decidedAt.toISOString() },
    });
  }
}

/** Applies one group's ledger changes in one locked, fsynced write; firstSeen and driftSeen are replaced when given. */
async function writeLedger(
  deps: CoreDeps, group: GroupConfig, ledger: LedgerChanges,
  replace: { firstSeen?: Record<string, string>; grantsFirstSeen?: Record<string, string>; driftSeen?: Record<string, string> },
): Promise<void> {
  await deps.state.update((s) => {
    if (replace.firstSeen) s.sweep.firstSeen[group.entraGroupId] = replace.firstSeen;
    if (replace.grantsFirstSeen) {
      s.sweep.grantsFirstSeen ??= {};
      if (Object.keys(replace.grantsFirstSeen).length > 0) s.sweep.grantsFirstSeen[group.entraGroupId] = replace.grantsFirstSeen;
      else delete s.sweep.grantsFirstSeen[group.entraGroupId];
    }
    for (const key of ledger.clearedFailures) delete s.sweep.failedRemovals[key];
    for (const [key, failure] of ledger.failed) s.sweep.failedRemovals[key] = failure;
    for (const [key, removal] of ledger.pending) s.sweep.pendingRemovals[key] = removal;
    for (const key of ledger.deletedPending) delete s.sweep.pendingRemovals[key];
    if (replace.driftSeen) {
      s.sweep.driftSeen ??= {};
      if (Object.keys(replace.driftSeen).length > 0) s.sweep.driftSeen[group.entraGroupId] = replace.driftSeen;
      else delete s.sweep.driftSeen[group.entraGroupId];
    }
  });
}

async function autoApprove(
  deps: CoreDeps, group: GroupConfig, requests: AccessRequest[], now: Date, audits: Audit[],
  target: (u: Who, requestId?: string) => AuditInput['target'],
  userOf: (id: string) => DirectoryUser, report: GroupSweepReport, actor: AuditInput['actor'],
): Promise<void> {
  const fresh: Decision[] = requests.map((request) => ({
    requestId: request.id, requesterId: request.requesterId, groupId: group.entraGroupId, kind: 'approved', approverId: AUTO_APPROVER,
    decidedAt: now, expiresAt: new Date(now.getTime() + request.hours * HOUR), hours: request.hours, reason: 'auto-approval rule',
  }));
  // Written before acting, so the log shows the intent even if the sweep dies halfway.
  await auditAll(deps, fresh.map((decision) => ({ actor, action: 'auto-approve', target: target(userOf(decision.requesterId), decision.requestId), result: 'pending' as const })));
  const owner = { kind: 'group' as const, id: group.entraGroupId };
  // Another host may write the same record at the same time: write, read back, merge again if ours is missing.
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const existing = decodeDecisions(await deps.directory.readRecord(owner, DECISIONS_EXTENSION), AUTO_APPROVER);
    const missing = fresh.filter((d) => !existing.some((e) => e.requestId === d.requestId && e.kind === 'approved'));
    if (missing.length === 0) break;
    await deps.directory.writeRecord(owner, DECISIONS_EXTENSION, encodeDecisions([...existing, ...missing], now));
  }
  report.autoApproved = [];
  const outcomes = await mapLimit(fresh, DEFAULT_OCI_CONCURRENCY, async (decision) => {
    try {
      return { decision, membership: await deps.directory.addGroupMember(group.entraGroupId, decision.requesterId) };
    } catch (error) {
      return { decision, error: error as Error };
    }
  });
  for (const { decision, membership, error } of outcomes) {
    const user = userOf(decision.requesterId);
    if (membership) {
      report.autoApproved.push(action(user, 'auto-approval', { requestId: decision.requestId, outcome: membership, expiresAt: decision.expiresAt!.toISOString() }));
      audits.push({ action: 'auto-approve', target: target(user, decision.requestId), result: 'ok', details: { expiresAt: decision.expiresAt!.toISOString(), membership } });
    } else {
      report.failed.push(action(user, 'auto-approval', { requestId: decision.requestId, outcome: error?.message, code: errorCode(error) }));
      audits.push({ action: 'auto-approve', target: target(user, decision.requestId), result: 'failed', details: { error: error?.message } });
    }
  }
}

interface LedgerChanges {
  pending: Map<string, PendingRemoval>;
  failed: Map<string, FailedRemoval>;
  clearedFailures: Set<string>;
  deletedPending: Set<string>;
}

/**
 * A removal racing an approval: this sweep read the records just before an
 * approver's decision was written, and the approver's add ("already a member")
 * came before this removal. The decisions are read again for whoever was
 * removed, and anyone who now holds a live grant is put back (Graph has no
 * conditional removal that would avoid the moment out of the group).
 */
async function restoreRacedGrants(
  deps: CoreDeps, group: GroupConfig, policy: PolicyContext, now: Date, audits: Audit[],
  target: (u: Who, requestId?: string) => AuditInput['target'], report: GroupSweepReport, ledger: LedgerChanges,
  /** The decisions, read again after the last removal (the caller starts the read early, to overlap it with other work). */
  decisionsRead: Promise<RecordBook>,
  grantsFirstSeen: Readonly<Record<string, string>>,
): Promise<void> {
  const removed = report.removed.filter((r) => r.outcome === 'removed');
  if (removed.length === 0) return;
  // The decisions first; a removed member's own record only when a live approval names them (it can only end one).
  const fresh = await decisionsRead;
  // A big sweep removes a thousand members: each is checked against the decisions about them only, each grant derived once.
  const grants = new GrantViews(fresh.decisions, policy, now, grantsFirstSeen);
  const about = (userId: string) => grants.byRequester.get(userId) ?? [];
  const approvedNow = (userId: string) => about(userId).some((d) => d.kind === 'approved' && grants.ofDecidedRequest(d).state === 'approved');
  const candidates = removed.filter((r) => approvedNow(r.userId));
  if (candidates.length === 0) return;
  await addRequesterRecords(deps.directory, fresh, candidates.map((r) => r.userId));
  const liveRequest = (userId: string): string | undefined => {
    const requests = (fresh.requestsByUser.get(userId) ?? []).filter((r) => r.groupId === group.entraGroupId);
    const known = requests.find((request) => grants.of(request).state === 'approved');
    if (known) return known.id;
    // An approval whose request record is gone still counts, as in the plan.
    const ids = new Set(requests.map((r) => r.id));
    const standIn = about(userId).find((d) => d.kind === 'approved' && !ids.has(d.requestId) && grants.ofDecidedRequest(d).state === 'approved');
    return standIn?.requestId;
  };
  for (const entry of candidates) {
    const requestId = liveRequest(entry.userId);
    if (!requestId) continue;
    const who = { id: entry.userId, userPrincipalName: entry.upn };
    try {
      await deps.directory.addGroupMember(group.entraGroupId, entry.userId);
    } catch (error) {
      report.failed.push(action(who, 'approved while the sweep ran', { requestId, outcome: `removed, and could not be put back: ${(error as Error).message}`, code: errorCode(error) }));
      continue;
    }
    report.removed = report.removed.filter((r) => r !== entry);
    report.kept.push(action(who, 'grant', { requestId, outcome: 'approved while this sweep ran: put back' }));
    const key = `${group.entraGroupId}:${entry.userId}`;
    ledger.pending.delete(key);
    audits.push({ action: 'restore', target: target(who, requestId), reason: 'approved while the sweep ran', result: 'ok' });
  }
}

/** Adds the members of live auto-approvals an earlier sweep recorded but could not add (it died, or Graph failed). */
async function completeAutoApprovals(
  deps: CoreDeps, group: GroupConfig, items: { request: AccessRequest; expiresAt: Date }[], audits: Audit[],
  target: (u: Who, requestId?: string) => AuditInput['target'], userOf: (id: string) => DirectoryUser, report: GroupSweepReport,
): Promise<void> {
  const outcomes = await mapLimit(items, DEFAULT_OCI_CONCURRENCY, async (item) => {
    try {
      return { item, membership: await deps.directory.addGroupMember(group.entraGroupId, item.request.requesterId) };
    } catch (error) {
      return { item, error: error as Error };
    }
  });
  for (const { item, membership, error } of outcomes) {
    const user = userOf(item.request.requesterId);
    const expiresAt = item.expiresAt.toISOString();
    if (membership) {
      report.autoApproved.push(action(user, 'auto-approval', { requestId: item.request.id, outcome: membership, expiresAt }));
      audits.push({ action: 'auto-approve', target: target(user, item.request.id), result: 'ok', details: { expiresAt, membership, completed: true } });
    } else {
      report.failed.push(action(user, 'auto-approval', { requestId: item.request.id, outcome: error?.message, code: errorCode(error) }));
      audits.push({ action: 'auto-approve', target: target(user, item.request.id), result: 'failed', details: { error: error?.message, completed: true } });
    }
  }
}

async function removeMembers(
  deps: CoreDeps, group: GroupConfig, removals: PlannedRemoval[], now: Date, audits: Audit[],
  target: (u: Who, requestId?: string) => AuditInput['target'],
  report: GroupSweepReport, state: LocalState, ledger: LedgerChanges, onProgress: (done: number) => void,
): Promise<void> {
  const results = await deps.directory.removeGroupMembers(group.entraGroupId, removals.map((r) => r.user.id), onProgress);
  const nowIso = now.toISOString(); // once: this loop runs for every removal (thousands)
  for (const removal of removals) {
    const key = `${group.entraGroupId}:${removal.user.id}`;
    const result = results.get(removal.user.id);
    const nonUser = removal.user.kind !== undefined && removal.user.kind !== 'user';
    if (nonUser && (result === 'removed' || result === 'not-member')) {
      // Provisioning exports users only, so OCI never held this member: nothing to wait for there.
      ledger.clearedFailures.add(key);
      report.removed.push(action(removal.user, removal.reason, { outcome: result }));
      audits.push({
        action: 'remove', target: target(removal.user), reason: removal.reason, result: 'ok',
        details: { entra: result, kind: removal.user.kind, displayName: stripControls(removal.user.displayName) },
      });
    } else if (result === 'removed' || result === 'not-member') {
      ledger.clearedFailures.add(key);
      const previous = state.sweep.pendingRemovals[key];
      ledger.pending.set(key, {
        groupId: group.entraGroupId, userId: removal.user.id, upn: removal.user.userPrincipalName,
        // Removed now (204): they were a member again since any earlier removal, so OCI's clock starts now.
        removedInEntraAt: result === 'not-member' && previous?.status === 'pending-oci' ? previous.removedInEntraAt : nowIso,
        reason: removal.reason, attempts: 0, status: 'pending-oci',
      });
      report.removed.push(action(removal.user, removal.reason, { requestId: removal.requestId, outcome: result }));
      audits.push({ action: 'remove', target: target(removal.user, removal.requestId), reason: removal.reason, result: 'ok', details: { entra: result } });
    } else {
      const failure = state.sweep.failedRemovals[key];
      const attempts = (failure?.attempts ?? 0) + 1;
      const message = result instanceof Error ? result.message : 'no answer';
      ledger.failed.set(key, {
        groupId: group.entraGroupId, userId: removal.user.id, upn: removal.user.userPrincipalName,
        attempts, lastError: message, firstFailedAt: failure?.firstFailedAt ?? nowIso,
      });
      const irrevocable = attempts >= IRREVOCABLE_AFTER_ATTEMPTS;
      // A member that is not a user has no UPN: the message names it, and what Graph needs to remove it.
      const hint = result instanceof Error ? (result as { hint?: unknown }).hint : undefined;
      const named = nonUser ? `could not remove ${describeNonUser(removal.user)}: ${message}${typeof hint === 'string' ? ` ${hint}` : ''}` : message;
      report.failed.push(action(removal.user, removal.reason, {
        requestId: removal.requestId,
        outcome: `${irrevocable ? 'IRREVOCABLE after ' + attempts + ' attempts: ' : ''}${named}`,
        code: result instanceof Error ? errorCode(result) : 'GRAPH_UNAVAILABLE',
      }));
      audits.push({
        action: 'remove', target: target(removal.user, removal.requestId), reason: removal.reason, result: 'failed',
        details: { error: named, attempts, irrevocable, ...(nonUser ? { kind: removal.user.kind, displayName: stripControls(removal.user.displayName) } : {}) },
      });
    }
  }
}

/**
 * Proof in OCI, from one read of the OCI group: confirms removals that
 * arrived, asks Entra to provision the others on demand (and looks again),
 * removes in OCI directly those pending for longer than --force-oci-after,
 * reports the rest (stuck after two cycles), and finds drift.
 */
async function checkOci(
  deps: CoreDeps, group: GroupConfig, options: SweepOptions, now: Date, audits: Audit[],
  target: (u: Who) => AuditInput['target'],
  report: GroupSweepReport, entraMemberIds: Set<string>, entitledUpns: Set<string>, view: OciView | { error: Error },
  state: LocalState, ledger: LedgerChanges,
): Promise<Record<string, string>> {
  // The removals this host waits for: the ledger as read, plus those this sweep made.
  // A Map: building a thousand-key object (spread, fromEntries) cost more than the rest of this check.
  const known = new Map(Object.entries(state.sweep.pendingRemovals));
  for (const [key, removal] of ledger.pending) known.set(key, removal);
  const pending = [...known].filter(([, p]) => p.groupId === group.entraGroupId && p.status !== 'confirmed');
  const driftBefore = state.sweep.driftSeen?.[group.entraGroupId] ?? {};
  // Someone re-added in Entra (a new grant) is no longer a pending removal.
  const reAdded = pending.filter(([, p]) => entraMemberIds.has(p.userId)).map(([key]) => key);
  const relevant = pending.filter(([, p]) => !entraMemberIds.has(p.userId));
  const who = (p: PendingRemoval): Who => ({ id: p.userId, userPrincipalName: p.upn });

  if ('error' in view) {
    const message = `OCI check failed: ${view.error.message}`;
    if (UNAVAILABLE_CODES.has(errorCode(view.error) ?? '')) (report.unavailable ??= []).push(message);
    else report.problems.push(message);
    for (const [, p] of relevant) report.pendingInOci.push(action(who(p), p.reason, { outcome: 'not checked' }));
    for (const key of reAdded) ledger.deletedPending.add(key);
    return driftBefore;
  }
  const { oci, group: ociGroup } = view;
  if (!ociGroup) report.problems.push(`The OCI group "${group.ociGroupName}" does not exist in the identity domain.`);
  report.ociGroupMembers = ociGroup ? view.members.length : null;
  const byName = new Map(view.members.map((member) => [member.userName.toLowerCase(), member]));
  const concurrency = options.ociConcurrency ?? DEFAULT_OCI_CONCURRENCY;
  const updates = ledger.pending;
  const nowIso = now.toISOString(); // once: the loops below run for every pending removal (thousands)
  const nowMs = now.getTime();
  const confirm = (key: string, removal: PendingRemoval, outcome: string, extra: Partial<PendingRemoval> = {}) => {
    updates.set(key, { ...removal, status: 'confirmed', lastCheckedAt: nowIso, attempts: removal.attempts + 1, ...extra });
    report.confirmedInOci.push(action(who(removal), removal.reason, { outcome }));
    audits.push({ action: 'confirm-oci', target: target(who(removal)), result: 'ok', details: { how: outcome } });
  };

  let stillInOci: { key: string; removal: PendingRemoval; ociUserId: string }[] = [];
  for (const [key, removal] of relevant) {
    const member = byName.get(removal.upn.toLowerCase());
    if (member) stillInOci.push({ key, removal, ociUserId: member.id });
    else confirm(key, removal, 'not in OCI group');
  }

  // Members this sweep added (auto-approvals) that OCI does not show yet go with the removals.
  const additions = report.autoApproved.filter((a) => a.outcome === 'added' || a.outcome === 'already-member').filter((a) => !byName.has(a.upn.toLowerCase()));
  if (options.provisionNow && stillInOci.length + additions.length > 0 && ociGroup && !options.dryRun) {
    try {
      await deps.directory.provisionOnDemand(group.entraGroupId, [...stillInOci.map((s) => s.removal.userId), ...additions.map((a) => a.userId)]);
      report.provisionedOnDemand = [...stillInOci.map((s) => s.removal.upn), ...additions.map((a) => a.upn)];
      audits.push({ action: 'provision-on-demand', target: { groupId: group.entraGroupId, groupName: group.name }, result: 'ok', details: { users: report.provisionedOnDemand } });
      // Provisioning on demand takes seconds: look again, so the report says what OCI says now.
      const after = new Set((await oci.groupMembers(ociGroup.id)).map((member) => member.id));
      for (const s of stillInOci) if (!after.has(s.ociUserId)) confirm(s.key, s.removal, 'gone after provision on demand');
      stillInOci = stillInOci.filter((s) => after.has(s.ociUserId));
    } catch (error) {
      report.problems.push(`provision on demand failed: ${(error as Error).message}`);
    }
  }

  const pendingFor = (removal: PendingRemoval) => nowMs - Date.parse(removal.removedInEntraAt);
  const due = options.forceOciAfterMs > 0 && ociGroup ? stillInOci.filter((s) => pendingFor(s.removal) >= options.forceOciAfterMs) : [];
  const forced = new Set<string>();
  if (options.dryRun) {
    for (const s of due) report.forcedInOci.push(action(who(s.removal), s.removal.reason, { outcome: 'planned: remove in OCI directly' }));
    for (const s of due) forced.add(s.key);
  } else if (due.length > 0) {
    const results = await mapLimit(due, concurrency, async (s) => oci.removeGroupMember(ociGroup!.id, s.ociUserId).then(() => null, (error: unknown) => error as Error));
    due.forEach((s, index) => {
      const error = results[index];
      if (error) {
        report.problems.push(`direct OCI removal of ${s.removal.upn} failed: ${error.message}`);
        return;
      }
      forced.add(s.key);
      updates.set(s.key, { ...s.removal, status: 'confirmed', forcedInOciAt: nowIso, lastCheckedAt: nowIso, attempts: s.removal.attempts + 1 });
      report.forcedInOci.push(action(who(s.removal), s.removal.reason, { outcome: 'removed in OCI directly' }));
      audits.push({ action: 'force-remove-oci', target: target(who(s.removal)), result: 'ok', details: { pendingForMs: pendingFor(s.removal) } });
    });
  }
  for (const s of stillInOci) {
    if (forced.has(s.key)) continue;
    // "Stuck" takes two cycles of watching. After more than three cycles without a look (this host
    // was down, or sweeps rarely) the member may have been re-added and removed again unseen, so
    // the watch starts over instead of raising a false alarm.
    const lastLook = Date.parse(s.removal.lastCheckedAt ?? s.removal.removedInEntraAt);
    const watchingSince = nowMs - lastLook > 3 * options.cycleMs ? nowIso : s.removal.watchingSince ?? s.removal.removedInEntraAt;
    const waited = nowMs - Date.parse(watchingSince);
    updates.set(s.key, {
      ...s.removal, lastCheckedAt: nowIso, attempts: s.removal.attempts + 1,
      ...(watchingSince !== s.removal.removedInEntraAt ? { watchingSince } : {}),
    });
    if (waited > 2 * options.cycleMs) {
      report.stuck.push(action(who(s.removal), s.removal.reason, { outcome: `still in OCI ${Math.round(pendingFor(s.removal) / 60000)} min after removal in Entra` }));
    } else {
      report.pendingInOci.push(action(who(s.removal), s.removal.reason, { outcome: 'removed in Entra, pending in OCI' }));
    }
  }

  for (const key of reAdded) ledger.deletedPending.add(key);
  return findDrift(group, options, now, audits, report, view, entitledUpns, new Set(relevant.map(([, p]) => p.upn.toLowerCase())), driftBefore, concurrency);
}

/**
 * Drift: OCI members that are neither entitled (an Entra member, a standing
 * member, or the holder of a live grant) nor a removal this host is already
 * waiting for. Reported (a failure once seen for two cycles), or removed in
 * OCI directly with --fix-drift. Returns the drift ledger to keep.
 */
async function findDrift(
  group: GroupConfig, options: SweepOptions, now: Date, audits: Audit[], report: GroupSweepReport, view: OciView,
  entitledUpns: Set<string>, pendingUpns: Set<string>, seenBefore: Record<string, string>, concurrency: number,
): Promise<Record<string, string>> {
  const ociGroup = view.group;
  const drifted = view.members.filter((m) => m.userName && !entitledUpns.has(m.userName.toLowerCase()) && !pendingUpns.has(m.userName.toLowerCase()));
  const ledger: Record<string, string> = {};
  if (!ociGroup || drifted.length === 0) return ledger;
  const driftTarget = (m: OciUserRef) => ({ groupId: group.entraGroupId, groupName: group.name, upn: m.userName });
  let removals: (Error | null)[] = [];
  if (options.fixDrift && !options.dryRun) {
    removals = await mapLimit(drifted, concurrency, async (m) => view.oci.removeGroupMember(ociGroup.id, m.id).then(() => null, (error: unknown) => error as Error));
  }
  drifted.forEach((m, index) => {
    const firstSeenAt = seenBefore[m.id] ?? now.toISOString();
    const base = { ociUserId: m.id, userName: m.userName, firstSeenAt };
    if (options.fixDrift && options.dryRun) {
      report.drift.push({ ...base, state: 'planned', outcome: 'planned: remove in OCI directly' });
      return;
    }
    if (options.fixDrift) {
      const error = removals[index];
      if (!error) {
        report.drift.push({ ...base, state: 'removed', outcome: 'removed in OCI directly' });
        audits.push({ action: 'fix-drift', target: driftTarget(m), reason: 'in the OCI group without an Entra membership or grant', result: 'ok', details: { ociUserId: m.id } });
        return;
      }
      ledger[m.id] = firstSeenAt;
      report.drift.push({ ...base, state: 'failed', outcome: error.message, code: errorCode(error) });
      audits.push({ action: 'fix-drift', target: driftTarget(m), result: 'failed', details: { ociUserId: m.id, error: error.message } });
      return;
    }
    ledger[m.id] = firstSeenAt;
    const age = now.getTime() - new Date(firstSeenAt).getTime();
    if (age > 2 * options.cycleMs) {
      report.drift.push({ ...base, state: 'stuck', outcome: `in the OCI group without an Entra membership or grant for ${Math.round(age / 60000)} min (use --fix-drift)` });
    } else {
      report.drift.push({ ...base, state: 'reported', outcome: 'in the OCI group without an Entra membership or grant' });
    }
  });
  return ledger;
}
