/**
 * Entra's provisioning engine between the tenant and the OCI identity domain,
 * as the Oracle Cloud Infrastructure Console gallery app runs it.
 *
 * What it does on each cycle, for every job not Paused (a job in Quarantine
 * only at its next attempt):
 *  - Scope: users that are *direct* members of a group assigned to the
 *    enterprise application. Nested groups are not expanded: Entra's app
 *    provisioning neither flattens nested group membership nor provisions
 *    users reached only through a nested group.
 *  - Users in scope are matched in OCI by externalId (their Entra object id)
 *    or else by userName = userPrincipalName (then linked by setting
 *    externalId), or created (createdBy 'scim'); active follows
 *    accountEnabled, userName and displayName follow Entra.
 *  - Users that left the scope are disabled in OCI (active=false), Entra's
 *    default for apps that do not support deletion of out-of-scope users.
 *  - Groups are matched by externalId (the Entra group id) or displayName,
 *    or created. Membership is exported as *changes*: Entra remembers which
 *    members it exported for each group and sends a PATCH add/remove per
 *    member that changed since. It never replaces the target's member list,
 *    so members it never exported (added by hand in the console, or by SAML
 *    JIT while provisioning was not looking) stay, and a member removed by
 *    hand in OCI is not put back until its Entra membership changes again.
 *    Before its first cycle on a world, the engine takes the OCI members
 *    linked to Entra users (externalId set) as "already exported", which is
 *    what the seed describes: the domain as the last cycle left it.
 *
 * A job can fail and go into quarantine (provisioning-health.ts): a
 * quarantined job's next cycle is due at its quarantine's nextAttempt.
 *
 * Time is virtual: a job's next cycle is due at nextCycleAt; after a large
 * clock jump one cycle runs and the next is scheduled intervalMs later (the
 * engine does not replay the cycles it "missed").
 */
import { json, parseJsonBody, route, type Route } from './http.js';
import type { EntraGroup, EntraUser, OciGroup, OciUser, ServicePrincipal, SynchronizationJob, World } from './state.js';
import {
  createOciGroup,
  createOciUser,
  ociGroupByExternalId,
  ociGroupByNameInsensitive,
  ociUserByExternalId,
} from './oci/domain.js';
import {
  failCycleIfInjected,
  provisioningHealthControlRoutes,
  quarantineAttemptAt,
  quarantineRetryDue,
  recordSuccessfulCycle,
} from './provisioning-health.js';

export interface CycleSummary {
  servicePrincipalId: string;
  jobId: string;
  ran: boolean;
  /** Why the cycle did not run (the job's status code). */
  skippedBecause?: string;
  /** The cycle ran and failed (an injected cause, see provisioning-health.ts): nothing was exported. */
  failedWith?: { code: string; message: string };
  usersCreated: string[];
  usersLinked: string[];
  usersDisabled: string[];
  usersEnabled: string[];
  groupsCreated: string[];
  membersAdded: { group: string; user: string }[];
  membersRemoved: { group: string; user: string }[];
  /**
   * Removals whose OCI membership was already gone (removed by hand or by the
   * sweep's direct removal): exported as successes, no error, no escrow.
   */
  membersAlreadyGone: { group: string; user: string }[];
}

function* jobsOf(world: World): Generator<{ sp: ServicePrincipal; job: SynchronizationJob }> {
  for (const sp of world.servicePrincipals.values()) for (const job of sp.synchronizationJobs) yield { sp, job };
}

function directUserMembers(world: World, group: EntraGroup): Set<string> {
  // Only users: a nested group as a member is skipped, and its members are not expanded.
  return new Set([...group.members].filter((id) => world.users.has(id)));
}

function scopeOf(world: World, sp: ServicePrincipal): Set<string> {
  const scope = new Set<string>();
  for (const groupId of sp.assignedGroupIds) {
    const group = world.groups.get(groupId);
    if (group) for (const id of directUserMembers(world, group)) scope.add(id);
  }
  return scope;
}

function findOciUser(world: World, user: EntraUser): OciUser | undefined {
  return ociUserByExternalId(world, user.id) ?? world.ociUserByUserName(user.userPrincipalName);
}

