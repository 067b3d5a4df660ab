/**
 * The sweep's second half in Entra: carry out the plan. Auto-approvals
 * (recorded first, then the members added), auto-approvals an earlier sweep
 * recorded but could not finish, removals (batched; only a 204 or 404 counts
 * as removed), and members a removal raced with an approval put back.
 */
import type { GroupSweepPlan, PlannedRemoval } from './sweep-plan.js';
import type { AddResult } from './ports.js';
import type { DomainEvent, MemberAddCause } from './events.js';
import {
  AUTO_APPROVER,
  DECISIONS_EXTENSION,
  decodeDecisions,
  encodeDecisions,
  type AccessRequest,
  type Decision,
} from './records.js';
import { GrantViews } from './grants.js';
import { addRequesterRecords, loadRecordBook } from './record-book.js';
import { mapLimit } from './concurrent.js';
import { stripControls } from './text.js';
import { GroupRun, action, errorCode, type Who } from './sweep-run.js';
import { IRREVOCABLE_AFTER_ATTEMPTS, describeNonUser } from './sweep-names.js';
import { UpstreamError } from '../errors.js';

const HOUR = 3600_000;
/** Graph adds (one call per member: Graph has no bulk add by reference in $batch) in flight at once. */
const GRAPH_ADDS_IN_FLIGHT = 4;

/** Carries out the plan in Entra (not in a dry run): auto-approvals, completions, removals, restores. */
export async function act(run: GroupRun, plan: GroupSweepPlan): Promise<void> {
  let removals = plan.remove;
  if (plan.autoApprove.length > 0) {
    const notApproved = await autoApprove(run, plan.autoApprove);
    if (notApproved) {
      // Fail closed: whoever only these approvals would have kept is removed; the removals still go ahead.
      const fallbacks = plan.keep.flatMap((k) => (k.removeIfNotAutoApproved ? [k.removeIfNotAutoApproved] : []));
      removals = [...removals, ...fallbacks];
      run.report.kept = run.report.kept.filter((k) => !fallbacks.some((r) => r.user.id === k.userId));
    }
  }
  if (plan.completeAutoApprovals.length > 0) await completeAutoApprovals(run, plan.completeAutoApprovals);
  if (removals.length > 0) {
    run.progress(`removing ${removals.length} member(s)`);
    await removeMembers(run, removals);
    await restoreRacedGrants(run);
  }
}

interface Addition {
  userId: string;
  requestId: string;
  cause: MemberAddCause;
  expiresAt?: Date;
}

/** The one add-member loop: adds, told as events, each outcome returned (a failure never throws). */
async function addMembers(
  run: GroupRun,
  additions: Addition[],
): Promise<{ addition: Addition; membership?: AddResult; error?: Error }[]> {
  const outcomes = await mapLimit(additions, GRAPH_ADDS_IN_FLIGHT, async (addition) => {
    try {
      return { addition, membership: await run.deps.directory.addGroupMember(run.group.entraGroupId, addition.userId) };
    } catch (error) {
      return { addition, error: error as Error };
    }
  });
  for (const { addition, membership, error } of outcomes) {
    const member = run.person(run.userOf(addition.userId));
    const { requestId, cause } = addition;
    if (membership)
      run.tell({
        ...run.base(),
        type: 'member.added',
        member,
        requestId,
        membership,
        cause,
        ...(addition.expiresAt ? { expiresAt: addition.expiresAt.toISOString() } : {}),
      });
    else
      run.tell({
        ...run.base(),
        type: 'member.add-failed',
        member,
        requestId,
        cause,
        error: error?.message ?? 'no answer',
      });
  }
  return outcomes;
}

