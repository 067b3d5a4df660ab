/**
 * Proof in OCI, from one read of the OCI group: confirms
 * removals that arrived; where the group removes directly (removeDirectly,
 * the sweep host's write key) removes the others from the OCI group itself
 * and reads the group again; elsewhere asks Entra to provision them on
 * demand (and looks again) and removes in OCI directly those pending for
 * longer than --force-oci-after; reports the rest (stuck after two cycles),
 * and finds drift. Returns the drift ledger to keep.
 */
import type { OciPort, OciUserRef, OnDemandOutcome, PendingRemoval } from './ports.js';
import { removesDirectly } from '../config/oci.js';
import { mapLimit } from './concurrent.js';
import { GroupRun, action, errorCode, type OciView, type Who } from './sweep-run.js';
import { lastEndedGrant, type RequesterGrant } from './grants.js';
import { endReason } from './sweep-plan.js';
import { idpWordsOf, type IdpWords } from './idp-words.js';

/** Error codes that mean "the service is unavailable" (exit 5) rather than "something is wrong" (exit 1). */
export const UNAVAILABLE_CODES = new Set([
  'GRAPH_UNAVAILABLE',
  'OKTA_UNAVAILABLE',
  'OCI_UNAVAILABLE',
  'HTTP_DEADLINE_EXCEEDED',
  'RECORD_WRITE_CONFLICT',
]);
/** OCI calls made one per member (direct removals) in flight at once, unless --oci-concurrency says otherwise. */
const DEFAULT_OCI_CONCURRENCY = 4;

type Readable = Exclude<OciView, { error: Error }>;
interface StillInOci {
  removal: PendingRemoval;
  ociUserId: string;
}

const who = (p: PendingRemoval): Who => ({ id: p.userId, userPrincipalName: p.upn });

/** `entraMemberIds`: who is in the Entra group after the sweep's changes; `entitledUpns`: whose OCI membership is not drift. */
export async function checkOci(
  run: GroupRun,
  view: OciView,
  entraMemberIds: ReadonlySet<string>,
  entitledUpns: ReadonlySet<string>,
): Promise<Record<string, string>> {
  // The removals this host waits for: the ledger as read, plus those this sweep made.
  const known = new Map(run.read.ledger.pendingRemovals);
  for (const [userId, removal] of run.changes.removals) known.set(userId, removal);
  const pending = [...known.values()].filter((p) => p.status !== 'confirmed');
  // Someone re-added in Entra, or holding a newer live grant, is no longer a pending removal.
  const covered = (p: PendingRemoval) => entraMemberIds.has(p.userId) || entitledUpns.has(p.upn.toLowerCase());
  for (const p of pending) if (covered(p)) run.changes.forgottenRemovals.add(p.userId);
  const relevant = pending.filter((p) => !covered(p));
  if ('error' in view) {
    const message = `OCI check failed: ${view.error.message}`;
    if (UNAVAILABLE_CODES.has(errorCode(view.error) ?? '')) (run.report.unavailable ??= []).push(message);
    else run.report.problems.push(message);
    for (const p of relevant) run.report.pendingInOci.push(action(who(p), p.reason, { outcome: 'not checked' }));
    return run.read.ledger.driftSeen;
  }
  if (!view.group)
    run.report.problems.push(`The OCI group "${run.group.ociGroupName}" does not exist in the identity domain.`);
  run.report.ociGroupMembers = view.group ? view.members.length : null;
  const byName = new Map(view.members.map((member) => [member.userName.toLowerCase(), member]));
  reportCovered(run, view.members, entitledUpns);
  relevant.push(...removalsFromRecords(run, view.members, entitledUpns, relevant));
  let stillInOci: StillInOci[] = [];
  for (const removal of relevant) {
    const member = byName.get(removal.upn.toLowerCase());
    if (member) stillInOci.push({ removal, ociUserId: member.id });
    else confirm(run, removal, 'not in OCI group');
  }
  const direct = removesDirectly(run.deps.config, run.group);
  if (direct) stillInOci = await removeDirectly(run, view, stillInOci);
  if (direct && run.dryRun) planDirectRemovals(run, byName);
  // provisionOnDemand's effect on a removed member is undocumented: with direct removal, it is asked only to add.
  stillInOci = await provisionNow(run, view, stillInOci, byName, direct);
  const forced = direct ? new Set<string>() : await forceRemovals(run, view, stillInOci);
  for (const s of stillInOci) if (!forced.has(s.removal.userId)) stillWaiting(run, s.removal);
  return findDrift(run, view, entitledUpns, new Set(relevant.map((p) => p.upn.toLowerCase())));
}

