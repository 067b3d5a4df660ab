/**
 * The access lifecycle as use cases: request, approve, deny, revoke, and the
 * views behind status and list. Each one reads the remote records, decides
 * with the pure rules (grants.ts), writes the remote record first and the
 * local state and audit log after, so a crash in between leaves something the
 * next run or the sweep completes — never a grant without a record. The local
 * state is read before anything is written (a corrupt file stops a command
 * that has changed nothing); a step that fails after the remote change cannot
 * undo it, so it comes back as one of the result's `problems` (exit 7).
 */
import type { GroupConfig } from '../config/schema.js';
import { CancelledError, PolicyError, problemOf, quoteInput, type Problem, type ProblemCode } from '../errors.js';
import type { CoreDeps } from './deps.js';
import { maxSkewMsOf, resolvePeople, sameUpn } from './deps.js';
import type { DirectoryUser, LocalDecision } from './ports.js';
import type { Delivery, DomainEvent, EventActor, EventPerson } from './events.js';
import { GrantViews, deriveGrant, isOpenState, type GrantView } from './grants.js';
import { isLapsedExtension, refuseLapsedExtension } from './extension.js';
import { findRequests, loadRecordBook, type RecordBook } from './record-book.js';
import {
  AUTO_APPROVER,
  DECISIONS_EXTENSION,
  LONGEST_RETENTION,
  REQUESTS_EXTENSION,
  encodeDecisions,
  encodeRequests,
  type AccessRequest,
  type Decision,
  type RetentionOf,
} from './records.js';
import { UNKNOWN, ociMembershipFromHere, readOciOrProblem, type OciMembership, type OciProblem } from './oci-check.js';

const HOUR = 3600_000;

/**
 * How long a record that ends a grant in a group must be kept (records.ts'
 * RetentionOf): the group's maximum plus the allowed clock skew; groups this
 * config does not know get the longest any group may allow.
 */
function retentionOf(deps: CoreDeps): RetentionOf {
  const skewMs = maxSkewMsOf(deps.config);
  const byGroup = new Map(deps.config.groups.map((g) => [g.entraGroupId, g.maxHours * HOUR + skewMs]));
  return (groupId) => byGroup.get(groupId) ?? LONGEST_RETENTION(groupId) + skewMs;
}

export interface RequestView {
  request: AccessRequest;
  requester: DirectoryUser | { id: string; userPrincipalName: string; displayName: string };
  group: GroupConfig;
  grant: GrantView;
  /** Who took the settling decision: an approver's UPN, or AUTO_APPROVER for the group's rule. */
  decidedBy?: string;
  /** For an extension being decided: the grant it continues and when that grant ends. */
  continues?: { requestId: string; expiresAt?: Date };
  /**
   * A pending extension whose grant has ended (or was revoked): it can no
   * longer be approved (EXTENSION_LAPSED), only denied or left to time out.
   */
  lapsed?: boolean;
}

/** The UPN of whoever took `grant`'s decision (only trusted decisions settle a grant, so its approver is configured). */
function deciderOf(grant: GrantView, approvers: readonly DirectoryUser[]): string | undefined {
  const id = grant.decision?.approverId;
  if (id === undefined || id === AUTO_APPROVER) return id;
  return approvers.find((approver) => approver.id === id)?.userPrincipalName ?? id;
}

function view(
  book: RecordBook,
  policy: Parameters<typeof deriveGrant>[2],
  group: GroupConfig,
  request: AccessRequest,
  requester: RequestView['requester'],
  now: Date,
): RequestView {
  return { request, requester, group, grant: deriveGrant(request, book.decisions, policy, now) };
}

/** The fields every event of a command shares. */
export function eventBase(group: GroupConfig, actor: EventActor, now: Date) {
  return { at: now.toISOString(), actor, group: { id: group.entraGroupId, name: group.name } };
}

export const personOf = (user: Pick<DirectoryUser, 'id' | 'userPrincipalName'>): EventPerson => ({
  id: user.id,
  upn: user.userPrincipalName,
});
export const actorOf = (me: DirectoryUser): EventActor => ({ id: me.id, upn: me.userPrincipalName, kind: 'user' });

/** An audit entry of nothing changed (a refusal): a command whose entry could not be written fails (and says why). */
export async function emitOrThrow(deps: CoreDeps, events: DomainEvent | DomainEvent[]): Promise<void> {
  const delivery: Delivery = await deps.events.emit(events);
  if (delivery.recordFailure !== undefined) throw delivery.recordFailure;
}

/**
 * A step after the change was made (local state, the OCI check): its failure
 * cannot undo the change, so it becomes a problem of `code` for the command
 * to report, and the command goes on.
 */
export async function afterChange<T>(
  problems: Problem[],
  code: ProblemCode,
  step: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await step();
  } catch (error) {
    // Two writes of the local state that fail are one problem to fix (the first one's cause).
    if (!problems.some((problem) => problem.code === code)) problems.push(problemOf(code, error));
    return undefined;
  }
}

/**
 * This machine's note of a request it made (after the request reached the
 * service): a failure to write it is a STATE_NOT_WRITTEN problem, since the
 * request itself stands.
 */
