/**
 * How a request is shown by `status` and `list`: its --json entry, the
 * decision that settled it, its state's colour, and the `problems` a
 * document carries when OCI could not be read.
 */
import type { RequestView, StatusEntry } from '../core/lifecycle.js';
import { ociSyncOf, type OciMembership, type OciProblem } from '../core/oci-check.js';
import type { RequestState } from '../core/grants.js';
import { AUTO_APPROVER } from '../core/records.js';
import type { Output } from './output.js';
import { ociProblemsJson } from './oci-problems.js';
import type { IdpWords } from '../core/idp-words.js';

/** Who settled a request, when and why: what a requester needs to see about a denial (or a revocation). */
export function decisionJson(entry: RequestView) {
  const decision = entry.grant.decision;
  if (!decision) return null;
  return {
    kind: decision.kind,
    by: entry.decidedBy ?? decision.approverId,
    at: decision.decidedAt.toISOString(),
    reason: decision.reason ?? null,
  };
}

/** The DECISION column: "denied by bob@… 5m ago (14:05 UTC): use the read-only group". */
export function describeDecision(out: Output, entry: RequestView, now: Date): string {
  const decision = decisionJson(entry);
  if (!decision) return '-';
  const by = decision.by === AUTO_APPROVER ? 'the auto-approval rule' : decision.by;
  const reason = decision.reason ? `: ${decision.reason}` : '';
  return `${decision.kind} by ${by} ${out.time(decision.at, now)}${reason}`;
}

export function entryJson(entry: StatusEntry | RequestView, ociOf?: (entry: RequestView) => OciMembership | undefined) {
  const oci = 'oci' in entry ? entry.oci : ociOf?.(entry);
  return {
    id: entry.request.id,
    group: entry.group.name,
    backend: entry.group.backend ?? 'records',
    requester: entry.requester.userPrincipalName,
    state: entry.grant.state,
    hours: entry.request.hours,
    justification: entry.request.justification,
    ticket: entry.request.ticket ?? null,
    requestedAt: entry.request.requestedAt.toISOString(),
    decidedBy: entry.grant.decision?.approverId ?? null,
    decision: decisionJson(entry),
    expiresAt: entry.grant.expiresAt?.toISOString() ?? null,
    // An extension names the grant it continues (`extend`); absent for a plain request.
    ...(entry.request.continues !== undefined ? { extends: entry.request.continues } : {}),
    // A pending extension whose grant has ended: it can only be denied (or left to time out).
    ...(entry.lapsed ? { lapsed: true } : {}),
    ...(entry.request.invalid ? { invalid: entry.request.invalid } : {}),
    ...('oci' in entry || ociOf ? { oci: oci?.state ?? null, ociSync: ociSyncOf(entry.grant.state, oci) } : {}),
  };
}

/** An invalid record's justification is not shown as if it were one: the rule it breaks is. */
export const shownJustification = (request: RequestView['request']) =>
  request.invalid ? `INVALID: ${request.invalid}` : request.justification;

export function colourState(out: Output, state: RequestState): string {
  const s = out.style;
  return state === 'approved'
    ? s.green(state)
    : state === 'pending'
      ? s.yellow(state)
      : state === 'denied' || state === 'revoked' || state === 'invalid'
        ? s.red(state)
        : s.dim(state);
}

/** The document with its `problems` ([] when OCI answered or was not asked). */
export function withProblems<T extends object>(document: T, problems: readonly OciProblem[], idp: IdpWords) {
  return { ...document, problems: ociProblemsJson(problems, idp) };
}