function findOciGroup(world: World, group: EntraGroup): OciGroup | undefined {
  return ociGroupByExternalId(world, group.id) ?? ociGroupByNameInsensitive(world, group.displayName);
}

function emptySummary(sp: ServicePrincipal, job: SynchronizationJob): CycleSummary {
  return {
    servicePrincipalId: sp.id,
    jobId: job.id,
    ran: false,
    usersCreated: [],
    usersLinked: [],
    usersDisabled: [],
    usersEnabled: [],
    groupsCreated: [],
    membersAdded: [],
    membersRemoved: [],
    membersAlreadyGone: [],
  };
}

/** Creates, links or updates the OCI user for an in-scope Entra user. */
function exportUser(world: World, user: EntraUser, summary: CycleSummary): OciUser {
  let oci = findOciUser(world, user);
  if (!oci) {
    oci = createOciUser(world, {
      userName: user.userPrincipalName,
      displayName: user.displayName,
      externalId: user.id,
      active: user.accountEnabled,
      createdBy: 'scim',
    });
    summary.usersCreated.push(user.userPrincipalName);
    return oci;
  }
  if (oci.externalId !== user.id) {
    oci.externalId = user.id;
    summary.usersLinked.push(user.userPrincipalName);
  }
  if (oci.userName !== user.userPrincipalName) {
    const clash = world.ociUserByUserName(user.userPrincipalName);
    if (!clash || clash.id === oci.id) oci.userName = user.userPrincipalName;
  }
  oci.displayName = user.displayName;
  if (oci.active !== user.accountEnabled) {
    oci.active = user.accountEnabled;
    (user.accountEnabled ? summary.usersEnabled : summary.usersDisabled).push(user.userPrincipalName);
  }
  return oci;
}

function exportGroup(world: World, group: EntraGroup, summary: CycleSummary): OciGroup {
  let oci = findOciGroup(world, group);
  if (!oci) {
    oci = createOciGroup(world, { displayName: group.displayName, externalId: group.id });
    summary.groupsCreated.push(group.displayName);
    return oci;
  }
  if (oci.externalId !== group.id) oci.externalId = group.id;
  if (oci.displayName !== group.displayName) {
    const clash = ociGroupByNameInsensitive(world, group.displayName);
    if (!clash || clash.id === oci.id) oci.displayName = group.displayName;
  }
  return oci;
}

function exportedKey(jobId: string, groupId: string): string {
  return `${jobId} ${groupId}`;
}

/**
 * What the engine believes it exported before its first cycle on this world:
 * the OCI members linked to Entra users, and the linked users themselves.
 */
function exportedMembersOf(world: World, job: SynchronizationJob, group: EntraGroup): Set<string> {
  const state = world.provisioningMemory;
  const key = exportedKey(job.id, group.id);
  let exported = state.exportedMembers.get(key);
  if (!exported) {
    exported = new Set();
    const oci = findOciGroup(world, group);
    if (oci) {
      for (const memberId of oci.members) {
        const externalId = world.ociUsers.get(memberId)?.externalId;
        if (externalId && world.users.has(externalId)) exported.add(externalId);
      }
    }
    state.exportedMembers.set(key, exported);
  }
  return exported;
}

function previousScope(world: World, job: SynchronizationJob): Set<string> {
  const state = world.provisioningMemory;
  let scope = state.inScope.get(job.id);
  if (!scope) {
    scope = new Set(
      [...world.ociUsers.values()]
        .map((user) => user.externalId)
        .filter((id): id is string => Boolean(id && world.users.has(id))),
    );
    state.inScope.set(job.id, scope);
  }
  return scope;
}