export async function noteLocalRequest(
  deps: CoreDeps,
  problems: Problem[],
  note: {
    id: string;
    group: GroupConfig;
    requester: DirectoryUser;
    input: RequestAccessInput;
    requestedAt: Date;
    status: 'pending' | 'approved';
    expiresAt?: Date;
  },
): Promise<void> {
  const { group, requester, input } = note;
  await afterChange(problems, 'STATE_NOT_WRITTEN', () =>
    deps.state.recordRequest({
      id: note.id,
      groupId: group.entraGroupId,
      groupName: group.name,
      userId: requester.id,
      upn: requester.userPrincipalName,
      hours: input.hours,
      justification: input.justification,
      ...(input.ticket ? { ticket: input.ticket } : {}),
      requestedAt: note.requestedAt.toISOString(),
      status: note.status,
      ...(note.expiresAt ? { expiresAt: note.expiresAt.toISOString() } : {}),
    }),
  );
}

/** The audit entry of a change already made: not written is a problem (AUDIT_NOT_WRITTEN), never an error. */
export async function recordOutcome(
  deps: CoreDeps,
  problems: Problem[],
  events: DomainEvent | DomainEvent[],
): Promise<void> {
  const delivery: Delivery = await deps.events.emit(events);
  if (delivery.recordFailure !== undefined) problems.push(problemOf('AUDIT_NOT_WRITTEN', delivery.recordFailure));
}

/** The problems as an audit entry keeps them: each code with what its cause said. */
export const problemDetails = (problems: readonly Problem[]) =>
  problems.length === 0 ? {} : { problems: problems.map((p) => ({ code: p.code, cause: p.cause })) };

// ---------------------------------------------------------------- request

/** The group's bound on a request's hours (checked by `request` before it signs in, and here). */
export function checkRequestHours(group: GroupConfig, hours: number): void {
  if (hours > group.maxHours) {
    // Durations are asked to the minute (90m, 1h30m): said the same way, not as 1.5 or 0.3333 hours.
    const minutes = Math.round(hours * 60);
    const asked =
      minutes % 60 === 0
        ? `${minutes / 60} hours`
        : `${Math.floor(minutes / 60) > 0 ? `${Math.floor(minutes / 60)}h` : ''}${minutes % 60}m`;
    throw new PolicyError(
      'DURATION_TOO_LONG',
      `${asked} is more than ${group.name} allows (at most ${group.maxHours} hours).`,
      {
        hint: `Use --hours ${group.maxHours} or less.`,
      },
    );
  }
}

export interface RequestAccessInput {
  group: GroupConfig;
  hours: number;
  justification: string;
  ticket?: string;
  /**
   * An extension (`extend`): refused without a live grant in the group
   * (NO_ACTIVE_GRANT), and recorded as continuing it (AccessRequest.continues).
   */
  extend?: boolean;
}
export interface RequestAccessResult {
  request: AccessRequest;
  requester: DirectoryUser;
  autoApprovable: boolean;
  /** A grant the requester already holds in this group (the new request would extend it). */
  activeGrant?: { requestId: string; expiresAt: Date };
  /** What failed after the request was written (local state, audit entry). */
  problems: Problem[];
}

export async function requestAccess(deps: CoreDeps, input: RequestAccessInput): Promise<RequestAccessResult> {
  const { group } = input;
  // Read (and so validated) before anything is written: a corrupt state file stops the command while nothing has changed.
  await deps.state.readLocal();
  const me = await deps.directory.me();
  if (!group.eligibleRequesters.some((upn) => sameUpn(upn, me.userPrincipalName))) {
    throw new PolicyError('NOT_ELIGIBLE', `${me.userPrincipalName} may not request access to ${group.name}.`, {
      hint: `Ask an admin to add you to groups[].eligibleRequesters for ${group.name}.`,
    });
  }
  checkRequestHours(group, input.hours);
  const people = await resolvePeople(deps.directory, group, maxSkewMsOf(deps.config));
  const book = await loadRecordBook(deps.directory, group, [me.id], people.policy.approverIds);
  const now = deps.clock.now();
  const mine = book.requestsByUser.get(me.id) ?? [];
  const views = mine.map((request) => ({ request, grant: deriveGrant(request, book.decisions, people.policy, now) }));
  // An extension whose grant has ended can no longer be approved (extension.ts): it does not hold up a new request.
  const grants = new GrantViews(book.decisions, people.policy, now);
  const pending = views.find(
    (v) =>
      v.request.groupId === group.entraGroupId &&
      v.grant.state === 'pending' &&
      !isLapsedExtension(grants, v.request, mine),
  );
  if (pending) {
    throw new PolicyError(
      'REQUEST_ALREADY_PENDING',
      `You already have a pending request ${pending.request.id} for ${group.name}.`,
      {
        hint: 'Wait for an approver, or withdraw it with `ociaccess revoke` and request again.',
      },
    );
  }
  // The live grant that lasts longest: the one an extension continues.
  const active = views
    .filter((v) => v.request.groupId === group.entraGroupId && v.grant.state === 'approved' && v.grant.expiresAt)
    .sort((a, b) => b.grant.expiresAt!.getTime() - a.grant.expiresAt!.getTime())[0];
  if (input.extend && !active) {
    throw new PolicyError('NO_ACTIVE_GRANT', `You hold no live grant in ${group.name} to extend.`, {
      hint: `Ask for access instead: \`ociaccess request --group ${group.name} --hours ${input.hours} --justification …\`.`,
    });
  }
  const request: AccessRequest = {
    id: deps.ids.requestId(),
    groupId: group.entraGroupId,
    requesterId: me.id,
    hours: input.hours,
    justification: input.justification,
    ...(input.ticket ? { ticket: input.ticket } : {}),
    requestedAt: now,
    ...(input.extend && active ? { continues: active.request.id } : {}),
  };
  const isLive = (r: AccessRequest) =>
    r === request || isOpenState(deriveGrant(r, book.decisions, people.policy, now).state);
  const payload = encodeRequests([...mine, request], isLive, now, retentionOf(deps));
  const rule = group.autoApproval;
  const autoApprovable = Boolean(
    rule &&
    input.hours <= rule.maxHours &&
    (people.policy.autoApprovableIds?.size ? people.policy.autoApprovableIds.has(me.id) : true),
  );
  const created: DomainEvent = {
    ...eventBase(group, actorOf(me), now),
    type: 'request.created',
    requester: personOf(me),
    requestId: request.id,
    hours: input.hours,
    justification: input.justification,
    ...(input.ticket ? { ticket: input.ticket } : {}),
    autoApprovable,
    approvers: group.approvers,
    ...(request.continues ? { continues: request.continues } : {}),
  };
  await deps.events.intend(created);
  await deps.directory.writeRecord({ kind: 'user', id: me.id }, REQUESTS_EXTENSION, payload);
  const problems: Problem[] = [];
  await noteLocalRequest(deps, problems, {
    id: request.id,
    group,
    requester: me,
    input,
    requestedAt: now,
    status: 'pending',
  });
  await recordOutcome(deps, problems, { ...created, ...problemDetails(problems) });
  return {
    request,
    requester: me,
    autoApprovable,
    problems,
    ...(active?.grant.expiresAt
      ? { activeGrant: { requestId: active.request.id, expiresAt: active.grant.expiresAt } }
      : {}),
  };
}

