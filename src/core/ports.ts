/**
 * The core sees the outside world only through these small interfaces.
 * Adapters (src/adapters) implement them over Graph and OCI; tests of the core
 * use in-memory versions.
 */

import type { SyncJobStatus } from './provisioning-health.js';

export interface DirectoryUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
}

/**
 * What a group member is. Entra groups hold users, other groups (nested),
 * service principals, devices and organisational contacts; only users can hold
 * a grant, so the sweep removes every other kind unless it is listed as standing.
 */
export type MemberKind = 'user' | 'group' | 'servicePrincipal' | 'device' | 'other';

/** A member of a group, of any kind. userPrincipalName is '' for anything but a user; displayName is '' when the caller may not read it. */
export interface DirectoryMember extends DirectoryUser {
  kind: MemberKind;
}

/** Where a remote record document lives: an open extension on a user or a group. */
export interface RecordOwner {
  kind: 'user' | 'group';
  /** The object id; for a user, the user principal name works too (Graph takes either wherever it takes a user). */
  id: string;
}

/** The raw content of one record extension (see core/records.ts for the codec). */
export type RecordPayload = Record<string, unknown>;

/** Told after each item of a bulk call is settled (for a progress bar). */
export type Progress = (settled: number) => void;

export type AddResult = 'added' | 'already-member';
export type RemoveResult = 'removed' | 'not-member';

/** The provisioning job's status (core/provisioning-health.ts classifies it). */
export type ProvisioningJobStatus = SyncJobStatus;

/** Microsoft Graph, as the core needs it. */
export interface DirectoryPort {
  /** The signed-in user (delegated sessions only). */
  me(): Promise<DirectoryUser>;
  /**
   * The service's own time (the Date of an answer, whole seconds): decisions are dated by it, so
   * that a skewed clock on the approver's machine cannot date one ahead. Delegated sessions only.
   */
  serviceTime(): Promise<Date>;
  /** By object id or user principal name; null when not found. */
  getUser(idOrUpn: string): Promise<DirectoryUser | null>;
  /** Many users at once (batched); missing ones are absent from the map. Keys are the inputs as given. */
  getUsers(idsOrUpns: string[]): Promise<Map<string, DirectoryUser>>;
  /** Every direct member, whatever its kind (users, nested groups, service principals, devices, …). */
  listGroupMembers(groupId: string): Promise<DirectoryMember[]>;
  addGroupMember(groupId: string, userId: string): Promise<AddResult>;
  removeGroupMember(groupId: string, userId: string): Promise<RemoveResult>;
  /** Many removals at once (batched, throttling-aware); a failure is reported per user, never thrown for one. */
  removeGroupMembers(
    groupId: string,
    userIds: string[],
    onProgress?: Progress,
  ): Promise<Map<string, RemoveResult | Error>>;
  readRecord(owner: RecordOwner, extensionName: string): Promise<RecordPayload | null>;
  /** Many records at once (batched), keyed by owner id (or UPN) as given; a missing record is null. */
  readRecords(
    owners: RecordOwner[],
    extensionName: string,
    onProgress?: Progress,
  ): Promise<Map<string, RecordPayload | null>>;
  /** Creates or replaces the record (PATCH replaces custom properties as a whole). */
  writeRecord(owner: RecordOwner, extensionName: string, payload: RecordPayload): Promise<void>;
  /**
   * Asks Entra to export these members of the group now. Resolves with one
   * outcome per user, all `Success`; when any export was Skipped or Failed (a
   * 200 answer can say so) or its result cannot be read, rejects with
   * PROVISION_ON_DEMAND_INCOMPLETE whose details.outcomes holds every user's
   * outcome: only the users whose outcome is Success were exported.
   */
  provisionOnDemand(groupId: string, userIds: string[]): Promise<OnDemandOutcome[]>;
  provisioningJob(): Promise<ProvisioningJobStatus | null>;
}

/** What provisionOnDemand did for one user (the result of the call that named them). */
export interface OnDemandOutcome {
  userId: string;
  result: 'Success' | 'Skipped' | 'Failure' | 'Unknown';
  errorCode: string | null;
  reason: string | null;
}

export interface OciUserRef {
  id: string;
  userName: string;
}