/** Applies the membership changes of one Entra group since the last export, member by member. */
function exportMembership(
  world: World,
  job: SynchronizationJob,
  group: EntraGroup,
  members: Iterable<string>,
  summary: CycleSummary,
  ociGroup: OciGroup,
): void {
  const exported = exportedMembersOf(world, job, group);
  const wanted = new Set(members);
  for (const userId of wanted) {
    if (exported.has(userId)) continue;
    const user = world.users.get(userId)!;
    const oci = exportUser(world, user, summary);
    if (!ociGroup.members.has(oci.id)) {
      ociGroup.members.add(oci.id);
      summary.membersAdded.push({ group: ociGroup.displayName, user: oci.userName });
    }
    exported.add(userId);
  }
  for (const userId of [...exported]) {
    if (wanted.has(userId)) continue;
    const oci = ociUserByExternalId(world, userId);
    if (oci) exportRemoval(ociGroup, oci, summary);
    exported.delete(userId);
  }
}

/**
 * One member's removal as Entra sends it: a remove that names the member by
 * value, which the target answers with success whether or not the member is
 * still there. A member already gone is a success, counted apart, and never a
 * failure towards escrow or quarantine. Sources: docs/emulator.md, "A removal
 * the target already made".
 */
function exportRemoval(ociGroup: OciGroup, oci: OciUser, summary: CycleSummary): void {
  const entry = { group: ociGroup.displayName, user: oci.userName };
  if (ociGroup.members.delete(oci.id)) summary.membersRemoved.push(entry);
  else summary.membersAlreadyGone.push(entry);
}

const NOT_RUNNING: ReadonlySet<string> = new Set(['Paused', 'Quarantine', 'NotConfigured']);

function runCycle(world: World, sp: ServicePrincipal, job: SynchronizationJob): CycleSummary {
  const summary = emptySummary(sp, job);
  // A quarantined job runs only at its next attempt (provisioning-health.ts).
  const blocked = job.status.code === 'Quarantine' ? !quarantineRetryDue(world, job) : NOT_RUNNING.has(job.status.code);
  if (blocked) {
    summary.skippedBecause = job.disabled ? 'Disabled' : job.status.code;
    return summary;
  }
  const timeBegan = world.nowIso();
  const failed = failCycleIfInjected(world, job, timeBegan);
  if (failed) {
    summary.failedWith = { code: failed.code, message: failed.message };
    return summary;
  }
  const scope = scopeOf(world, sp);
  const before = previousScope(world, job);
  for (const userId of scope) exportUser(world, world.users.get(userId)!, summary);
  for (const userId of before) {
    if (scope.has(userId)) continue;
    const oci = ociUserByExternalId(world, userId);
    if (oci?.active) {
      oci.active = false;
      summary.usersDisabled.push(oci.userName);
    }
  }
  world.provisioningMemory.inScope.set(job.id, scope);
  for (const groupId of sp.assignedGroupIds) {
    const group = world.groups.get(groupId);
    if (!group) continue;
    const ociGroup = exportGroup(world, group, summary);
    exportMembership(world, job, group, directUserMembers(world, group), summary, ociGroup);
  }
  summary.ran = true;
  recordSuccessfulCycle(job, { timeBegan, timeEnded: world.nowIso(), state: 'Succeeded', error: null });
  return summary;
}

/** Runs every cycle that is due at the current virtual time: at most one per job per call. */
export function runDueProvisioningCycles(world: World): CycleSummary[] {
  const summaries: CycleSummary[] = [];
  const now = world.now();
  for (const { sp, job } of jobsOf(world)) {
    if (now < (quarantineAttemptAt(job) ?? job.nextCycleAt)) continue;
    summaries.push(runCycle(world, sp, job));
    job.nextCycleAt = now + job.intervalMs;
  }
  return summaries;
}

/** Runs one cycle of every job now, whatever its schedule, and schedules the next one interval later. */
export function runProvisioningCycleNow(world: World): CycleSummary[] {
  const summaries: CycleSummary[] = [];
  for (const { sp, job } of jobsOf(world)) {
    summaries.push(runCycle(world, sp, job));
    job.nextCycleAt = world.now() + job.intervalMs;
  }
  return summaries;
}

// ---------------------------------------------------------------------------
// Provision on demand (Graph: POST …/jobs/{id}/provisionOnDemand for a group
// with up to 5 member links). Graph-side checks (ruleId, 5 members, 5 calls
// per 10 s) belong to the Graph emulator; this is the engine's part.