// ---------------------------------------------------------------- listing

export interface ListInput {
  groups: GroupConfig[];
  states?: Set<GrantView['state']>;
}

export async function listRequests(deps: CoreDeps, input: ListInput): Promise<RequestView[]> {
  const now = deps.clock.now();
  const out: RequestView[] = [];
  for (const group of input.groups) {
    const people = await resolvePeople(deps.directory, group, maxSkewMsOf(deps.config));
    const book = await loadRecordBook(deps.directory, group, people.eligibleIds, people.policy.approverIds);
    const byId = new Map([...people.byUpn.values()].map((user) => [user.id, user]));
    const grants = new GrantViews(book.decisions, people.policy, now);
    for (const [userId, requests] of book.requestsByUser) {
      for (const request of requests) {
        if (request.groupId !== group.entraGroupId) continue;
        const requester = byId.get(userId) ?? { id: userId, userPrincipalName: userId, displayName: userId };
        const v = view(book, people.policy, group, request, requester, now);
        if (input.states && !input.states.has(v.grant.state)) continue;
        const lapsed = v.grant.state === 'pending' && isLapsedExtension(grants, request, requests);
        out.push({ ...v, decidedBy: deciderOf(v.grant, people.approvers), ...(lapsed ? { lapsed } : {}) });
      }
    }
  }
  return out.sort((a, b) => a.request.requestedAt.getTime() - b.request.requestedAt.getTime());
}

export interface StatusEntry extends RequestView {
  oci?: OciMembership;
}

/**
 * The signed-in user's own requests and grants, with whether OCI shows the
 * membership yet. OCI failing costs only its answer: those entries say
 * "unknown" and `ociProblems` says why (Entra's part is still true).
 */
export async function myStatus(
  deps: CoreDeps,
  groups: GroupConfig[],
  options: { checkOci: boolean },
): Promise<{ me: DirectoryUser; entries: StatusEntry[]; ociProblems: OciProblem[] }> {
  const me = await deps.directory.me();
  const now = deps.clock.now();
  const entries: StatusEntry[] = [];
  const ociProblems: OciProblem[] = [];
  for (const group of groups) {
    const people = await resolvePeople(deps.directory, group, maxSkewMsOf(deps.config));
    const book = await loadRecordBook(deps.directory, group, [me.id], people.policy.approverIds);
    const local = await deps.state.readLocal();
    for (const request of book.requestsByUser.get(me.id) ?? []) {
      if (request.groupId !== group.entraGroupId) continue;
      const localExpiry = local.requests[request.id]?.expiresAt;
      const grant = deriveGrant(
        request,
        book.decisions,
        people.policy,
        now,
        localExpiry ? new Date(localExpiry) : undefined,
      );
      entries.push({ request, requester: me, group, grant, decidedBy: deciderOf(grant, people.approvers) });
    }
    if (
      options.checkOci &&
      entries.some(
        (e) =>
          e.group === group &&
          (e.grant.state === 'approved' || e.grant.state === 'expired' || e.grant.state === 'revoked'),
      )
    ) {
      const oci =
        (await readOciOrProblem(group, ociProblems, () => ociMembershipFromHere(deps, group, me.userPrincipalName))) ??
        UNKNOWN;
      for (const entry of entries) if (entry.group === group) entry.oci = oci;
    }
  }
  entries.sort((a, b) => b.request.requestedAt.getTime() - a.request.requestedAt.getTime());
  return { me, entries, ociProblems };
}

// ---------------------------------------------------------------- approve / deny

export interface DecideInput {
  groups: GroupConfig[];
  requestId: string;
  /**
   * Whose request it is (a UPN, from the pick list or --requester). Needed when the id is found
   * under several requesters: nothing stops a requester from copying another's id into their record.
   */
  requesterUpn?: string;
  reason?: string;
  provisionNow?: boolean;
  /** Shown the request (requester, group, hours) before anything is written; false cancels. */
  confirm?: (view: RequestView) => Promise<boolean>;
}

