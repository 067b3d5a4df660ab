/**
 * The emulator's in-memory world: one Entra tenant (users, groups, apps,
 * service principals, the provisioning job), one OCI identity domain, a
 * virtual clock, a request log and the fault plan. Every service module reads
 * and writes this object; nothing is persisted.
 */
import { randomUUID } from 'node:crypto';
import { EntraState } from './entra/state.js';
import { PimState } from './pim/state.js';
import { OktaState } from './okta/state.js';

/** Graph open extension (microsoft.graph.openTypeExtension) as stored. */
export interface OpenExtension {
  extensionName: string;
  /** The app that created it: the 2-per-app-per-object limit counts by creator. */
  creatorAppId: string;
  properties: Record<string, unknown>;
}

export interface EntraUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mail: string | null;
  givenName?: string;
  surname?: string;
  accountEnabled: boolean;
  /** Directory roles by display name, e.g. "Groups Administrator". */
  directoryRoles: Set<string>;
  extensions: Map<string, OpenExtension>;
}

export interface EntraGroup {
  id: string;
  displayName: string;
  description: string | null;
  mailNickname: string;
  securityEnabled: boolean;
  mailEnabled: boolean;
  /** Member object ids in insertion order: users, nested groups, service principals and devices, as Entra allows. */
  members: Set<string>;
  owners: Set<string>;
  extensions: Map<string, OpenExtension>;
  /** A role-assignable group: changing its members takes RoleManagement.ReadWrite.Directory (see graph/groups.ts). */
  isAssignableToRole?: boolean;
}

/** A device registered or joined in Entra (a group may hold it as a member). */
export interface EntraDevice {
  id: string;
  /** The device's own id (not the object id). */
  deviceId: string;
  displayName: string;
  operatingSystem: string;
  accountEnabled: boolean;
}

export interface AppRegistration {
  appId: string;
  displayName: string;
  /** Confidential client credentials: secrets (plain) and certificates (SHA-256 thumbprint hex upper → SPKI PEM). */
  secrets: string[];
  certificates: { thumbprintSha256: string; publicKeyPem: string }[];
  /** Application permissions granted with admin consent (app-only tokens carry them as roles). */
  applicationPermissions: string[];
  /** Delegated permissions consented (user tokens carry them as scp). */
  delegatedPermissions: string[];
  /** Public client flows (device code) allowed. */
  isPublicClient: boolean;
}

export type SyncStatusCode = 'NotConfigured' | 'NotRun' | 'Active' | 'Paused' | 'Quarantine';

/** synchronizationError: what Graph says went wrong in a cycle or put the job in quarantine. */
export interface SynchronizationError {
  code: string;
  message: string;
  tenantActionable: boolean;
}

/** synchronizationTaskExecution, as far as the emulator keeps it. */
export interface SynchronizationExecution {
  timeBegan: string;
  timeEnded: string;
  state: 'Succeeded' | 'Failed' | 'EntryLevelErrors' | string;
  error?: SynchronizationError | null;
}

/** synchronizationQuarantine. */
export interface SynchronizationQuarantine {
  reason: string;
  currentBegan: string;
  nextAttempt: string;
  seriesBegan: string;
  seriesCount: number;
  error: SynchronizationError | null;
}

/** The cause injected into the engine: the next `remaining` cycles fail with `error`. */
export interface SynchronizationFailure {
  error: SynchronizationError;
  /** Cycles still to fail; Infinity until the cause is fixed (quarantine "on": false). */
  remaining: number;
  /** The job goes into quarantine after this many successive failures (never when absent). */
  quarantineAfter?: number;
  /** The quarantine's reason code when it does. */
  reason: string;
}

export interface SynchronizationJob {
  id: string;
  templateId: string;
  /** Rule id accepted by provisionOnDemand. */
  ruleId: string;
  status: {
    code: SyncStatusCode;
    quarantine: null | SynchronizationQuarantine;
    /** The last cycle, failed or not; absent before the engine ran one on this world (then lastSuccessfulExecution stands for it). */
    lastExecution?: null | SynchronizationExecution;
    lastSuccessfulExecution: null | SynchronizationExecution;
    /** Cycles that failed one after the other (0 after a success). */
    countSuccessiveCompleteFailures?: number;
  };
  /** Set by /_emulator/provisioning/failure or …/quarantine: why the next cycles fail, and how many more will. */
  failure?: SynchronizationFailure;
  /** Disabled by Entra after four weeks in quarantine (schedule state Disabled): no cycle runs until a restart. */
  disabled?: boolean;
  /** Cycle length in virtual milliseconds (Entra's is ~40 minutes; the emulator can be faster). */
  intervalMs: number;
  /** Set by /_emulator/provisioning/ondemand: the next provisionOnDemand calls answer 200 with this result and export nothing. */
  onDemandOutcome?: { result: 'Skipped' | 'Failure'; errorCode: string; errorMessage: string; remaining: number };
  /** Virtual time of the next scheduled cycle. */
  nextCycleAt: number;
}

