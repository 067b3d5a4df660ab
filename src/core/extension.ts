/**
 * The rule of extensions on the records backend (`ociaccess extend`): an
 * extension is a request that continues the requester's live grant. It is
 * recorded, approved (by an approver or the group's auto-approval rule) and
 * bounded exactly like any request — its grant counts from its own decision
 * time, for at most the group's maxHours — with one more rule: it may be
 * approved only while the grant it continues is live. Approved in time, the
 * member is never without a live grant, so no sweep removes them in between;
 * approved too late, it is refused (EXTENSION_LAPSED), so a member the sweep
 * removed is not put back by a request that promised to continue something
 * that had ended. docs/records.md ("Extensions") and docs/security.md say why.
 */
import { PolicyError } from '../errors.js';
import type { GrantViews, RequesterGrant } from './grants.js';
import type { AccessRequest } from './records.js';

/**
 * The grant an extension continues, as these records give it at `grants.now`
 * (undefined for a request that is no extension). A grant the records no
 * longer show at all is returned as ended: nothing proves it live.
 */
export function continuedGrant(
  grants: GrantViews,
  extension: AccessRequest,
  requests: readonly AccessRequest[] | undefined,
): RequesterGrant | undefined {
  const continues = extension.continues;
  if (continues === undefined) return undefined;
  const found = grants.grantsOf(extension.requesterId, requests).find((grant) => grant.requestId === continues);
  return found ?? { requestId: continues, view: { state: 'expired' } };
}

/** Whether an extension can no longer be approved at `grants.now`: the grant it continues is not live. */
export function isLapsedExtension(
  grants: GrantViews,
  extension: AccessRequest,
  requests: readonly AccessRequest[] | undefined,
): boolean {
  const continued = continuedGrant(grants, extension, requests);
  return continued !== undefined && continued.view.state !== 'approved';
}

/** Refuses to approve an extension whose grant had ended (or was revoked) by the decision time. */
export function refuseLapsedExtension(
  grants: GrantViews,
  extension: AccessRequest,
  requests: readonly AccessRequest[] | undefined,
  requesterUpn: string,
): RequesterGrant | undefined {
  const continued = continuedGrant(grants, extension, requests);
  if (!continued || continued.view.state === 'approved') return continued;
  const { view } = continued;
  const ended = view.endedAt ? ` at ${view.endedAt.toISOString()}` : '';
  const how =
    view.state === 'revoked' ? `was revoked${ended}` : view.state === 'expired' ? `ended${ended}` : `is ${view.state}`;
  throw new PolicyError(
    'EXTENSION_LAPSED',
    `Request ${extension.id} extends ${continued.requestId}, which ${how}; an extension can be approved only while the grant it extends is live.`,
    {
      hint: `${requesterUpn} can ask again with \`ociaccess request\`; deny this one with \`ociaccess deny ${extension.id} --reason …\`.`,
      details: { continues: continued.requestId, state: view.state, endedAt: view.endedAt?.toISOString() ?? null },
    },
  );
}
