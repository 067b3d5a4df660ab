/**
 * Domain events: what happened to a request, a grant or a membership, told by
 * the core through one port. Subscribers (the audit log, notification
 * targets, progress output) turn them into what they keep or send; the core
 * knows none of them.
 *
 * Delivery rules, for every subscriber: an event is emitted after the change
 * it reports was made (or failed), with its outcome; a subscriber that cannot
 * keep up or fails never undoes or fails that change. (The audit log's
 * "fail closed" rule, no grant that cannot be audited, is the core's to keep:
 * see deps.ts.)
 */

/** A person (or the automation) as events name them: ids for machines, UPNs for people. */
export interface EventActor {
  id: string;
  upn: string;
  kind: 'user' | 'app';
}

export interface EventGroup {
  /** The Entra group's object id. */
  id: string;
  /** The group's name in the config (`--group`). */
  name: string;
}

export interface EventPerson {
  id: string;
  upn: string;
}

interface Base {
  /** ISO time the core took it at (its clock). */
  at: string;
  actor: EventActor;
  group: EventGroup;
}

export type DomainEvent =
  | (Base & { type: 'request.created'; requester: EventPerson; requestId: string; hours: number; justification: string; ticket?: string; autoApprovable: boolean; approvers: string[] })
  | (Base & { type: 'request.approved'; requester: EventPerson; requestId: string; hours: number; expiresAt: string; auto: boolean; reason?: string })
  | (Base & { type: 'request.denied'; requester: EventPerson; requestId: string; reason?: string })
  | (Base & { type: 'grant.revoked'; requester: EventPerson; requestIds: string[]; reason?: string; own: boolean })
  | (Base & { type: 'member.added'; member: EventPerson; requestId?: string; membership: 'added' | 'already-member' })
  | (Base & { type: 'member.removed'; member: EventPerson; reason: string; requestId?: string; outcome: 'removed' | 'not-member' | 'failed'; error?: string })
  | (Base & { type: 'oci.removal-confirmed'; member: EventPerson; how: string })
  | (Base & { type: 'oci.drift-seen'; userName: string; ociUserId: string; state: 'reported' | 'stuck' | 'removed' | 'failed' | 'planned' })
  | (Base & { type: 'removal.irrevocable'; member: EventPerson; attempts: number; error: string })
  | (Base & { type: 'record.untrusted'; requester: EventPerson; requestId: string; approver: EventPerson; problem: string })
  | (Base & { type: 'sweep.finished'; outcome: 'clean' | 'pending' | 'unavailable' | 'failed'; removed: number; failed: number; stuck: number; drift: number; untrusted: number; dryRun: boolean });

export type DomainEventType = DomainEvent['type'];

/** The one way out of the core for what happened. */
export interface EventPort {
  /** Tells every subscriber; never rejects (a subscriber's failure is its own to report). */
  emit(event: DomainEvent): Promise<void>;
}