export interface ServicePrincipal {
  id: string;
  appId: string;
  displayName: string;
  /** Groups assigned to the enterprise application (only these are provisioned). */
  assignedGroupIds: Set<string>;
  synchronizationJobs: SynchronizationJob[];
}

export interface OciUser {
  id: string;
  ocid: string;
  userName: string;
  displayName: string;
  active: boolean;
  /** Set when the Entra provisioning engine created/manages the user (its Entra object id). */
  externalId: string | null;
  createdBy: 'scim' | 'jit' | 'console';
}

export interface OciGroup {
  id: string;
  ocid: string;
  displayName: string;
  externalId: string | null;
  members: Set<string>;
}

export interface OciIdentityProvider {
  id: string;
  partnerName: string;
  enabled: boolean;
  jitUserProvEnabled: boolean;
  jitUserProvCreateUserEnabled: boolean;
  jitUserProvGroupAssertionAttributeEnabled: boolean;
  jitUserProvGroupAssignmentMethod: 'Overwrite' | 'Merge';
  jitUserProvGroupMappingMode: 'implicit' | 'explicit';
  /** idpGroup: the Entra group's name or id as sent in the assertion; ociGroupId: the OCI group. */
  jitUserProvGroupMappings: { idpGroup: string; ociGroupId: string }[];
}

export interface OciApiKey {
  tenancyOcid: string;
  userOcid: string;
  fingerprint: string;
  publicKeyPem: string;
}

export interface LoggedRequest {
  seq: number;
  at: string;
  service: 'entra' | 'graph' | 'oci' | 'okta' | 'webhooks' | 'control' | 'unknown';
  method: string;
  path: string;
  status: number;
  /** Who called (user id / app id), when known. */
  principal?: string;
  /** True when the route is not implemented by the emulator (501). */
  unimplemented?: boolean;
  /** For $batch: the status of each item, in answer order. */
  batchItems?: { method: string; url: string; status: number; early?: number }[];
  /** Who sent it, as told apart for Retry-After (see retry-after.ts). */
  client?: string;
  /** Set when the same client sent this request this many ms before the Retry-After it was given. */
  early?: number;
}

export interface FaultRule {
  service?: LoggedRequest['service'];
  method?: string;
  /** Matched against the path without query string. */
  pathPattern?: string;
  status: number;
  /** How many matching calls fail; Infinity for all. */
  remaining: number;
  retryAfterSeconds?: number;
  /** The error code and message of the answer's body (Graph; OCI takes the message), instead of the usual ones. */
  code?: string;
  message?: string;
  /** 'reset' destroys the socket instead of answering; 'timeout' never answers. */
  kind?: 'status' | 'reset' | 'timeout';
}

export interface ThrottlePlan {
  service?: LoggedRequest['service'];
  /** Fraction of matching calls answered with 429, 0..1. */
  rate: number;
  retryAfterSeconds: number | [number, number];
}

export interface IssuedToken {
  token: string;
  kind: 'access' | 'refresh';
  /** 'user' tokens are delegated (scp); 'app' tokens are app-only (roles). */
  principalType: 'user' | 'app';
  userId?: string;
  appId: string;
  scopes: string[];
  roles: string[];
  expiresAt: number;
  revoked: boolean;
  /** Client capabilities the client declared when it got the token (xms_cc): 'cp1' = it handles claims challenges. */
  clientCapabilities?: string[];
}

export interface DeviceCodeGrant {
  deviceCode: string;
  userCode: string;
  clientId: string;
  scopes: string[];
  expiresAt: number;
  /** Set by the control endpoint /_emulator/devicecode/complete. */
  completedByUserId: string | null;
  denied: boolean;
  consumed: boolean;
}

export interface ProvisioningMemory {
  /** `${jobId} ${entraGroupId}` → Entra user ids last exported as members of that group. */
  exportedMembers: Map<string, Set<string>>;
  /** jobId → Entra user ids in scope at the last cycle. */
  inScope: Map<string, Set<string>>;
}

/** OCI identity domain types, as the rate-limit table names them. */
export type OciDomainType = 'free' | 'oracleApps' | 'oracleAppsPremium' | 'premium' | 'externalUser';

export interface OciDomainSettings {
  /** null: no rate limits (the default, so tests not about throttling are not throttled). */
  domainType: OciDomainType | null;
  /** The most resources one list answer holds (the documented largest count is 1000). */
  maxPageSize: number;
  /** The most group members one `members[startIndex=…&count=…]` page holds (documented: 10,000). */
  maxMemberPageSize: number;
  /** Virtual times of recent calls counted against the limits. */
  rateWindows: number[];
  /** Overrides of the table's numbers (a short window for tests): per second, per minute. */
  limitsOverride?: { perSecond: number; perMinute: number };
}