/** The OCI identity domain, as the core needs it. */
export interface OciPort {
  findUser(userName: string): Promise<OciUserRef | null>;
  findGroup(displayName: string): Promise<{ id: string; displayName: string } | null>;
  /** Every member's OCI user id (paged, works above 10,000 members). */
  groupMemberIds(groupId: string): Promise<Set<string>>;
  /** Every member with its user name, in as few calls as the domain allows (paged above 10,000 members). */
  groupMembers(groupId: string): Promise<OciUserRef[]>;
  removeGroupMember(groupId: string, userId: string): Promise<void>;
  /**
   * Removes these OCI users from the group (PATCHes of remove operations
   * only), then reads the group once: 'removed' for each user it no longer
   * lists, the error for each it still does (or when a call failed). Never
   * rejects for one user; a read-only config refuses before anything is sent.
   */
  removeGroupMembers(groupId: string, userIds: string[]): Promise<Map<string, OciRemovalOutcome>>;
}

/** What a direct removal did for one OCI user. */
export type OciRemovalOutcome = 'removed' | Error;

// ---------------------------------------------------------------- local state

/** This machine's note of a request it made (local state; the truth is the remote record). */
export interface LocalRequest {
  id: string;
  groupId: string;
  groupName: string;
  userId: string;
  upn: string;
  hours: number;
  justification: string;
  ticket?: string;
  requestedAt: string;
  status: 'pending' | 'approved' | 'denied' | 'revoked' | 'cancelled' | 'expired';
  expiresAt?: string;
}

/** This machine's note of a decision it took. */
export interface LocalDecision {
  requestId: string;
  requesterId: string;
  requesterUpn: string;
  groupId: string;
  decision: 'approved' | 'denied' | 'revoked';
  decidedAt: string;
  expiresAt?: string;
  reason?: string;
  approverId: string;
}

/** A member removed in Entra whose removal from the OCI group this host waits to see. */
export interface PendingRemoval {
  groupId: string;
  userId: string;
  upn: string;
  removedInEntraAt: string;
  reason: string;
  attempts: number;
  lastCheckedAt?: string;
  status: 'pending-oci' | 'confirmed' | 'irrevocable';
  /** The request whose grant ended (the one that ended last; the audit log's remove-oci entry names it); absent for members without one. */
  requestId?: string;
  forcedInOciAt?: string;
  /** When this host removed the member from the OCI group itself (removeDirectly) and saw them gone. */
  removedInOciAt?: string;
  /** When the sweep started watching for two cycles (later than removedInEntraAt after a long gap without a look). */
  watchingSince?: string;
}

/** A removal Entra refused or did not answer, retried by every sweep. */
export interface FailedRemoval {
  groupId: string;
  userId: string;
  upn: string;
  attempts: number;
  lastError: string;
  firstFailedAt: string;
}

/** One group's part of the sweep's ledger on this host. Maps of removals are keyed by user id. */
export interface GroupLedger {
  /** userId → when the sweep first saw the member in the group (ISO). */
  firstSeen: Record<string, string>;
  /** grantKey → when a sweep of this host first saw that approval (ISO). */
  grantsFirstSeen: Record<string, string>;
  /** OCI user id → when first seen in the OCI group without an Entra membership or grant (ISO). */
  driftSeen: Record<string, string>;
  pendingRemovals: ReadonlyMap<string, PendingRemoval>;
  failedRemovals: ReadonlyMap<string, FailedRemoval>;
}

/** What one sweep changes in a group's ledger, written in one durable write. Maps are keyed by user id. */
export interface GroupLedgerChanges {
  /** Replaced as a whole when given (an empty map drops the group's entry). */
  firstSeen?: Record<string, string>;
  grantsFirstSeen?: Record<string, string>;
  driftSeen?: Record<string, string>;
  /** Removals recorded, confirmed or looked at again. */
  removals: Map<string, PendingRemoval>;
  /** Removals no longer waited for (the member is back in the group). */
  forgottenRemovals: Set<string>;
  failures: Map<string, FailedRemoval>;
  clearedFailures: Set<string>;
}

/**
 * This machine's bookkeeping (local state), as operations: what it requested
 * and decided, and the sweep's ledger. Each call is one locked, durable write
 * (or one read); the store keeps its own file format.
 */
export interface StatePort {
  /** What this machine requested and decided, by request id. */
  readLocal(): Promise<{
    requests: Readonly<Record<string, LocalRequest>>;
    decisions: Readonly<Record<string, LocalDecision>>;
  }>;
  recordRequest(request: LocalRequest): Promise<void>;
  /** `keepExisting`: leave a decision already noted for the request as it is. */
  recordDecisions(decisions: LocalDecision[], options?: { keepExisting?: boolean }): Promise<void>;
  /** A revocation made here: the requests noted as revoked, and the removal (when one was made) to confirm in OCI. */
  recordRevocation(requestIds: string[], removal?: PendingRemoval): Promise<void>;
  readGroupLedger(groupId: string): Promise<GroupLedger>;
  writeGroupLedger(groupId: string, changes: GroupLedgerChanges): Promise<void>;
}
