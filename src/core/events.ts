/**
 * Domain events: what happened to a request, a grant or a membership, told by
 * the core through one port. Subscribers (the audit log, notification
 * targets, progress output) turn them into what they keep or send; the core
 * knows none of them.
 *
 * Delivery rules, for every subscriber: an event is emitted after the change
 * it reports was made (or failed), with its outcome; a subscriber that cannot
 * keep up or fails never undoes or fails that change.
 *
 * One subscriber has a role of its own, the recorder (the audit log): it is
 * told first and awaited, and its failures come back to the core. Before a
 * change that must not happen unrecorded (a grant), the core announces it with
 * `intend`, which rejects when the recorder could not keep it: the change is
 * then not made. Revocations and removals go ahead whatever `intend` or `emit`
 * say, and the command reports the recorder's failure (docs/architecture.md,
 * "Domain events").
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

/** What failed after the change an event reports (exit 7's problems), as the audit entry keeps it. */
export interface EventProblem {
  code: string;
  cause: { code: string; message: string };
}

interface Base {
  /** ISO time the core took it at (its clock). */
  at: string;
  actor: EventActor;
  group: EventGroup;
}

export type DomainEvent =
  | (Base & {
      type: 'request.created';
      requester: EventPerson;
      requestId: string;
      hours: number;
      justification: string;
      ticket?: string;
      autoApprovable: boolean;
      approvers: string[];
      /** For an extension: the request whose live grant it continues. */
      continues?: string;
      problems?: EventProblem[];
    })
  | (Base & {
      type: 'request.approved';
      requester: EventPerson;
      requestId: string;
      hours: number;
      expiresAt: string;
      auto: boolean;
      reason?: string;
      /** Human approvals: the membership the approver's command made, and why provisioning on demand failed (the approval stands). */
      membership?: 'added' | 'already-member';
      provisionOnDemandError?: string;
      problems?: EventProblem[];
    })
  | (Base & {
      type: 'request.denied';
      requester: EventPerson;
      requestId: string;
      reason?: string;
      problems?: EventProblem[];
    })
  /** A decision this command wrote and withdrew again: another one on the request was settled first. */
  | (Base & {
      type: 'decision.refused';
      requester: EventPerson;
      requestId: string;
      verb: 'approve' | 'deny';
      settledBy: string;
    })
  | (Base & {
      type: 'grant.revoked';
      requester: EventPerson;
      requestIds: string[];
      reason?: string;
      own: boolean;
      /** What happened to the membership, and whether OCI still shows it (absent on `intend`). */
      membership?: 'removed' | 'not-member' | 'left-for-sweep';
      oci?: string;
      problems?: EventProblem[];
    })
  | (Base & {
      type: 'member.added';
      member: EventPerson;
      requestId?: string;
      membership: 'added' | 'already-member';
      /** Why: an approval's command, the sweep's auto-approval, an earlier sweep's auto-approval completed, or a member a racing removal took out put back. */
      cause?: MemberAddCause;
      expiresAt?: string;
    })
  /** The sweep could not add a member its grant needs (the next sweep tries again). */
  | (Base & { type: 'member.add-failed'; member: EventPerson; requestId: string; cause: MemberAddCause; error: string })
  | (Base & {
      type: 'member.removed';
      member: EventPerson;
      reason: string;
      requestId?: string;
      /** Absent on `intend`: the sweep announces its removals before the batch that makes them. */
      outcome?: 'removed' | 'not-member' | 'failed';
      error?: string;
      /** Failed removals: attempts so far on this host, and whether that makes it irrevocable. */
      attempts?: number;
      irrevocable?: boolean;
      /** Members that are not users: what they are and their display name. */
      kind?: string;
      displayName?: string;
    })
  /** The sweep removed the member from the OCI group itself, right after their Entra removal (removeDirectly), or failed to. */
  | (Base & {
      type: 'oci.member-removed';
      member: EventPerson;
      reason: string;
      requestId?: string;
      outcome: 'removed' | 'failed';
      error?: string;
      code?: string;
    })
  /** `forced`: removed in OCI directly (--force-oci-after), after waiting that long. */
  | (Base & { type: 'oci.removal-confirmed'; member: EventPerson; how: string; forced?: { pendingForMs: number } })
  | (Base & {
      type: 'oci.drift-seen';
      userName: string;
      ociUserId: string;
      state: 'reported' | 'stuck' | 'removed' | 'failed' | 'planned';
      firstSeenAt?: string;
      error?: string;
    })
  /** Entra was asked to provision these users on demand. */
  | (Base & { type: 'provisioning.requested'; users: string[] })
  | (Base & { type: 'removal.irrevocable'; member: EventPerson; attempts: number; error: string })
  | (Base & {
      type: 'record.untrusted';
      requester: EventPerson;
      requestId: string;
      approver: EventPerson;
      problem: string;
      decidedAt?: string;
    })
  | (Base & {
      type: 'sweep.finished';
      outcome: 'clean' | 'pending' | 'unavailable' | 'failed' | 'planned';
      removed: number;
      failed: number;
      stuck: number;
      drift: number;
      untrusted: number;
      dryRun: boolean;
    });