/** Adds auto-approved members and reports each (this sweep's approvals and earlier ones completed alike). */
async function addAutoApproved(
  run: GroupRun,
  items: { request: AccessRequest; expiresAt: Date }[],
  cause: MemberAddCause,
): Promise<void> {
  const outcomes = await addMembers(
    run,
    items.map(({ request, expiresAt }) => ({ userId: request.requesterId, requestId: request.id, cause, expiresAt })),
  );
  for (const { addition, membership, error } of outcomes) {
    const user = run.userOf(addition.userId);
    if (membership) {
      run.report.autoApproved.push(
        action(user, 'auto-approval', {
          requestId: addition.requestId,
          outcome: membership,
          expiresAt: addition.expiresAt!.toISOString(),
        }),
      );
    } else {
      run.report.failed.push(
        action(user, 'auto-approval', {
          requestId: addition.requestId,
          outcome: error?.message,
          code: errorCode(error),
        }),
      );
    }
  }
}

/**
 * Records the approvals on the group's own record (so that no sweep elsewhere
 * removes the members), then adds the members. Returns false when none was
 * made: the audit log could not announce them, or the record could not be written.
 */
async function autoApprove(run: GroupRun, requests: AccessRequest[]): Promise<boolean> {
  const { group, now } = run;
  const fresh: Decision[] = requests.map((request) => ({
    requestId: request.id,
    requesterId: request.requesterId,
    groupId: group.entraGroupId,
    kind: 'approved',
    approverId: AUTO_APPROVER,
    decidedAt: now,
    expiresAt: new Date(now.getTime() + request.hours * HOUR),
    hours: request.hours,
    reason: 'auto-approval rule',
  }));
  const approved = fresh.map((d) => ({
    ...run.base(),
    type: 'request.approved' as const,
    requester: run.person(run.userOf(d.requesterId)),
    requestId: d.requestId,
    hours: d.hours!,
    expiresAt: d.expiresAt!.toISOString(),
    auto: true,
    reason: d.reason,
  }));
  try {
    // Announced before acting, so the log shows the intent even if the sweep dies halfway; no grant it cannot announce.
    await run.deps.events.intend(approved);
  } catch (error) {
    run.noteRecordFailure(error);
    return notApproved(run, requests, error);
  }
  try {
    await writeAutoApprovals(run, fresh);
  } catch (error) {
    return notApproved(run, requests, error);
  }
  for (const event of approved) run.tell(event);
  run.report.autoApproved = [];
  await addAutoApproved(
    run,
    fresh.map((d, i) => ({ request: requests[i]!, expiresAt: d.expiresAt! })),
    'auto-approval',
  );
  return false;
}

function notApproved(run: GroupRun, requests: AccessRequest[], error: unknown): true {
  run.report.autoApproved = [];
  for (const request of requests) {
    run.report.failed.push(
      action(run.userOf(request.requesterId), 'auto-approval', {
        requestId: request.id,
        outcome: `not approved: ${(error as Error).message}`,
        code: errorCode(error),
      }),
    );
  }
  return true;
}

const RECORD_WRITE_ROUNDS = 4;

/** Graph's answer when two writers create the same extension at once: the other one's create won. */
function isCreateConflict(error: unknown): boolean {
  return (error as { details?: { status?: unknown } })?.details?.status === 409;
}

/**
 * Another host may write the same record at the same time: write, read back,
 * merge again if ours is missing. When both create the record at once, the
 * loser's create is refused (409): it reads the winner's record and patches it.
 */
async function writeAutoApprovals(run: GroupRun, fresh: Decision[]): Promise<void> {
  const owner = { kind: 'group' as const, id: run.group.entraGroupId };
  for (let round = 1; ; round += 1) {
    const existing = decodeDecisions(await run.deps.directory.readRecord(owner, DECISIONS_EXTENSION), AUTO_APPROVER);
    const missing = fresh.filter((d) => !existing.some((e) => e.requestId === d.requestId && e.kind === 'approved'));
    if (missing.length === 0) return;
    if (round === RECORD_WRITE_ROUNDS)
      throw new UpstreamError(
        'RECORD_WRITE_CONFLICT',
        `The group's decisions record kept changing under this sweep (${RECORD_WRITE_ROUNDS - 1} writes): the auto-approvals were not recorded.`,
        { hint: 'Another sweep is writing it at the same time; the next sweep tries again.' },
      );
    try {
      await run.deps.directory.writeRecord(
        owner,
        DECISIONS_EXTENSION,
        encodeDecisions([...existing, ...missing], run.now),
      );
    } catch (error) {
      if (!isCreateConflict(error)) throw error;
    }
  }
}