/** A user of this group's records (an eligible requester or approver) by OCI user name, with their grants here. */
function grantsByUserName(run: GroupRun, userName: string): { user: Who; grants: RequesterGrant[] } | undefined {
  const user = run.read.people.byUpn.get(userName.toLowerCase());
  if (!user || run.read.people.standingIds.has(user.id)) return undefined;
  return { user, grants: run.grants.grantsOf(user.id, run.read.book.requestsByUser.get(user.id)) };
}

/**
 * OCI members whose grant ended in the records (revoked, expired) and who
 * hold no live grant nor Entra membership, and for whom this host waits for
 * no removal yet: the removal was made elsewhere (another sweep host, an
 * approver's revoke) or is only in the records (a requester's own revoke).
 * They are pending removals from now on, on every host, not drift and not
 * "clean". They are dated at the end of the grant, but the watch for a stuck
 * removal starts now: the removal in Entra happened at some unknown time since
 * (another host's sweep may have made it only just now, after its sweeps were
 * down), so counting from the grant's end would call a fresh removal stuck;
 * the host that made it watches from the real time.
 */
function removalsFromRecords(
  run: GroupRun,
  ociMembers: OciUserRef[],
  entitledUpns: ReadonlySet<string>,
  waiting: PendingRemoval[],
): PendingRemoval[] {
  const waitingFor = new Set(waiting.map((p) => p.upn.toLowerCase()));
  const adopted: PendingRemoval[] = [];
  for (const member of ociMembers) {
    const name = member.userName?.toLowerCase();
    if (!name || entitledUpns.has(name) || waitingFor.has(name)) continue;
    const found = grantsByUserName(run, name);
    const ended = found && lastEndedGrant(found.grants);
    if (!found || !ended?.view.endedAt) continue;
    adopted.push({
      groupId: run.group.entraGroupId,
      userId: found.user.id,
      upn: found.user.userPrincipalName,
      removedInEntraAt: ended.view.endedAt.toISOString(),
      reason: endReason(ended.view),
      requestId: ended.requestId,
      attempts: 0,
      status: 'pending-oci',
      lastCheckedAt: run.nowIso,
      watchingSince: run.nowIso,
    });
  }
  return adopted;
}

/** OCI members whose older grant ended while a newer live one keeps them: "covered by" that grant, not a removal to wait for. */
function reportCovered(run: GroupRun, ociMembers: OciUserRef[], entitledUpns: ReadonlySet<string>): void {
  for (const member of ociMembers) {
    const name = member.userName?.toLowerCase();
    if (!name || !entitledUpns.has(name)) continue;
    const ended = grantsByUserName(run, name)?.grants.filter((g) => g.view.coveredBy && g.view.endedAt);
    const last = ended && lastEndedGrant(ended);
    if (!last) continue;
    const user = run.read.people.byUpn.get(name)!;
    run.report.covered.push(
      action(user, endReason(last.view), {
        requestId: last.requestId,
        coveredBy: last.view.coveredBy,
        outcome: `ended, covered by ${last.view.coveredBy}`,
      }),
    );
  }
}

function confirm(run: GroupRun, removal: PendingRemoval, how: string, forced?: { pendingForMs: number }): void {
  run.changes.removals.set(removal.userId, {
    ...removal,
    status: 'confirmed',
    lastCheckedAt: run.nowIso,
    attempts: removal.attempts + 1,
    ...(forced ? { forcedInOciAt: run.nowIso } : {}),
  });
  (forced ? run.report.forcedInOci : run.report.confirmedInOci).push(
    action(who(removal), removal.reason, { outcome: how }),
  );
  run.tell({
    ...run.base(),
    type: 'oci.removal-confirmed',
    member: run.person(who(removal)),
    how,
    ...(forced ? { forced } : {}),
  });
}

/**
 * Asks Entra to provision on demand the removals still in OCI and the members
 * this sweep added that OCI does not show yet, then looks again. Returns the
 * removals still in OCI.
 */
