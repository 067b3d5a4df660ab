/** What a sweep is told (options) and what it reports, per group and in all. */
import type { AuditInput } from './deps.js';
import type { MemberKind } from './ports.js';
import type { ApprovalProblem } from './grants.js';
import type { ProvisioningState } from './provisioning-health.js';

export interface SweepOptions {
  dryRun: boolean;
  provisionNow: boolean;
  /** A removal still in OCI after this long is removed there directly (0 = never). */
  forceOciAfterMs: number;
  /** Remove drift (OCI members without an Entra membership or grant) in OCI directly. */
  fixDrift?: boolean;
  /** Length of Entra's provisioning cycle; a removal pending (or drift seen) for two cycles is a failure. */
  cycleMs: number;
  /** OCI calls in flight at once for per-member writes (default 4). */
  ociConcurrency?: number;
  actor: AuditInput['actor'];
  /** Quiet one-line messages (what is happening now). */
  onProgress?: (message: string) => void;
  /** Counted steps, for a progress bar. */
  onStep?: (step: SweepStep) => void;
  /**
   * Told once per group, after its plan: the next moment something falls due
   * without anyone writing a record (a kept grant's expiry, a pending request's
   * timeout), or null when nothing will. `sweep --watch` sleeps until then.
   */
  onNextDue?: (due: Date | null, group: string) => void;
}

export interface SweepStep {
  group: string;
  phase: 'reading' | 'records' | 'removing' | 'oci';
  done: number;
  total: number;
}

export interface SweepMemberAction {
  userId: string;
  upn: string;
  reason: string;
  requestId?: string;
  outcome?: string;
  expiresAt?: string;
  /** For failures: the error code (GRAPH_UNAVAILABLE, PERMISSION_DENIED, …). */
  code?: string;
  /** For an ended grant whose member a newer live grant keeps: that grant's request id. */
  coveredBy?: string;
  /** For stuck removals: the likely cause and what ends it. */
  hint?: string;
  /** Only for members that are not users (upn is then ''): what they are, and their display name ('' when the sweep may not read it). */
  kind?: Exclude<MemberKind, 'user'>;
  displayName?: string;
}

/** An OCI group member with neither an Entra membership nor a grant (added by hand in OCI, or left by JIT "Merge"). */
export interface DriftAction {
  ociUserId: string;
  userName: string;
  firstSeenAt: string;
  /** reported: seen, left in place; stuck: reported for more than two cycles; removed / failed: --fix-drift; planned: --dry-run with --fix-drift. */
  state: 'reported' | 'stuck' | 'removed' | 'failed' | 'planned';
  outcome: string;
  code?: string;
}

/** An approval the sweep does not trust although a trusted approver (or the group's rule) wrote it. */
export interface UntrustedDecision {
  requestId: string;
  /** The requester the approval names. */
  userId: string;
  upn: string;
  approverId: string;
  approverUpn: string;
  problem: ApprovalProblem;
  decidedAt: string;
  outcome: string;
}

export interface NotProvisioned {
  upn: string;
  result: string;
  errorCode?: string;
  reason?: string;
}

export interface GroupSweepReport {
  group: string;
  entraGroupId: string;
  members: number;
  kept: SweepMemberAction[];
  removed: SweepMemberAction[];
  autoApproved: SweepMemberAction[];
  timedOut: SweepMemberAction[];
  pendingInOci: SweepMemberAction[];
  /** OCI members whose older grant ended while a newer live grant keeps them (requestId: the ended one, coveredBy: the live one). */
  covered: SweepMemberAction[];
  confirmedInOci: SweepMemberAction[];
  /** Removed from the OCI group by this sweep itself, right after the Entra removal (removeDirectly), and seen gone. */
  removedInOci: SweepMemberAction[];
  forcedInOci: SweepMemberAction[];
  stuck: SweepMemberAction[];
  failed: SweepMemberAction[];
  drift: DriftAction[];
  /** Approvals by trusted approvers (or the group's rule) that keep nobody: dated ahead of the sweep's clock, malformed, or for someone not eligible (exit 1). */
  untrusted: UntrustedDecision[];
  /** UPNs Entra exported on demand in this sweep (Graph answered Success for them). */
  provisionedOnDemand: string[];
  /** Users Entra was asked to provision on demand but did not export (Graph's result: Skipped, Failure, …); each is also a warning. */
  notProvisionedOnDemand: NotProvisioned[];
  /** What went wrong without failing the sweep (the change waits for the next provisioning cycle); said on stderr too. */
  warnings: string[];
  ociGroupMembers: number | null;
  /** The provisioning job's state (core/provisioning-health.ts); every state but healthy is also a problem (exit 1). */
  provisioning?: {
    code: string;
    state: ProvisioningState;
    quarantineReason: string | null;
    /** The job's last error, "CODE: message". */
    error: string | null;
    nextAttempt: string | null;
  } | null;
  problems: string[];
  /** What could not be checked because Graph or OCI stayed unavailable (exit 5, not 1: try again later). */
  unavailable?: string[];
}

export interface SweepReport {
  startedAt: string;
  finishedAt: string;
  dryRun: boolean;
  groups: GroupSweepReport[];
  /**
   * clean (exit 0), pending in OCI (6), unavailable: only upstream failures (5), failed: anything else (1);
   * planned (0): a dry run that would change something (what, in `planned`).
   */
  outcome: 'clean' | 'pending' | 'unavailable' | 'failed' | 'planned';
  /** Dry run only: how many of each change the sweep would make. */
  planned?: PlannedCounts;
}

export interface PlannedCounts {
  remove: number;
  autoApprove: number;
  removeInOci: number;
  fixDrift: number;
}