export interface ProvisioningStep {
  name: string;
  type: 'Import' | 'Scoping' | 'Matching' | 'Processing' | 'ReferenceResolution' | 'Export';
  status: 'Success' | 'Warning' | 'Failure' | 'Skipped' | 'NotRun';
  description: string;
  timestamp: string;
  details: Record<string, string>;
}

export interface OnDemandMemberChange {
  userId: string;
  userPrincipalName: string;
  action: 'Added' | 'Removed' | 'None';
  ociUserId?: string;
}

export type OnDemandResult =
  | {
      ok: true;
      result: 'Success' | 'Skipped' | 'Failure';
      details: Record<string, string>;
      jobId: string;
      servicePrincipalId: string;
      /** The Entra group provisioned. */
      groupId: string;
      startTime: string;
      endTime: string;
      steps: ProvisioningStep[];
      members: OnDemandMemberChange[];
      targetGroupId?: string;
    }
  | { ok: false; status: 400 | 404; code: string; message: string };

export interface OnDemandInput {
  groupId: string;
  userIds: string[];
  servicePrincipalId?: string;
  jobId?: string;
}

function findJob(world: World, input: OnDemandInput): { sp: ServicePrincipal; job: SynchronizationJob } | undefined {
  for (const entry of jobsOf(world)) {
    if (input.servicePrincipalId && entry.sp.id !== input.servicePrincipalId) continue;
    if (input.jobId && entry.job.id !== input.jobId) continue;
    if (!input.jobId && !input.servicePrincipalId && !entry.sp.assignedGroupIds.has(input.groupId)) continue;
    return entry;
  }
  return undefined;
}

/**
 * Provisions one group and the named members now: each named user who is a
 * direct member is exported (created/linked and added to the OCI group), each
 * named user who is no longer a member is removed from it. Works while the
 * job is Paused (as on-demand provisioning does); fails while in Quarantine,
 * whose cause (the target refusing the engine) would fail it too.
 */