export interface DecideResult {
  request: AccessRequest;
  requester: RequestView['requester'];
  group: GroupConfig;
  decision: Decision;
  membership?: 'added' | 'already-member';
  provisionedOnDemand?: boolean;
  /** Why provisioning on demand failed (the approval itself stands). */
  provisionError?: string;
  /** For an approved extension: the grant it continues and when that one ends (the new grant runs from the decision). */
  continues?: { requestId: string; expiresAt?: Date };
  /** What failed after the decision was written (local state, audit entry). */
  problems: Problem[];
}

type Located = {
  group: GroupConfig;
  people: Awaited<ReturnType<typeof resolvePeople>>;
  book: RecordBook;
  request: AccessRequest;
  requester: RequestView['requester'];
};

/** The one request the id (and requester, when given) names; refused when the id is found under several requesters. */
async function locate(
  deps: CoreDeps,
  input: Pick<DecideInput, 'groups' | 'requestId' | 'requesterUpn'>,
): Promise<Located> {
  const found: Located[] = [];
  for (const group of input.groups) {
    const people = await resolvePeople(deps.directory, group, maxSkewMsOf(deps.config));
    const book = await loadRecordBook(deps.directory, group, people.eligibleIds, people.policy.approverIds);
    const byId = new Map([...people.byUpn.values()].map((user) => [user.id, user]));
    for (const request of findRequests(book, input.requestId)) {
      if (request.groupId !== group.entraGroupId) continue;
      const requester = byId.get(request.requesterId) ?? {
        id: request.requesterId,
        userPrincipalName: request.requesterId,
        displayName: request.requesterId,
      };
      found.push({ group, people, book, request, requester });
    }
  }
  const matches = input.requesterUpn
    ? found.filter((m) => sameUpn(m.requester.userPrincipalName, input.requesterUpn!))
    : found;
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    throw new PolicyError(
      'REQUEST_NOT_FOUND',
      `No request with id ${quoteInput(input.requestId)}${input.requesterUpn ? ` from ${input.requesterUpn}` : ''}.`,
      {
        hint: 'Run `ociaccess list --pending` to see the open requests and their ids.',
      },
    );
  }
  const holders = matches.map((m) => `${m.requester.userPrincipalName} (${m.group.name})`);
  throw new PolicyError(
    'AMBIGUOUS_REQUEST_ID',
    `Request id ${input.requestId} is held by several requests: ${holders.join(', ')}. One of them copied the id; nothing was changed.`,
    {
      hint:
        'Check with the requesters which one is genuine, then name it: `ociaccess approve ' +
        input.requestId +
        ' --requester <upn>` (or pick it from `ociaccess approve`, which lists each requester).',
      details: { requesters: matches.map((m) => m.requester.userPrincipalName) },
    },
  );
}

/**
 * The time a decision is dated by: the service's, never the machine's, and
 * only when the two agree within the allowed skew — a decision dated ahead
 * would be refused by every sweep, and one from a clock far off is a sign of
 * something wrong on this machine.
 */
async function decisionTime(deps: CoreDeps, serviceTime: Promise<Date>): Promise<Date> {
  const service = await serviceTime;
  const local = deps.clock.now();
  const skewMs = local.getTime() - service.getTime();
  const allowedMs = maxSkewMsOf(deps.config);
  // The service's Date has whole seconds: allow the second it truncated.
  if (Math.abs(skewMs) > allowedMs + 1000) {
    const minutes = Math.round(Math.abs(skewMs) / 60_000);
    throw new PolicyError(
      'CLOCK_SKEW',
      `This machine's clock is ${minutes} min ${skewMs > 0 ? 'ahead of' : 'behind'} Microsoft Graph's (at most ${allowedMs / 60_000} min allowed); nothing was changed.`,
      {
        hint: 'Set the clock right (e.g. enable NTP: `timedatectl set-ntp true`), then run the command again.',
        details: { skewMs, maxClockSkewMinutes: allowedMs / 60_000 },
      },
    );
  }
  return service;
}

async function decide(deps: CoreDeps, input: DecideInput, kind: 'approved' | 'denied'): Promise<DecideResult> {
  // Read (and so validated) before anything is sent or written: a corrupt state file stops the command while nothing has changed.
  await deps.state.readLocal();
  // The service's time is asked for beside the other reads: it costs no round trip of its own.
  const serviceTime = deps.directory.serviceTime();
  serviceTime.catch(() => undefined); // awaited in decisionTime
  try {
    return await decideAt(deps, input, kind, serviceTime);
  } catch (error) {
    // Not left retrying after the command has failed (its next run would meet its Retry-After).
    await serviceTime.catch(() => undefined);
    throw error;
  }
}

/** Refuses a decider who may not decide this request: its requester, or someone who is not an approver of its group. */
function refuseDecider(me: DirectoryUser, { group, people, request }: Located, kind: 'approved' | 'denied'): void {
  const verb = kind === 'approved' ? 'approve' : 'deny';
  if (request.requesterId === me.id) {
    throw new PolicyError('SELF_APPROVAL', `You cannot ${verb} your own request ${request.id}.`, {
      hint: `Ask another approver of ${group.name} (${group.approvers.filter((upn) => !sameUpn(upn, me.userPrincipalName)).join(', ') || 'none configured'}).`,
    });
  }
  if (!people.policy.approverIds.has(me.id)) {
    throw new PolicyError('NOT_AN_APPROVER', `${me.userPrincipalName} is not an approver of ${group.name}.`, {
      hint: `Approvers of ${group.name}: ${group.approvers.join(', ')}.`,
    });
  }
}

