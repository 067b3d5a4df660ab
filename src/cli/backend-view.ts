/** What the commands say about a pim group's result (the records backend's wording lives in each command). */
import type { PimRequestResult } from '../core/access.js';
import type { Output } from './output.js';

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
