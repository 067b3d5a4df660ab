/**
 * The audit log as the event port's recorder: each domain event becomes the
 * entry (or none) the log has always held for that action, so existing logs,
 * `ociaccess audit` and its readers see the same entries as before events.
 * An intent becomes the "pending" entry written before the change.
 */
import type { AuditInput } from '../core/deps.js';
import type { DomainEvent, EventGroup, EventPerson, EventProblem, EventRecorder } from '../core/events.js';

type Entry = Omit<AuditInput, 'actor'>;

/** A recorder that appends the entries of each call in one durable write. */
export function auditRecorder(append: (entries: AuditInput[]) => Promise<void>): EventRecorder {
  const write = async (events: readonly DomainEvent[], intent: boolean) => {
    const entries = events.flatMap((event) => {
      const entry = intent ? intentEntry(event) : outcomeEntry(event);
      return entry ? [{ actor: event.actor, ...entry }] : [];
    });
    if (entries.length > 0) await append(entries);
  };
  return {
    intend: (events) => write(events, true),
    record: (events) => write(events, false),
  };
}

/** The target of an entry about one person; a member that is not a user has no UPN. */
function target(group: EventGroup, person: EventPerson, requestId?: string): AuditInput['target'] {
  return {
    groupId: group.id,
    groupName: group.name,
    userId: person.id,
    ...(person.upn ? { upn: person.upn } : {}),
    ...(requestId ? { requestId } : {}),
  };
}

function intentEntry(event: DomainEvent): Entry | undefined {
  switch (event.type) {
    case 'request.created':
      return {
        action: 'request',
        target: target(event.group, event.requester, event.requestId),
        reason: event.justification,
        result: 'pending',
        details: {
          hours: event.hours,
          ticket: event.ticket ?? null,
          ...(event.continues ? { continues: event.continues } : {}),
        },
      };
    case 'request.approved':
      return event.auto
        ? { action: 'auto-approve', target: target(event.group, event.requester, event.requestId), result: 'pending' }
        : {
            action: 'approve',
            target: target(event.group, event.requester, event.requestId),
            reason: event.reason,
            result: 'pending',
          };
    case 'request.denied':
      return {
        action: 'deny',
        target: target(event.group, event.requester, event.requestId),
        reason: event.reason,
        result: 'pending',
      };
    case 'grant.revoked':
      return {
        action: 'revoke',
        target: target(event.group, event.requester),
        reason: event.reason,
        result: 'pending',
        details: { requests: event.requestIds },
      };
    case 'member.removed':
      return {
        action: 'remove',
        target: target(event.group, event.member, event.requestId),
        reason: event.reason,
        result: 'pending',
        ...(event.kind ? { details: { kind: event.kind, displayName: event.displayName } } : {}),
      };
    default:
      return undefined;
  }
}

/** What failed after the change (exit 7's problems), in an outcome entry's details. */
const problemsOf = (event: { problems?: EventProblem[] }) =>
  event.problems && event.problems.length > 0 ? { problems: event.problems } : {};