/**
 * The refusals that reading alone decides (no such request, your own request,
 * not an approver), with a reader's sign-in: asked when the sign-in lacks the
 * approver's scopes, so that the real reason is given before "sign in as an approver".
 */
export async function refuseDecisionByReading(
  deps: CoreDeps,
  input: Pick<DecideInput, 'groups' | 'requestId' | 'requesterUpn'>,
  kind: 'approved' | 'denied',
): Promise<void> {
  const me = await deps.directory.me();
  refuseDecider(me, await locate(deps, input), kind);
}

async function decideAt(
  deps: CoreDeps,
  input: DecideInput,
  kind: 'approved' | 'denied',
  serviceTime: Promise<Date>,
): Promise<DecideResult> {
  const me = await deps.directory.me();
  const located = await locate(deps, input);
  refuseDecider(me, located, kind);
  const { group, people, book, request, requester } = located;
  const verb = kind === 'approved' ? 'approve' : 'deny';
  const now = deps.clock.now();
  const grant = deriveGrant(request, book.decisions, people.policy, now);
  if (kind === 'approved' && grant.state === 'approved' && grant.decision?.approverId === me.id) {
    // My approval is recorded but the member is missing: a previous approve
    // stopped between the record and the membership (crash, Graph failure).
    // Re-running approve completes it; otherwise approving twice is refused.
    // Never over a revocation this machine made, even one the records no longer show.
    const revokedHere = (await deps.state.readLocal()).decisions[request.id];
    const revoked = revokedHere?.decision === 'revoked' && revokedHere.requesterId === request.requesterId;
    const members = revoked ? [] : await deps.directory.listGroupMembers(group.entraGroupId);
    if (revoked) {
      throw new PolicyError(
        'REQUEST_NOT_PENDING',
        `Request ${request.id} was revoked from this machine on ${revokedHere.decidedAt}; it cannot be approved again.`,
        {
          hint: 'The requester can make a new request.',
        },
      );
    }
    if (!members.some((member) => member.id === request.requesterId)) {
      const problems: Problem[] = [];
      // It may also have stopped before this machine's record of the decision.
      await afterChange(problems, 'STATE_NOT_WRITTEN', () =>
        deps.state.recordDecisions([localDecision(request, requester, group, grant.decision!)], {
          keepExisting: true,
        }),
      );
      return completeApproval(deps, problems, {
        request,
        requester,
        group,
        decision: grant.decision,
        me,
        reason: input.reason,
        provisionNow: input.provisionNow,
      });
    }
  }
  if (grant.state === 'invalid') {
    throw new PolicyError(
      'REQUEST_NOT_PENDING',
      `Request ${request.id} of ${requester.userPrincipalName} is invalid (${request.invalid}); it cannot be ${kind}.`,
      {
        hint: 'Its record breaks the rules `ociaccess request` applies; the requester can make a new request.',
      },
    );
  }
  if (grant.state !== 'pending') {
    const by = grant.decision
      ? ` by ${grant.decision.approverId === me.id ? 'you' : grant.decision.approverId === 'auto' ? 'the auto-approval rule' : 'another approver'}`
      : '';
    throw new PolicyError(
      'REQUEST_NOT_PENDING',
      `Request ${request.id} is ${grant.state}${by}; only pending requests can be ${kind}.`,
      {
        hint:
          grant.state === 'approved'
            ? 'To end it early use `ociaccess revoke --user ' + requester.userPrincipalName + '`.'
            : 'The requester can make a new request.',
      },
    );
  }
  if (!group.eligibleRequesters.some((upn) => sameUpn(upn, requester.userPrincipalName))) {
    throw new PolicyError(
      'NOT_ELIGIBLE',
      `${requester.userPrincipalName} is not an eligible requester of ${group.name}.`,
    );
  }
  if (kind === 'approved' && request.hours > group.maxHours) {
    throw new PolicyError(
      'DURATION_TOO_LONG',
      `Request ${request.id} asks for ${request.hours} hours; ${group.name} allows at most ${group.maxHours}.`,
      {
        hint: 'Deny it and ask the requester for a shorter one.',
      },
    );
  }
  const decidedAt = await decisionTime(deps, serviceTime);
  // An extension is approved only while the grant it continues is live at the decision's own time
  // (extension.ts); a denial of one is always allowed.
  const continued =
    kind === 'approved'
      ? refuseLapsedExtension(
          new GrantViews(book.decisions, people.policy, decidedAt),
          request,
          book.requestsByUser.get(request.requesterId),
          requester.userPrincipalName,
        )
      : undefined;
  const continues = continued && { requestId: continued.requestId, expiresAt: continued.view.expiresAt };
  if (
    input.confirm &&
    !(await input.confirm({ request, requester, group, grant, ...(continues ? { continues } : {}) }))
  )
    throw new CancelledError();
  const decision: Decision = {
    requestId: request.id,
    requesterId: request.requesterId,
    groupId: group.entraGroupId,
    kind,
    approverId: me.id,
    decidedAt,
    ...(kind === 'approved'
      ? { expiresAt: new Date(decidedAt.getTime() + request.hours * HOUR), hours: request.hours }
      : {}),
    ...(input.reason ? { reason: input.reason } : {}),
  };
  const announced = decisionEvent(group, me, requester, decision, now);
  // Fail closed: a grant that cannot be audited is not made.
  await deps.events.intend(announced);
  const myDecisions = book.decisionsByApprover.get(me.id) ?? [];
  await deps.directory.writeRecord(
    { kind: 'user', id: me.id },
    DECISIONS_EXTENSION,
    encodeDecisions([...myDecisions, decision], now, retentionOf(deps)),
  );
  await refuseIfAnotherDecisionSettled(deps, { group, people, request, me, requester, verb });
  const problems: Problem[] = [];
  await afterChange(problems, 'STATE_NOT_WRITTEN', () =>
    deps.state.recordDecisions([localDecision(request, requester, group, decision)]),
  );
  if (kind === 'approved') {
    const result = await completeApproval(deps, problems, {
      request,
      requester,
      group,
      decision,
      me,
      reason: input.reason,
      provisionNow: input.provisionNow,
    });
    return continues ? { ...result, continues } : result;
  }
  await recordOutcome(deps, problems, { ...announced, ...problemDetails(problems) } as DomainEvent);
  return { request, requester, group, decision, problems };
}