async function provisionNow(
  run: GroupRun,
  view: Readable,
  stillInOci: StillInOci[],
  byName: Map<string, OciUserRef>,
  additionsOnly: boolean,
): Promise<StillInOci[]> {
  const additions = run.report.autoApproved.filter(
    (a) => (a.outcome === 'added' || a.outcome === 'already-member') && !byName.has(a.upn.toLowerCase()),
  );
  const removals = additionsOnly ? [] : stillInOci;
  if (!run.options.provisionNow || removals.length + additions.length === 0 || !view.group || run.dryRun)
    return stillInOci;
  const asked = [
    ...removals.map((s) => who(s.removal)),
    ...additions.map((a) => ({ id: a.userId, userPrincipalName: a.upn })),
  ];
  let outcomes: OnDemandOutcome[];
  try {
    outcomes = await run.deps.directory.provisionOnDemand(
      run.group.entraGroupId,
      asked.map((user) => user.id),
    );
  } catch (error) {
    const told = (error as { details?: { outcomes?: unknown } }).details?.outcomes;
    if (!Array.isArray(told)) {
      run.report.problems.push(`provision on demand failed: ${(error as Error).message}`);
      return stillInOci;
    }
    outcomes = told as OnDemandOutcome[];
  }
  const exported = noteOnDemandOutcomes(run, asked, outcomes);
  if (exported.size === 0) return stillInOci;
  try {
    if (removals.length === 0) return stillInOci;
    // Provisioning on demand takes seconds: look again, so the report says what OCI says now.
    const after = new Set((await view.oci.groupMembers(view.group.id)).map((member) => member.id));
    for (const s of stillInOci) if (!after.has(s.ociUserId)) confirm(run, s.removal, 'gone after provision on demand');
    return stillInOci.filter((s) => after.has(s.ociUserId));
  } catch (error) {
    run.report.problems.push(`OCI could not be read again after provisioning on demand: ${(error as Error).message}`);
    return stillInOci;
  }
}

/**
 * Removes from the OCI group, in this sweep, the members removed in Entra
 * that OCI still lists (PATCHes of remove operations, then one read of the
 * group: the adapter's removeGroupMembers). Returns those still there; each
 * failure is reported, and the removal stays pending for the next sweep.
 */
async function removeDirectly(run: GroupRun, view: Readable, stillInOci: StillInOci[]): Promise<StillInOci[]> {
  if (stillInOci.length === 0 || !view.group) return stillInOci;
  if (run.dryRun) {
    for (const s of stillInOci)
      run.report.removedInOci.push(
        action(who(s.removal), s.removal.reason, {
          ...requestOf(s.removal),
          outcome: 'planned: remove from OCI directly',
        }),
      );
    return [];
  }
  run.progress(`removing ${stillInOci.length} member(s) from the OCI group`);
  const outcomes = await view.oci.removeGroupMembers(
    view.group.id,
    stillInOci.map((s) => s.ociUserId),
  );
  const left: StillInOci[] = [];
  for (const s of stillInOci) {
    const outcome = outcomes.get(s.ociUserId) ?? new Error('no answer for this member');
    if (outcome === 'removed') removedFromOci(run, s.removal);
    else {
      directRemovalFailed(run, s.removal, outcome);
      left.push(s);
    }
  }
  return left;
}

/** A dry run: the members it would remove in Entra that OCI lists would go from OCI in the same run. */
function planDirectRemovals(run: GroupRun, byName: Map<string, OciUserRef>): void {
  for (const r of run.report.removed)
    if (!r.kind && byName.has(r.upn.toLowerCase()))
      run.report.removedInOci.push({ ...r, outcome: 'planned: remove from OCI directly' });
}

const requestOf = (removal: PendingRemoval) => (removal.requestId ? { requestId: removal.requestId } : {});

function removedFromOci(run: GroupRun, removal: PendingRemoval): void {
  run.changes.removals.set(removal.userId, {
    ...removal,
    status: 'confirmed',
    lastCheckedAt: run.nowIso,
    attempts: removal.attempts + 1,
    removedInOciAt: run.nowIso,
  });
  run.report.removedInOci.push(
    action(who(removal), removal.reason, { ...requestOf(removal), outcome: 'removed from OCI directly' }),
  );
  tellOciRemoval(run, removal, { outcome: 'removed' });
}

function directRemovalFailed(run: GroupRun, removal: PendingRemoval, error: Error): void {
  const code = errorCode(error);
  const message = `direct OCI removal of ${removal.upn} failed (the next sweep tries again): ${error.message}`;
  if (UNAVAILABLE_CODES.has(code ?? '')) (run.report.unavailable ??= []).push(message);
  else run.report.problems.push(message);
  tellOciRemoval(run, removal, { outcome: 'failed', error: error.message, ...(code ? { code } : {}) });
}

/** The event of a direct OCI removal (the audit log's remove-oci entry): its outcome, and the error if it failed. */
function tellOciRemoval(
  run: GroupRun,
  removal: PendingRemoval,
  result: { outcome: 'removed' | 'failed'; error?: string; code?: string },
): void {
  run.tell({
    ...run.base(),
    type: 'oci.member-removed',
    member: run.person(who(removal)),
    reason: removal.reason,
    ...requestOf(removal),
    ...result,
  });
}

