/** What the commands say about a pim group's result (the records backend's wording lives in each command). */
import type { PimRequestResult } from '../core/access.js';
import type { ExtendPimInput, ExtendPimResult } from '../core/pim/revoke.js';
import type { Output } from './output.js';
import { problemsJson, warnProblems } from './problems.js';

/** After `request` in a pim group: who approves, or that PIM granted it at once. */
export function pimNextStep(out: Output, result: PimRequestResult, now: Date): string {
  if (result.state === 'approved') {
    return `PIM granted it (the group's policy requires no approval); it ends ${result.expiresAt ? out.time(result.expiresAt, now) : 'when PIM ends it'}.`;
  }
  const others = result.approvers.filter(
    (upn) => upn.toLowerCase() !== result.requester.userPrincipalName.toLowerCase(),
  );
  return others.length > 0
    ? `Next: an approver named in the group's PIM policy (${others.join(', ')}) runs \`ociaccess approve ${result.request.id}\` (or approves it in the Entra admin center).`
    : `Next: an approver named in the group's PIM policy runs \`ociaccess approve ${result.request.id}\` (or approves it in the Entra admin center).`;
}

/** What `extend` says and prints for a pim group: PIM extended the membership, or waits for an approver named by its policy. */
export function reportPimExtension(out: Output, extended: ExtendPimResult, input: ExtendPimInput, now: Date): void {
  const { group } = input;
  const ends = extended.expiresAt ?? extended.previousExpiresAt;
  out.success(
    extended.state === 'approved'
      ? `PIM extended your membership of ${group.name}: it now ends ${out.time(extended.expiresAt!, now)} (request ${extended.request.id}).`
      : `Asked PIM to extend your membership of ${group.name} (request ${extended.request.id}, ${extended.pimStatus}).`,
  );
  if (extended.state !== 'approved' && ends)
    out.info(
      `Your membership ends ${out.time(ends, now)} unless an approver named by the group's PIM policy approves first.`,
    );
  warnProblems(out, extended.problems);
  out.data(
    {
      id: extended.request.id,
      backend: 'pim',
      group: group.name,
      hours: input.hours,
      justification: input.justification,
      ticket: input.ticket ?? null,
      state: extended.state,
      pimStatus: extended.pimStatus,
      previousExpiresAt: extended.previousExpiresAt?.toISOString() ?? null,
      expiresAt: extended.expiresAt?.toISOString() ?? null,
      problems: problemsJson(extended.problems),
    },
    () => extended.request.id,
  );
}