/** The event of an approval or a denial, as announced before it is written (an approval's membership follows in completeApproval). */
function decisionEvent(
  group: GroupConfig,
  me: DirectoryUser,
  requester: RequestView['requester'],
  decision: Decision,
  now: Date,
): DomainEvent {
  const base = {
    ...eventBase(group, actorOf(me), now),
    requester: personOf(requester),
    requestId: decision.requestId,
    reason: decision.reason,
  };
  if (decision.kind === 'denied') return { ...base, type: 'request.denied' };
  return {
    ...base,
    type: 'request.approved',
    hours: decision.hours!,
    expiresAt: decision.expiresAt!.toISOString(),
    auto: false,
  };
}

/** This machine's record of a decision it took (local state). */
export function localDecision(
  request: AccessRequest,
  requester: RequestView['requester'],
  group: GroupConfig,
  decision: Decision,
): LocalDecision {
  return {
    requestId: request.id,
    requesterId: requester.id,
    requesterUpn: requester.userPrincipalName,
    groupId: group.entraGroupId,
    decision: decision.kind,
    decidedAt: decision.decidedAt.toISOString(),
    ...(decision.expiresAt ? { expiresAt: decision.expiresAt.toISOString() } : {}),
    ...(decision.reason ? { reason: decision.reason } : {}),
    approverId: decision.approverId,
  };
}

/** The second half of an approval: the membership (idempotent), provisioning on demand if asked, the audit entry. */
async function completeApproval(
  deps: CoreDeps,
  problems: Problem[],
  input: {
    request: AccessRequest;
    requester: RequestView['requester'];
    group: GroupConfig;
    decision: Decision;
    me: DirectoryUser;
    reason?: string;
    provisionNow?: boolean;
  },
): Promise<DecideResult> {
  const { request, requester, group, decision, me } = input;
  const result: DecideResult = { request, requester, group, decision, problems };
  result.membership = await deps.directory.addGroupMember(group.entraGroupId, requester.id);
  if (input.provisionNow) {
    // The grant stands even when provisioning on demand is refused (it needs an
    // application-admin role): OCI then catches up at the next cycle or JIT sign-in.
    try {
      await deps.directory.provisionOnDemand(group.entraGroupId, [requester.id]);
      result.provisionedOnDemand = true;
    } catch (error) {
      result.provisionedOnDemand = false;
      result.provisionError = (error as Error).message;
    }
  }
  const base = eventBase(group, actorOf(me), deps.clock.now());
  const expiresAt = (
    decision.expiresAt ?? new Date(decision.decidedAt.getTime() + (decision.hours ?? request.hours) * HOUR)
  ).toISOString();
  await recordOutcome(deps, problems, [
    {
      ...base,
      type: 'request.approved',
      requester: personOf(requester),
      requestId: request.id,
      hours: decision.hours ?? request.hours,
      expiresAt,
      auto: false,
      reason: input.reason,
      membership: result.membership,
      ...(result.provisionError ? { provisionOnDemandError: result.provisionError } : {}),
      ...problemDetails(problems),
    },
    {
      ...base,
      type: 'member.added',
      member: personOf(requester),
      requestId: request.id,
      membership: result.membership,
      cause: 'approval',
      expiresAt,
    },
  ]);
  return result;
}

/**
 * Each approver writes only their own record, so nothing stops two approvers
 * deciding the same request at the same moment. After writing, read every
 * decision back: the one the grant derivation takes as settling (the earliest;
 * the same answer on every machine) stands. Any other withdraws its record
 * and is refused as REQUEST_NOT_PENDING, before any membership or local state
 * changes. Records keep whole seconds, so in one narrow case (same second, and
 * one approver read back before the other wrote) both go ahead; the records
 * still settle on one decision, so every machine derives the same outcome.
 */