function outcomeEntry(event: DomainEvent): Entry | undefined {
  switch (event.type) {
    case 'request.created': {
      const entry = intentEntry(event)!;
      return { ...entry, result: 'ok', details: { ...entry.details, ...problemsOf(event) } };
    }
    case 'request.approved':
      // An auto-approval's entry is its membership's (member.added / member.add-failed).
      if (event.auto) return undefined;
      return {
        action: 'approve',
        target: target(event.group, event.requester, event.requestId),
        reason: event.reason,
        result: 'ok',
        details: {
          expiresAt: event.expiresAt,
          membership: event.membership,
          ...(event.provisionOnDemandError ? { provisionOnDemandError: event.provisionOnDemandError } : {}),
          ...problemsOf(event),
        },
      };
    case 'request.denied':
      return {
        ...intentEntry(event)!,
        result: 'ok',
        ...(event.problems?.length ? { details: problemsOf(event) } : {}),
      };
    case 'decision.refused':
      return {
        action: event.verb,
        target: target(event.group, event.requester, event.requestId),
        result: 'failed',
        details: { refused: 'REQUEST_NOT_PENDING', settledBy: event.settledBy },
      };
    case 'grant.revoked':
      return {
        action: 'revoke',
        target: target(event.group, event.requester),
        reason: event.reason,
        result: event.oci === 'member' ? 'pending' : 'ok',
        details: { membership: event.membership, oci: event.oci, ...problemsOf(event) },
      };
    case 'member.added':
      return memberAddedEntry(event);
    case 'member.add-failed':
      if (event.cause !== 'auto-approval' && event.cause !== 'completed-auto-approval') return undefined;
      return {
        action: 'auto-approve',
        target: target(event.group, event.member, event.requestId),
        result: 'failed',
        details: { error: event.error, ...(event.cause === 'completed-auto-approval' ? { completed: true } : {}) },
      };
    case 'member.removed':
      return memberRemovedEntry(event);
    case 'oci.member-removed':
      return {
        action: 'remove-oci',
        target: target(event.group, event.member, event.requestId),
        reason: event.reason,
        result: event.outcome === 'removed' ? 'ok' : 'failed',
        details: event.outcome === 'removed' ? { how: 'scim-patch' } : { error: event.error, code: event.code },
      };
    case 'oci.removal-confirmed':
      return event.forced
        ? {
            action: 'force-remove-oci',
            target: target(event.group, event.member),
            result: 'ok',
            details: { pendingForMs: event.forced.pendingForMs },
          }
        : {
            action: 'confirm-oci',
            target: target(event.group, event.member),
            result: 'ok',
            details: { how: event.how },
          };
    case 'oci.drift-seen':
      return driftEntry(event);
    case 'provisioning.requested':
      return {
        action: 'provision-on-demand',
        target: { groupId: event.group.id, groupName: event.group.name },
        result: 'ok',
        details: { users: event.users },
      };
    case 'record.untrusted':
      return {
        action: 'untrusted-record',
        target: target(event.group, event.requester, event.requestId),
        reason: event.problem,
        result: 'failed',
        details: { approverId: event.approver.id, decidedAt: event.decidedAt },
      };
    default:
      // removal.irrevocable is in its member.removed entry (irrevocable: true); sweep.finished has no entry of its own.
      return undefined;
  }
}

function memberAddedEntry(event: Extract<DomainEvent, { type: 'member.added' }>): Entry | undefined {
  const to = target(event.group, event.member, event.requestId);
  switch (event.cause) {
    case 'auto-approval':
      return {
        action: 'auto-approve',
        target: to,
        result: 'ok',
        details: { expiresAt: event.expiresAt, membership: event.membership },
      };
    case 'completed-auto-approval':
      return {
        action: 'auto-approve',
        target: to,
        result: 'ok',
        details: { expiresAt: event.expiresAt, membership: event.membership, completed: true },
      };
    case 'restored':
      return { action: 'restore', target: to, reason: 'approved while the sweep ran', result: 'ok' };
    default:
      // An approver's membership is in the approval's entry.
      return undefined;
  }
}

function memberRemovedEntry(event: Extract<DomainEvent, { type: 'member.removed' }>): Entry {
  const to = target(event.group, event.member, event.requestId);
  const kind = event.kind ? { kind: event.kind, displayName: event.displayName } : {};
  if (event.outcome === 'failed') {
    return {
      action: 'remove',
      target: to,
      reason: event.reason,
      result: 'failed',
      details: { error: event.error, attempts: event.attempts, irrevocable: event.irrevocable, ...kind },
    };
  }
  return {
    action: 'remove',
    target: to,
    reason: event.reason,
    result: 'ok',
    details: { entra: event.outcome, ...kind },
  };
}

function driftEntry(event: Extract<DomainEvent, { type: 'oci.drift-seen' }>): Entry | undefined {
  const to = { groupId: event.group.id, groupName: event.group.name, upn: event.userName };
  if (event.state === 'removed') {
    return {
      action: 'fix-drift',
      target: to,
      reason: 'in the OCI group without an Entra membership or grant',
      result: 'ok',
      details: { ociUserId: event.ociUserId },
    };
  }
  if (event.state === 'failed')
    return {
      action: 'fix-drift',
      target: to,
      result: 'failed',
      details: { ociUserId: event.ociUserId, error: event.error },
    };
  return undefined;
}
