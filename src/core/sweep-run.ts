/**
 * One group's sweep in progress: what it read, what it has done so far (the
 * report), the ledger changes to write and the events to emit. Every phase
 * (sweep-read, sweep-act, sweep-check) takes this one object.
 */
import type { GroupConfig } from '../config/schema.js';
import type { CoreDeps } from './deps.js';
import type { DomainEvent, EventPerson } from './events.js';
import type {
  DirectoryMember,
  DirectoryUser,
  GroupLedger,
  GroupLedgerChanges,
  MemberKind,
  OciPort,
  OciUserRef,
} from './ports.js';
import type { GrantViews } from './grants.js';
import type { RecordBook } from './record-book.js';
import type { resolvePeople } from './deps.js';
import type { GroupSweepReport, SweepMemberAction, SweepOptions, SweepStep } from './sweep-report.js';
import { stripControls } from './text.js';

/** The OCI group and its members (with user names), or why they could not be read. */
export type OciView =
  { oci: OciPort; group: { id: string; displayName: string } | null; members: OciUserRef[] } | { error: Error };

/** What phase 1 read, all side by side. */
export interface GroupRead {
  people: Awaited<ReturnType<typeof resolvePeople>>;
  members: DirectoryMember[];
  book: RecordBook;
  ledger: GroupLedger;
}

/** A member (or someone named by a record or the ledger) as the report and the events name them. */
export type Who = Pick<DirectoryUser, 'id' | 'userPrincipalName'> & { kind?: MemberKind; displayName?: string };

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

export function action(user: Who, reason: string, extra: Partial<SweepMemberAction> = {}): SweepMemberAction {
  if (user.kind === undefined || user.kind === 'user')
    return { userId: user.id, upn: user.userPrincipalName, reason, ...extra };
  return {
    userId: user.id,
    upn: '',
    reason,
    kind: user.kind,
    displayName: stripControls(user.displayName ?? ''),
    ...extra,
  };
}

export class GroupRun {
  readonly now: Date;
  readonly nowIso: string;
  readonly report: GroupSweepReport;
  readonly changes: GroupLedgerChanges = {
    removals: new Map(),
    forgottenRemovals: new Set(),
    failures: new Map(),
    clearedFailures: new Set(),
  };
  private readonly userById: Map<string, DirectoryUser>;
  private pending: DomainEvent[] = [];
  private recordFailed = false;

  constructor(
    readonly deps: CoreDeps,
    readonly group: GroupConfig,
    readonly options: SweepOptions,
    readonly read: GroupRead,
    readonly grants: GrantViews,
  ) {
    this.now = grants.now;
    this.nowIso = this.now.toISOString();
    this.userById = new Map([...read.people.byUpn.values(), ...read.members].map((u) => [u.id, u]));
    this.report = {
      group: group.name,
      entraGroupId: group.entraGroupId,
      members: read.members.length,
      kept: [],
      removed: [],
      autoApproved: [],
      timedOut: [],
      pendingInOci: [],
      covered: [],
      confirmedInOci: [],
      removedInOci: [],
      forcedInOci: [],
      stuck: [],
      failed: [],
      drift: [],
      untrusted: [],
      provisionedOnDemand: [],
      notProvisionedOnDemand: [],
      warnings: [],
      ociGroupMembers: null,
      problems: [],
    };
  }

  get dryRun(): boolean {
    return this.options.dryRun;
  }

  /** A member or configured person by id; someone only a record names stands in by their id. */
  userOf(id: string): DirectoryUser {
    return this.knownUser(id) ?? { id, userPrincipalName: id, displayName: id };
  }

  knownUser(id: string): DirectoryUser | undefined {
    return this.userById.get(id);
  }

  progress(message: string): void {
    this.options.onProgress?.(`${this.group.name}: ${message}`);
  }

  step(phase: SweepStep['phase'], done: number, total: number): void {
    this.options.onStep?.({ group: this.group.name, phase, done, total });
  }

  /** The fields every event of this sweep shares. */
  base(): { at: string; actor: SweepOptions['actor']; group: { id: string; name: string } } {
    return {
      at: this.nowIso,
      actor: this.options.actor,
      group: { id: this.group.entraGroupId, name: this.group.name },
    };
  }

  person(user: Who): EventPerson {
    return { id: user.id, upn: user.userPrincipalName ?? '' };
  }

  /** Keeps an event for the next emit (one durable audit append per phase, not one per member). */
  tell(event: DomainEvent): void {
    if (!this.dryRun) this.pending.push(event);
  }

  /** Emits what the phase did. The audit log's failure never undoes it: it is reported, and the sweep fails (exit 1). */
  async emitPending(): Promise<void> {
    const events = this.pending;
    this.pending = [];
    if (events.length === 0) return;
    const delivery = await this.deps.events.emit(events);
    if (delivery.recordFailure !== undefined) this.noteRecordFailure(delivery.recordFailure);
  }

  /** The audit log could not be written: reported once. */
  noteRecordFailure(error: unknown): void {
    if (this.recordFailed) return;
    this.recordFailed = true;
    this.report.problems.push(
      `The audit log could not be written (${errorCode(error) ?? 'error'}): ${(error as Error).message} Removals went ahead; no grant was made.`,
    );
  }
}