export function provisionOnDemand(world: World, input: OnDemandInput): OnDemandResult {
  const found = findJob(world, input);
  if (!found)
    return {
      ok: false,
      status: 404,
      code: 'Request_ResourceNotFound',
      message: 'No synchronization job provisions this group.',
    };
  const { sp, job } = found;
  const group = world.groups.get(input.groupId);
  if (!group)
    return { ok: false, status: 400, code: 'InvalidSubject', message: `The group ${input.groupId} does not exist.` };
  if (input.userIds.length > 5)
    return {
      ok: false,
      status: 400,
      code: 'TooManySubjects',
      message: 'At most 5 members can be provisioned on demand at once.',
    };
  const users: EntraUser[] = [];
  for (const userId of input.userIds) {
    const user = world.users.get(userId);
    if (!user) return { ok: false, status: 400, code: 'InvalidSubject', message: `The user ${userId} does not exist.` };
    users.push(user);
  }

  const startTime = world.nowIso();
  const steps: ProvisioningStep[] = [];
  const step = (
    name: string,
    type: ProvisioningStep['type'],
    status: ProvisioningStep['status'],
    description: string,
    details: Record<string, string> = {},
  ) => steps.push({ name, type, status, description, timestamp: world.nowIso(), details });
  const finish = (
    result: 'Success' | 'Skipped' | 'Failure',
    details: Record<string, string>,
    members: OnDemandMemberChange[],
    targetGroupId?: string,
  ): OnDemandResult => ({
    ok: true,
    result,
    details,
    jobId: job.id,
    servicePrincipalId: sp.id,
    groupId: group.id,
    startTime,
    endTime: world.nowIso(),
    steps,
    members,
    targetGroupId,
  });

  step('EntryImport', 'Import', 'Success', `Retrieved Group '${group.displayName}' from Microsoft Entra ID`, {
    objectId: group.id,
    displayName: group.displayName,
  });
  const forced = job.onDemandOutcome;
  if (forced && forced.remaining > 0) {
    // A 200 whose result is not Success (set by /_emulator/provisioning/ondemand): the export did not happen.
    forced.remaining -= 1;
    if (forced.remaining === 0) job.onDemandOutcome = undefined;
    step('EntryExportUpdate', 'Export', forced.result, forced.errorMessage, { errorCode: forced.errorCode });
    return finish(forced.result, { errorCode: forced.errorCode, errorMessage: forced.errorMessage }, []);
  }
  if (job.status.code === 'Quarantine') {
    step(
      'EntryExportUpdate',
      'Export',
      'Failure',
      'The provisioning job is in quarantine; the target system could not be updated.',
      {
        reason: job.status.quarantine?.reason ?? 'Unknown',
      },
    );
    return finish(
      'Failure',
      {
        errorCode: 'SystemForCrossDomainIdentityManagementServiceIncompatible',
        errorMessage: 'The job is in quarantine.',
      },
      [],
    );
  }
  if (!sp.assignedGroupIds.has(group.id)) {
    step(
      'EntrySynchronizationScoping',
      'Scoping',
      'Skipped',
      `Group '${group.displayName}' is not assigned to the application.`,
      { Assigned: 'False' },
    );
    return finish(
      'Skipped',
      { errorCode: 'NotEffectivelyEntitled', errorMessage: 'The group is not assigned to the application.' },
      [],
    );
  }
  step(
    'EntrySynchronizationScoping',
    'Scoping',
    'Success',
    'Determine if Group in scope by evaluating against each scoping filter',
    { Assigned: 'True' },
  );

  const summary = emptySummary(sp, job);
  const ociGroup = exportGroup(world, group, summary);
  step('EntryImport', 'Matching', 'Success', `Retrieved '${group.displayName}' from the OCI identity domain`, {
    id: ociGroup.id,
    externalId: ociGroup.externalId ?? '',
    created: String(summary.groupsCreated.length > 0),
  });

  const exported = exportedMembersOf(world, job, group);
  const members: OnDemandMemberChange[] = [];
  for (const user of users) {
    if (group.members.has(user.id)) {
      const oci = exportUser(world, user, summary);
      const added = !ociGroup.members.has(oci.id);
      ociGroup.members.add(oci.id);
      exported.add(user.id);
      members.push({
        userId: user.id,
        userPrincipalName: user.userPrincipalName,
        action: added ? 'Added' : 'None',
        ociUserId: oci.id,
      });
    } else {
      const oci = ociUserByExternalId(world, user.id) ?? world.ociUserByUserName(user.userPrincipalName);
      const removed = oci ? ociGroup.members.delete(oci.id) : false;
      exported.delete(user.id);
      members.push({
        userId: user.id,
        userPrincipalName: user.userPrincipalName,
        action: removed ? 'Removed' : 'None',
        ociUserId: oci?.id,
      });
    }
  }
  const added = members.filter((m) => m.action === 'Added').map((m) => m.userPrincipalName);
  const removed = members.filter((m) => m.action === 'Removed').map((m) => m.userPrincipalName);
  if (added.length === 0 && removed.length === 0 && summary.groupsCreated.length === 0) {
    step(
      'EntrySynchronizationSkip',
      'Export',
      'Skipped',
      `The state of the Group '${group.displayName}' in both the source and target systems already match.`,
      { SkipReason: 'RedundantExport' },
    );
    return finish(
      'Skipped',
      {
        errorCode: 'RedundantExport',
        errorMessage: 'The state of the group in both the source and target systems already match.',
      },
      members,
      ociGroup.id,
    );
  }
  for (const upn of summary.usersCreated)
    step('EntryExportAdd', 'Export', 'Success', `User '${upn}' was created in the OCI identity domain`, {
      userName: upn,
    });
  step(
    'EntryExportUpdate',
    'Export',
    'Success',
    `Group '${group.displayName}' was updated in the OCI identity domain`,
    {
      addedMembers: added.join(','),
      removedMembers: removed.join(','),
    },
  );
  return finish('Success', {}, members, ociGroup.id);
}

