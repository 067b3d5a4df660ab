/**
 * PIM's time-driven work on the virtual clock, applied before every request and whenever
 * the clock moves (server.runDueCycles): an assignment whose start has come adds the
 * member to the group; one whose end has passed removes the member it added; a pending
 * approval past approvalStageTimeOutInDays ends as TimedOut.
 */
import type { World } from '../state.js';

/** ISO 8601 durations as PIM's rules and requests write them: P[nD][T[nH][nM][nS]] (weeks too). */
export function durationMs(raw: string): number | undefined {
  const match = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(raw.trim());
  if (!match || raw.trim().toUpperCase() === 'P' || /T$/i.test(raw.trim())) return undefined;
  const [, w, d, h, m, s] = match;
  return (
    Number(w ?? 0) * 7 * 86_400_000 +
    Number(d ?? 0) * 86_400_000 +
    Number(h ?? 0) * 3_600_000 +
    Number(m ?? 0) * 60_000 +
    Number(s ?? 0) * 1000
  );
}

export function applyPimClock(world: World): void {
  const now = world.now();
  const pim = world.pim;
  for (const [id, assignment] of pim.assignments) {
    const group = world.groups.get(assignment.groupId);
    if (assignment.endDateTime !== undefined && assignment.endDateTime <= now) {
      if (assignment.addedMember) group?.members.delete(assignment.principalId);
      pim.assignments.delete(id);
      continue;
    }
    if (!assignment.addedMember && assignment.startDateTime <= now && group) {
      if (!group.members.has(assignment.principalId)) {
        group.members.add(assignment.principalId);
        assignment.addedMember = true;
      }
      const request = pim.requests.get(assignment.requestId);
      if (request && request.status === 'ScheduleCreated') request.status = 'Provisioned';
    }
  }
  for (const approval of pim.approvals.values()) {
    const request = pim.requests.get(approval.requestId);
    if (!request || request.status !== 'PendingApproval' || approval.expiresAt > now) continue;
    request.status = 'TimedOut';
    request.completedDateTime = approval.expiresAt;
    for (const stage of approval.stages) if (stage.status === 'InProgress') stage.status = 'Completed';
  }
}