async function refuseIfAnotherDecisionSettled(
  deps: CoreDeps,
  context: {
    group: GroupConfig;
    people: Awaited<ReturnType<typeof resolvePeople>>;
    request: AccessRequest;
    me: DirectoryUser;
    requester: RequestView['requester'];
    verb: 'approve' | 'deny';
  },
): Promise<void> {
  const { group, people, request, me, requester, verb } = context;
  const now = deps.clock.now();
  const after = await loadRecordBook(deps.directory, group, [], people.policy.approverIds);
  const settled = deriveGrant(request, after.decisions, people.policy, now);
  if (!settled.decision || settled.decision.approverId === me.id) return;
  const mine = after.decisionsByApprover.get(me.id) ?? [];
  await deps.directory.writeRecord(
    { kind: 'user', id: me.id },
    DECISIONS_EXTENSION,
    encodeDecisions(
      mine.filter((d) => d.requestId !== request.id),
      now,
      retentionOf(deps),
    ),
  );
  const by = settled.decision.approverId === AUTO_APPROVER ? 'the auto-approval rule' : 'another approver';
  await emitOrThrow(deps, {
    ...eventBase(group, actorOf(me), now),
    type: 'decision.refused',
    requester: personOf(requester),
    requestId: request.id,
    verb,
    settledBy: settled.decision.approverId,
  });
  throw new PolicyError(
    'REQUEST_NOT_PENDING',
    `Request ${request.id} is ${settled.state} by ${by}; only pending requests can be ${verb === 'approve' ? 'approved' : 'denied'}.`,
    {
      hint: 'Another decision on it was recorded at the same moment; nothing was changed by yours.',
    },
  );
}

export const approveRequest = (deps: CoreDeps, input: DecideInput) => decide(deps, input, 'approved');
export const denyRequest = (deps: CoreDeps, input: DecideInput) => decide(deps, input, 'denied');

// ---------------------------------------------------------------- revoke

export interface RevokeInput {
  group: GroupConfig;
  /** Someone else's grant (approvers only); default: the signed-in user's own. */
  userUpn?: string;
  reason?: string;
  provisionNow?: boolean;
}

export interface RevokeResult {
  user: DirectoryUser;
  group: GroupConfig;
  revokedRequestIds: string[];
  membership: 'removed' | 'not-member' | 'left-for-sweep';
  /** What OCI says after the change; "check-failed" when it could not be asked (an OCI_CHECK_FAILED problem says why). */
  oci: OciMembership | { state: 'check-failed' };
  /** Why provisioning on demand did not push the removal (the revocation itself stands: SCIM or the sweep follows). */
  provisionError?: string;
  /** What failed after the revocation was made (the OCI check, local state, audit entry). */
  problems: Problem[];
}

/**
 * The grant.revoked event, announced before anything is changed. A revocation
 * goes ahead even when the audit log cannot be written: the outcome's entry
 * (or its AUDIT_NOT_WRITTEN problem) follows the change. Both backends use it.
 */
export async function announceRevocation(
  deps: CoreDeps,
  revocation: {
    group: GroupConfig;
    actor: DirectoryUser;
    user: DirectoryUser;
    requestIds: string[];
    reason: string | undefined;
    own: boolean;
    at: Date;
  },
) {
  const revoked = {
    ...eventBase(revocation.group, actorOf(revocation.actor), revocation.at),
    type: 'grant.revoked' as const,
    requester: personOf(revocation.user),
    requestIds: revocation.requestIds,
    reason: revocation.reason,
    own: revocation.own,
  };
  await deps.events.intend(revoked).catch(() => undefined);
  return revoked;
}

export async function revokeGrant(deps: CoreDeps, input: RevokeInput): Promise<RevokeResult> {
  const me = await deps.directory.me();
  const { group } = input;
  const people = await resolvePeople(deps.directory, group, maxSkewMsOf(deps.config));
  const { user, own } = await whoseGrant(deps, input, me, people);
  // Records keep decision times in whole seconds: this machine's note of the revocation says the same time.
  const now = wholeSecond(deps.clock.now());
  const book = await loadRecordBook(deps.directory, group, [user.id], people.policy.approverIds);
  const open = (book.requestsByUser.get(user.id) ?? []).filter(
    (request) =>
      request.groupId === group.entraGroupId &&
      isOpenState(deriveGrant(request, book.decisions, people.policy, now).state),
  );
  const revoked = await announceRevocation(deps, {
    group,
    actor: me,
    user,
    requestIds: open.map((r) => r.id),
    reason: input.reason,
    own,
    at: now,
  });
  const problems: Problem[] = [];
  const revocation: Revocation = { group, me, user, own, open, now, reason: input.reason };
  if (open.length > 0) await writeRevocation(deps, revocation, book, people.policy, problems);
  const { membership, provisionError } = await removeMembership(deps, revocation, input.provisionNow, problems);
  const oci = await checkAfterRevocation(deps, revocation, membership, problems);
  await recordOutcome(deps, problems, { ...revoked, membership, oci: oci.state, ...problemDetails(problems) });
  return {
    user,
    group,
    revokedRequestIds: open.map((r) => r.id),
    membership,
    oci,
    ...(provisionError ? { provisionError } : {}),
    problems,
  };
}

/** One revocation as its steps share it. */
export interface Revocation {
  group: GroupConfig;
  me: DirectoryUser;
  user: DirectoryUser;
  own: boolean;
  /** The user's open (pending or approved) requests in the group: the ones revoked. */
  open: AccessRequest[];
  now: Date;
  reason?: string;
}