/** Adds the members of live auto-approvals an earlier sweep recorded but could not add (it died, or Graph failed). */
async function completeAutoApprovals(run: GroupRun, items: GroupSweepPlan['completeAutoApprovals']): Promise<void> {
  await addAutoApproved(run, items, 'completed-auto-approval');
}

/** Removes the members in one batched call; records each outcome in the report, the ledger and the events. */
async function removeMembers(run: GroupRun, removals: PlannedRemoval[]): Promise<void> {
  // Announced before the batch, so that a sweep killed after Graph removed them and before their
  // outcome was written leaves "pending" entries, not none. Removals go ahead whatever the log says.
  await run.deps.events.intend(removals.map((removal) => removalIntent(run, removal))).catch((error: unknown) => {
    run.noteRecordFailure(error);
  });
  const results = await run.deps.directory.removeGroupMembers(
    run.group.entraGroupId,
    removals.map((r) => r.user.id),
    (done) => run.step('removing', done, removals.length),
  );
  for (const removal of removals) {
    const result = results.get(removal.user.id);
    if (result === 'removed' || result === 'not-member') removed(run, removal, result);
    else notRemoved(run, removal, result);
  }
}

function removalIntent(run: GroupRun, { user, reason, requestId }: PlannedRemoval): DomainEvent {
  return {
    ...run.base(),
    type: 'member.removed',
    member: run.person(user),
    reason,
    ...(requestId ? { requestId } : {}),
    ...(isNonUser(user) ? { kind: user.kind, displayName: stripControls(user.displayName) } : {}),
  };
}

const isNonUser = (user: Who) => user.kind !== undefined && user.kind !== 'user';

function removed(run: GroupRun, removal: PlannedRemoval, result: 'removed' | 'not-member'): void {
  const { user, reason, requestId } = removal;
  run.changes.clearedFailures.add(user.id);
  if (isNonUser(user)) {
    // Provisioning exports users only, so OCI never held this member: nothing to wait for there.
    run.report.removed.push(action(user, reason, { outcome: result }));
    run.tell({
      ...run.base(),
      type: 'member.removed',
      member: run.person(user),
      reason,
      outcome: result,
      kind: user.kind,
      displayName: stripControls(user.displayName),
    });
    return;
  }
  const previous = run.read.ledger.pendingRemovals.get(user.id);
  run.changes.removals.set(user.id, {
    groupId: run.group.entraGroupId,
    userId: user.id,
    upn: user.userPrincipalName,
    // Removed now (204): they were a member again since any earlier removal, so OCI's clock starts now.
    removedInEntraAt:
      result === 'not-member' && previous?.status === 'pending-oci' ? previous.removedInEntraAt : run.nowIso,
    reason,
    ...(requestId ? { requestId } : {}),
    attempts: 0,
    status: 'pending-oci',
  });
  run.report.removed.push(action(user, reason, { requestId, outcome: result }));
  run.tell({
    ...run.base(),
    type: 'member.removed',
    member: run.person(user),
    reason,
    ...(requestId ? { requestId } : {}),
    outcome: result,
  });
}