export class World {
  readonly tenantId: string;
  users = new Map<string, EntraUser>();
  groups = new Map<string, EntraGroup>();
  apps = new Map<string, AppRegistration>();
  servicePrincipals = new Map<string, ServicePrincipal>();
  devices = new Map<string, EntraDevice>();
  ociUsers = new Map<string, OciUser>();
  ociGroups = new Map<string, OciGroup>();
  identityProviders = new Map<string, OciIdentityProvider>();
  ociApiKeys: OciApiKey[] = [];
  tokens = new Map<string, IssuedToken>();
  deviceCodes = new Map<string, DeviceCodeGrant>();
  requestLog: LoggedRequest[] = [];
  faults: FaultRule[] = [];
  throttles: ThrottlePlan[] = [];
  /** Retry-After given per client and request: "client METHOD url" → monotonic ms (see retry-after.ts). */
  retryNotBefore = new Map<string, number>();
  /** Added to every answer, in real milliseconds, per service ('*' for all). */
  latencyMs: Partial<Record<LoggedRequest['service'] | '*', number>> = {};
  /** Virtual clock: real time plus this offset. */
  clockOffsetMs = 0;
  /** Request rate limit for provisionOnDemand: virtual times of recent calls. */
  provisionOnDemandCalls: number[] = [];
  /** What the provisioning engine remembers between cycles (see provisioning.ts). */
  readonly provisioningMemory: ProvisioningMemory = { exportedMembers: new Map(), inScope: new Map() };
  /**
   * Graph behaviours whose documentation varies: how PATCH of an open extension on a user or
   * group answers (204, as the current page says for directory objects, or 200 with the
   * object, as the older v1.0 page showed). See graph/control.ts.
   */
  graphSettings: { extensionPatchAnswer: 204 | 200 } = { extensionPatchAnswer: 204 };
  /** Which clock OCI request signatures are dated against (see oci/signature.ts). */
  ociSignatureClock: 'virtual' | 'either' = 'either';
  /** The identity domain's own settings (oci/settings.ts): rate limits by domain type, page size cap, noTarget. */
  readonly oci: OciDomainSettings = { domainType: null, maxPageSize: 1000, maxMemberPageSize: 10_000, rateWindows: [] };
  /** Per-item throttling of $batch: each plan's accumulated credit (see graph/batch.ts). */
  readonly batchThrottleCredit = new WeakMap<ThrottlePlan, number>();
  /** Sign-in state the directory does not model: lifetimes, signing key, authorization codes (see entra/state.ts). */
  readonly entra = new EntraState();
  /** PIM for Groups: policies, eligibility, active assignments, requests and approvals (see pim/). */
  readonly pim = new PimState();
  /** The Okta org: people, groups, schemas, apps, tokens, rate windows, Group Push (see okta/). */
  readonly okta = new OktaState();
  private seq = 0;

  constructor(tenantId: string = randomUUID()) {
    this.tenantId = tenantId;
  }

  now(): number {
    // The emulator is the one place whose "real" time is the machine's: its virtual clock is built on it.
    // eslint-disable-next-line no-restricted-properties
    return Date.now() + this.clockOffsetMs;
  }

  nowIso(): string {
    return new Date(this.now()).toISOString();
  }

  log(entry: Omit<LoggedRequest, 'seq' | 'at'>): LoggedRequest {
    this.seq += 1;
    const logged = { seq: this.seq, at: this.nowIso(), ...entry };
    this.requestLog.push(logged);
    return logged;
  }

  userByIdOrUpn(idOrUpn: string): EntraUser | undefined {
    const direct = this.users.get(idOrUpn);
    if (direct) return direct;
    const wanted = idOrUpn.toLowerCase();
    // Graph looks a user principal name up in an index; a scan of every user for each of a
    // sweep's hundreds of lookups made the emulator, not the client, the slow side. Users are
    // added, renamed and deleted directly in `users`, so a hit is checked and a miss rebuilds.
    const hit = this.upnIndex.get(wanted);
    if (hit && this.users.get(hit.id) === hit && hit.userPrincipalName.toLowerCase() === wanted) return hit;
    this.upnIndex.clear();
    for (const user of this.users.values()) {
      const upn = user.userPrincipalName.toLowerCase();
      if (!this.upnIndex.has(upn)) this.upnIndex.set(upn, user);
    }
    return this.upnIndex.get(wanted);
  }
  private readonly upnIndex = new Map<string, EntraUser>();

  groupByName(displayName: string): EntraGroup | undefined {
    for (const group of this.groups.values()) if (group.displayName === displayName) return group;
    return undefined;
  }

  ociUserByUserName(userName: string): OciUser | undefined {
    const wanted = userName.toLowerCase();
    for (const user of this.ociUsers.values()) if (user.userName.toLowerCase() === wanted) return user;
    return undefined;
  }

  ociGroupByName(displayName: string): OciGroup | undefined {
    for (const group of this.ociGroups.values()) if (group.displayName === displayName) return group;
    return undefined;
  }
}
