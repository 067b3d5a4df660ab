/**
 * The lifecycle's use cases for any backend: each group's config says whether
 * its grants are kept as records (lifecycle.ts) or by Entra's PIM for Groups
 * (pim/). Commands call these and render both alike; a result of the pim
 * backend carries `backend: 'pim'` and what differs.
 */
import type { GroupConfig } from '../config/schema.js';
import { PolicyError, quoteInput } from '../errors.js';
import type { CoreDeps } from './deps.js';
import {
  approveRequest,
  refuseDecisionByReading,
  denyRequest,
  listRequests,
  myStatus,
  requestAccess,
  revokeGrant,
  type DecideInput,
  type DecideResult,
  type ListInput,
  type RequestAccessInput,
  type RequestAccessResult,
  type RequestView,
  type RevokeInput,
  type RevokeResult,
} from './lifecycle.js';
import { REQUEST_ID_PATTERN } from './records.js';
import { decidePim, type PimDecideResult } from './pim/decide.js';
import { listPimRequests, myPimStatus, requestPimAccess, type PimRequestResult } from './pim/request.js';
import { revokePimGrant, type PimRevokeResult } from './pim/revoke.js';

export type Backend = 'records' | 'pim';
export const backendOf = (group: Pick<GroupConfig, 'backend'>): Backend => group.backend ?? 'records';
const isPim = (group: GroupConfig) => backendOf(group) === 'pim';

export function requestAccessFor(
  deps: CoreDeps,
  input: RequestAccessInput,
): Promise<RequestAccessResult | PimRequestResult> {
  return isPim(input.group) ? requestPimAccess(deps, input) : requestAccess(deps, input);
}

export async function listRequestsFor(deps: CoreDeps, input: ListInput): Promise<RequestView[]> {
  const records = input.groups.filter((g) => !isPim(g));
  const pim = input.groups.filter(isPim);
  const views = [
    ...(records.length > 0 ? await listRequests(deps, { ...input, groups: records }) : []),
    ...(pim.length > 0 ? await listPimRequests(deps, { ...input, groups: pim }) : []),
  ];
  return views.sort((a, b) => a.request.requestedAt.getTime() - b.request.requestedAt.getTime());
}

export async function myStatusFor(
  deps: CoreDeps,
  groups: GroupConfig[],
  options: { checkOci: boolean },
): Promise<Awaited<ReturnType<typeof myStatus>>> {
  const records = groups.filter((g) => !isPim(g));
  const pim = groups.filter(isPim);
  if (pim.length === 0) return myStatus(deps, records, options);
  const first = records.length > 0 ? await myStatus(deps, records, options) : undefined;
  const second = await myPimStatus(deps, pim, { ...options, me: first?.me });
  const entries = [...(first?.entries ?? []), ...second.entries].sort(
    (a, b) => b.request.requestedAt.getTime() - a.request.requestedAt.getTime(),
  );
  return { me: second.me, entries, ociProblems: [...(first?.ociProblems ?? []), ...second.ociProblems] };
}

/** Record ids look like r-xxxxxxxx; PIM's are GUIDs: the id says which backend holds the request, and so in which groups. */
function holdersOf(input: Pick<DecideInput, 'groups' | 'requestId'>): { pim: boolean; groups: GroupConfig[] } {
  const pim = !REQUEST_ID_PATTERN.test(input.requestId);
  return { pim, groups: input.groups.filter((g) => isPim(g) === pim) };
}

function decideFor(
  deps: CoreDeps,
  input: DecideInput,
  kind: 'approved' | 'denied',
): Promise<DecideResult | PimDecideResult> {
  const { pim, groups } = holdersOf(input);
  if (groups.length === 0) throw notFound(input.requestId);
  if (pim) return decidePim(deps, { ...input, groups }, kind);
  const records = { ...input, groups };
  return kind === 'approved' ? approveRequest(deps, records) : denyRequest(deps, records);
}

/**
 * With a sign-in that cannot make the decision: the refusals that reading
 * alone decides, for a records request (lifecycle.refuseDecisionByReading).
 * PIM requests are left to PIM, which refuses self-approval itself.
 */
export async function refuseDecisionByReadingFor(
  deps: CoreDeps,
  input: Pick<DecideInput, 'groups' | 'requestId' | 'requesterUpn'>,
  kind: 'approved' | 'denied',
): Promise<void> {
  const { pim, groups } = holdersOf(input);
  if (pim) return;
  if (groups.length === 0) throw notFound(input.requestId);
  await refuseDecisionByReading(deps, { ...input, groups }, kind);
}

const notFound = (id: string) =>
  new PolicyError('REQUEST_NOT_FOUND', `No request with id ${quoteInput(id)}.`, {
    hint: 'Run `ociaccess list --pending` to see the open requests and their ids.',
  });

export const approveFor = (deps: CoreDeps, input: DecideInput) => decideFor(deps, input, 'approved');
export const denyFor = (deps: CoreDeps, input: DecideInput) => decideFor(deps, input, 'denied');

export function revokeFor(deps: CoreDeps, input: RevokeInput): Promise<RevokeResult | PimRevokeResult> {
  return isPim(input.group) ? revokePimGrant(deps, input) : revokeGrant(deps, input);
}

export { extendPimGrant, type ExtendPimInput, type ExtendPimResult } from './pim/revoke.js';
export type { PimDecideResult, PimRequestResult, PimRevokeResult };