/** The user whose grant is revoked: one's own, or (approvers only) someone else's; never a standing member. */
export async function whoseGrant(
  deps: CoreDeps,
  input: RevokeInput,
  me: DirectoryUser,
  people: Awaited<ReturnType<typeof resolvePeople>>,
): Promise<{ user: DirectoryUser; own: boolean }> {
  const { group } = input;
  const own = !input.userUpn || sameUpn(input.userUpn, me.userPrincipalName);
  let user: DirectoryUser = me;
  if (!own) {
    if (!people.policy.approverIds.has(me.id)) {
      throw new PolicyError('NOT_AN_APPROVER', `Only approvers of ${group.name} can revoke someone else's access.`, {
        hint: `Approvers of ${group.name}: ${group.approvers.join(', ')}.`,
      });
    }
    const found = await deps.directory.getUser(input.userUpn!);
    if (!found)
      throw new PolicyError('USER_NOT_FOUND', `No user ${quoteInput(input.userUpn)} in the directory.`, {
        hint: 'Check the user principal name.',
      });
    user = found;
  }
  if (people.standingIds.has(user.id)) {
    throw new PolicyError(
      'STANDING_MEMBER',
      `${user.userPrincipalName} is a standing (break-glass) member of ${group.name}; revoke does not remove standing members.`,
      {
        hint: 'Remove them from groups[].standingMembers in the config first if this is intended.',
      },
    );
  }
  return { user, own };
}

/**
 * The revocation's record in Entra: one's own requests marked revoked, or the
 * approver's revocation decisions; then (someone else's) this machine's note.
 */
async function writeRevocation(
  deps: CoreDeps,
  revocation: Revocation,
  book: RecordBook,
  policy: Parameters<typeof deriveGrant>[2],
  problems: Problem[],
): Promise<void> {
  const { group, me, user, own, open, now, reason } = revocation;
  if (own) {
    const mine = book.requestsByUser.get(user.id) ?? [];
    for (const request of open) request.withdrawn = { kind: 'revoked', at: now };
    const isLive = (r: AccessRequest) => isOpenState(deriveGrant(r, book.decisions, policy, now).state);
    await deps.directory.writeRecord(
      { kind: 'user', id: user.id },
      REQUESTS_EXTENSION,
      encodeRequests(mine, isLive, now, retentionOf(deps)),
    );
    return;
  }
  const revocations: Decision[] = open.map((request) => ({
    requestId: request.id,
    requesterId: user.id,
    groupId: group.entraGroupId,
    kind: 'revoked',
    approverId: me.id,
    decidedAt: now,
    ...(reason ? { reason } : {}),
  }));
  const myDecisions = book.decisionsByApprover.get(me.id) ?? [];
  await deps.directory.writeRecord(
    { kind: 'user', id: me.id },
    DECISIONS_EXTENSION,
    encodeDecisions([...myDecisions, ...revocations], now, retentionOf(deps)),
  );
  // Kept here too: `approve`'s recovery of an unfinished approval never overrides it, whatever the
  // records say later. A local file that cannot be written must not hold up the removal.
  await afterChange(problems, 'STATE_NOT_WRITTEN', () =>
    deps.state.recordDecisions(open.map((request, index) => localDecision(request, user, group, revocations[index]!))),
  );
}

/** The membership removed in Entra (or left for the sweep), and provisioning on demand when asked. */
async function removeMembership(
  deps: CoreDeps,
  revocation: Revocation,
  provisionNow: boolean | undefined,
  problems: Problem[],
): Promise<{ membership: RevokeResult['membership']; provisionError?: string }> {
  const { group, user, own, open } = revocation;
  let membership: RevokeResult['membership'];
  try {
    membership = await deps.directory.removeGroupMember(group.entraGroupId, user.id);
  } catch (error) {
    // A requester who does not own the group cannot remove themselves in Graph;
    // their record now says "revoked", so the next sweep removes them.
    if (own && (error as { code?: string }).code === 'PERMISSION_DENIED') return { membership: 'left-for-sweep' };
    // The revocation is already in the records (the change this command made): the failed removal is a
    // problem after it, and the sweep removes a member whose grant is revoked. With nothing recorded, it fails.
    if (open.length === 0) throw error;
    problems.push(problemOf('MEMBER_NOT_REMOVED', error));
    return { membership: 'left-for-sweep' };
  }
  if (!provisionNow) return { membership };
  // The revocation stands whatever provisioning on demand answers (a user no longer in the group is
  // often Skipped): it is reported, never allowed to fail the revoke after the removal was made.
  try {
    await deps.directory.provisionOnDemand(group.entraGroupId, [user.id]);
    return { membership };
  } catch (error) {
    return { membership, provisionError: (error as Error).message };
  }
}

/** What OCI says after the revocation, and this machine's note of the removal to confirm there. */
export async function checkAfterRevocation(
  deps: CoreDeps,
  revocation: Revocation,
  membership: RevokeResult['membership'],
  problems: Problem[],
): Promise<RevokeResult['oci']> {
  const { group, user, open, now } = revocation;
  const oci: RevokeResult['oci'] = (await afterChange(problems, 'OCI_CHECK_FAILED', () =>
    ociMembershipFromHere(deps, group, user.userPrincipalName),
  )) ?? { state: 'check-failed' };
  // Only OCI's answer that the member is gone confirms the removal (not checked, or a failed check, does not).
  const gone = oci.state === 'not-member' || oci.state === 'no-user' || oci.state === 'no-group';
  await afterChange(problems, 'STATE_NOT_WRITTEN', () =>
    deps.state.recordRevocation(
      open.map((r) => r.id),
      membership === 'left-for-sweep'
        ? undefined
        : {
            groupId: group.entraGroupId,
            userId: user.id,
            upn: user.userPrincipalName,
            removedInEntraAt: now.toISOString(),
            reason: 'revoked',
            attempts: 1,
            lastCheckedAt: now.toISOString(),
            status: gone ? 'confirmed' : 'pending-oci',
          },
    ),
  );
  return oci;
}

/** A time cut to its whole second (the precision records keep). */
export function wholeSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}