function notRemoved(run: GroupRun, removal: PlannedRemoval, result: Error | undefined): void {
  const { user, reason, requestId } = removal;
  const failure = run.read.ledger.failedRemovals.get(user.id);
  const attempts = (failure?.attempts ?? 0) + 1;
  const message = result instanceof Error ? result.message : 'no answer';
  run.changes.failures.set(user.id, {
    groupId: run.group.entraGroupId,
    userId: user.id,
    upn: user.userPrincipalName,
    attempts,
    lastError: message,
    firstFailedAt: failure?.firstFailedAt ?? run.nowIso,
  });
  const irrevocable = attempts >= IRREVOCABLE_AFTER_ATTEMPTS;
  // A member that is not a user has no UPN: the message names it, and what Graph needs to remove it.
  const hint = result instanceof Error ? (result as { hint?: unknown }).hint : undefined;
  const named = isNonUser(user)
    ? `could not remove ${describeNonUser(user)}: ${message}${typeof hint === 'string' ? ` ${hint}` : ''}`
    : message;
  run.report.failed.push(
    action(user, reason, {
      requestId,
      outcome: `${irrevocable ? `IRREVOCABLE after ${attempts} attempts: ` : ''}${named}`,
      code: result instanceof Error ? errorCode(result) : 'GRAPH_UNAVAILABLE',
    }),
  );
  const member = run.person(user);
  run.tell({
    ...run.base(),
    type: 'member.removed',
    member,
    reason,
    ...(requestId ? { requestId } : {}),
    outcome: 'failed',
    error: named,
    attempts,
    irrevocable,
    ...(isNonUser(user) ? { kind: user.kind, displayName: stripControls(user.displayName) } : {}),
  });
  if (attempts === IRREVOCABLE_AFTER_ATTEMPTS)
    run.tell({ ...run.base(), type: 'removal.irrevocable', member, attempts, error: named });
}

/**
 * A removal racing an approval: this sweep read the records just before an
 * approver's decision was written, and the approver's add ("already a member")
 * came before this removal. The decisions are read again for whoever was
 * removed, and anyone who now holds a live grant is put back (Graph has no
 * conditional removal that would avoid the moment out of the group).
 */
async function restoreRacedGrants(run: GroupRun): Promise<void> {
  const removedNow = run.report.removed.filter((r) => r.outcome === 'removed');
  if (removedNow.length === 0) return;
  const fresh = await loadRecordBook(run.deps.directory, run.group, [], run.read.people.policy.approverIds);
  const grants = new GrantViews(fresh.decisions, run.read.people.policy, run.now, run.read.ledger.grantsFirstSeen);
  const about = (userId: string) => grants.byRequester.get(userId) ?? [];
  const candidates = removedNow.filter((r) =>
    about(r.userId).some((d) => d.kind === 'approved' && grants.ofDecidedRequest(d).state === 'approved'),
  );
  if (candidates.length === 0) return;
  // A removed member's own record only now, and only for these: it can only end a grant.
  await addRequesterRecords(
    run.deps.directory,
    fresh,
    candidates.map((r) => r.userId),
  );
  const liveRequest = (userId: string): string | undefined => {
    const requests = (fresh.requestsByUser.get(userId) ?? []).filter((r) => r.groupId === run.group.entraGroupId);
    const known = requests.find((request) => grants.of(request).state === 'approved');
    if (known) return known.id;
    // An approval whose request record is gone still counts, as in the plan.
    const ids = new Set(requests.map((r) => r.id));
    return about(userId).find(
      (d) => d.kind === 'approved' && !ids.has(d.requestId) && grants.ofDecidedRequest(d).state === 'approved',
    )?.requestId;
  };
  const back = candidates.flatMap((entry) => {
    const requestId = liveRequest(entry.userId);
    return requestId ? [{ entry, requestId }] : [];
  });
  const outcomes = await addMembers(
    run,
    back.map(({ entry, requestId }) => ({ userId: entry.userId, requestId, cause: 'restored' as const })),
  );
  outcomes.forEach(({ membership, error }, index) => {
    const { entry, requestId } = back[index]!;
    const who = { id: entry.userId, userPrincipalName: entry.upn };
    if (!membership) {
      run.report.failed.push(
        action(who, 'approved while the sweep ran', {
          requestId,
          outcome: `removed, and could not be put back: ${error?.message}`,
          code: errorCode(error),
        }),
      );
      return;
    }
    run.report.removed = run.report.removed.filter((r) => r !== entry);
    run.report.kept.push(action(who, 'grant', { requestId, outcome: 'approved while this sweep ran: put back' }));
    run.changes.removals.delete(entry.userId);
  });
}