/**
 * Only what Graph said it exported (result Success) counts as provisioned on
 * demand; the others are listed with Graph's result and warned about: their
 * change waits for the next provisioning cycle. Returns the ids exported.
 */
function noteOnDemandOutcomes(run: GroupRun, asked: Who[], outcomes: OnDemandOutcome[]): Set<string> {
  const outcomeOf = new Map(outcomes.map((o) => [o.userId, o]));
  const exported = new Set<string>();
  for (const user of asked) {
    const outcome = outcomeOf.get(user.id);
    if (outcome?.result === 'Success') {
      exported.add(user.id);
      run.report.provisionedOnDemand.push(user.userPrincipalName);
      continue;
    }
    const result = outcome?.result ?? 'Unknown';
    const detail = [outcome?.errorCode, outcome?.reason].filter(Boolean).join(': ');
    run.report.notProvisionedOnDemand.push({
      upn: user.userPrincipalName,
      result,
      ...(outcome?.errorCode ? { errorCode: outcome.errorCode } : {}),
      ...(outcome?.reason ? { reason: outcome.reason } : {}),
    });
    run.report.warnings.push(
      `Entra did not export ${user.userPrincipalName} on demand (${result}${detail ? `: ${detail}` : ''}); the change reaches OCI at the next provisioning cycle.`,
    );
  }
  if (run.report.provisionedOnDemand.length > 0)
    run.tell({ ...run.base(), type: 'provisioning.requested', users: run.report.provisionedOnDemand });
  return exported;
}

const pendingFor = (run: GroupRun, removal: PendingRemoval) => run.now.getTime() - Date.parse(removal.removedInEntraAt);

/** Removes in OCI directly those pending for longer than --force-oci-after; returns who was (or, in a dry run, would be). */
async function forceRemovals(run: GroupRun, view: Readable, stillInOci: StillInOci[]): Promise<Set<string>> {
  const { options } = run;
  const due =
    options.forceOciAfterMs > 0 && view.group
      ? stillInOci.filter((s) => pendingFor(run, s.removal) >= options.forceOciAfterMs)
      : [];
  const forced = new Set<string>();
  if (options.dryRun) {
    for (const s of due)
      run.report.forcedInOci.push(
        action(who(s.removal), s.removal.reason, { outcome: 'planned: remove in OCI directly' }),
      );
    for (const s of due) forced.add(s.removal.userId);
    return forced;
  }
  const errors = await removeInOci(
    view.oci,
    view.group?.id ?? '',
    due.map((s) => s.ociUserId),
    options.ociConcurrency,
  );
  due.forEach((s, index) => {
    const error = errors[index];
    if (error) {
      run.report.problems.push(`direct OCI removal of ${s.removal.upn} failed: ${error.message}`);
      return;
    }
    forced.add(s.removal.userId);
    confirm(run, s.removal, 'removed in OCI directly', { pendingForMs: pendingFor(run, s.removal) });
  });
  return forced;
}

/** Removes each OCI user from the group, a few at a time; the error of each, or null. */
function removeInOci(
  oci: OciPort,
  groupId: string,
  ociUserIds: string[],
  concurrency = DEFAULT_OCI_CONCURRENCY,
): Promise<(Error | null)[]> {
  return mapLimit(ociUserIds, concurrency, (id) =>
    oci.removeGroupMember(groupId, id).then(
      () => null,
      (error: unknown) => error as Error,
    ),
  );
}

/**
 * Why a removal is usually stuck, and what ends it. Entra's provisioning only
 * removes an OCI group membership it created, so a member that JIT put in the
 * OCI group at a sign-in before any provisioning cycle stays there. Okta's
 * Push Groups works within seconds, so a removal still there after two cycles
 * means the push stopped or the membership was made outside Okta.
 */
const DIRECT_FIX =
  'Fix: remove it in OCI directly: sweep from a host whose OCI key has oci.access "write", with oci.removeDirectly ' +
  '(the default there) or --force-oci-after (e.g. 30m)';

export function stuckHint(idp: IdpWords): string {
  return idp.name === 'Okta'
    ? "Likely cause: Okta's Push Groups to OCI stopped (its status in the Okta Admin Console → Applications → the OCI app → Push Groups), " +
        'or the user joined the OCI group outside Okta (a JIT console sign-in). ' +
        `${DIRECT_FIX}; otherwise push the group again there (docs/okta.md).`
    : 'Likely cause: the user joined the OCI group through JIT (a console sign-in) before any provisioning cycle, ' +
        'and provisioning does not remove a membership it did not create. ' +
        `${DIRECT_FIX}; otherwise check the provisioning logs (docs/troubleshooting.md).`;
}