/** The Graph answer for provisionOnDemand: a stringKeyStringValuePair whose key and value hold JSON strings. */
export function onDemandResponseBody(result: Extract<OnDemandResult, { ok: true }>): {
  '@odata.context': string;
  key: string;
  value: string;
} {
  return {
    '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.stringKeyStringValuePair',
    key: JSON.stringify({ result: result.result, details: result.details }),
    value: JSON.stringify({
      action: result.result === 'Success' ? 'Update' : 'Other',
      startTime: result.startTime,
      endTime: result.endTime,
      provisioningSteps: result.steps,
      statusInfo: {
        status: result.result,
        errorCode: result.details.errorCode ?? null,
        reason: result.details.errorMessage ?? null,
      },
      sourceIdentity: { id: result.groupId, type: 'Group' },
      targetIdentity: { id: result.targetGroupId ?? null, type: 'Group' },
      sourceSystem: { name: 'Azure Active Directory' },
      targetSystem: { name: 'Oracle Cloud Infrastructure Console' },
      members: result.members,
    }),
  };
}

// ---------------------------------------------------------------------------
// Control routes.

function selectJobs(world: World, jobId: unknown): SynchronizationJob[] {
  return [...jobsOf(world)].map((entry) => entry.job).filter((job) => !jobId || job.id === jobId);
}

function badRequest(message: string) {
  return json(400, { error: 'bad_request', message });
}

export function provisioningControlRoutes(): Route[] {
  return [
    route('control', 'POST', /^\/_emulator\/provisioning\/cycle$/, (_req, emu) => {
      const cycles = runProvisioningCycleNow(emu.world);
      return json(200, { now: emu.world.nowIso(), cycles });
    }),
    ...provisioningHealthControlRoutes(),
    route('control', 'POST', /^\/_emulator\/provisioning\/ondemand$/, (req, emu) => {
      const body = parseJsonBody<{
        result?: unknown;
        errorCode?: unknown;
        errorMessage?: unknown;
        count?: unknown;
        jobId?: unknown;
      }>(req);
      if (!body || (body.result !== null && body.result !== 'Skipped' && body.result !== 'Failure'))
        return badRequest('"result" must be "Skipped", "Failure" or null');
      if (
        body.count !== undefined &&
        !(typeof body.count === 'number' && Number.isInteger(body.count) && body.count > 0)
      )
        return badRequest('"count" must be a positive integer');
      const jobs = selectJobs(emu.world, body.jobId);
      if (jobs.length === 0) return badRequest('no such synchronization job');
      for (const job of jobs) {
        job.onDemandOutcome =
          body.result === null
            ? undefined
            : {
                result: body.result,
                errorCode:
                  typeof body.errorCode === 'string'
                    ? body.errorCode
                    : body.result === 'Failure'
                      ? 'SystemForCrossDomainIdentityManagementServiceIncompatible'
                      : 'NotEffectivelyEntitled',
                errorMessage:
                  typeof body.errorMessage === 'string'
                    ? body.errorMessage
                    : body.result === 'Failure'
                      ? 'The OCI identity domain refused the export.'
                      : 'The object is out of the provisioning scope.',
                remaining: typeof body.count === 'number' ? body.count : Number.POSITIVE_INFINITY,
              };
      }
      return json(200, { jobs: jobs.map((job) => ({ id: job.id, onDemandOutcome: job.onDemandOutcome ?? null })) });
    }),
    route('control', 'POST', /^\/_emulator\/provisioning\/interval$/, (req, emu) => {
      const body = parseJsonBody<{ ms?: unknown; jobId?: unknown }>(req);
      if (!body || typeof body.ms !== 'number' || !Number.isFinite(body.ms) || body.ms <= 0)
        return badRequest('"ms" must be a positive number');
      const jobs = selectJobs(emu.world, body.jobId);
      if (jobs.length === 0) return badRequest('no such synchronization job');
      for (const job of jobs) {
        job.intervalMs = body.ms;
        job.nextCycleAt = emu.world.now() + body.ms;
      }
      return json(200, {
        jobs: jobs.map((job) => ({
          id: job.id,
          intervalMs: job.intervalMs,
          nextCycleAt: new Date(job.nextCycleAt).toISOString(),
        })),
      });
    }),
  ];
}