export type DomainEventType = DomainEvent['type'];

export type MemberAddCause = 'approval' | 'auto-approval' | 'completed-auto-approval' | 'restored';

/** What `emit` tells the core: the recorder's failure, if any (the change stands; the command reports it). */
export interface Delivery {
  recordFailure?: unknown;
}

/** The one way out of the core for what happened. */
export interface EventPort {
  /** Tells every subscriber, the recorder first; never rejects. */
  emit(events: DomainEvent | readonly DomainEvent[]): Promise<Delivery>;
  /**
   * Tells the recorder only, before the change: what the core is about to do.
   * Rejects when the recorder could not keep it; a grant is then not made.
   */
  intend(events: DomainEvent | readonly DomainEvent[]): Promise<void>;
}

/** The subscriber whose record the core's guarantees rest on (the audit log). */
export interface EventRecorder {
  /** Keeps the announcement of a change about to be made (the audit log's "pending" entry). */
  intend(events: readonly DomainEvent[]): Promise<void>;
  /** Keeps what happened, in one durable write for the whole list. */
  record(events: readonly DomainEvent[]): Promise<void>;
}

/** Any other subscriber: told every event, never awaited by the core; its failures go to `onError`. */
export type EventSubscriber = (event: DomainEvent) => void | Promise<void>;

/**
 * The event port's one implementation: a recorder (at most one) awaited,
 * subscribers told after it and not awaited (`settled()` waits for them, for a
 * command's end). Pure dispatch: no I/O of its own.
 */
export class EventBus implements EventPort {
  private readonly subscribers = new Set<EventSubscriber>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly recorder?: EventRecorder,
    private readonly onError: (error: unknown, event: DomainEvent) => void = () => undefined,
  ) {}

  /** Adds a subscriber; returns the function that removes it. */
  subscribe(subscriber: EventSubscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  async intend(events: DomainEvent | readonly DomainEvent[]): Promise<void> {
    const list = listOf(events);
    if (this.recorder && list.length > 0) await this.recorder.intend(list);
  }

  async emit(events: DomainEvent | readonly DomainEvent[]): Promise<Delivery> {
    const list = listOf(events);
    if (list.length === 0) return {};
    let delivery: Delivery = {};
    try {
      await this.recorder?.record(list);
    } catch (error) {
      delivery = { recordFailure: error };
    }
    for (const event of list) for (const subscriber of this.subscribers) this.tell(subscriber, event);
    return delivery;
  }

  /** Resolves once every subscriber has handled what it was told so far. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private tell(subscriber: EventSubscriber, event: DomainEvent): void {
    let told: Promise<void>;
    try {
      told = Promise.resolve(subscriber(event)).catch((error: unknown) => this.onError(error, event));
    } catch (error) {
      this.onError(error, event);
      return;
    }
    this.inFlight.add(told);
    void told.finally(() => this.inFlight.delete(told));
  }
}

const listOf = (events: DomainEvent | readonly DomainEvent[]): readonly DomainEvent[] =>
  Array.isArray(events) ? events : [events as DomainEvent];