/**
 * A removal OCI still shows: pending, or stuck after two cycles of watching.
 * After more than three cycles without a look (this host was down, or sweeps
 * rarely) the member may have been re-added and removed again unseen, so the
 * watch starts over instead of raising a false alarm.
 */
function stillWaiting(run: GroupRun, removal: PendingRemoval): void {
  const { cycleMs } = run.options;
  const idp = idpWordsOf(run.deps.config);
  const nowMs = run.now.getTime();
  const lastLook = Date.parse(removal.lastCheckedAt ?? removal.removedInEntraAt);
  const watchingSince =
    nowMs - lastLook > 3 * cycleMs ? run.nowIso : (removal.watchingSince ?? removal.removedInEntraAt);
  run.changes.removals.set(removal.userId, {
    ...removal,
    lastCheckedAt: run.nowIso,
    attempts: removal.attempts + 1,
    ...(watchingSince !== removal.removedInEntraAt ? { watchingSince } : {}),
  });
  if (nowMs - Date.parse(watchingSince) > 2 * cycleMs) {
    run.report.stuck.push(
      action(who(removal), removal.reason, {
        outcome: `still in OCI ${Math.round(pendingFor(run, removal) / 60000)} min after removal in ${idp.name}`,
        hint: stuckHint(idp),
      }),
    );
  } else {
    run.report.pendingInOci.push(
      action(who(removal), removal.reason, {
        ...(removal.requestId ? { requestId: removal.requestId } : {}),
        outcome: `removed in ${idp.name}, pending in OCI`,
      }),
    );
  }
}

const driftOf = (run: GroupRun) =>
  `in the OCI group without an ${idpWordsOf(run.deps.config).name} membership or grant`;

/**
 * Drift: OCI members that are neither entitled (an Entra member, a standing
 * member, or the holder of a live grant) nor a removal this host is already
 * waiting for. Reported (a failure once seen for two cycles), or removed in
 * OCI directly with --fix-drift. Returns the drift ledger to keep.
 */
async function findDrift(
  run: GroupRun,
  view: Readable,
  entitledUpns: ReadonlySet<string>,
  pendingUpns: Set<string>,
): Promise<Record<string, string>> {
  const { options, report } = run;
  const drifted = view.members.filter(
    (m) => m.userName && !entitledUpns.has(m.userName.toLowerCase()) && !pendingUpns.has(m.userName.toLowerCase()),
  );
  const ledger: Record<string, string> = {};
  if (!view.group || drifted.length === 0) return ledger;
  const fixing = options.fixDrift && !options.dryRun;
  const errors = fixing
    ? await removeInOci(
        view.oci,
        view.group.id,
        drifted.map((m) => m.id),
        options.ociConcurrency,
      )
    : [];
  drifted.forEach((m, index) => {
    const firstSeenAt = run.read.ledger.driftSeen[m.id] ?? run.nowIso;
    const base = { ociUserId: m.id, userName: m.userName, firstSeenAt };
    const error = errors[index];
    let drift: (typeof report.drift)[number];
    if (options.fixDrift && options.dryRun)
      drift = { ...base, state: 'planned', outcome: 'planned: remove in OCI directly' };
    else if (fixing && !error) drift = { ...base, state: 'removed', outcome: 'removed in OCI directly' };
    else if (fixing) drift = { ...base, state: 'failed', outcome: error!.message, code: errorCode(error) };
    else drift = stillDrifting(run, base);
    if (drift.state !== 'removed' && drift.state !== 'planned') ledger[m.id] = firstSeenAt;
    report.drift.push(drift);
    run.tell({
      ...run.base(),
      type: 'oci.drift-seen',
      userName: m.userName,
      ociUserId: m.id,
      state: drift.state,
      firstSeenAt,
      ...(error ? { error: error.message } : {}),
    });
  });
  return ledger;
}

function stillDrifting(
  run: GroupRun,
  base: { ociUserId: string; userName: string; firstSeenAt: string },
): GroupRun['report']['drift'][number] {
  const age = run.now.getTime() - new Date(base.firstSeenAt).getTime();
  if (age > 2 * run.options.cycleMs)
    return { ...base, state: 'stuck', outcome: `${driftOf(run)} for ${Math.round(age / 60000)} min (use --fix-drift)` };
  return { ...base, state: 'reported', outcome: driftOf(run) };
}
