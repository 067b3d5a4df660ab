/**
 * Service principals and their provisioning (synchronization) jobs: read the
 * app, the groups assigned to it and the job's status (quarantine included),
 * and provision on demand with Graph's validation and rate limit (5 calls per
 * 10 seconds). The provisioning itself is the emulator's provisioning engine's
 * (../provisioning.ts); this module does Graph's checks and answer.
 */
import {
  json,
  parseJsonBody,
  route,
  type EmuRequest,
  type EmuResponse,
  type EmulatorApi,
  type Route,
} from '../http.js';
import { onDemandResponseBody, provisionOnDemand as provisionGroupOnDemand } from '../provisioning.js';
import type { ServicePrincipal, SynchronizationExecution, SynchronizationJob, World } from '../state.js';
import {
  APP_ROLE_ASSIGNMENT_READ,
  authenticate,
  hasAny,
  hasRole,
  isResponse,
  PROVISIONING_ADMIN_ROLES,
  SERVICE_PRINCIPAL_READ,
  SYNC_READ,
  SYNC_WRITE,
  type Caller,
} from './auth.js';
import { badRequest, errorFor, forbidden, resourceNotFound } from './errors.js';
import { SERVICE_PRINCIPAL_PROPERTIES, servicePrincipalJson } from './objects.js';
import {
  applySelect,
  collection,
  matchesFilter,
  odataContext,
  pageOf,
  parseFilter,
  parseSelect,
  type Json,
} from './odata.js';

export const PROVISION_ON_DEMAND_LIMIT = { calls: 5, windowMs: 10_000 } as const;
export const PROVISION_ON_DEMAND_MAX_MEMBERS = 5;

/** ISO 8601 duration of a cycle, e.g. PT40M. */
function isoDuration(ms: number): string {
  const totalSeconds = Math.max(0, Math.round(ms / 1000));
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  const parts = `${hours ? `${hours}H` : ''}${minutes ? `${minutes}M` : ''}${seconds ? `${seconds}S` : ''}`;
  return `PT${parts || '0S'}`;
}

function executionJson(execution: SynchronizationExecution | null | undefined): Json | null {
  if (!execution) return null;
  return {
    timeBegan: execution.timeBegan,
    timeEnded: execution.timeEnded,
    state: execution.state,
    error: execution.error ?? null,
  };
}

function jobJson(job: SynchronizationJob): Json {
  const status = job.status;
  const last = status.lastSuccessfulExecution;
  const quarantine = status.quarantine
    ? {
        currentBegan: status.quarantine.currentBegan,
        nextAttempt: status.quarantine.nextAttempt,
        reason: status.quarantine.reason,
        seriesBegan: status.quarantine.seriesBegan,
        seriesCount: status.quarantine.seriesCount,
        error: status.quarantine.error,
      }
    : null;
  return {
    id: job.id,
    templateId: job.templateId,
    schedule: {
      expiration: null,
      interval: isoDuration(job.intervalMs),
      state: job.disabled ? 'Disabled' : status.code === 'Paused' ? 'Paused' : 'Active',
    },
    status: {
      code: status.code,
      countSuccessiveCompleteFailures: status.countSuccessiveCompleteFailures ?? 0,
      escrowsPruned: false,
      lastExecution: executionJson(status.lastExecution === undefined ? last : status.lastExecution),
      lastSuccessfulExecution: executionJson(last),
      lastSuccessfulExecutionWithExports: executionJson(last),
      quarantine,
      steadyStateFirstAchievedTime: last?.timeEnded ?? null,
      steadyStateLastAchievedTime: last?.timeEnded ?? null,
      synchronizedEntryCountByType: [],
      troubleshootingUrl: null,
    },
    synchronizationJobSettings: [],
  };
}

function authorized(req: EmuRequest, emu: EmulatorApi, permissions: string[]): Caller | EmuResponse {
  const caller = authenticate(req, emu.world);
  if (isResponse(caller)) return caller;
  if (!hasAny(caller, ...permissions)) return forbidden(req);
  return caller;
}

function servicePrincipal(req: EmuRequest, emu: EmulatorApi): ServicePrincipal | EmuResponse {
  return emu.world.servicePrincipals.get(req.params.id!) ?? resourceNotFound(req, req.params.id!);
}

function job(req: EmuRequest, sp: ServicePrincipal): SynchronizationJob | EmuResponse {
  const found = sp.synchronizationJobs.find((candidate) => candidate.id === req.params.jobId);
  return (
    found ?? errorFor(req, 404, 'ResourceNotFound', `The synchronization job '${req.params.jobId}' was not found.`)
  );
}

function getServicePrincipal(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorized(req, emu, SERVICE_PRINCIPAL_READ);
  if (isResponse(caller)) return caller;
  const sp = servicePrincipal(req, emu);
  if (isResponse(sp)) return sp;
  const selected = parseSelect(req, 'microsoft.graph.servicePrincipal', SERVICE_PRINCIPAL_PROPERTIES);
  if (isResponse(selected)) return selected;
  return json(200, {
    '@odata.context': odataContext(emu, 'servicePrincipals/$entity'),
    ...applySelect(servicePrincipalJson(sp), selected),
  });
}

function listServicePrincipals(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorized(req, emu, SERVICE_PRINCIPAL_READ);
  if (isResponse(caller)) return caller;
  const filter = parseFilter(req, ['id', 'appId', 'displayName']);
  if (isResponse(filter)) return filter;
  const selected = parseSelect(req, 'microsoft.graph.servicePrincipal', SERVICE_PRINCIPAL_PROPERTIES);
  if (isResponse(selected)) return selected;
  const matching = [...emu.world.servicePrincipals.values()].filter((sp) =>
    matchesFilter(servicePrincipalJson(sp), filter),
  );
  const page = pageOf(req, emu, matching);
  if (isResponse(page)) return page;
  const value = page.items.map((sp) => applySelect(servicePrincipalJson(sp), selected));
  return json(200, collection(odataContext(emu, 'servicePrincipals'), value, page.nextLink));
}

/** The groups (and users) assigned to the enterprise application, as appRoleAssignments. */
function listAppRoleAssignedTo(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorized(req, emu, APP_ROLE_ASSIGNMENT_READ);
  if (isResponse(caller)) return caller;
  const sp = servicePrincipal(req, emu);
  if (isResponse(sp)) return sp;
  const assignments = [...sp.assignedGroupIds].map((groupId) => {
    const group = emu.world.groups.get(groupId);
    return {
      id: Buffer.from(`${sp.id}:${groupId}`).toString('base64url').slice(0, 43),
      deletedDateTime: null,
      appRoleId: '00000000-0000-0000-0000-000000000000',
      createdDateTime: null,
      principalDisplayName: group?.displayName ?? null,
      principalId: groupId,
      principalType: 'Group',
      resourceDisplayName: sp.displayName,
      resourceId: sp.id,
    };
  });
  const page = pageOf(req, emu, assignments);
  if (isResponse(page)) return page;
  return json(
    200,
    collection(odataContext(emu, `servicePrincipals('${sp.id}')/appRoleAssignedTo`), page.items, page.nextLink),
  );
}

/**
 * A signed-in user reads jobs (and provisions on demand) only with, besides the scope, one of the
 * roles synchronization-synchronizationjob-get lists: Application Administrator, Cloud Application
 * Administrator or Hybrid Identity Administrator (Global Administrator too).
 */
function syncReader(req: EmuRequest, emu: EmulatorApi): Caller | EmuResponse {
  const caller = authorized(req, emu, SYNC_READ);
  if (isResponse(caller)) return caller;
  if (caller.delegated && !hasRole(caller.user, PROVISIONING_ADMIN_ROLES)) return forbidden(req);
  return caller;
}

function listJobs(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = syncReader(req, emu);
  if (isResponse(caller)) return caller;
  const sp = servicePrincipal(req, emu);
  if (isResponse(sp)) return sp;
  return json(
    200,
    collection(
      odataContext(emu, `servicePrincipals('${sp.id}')/synchronization/jobs`),
      sp.synchronizationJobs.map(jobJson),
    ),
  );
}

function getJob(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = syncReader(req, emu);
  if (isResponse(caller)) return caller;
  const sp = servicePrincipal(req, emu);
  if (isResponse(sp)) return sp;
  const found = job(req, sp);
  if (isResponse(found)) return found;
  return json(200, {
    '@odata.context': odataContext(emu, `servicePrincipals('${sp.id}')/synchronization/jobs/$entity`),
    ...jobJson(found),
  });
}

interface OnDemandSubject {
  objectId?: unknown;
  objectTypeName?: unknown;
  links?: { members?: { objectId?: unknown; objectTypeName?: unknown }[] };
}

/** Seconds until the oldest call in the window leaves it (at least 1). */
function takeRateLimit(world: World): number | undefined {
  const now = world.now();
  const windowStart = now - PROVISION_ON_DEMAND_LIMIT.windowMs;
  world.provisionOnDemandCalls = world.provisionOnDemandCalls.filter((at) => at > windowStart);
  if (world.provisionOnDemandCalls.length >= PROVISION_ON_DEMAND_LIMIT.calls) {
    const oldest = Math.min(...world.provisionOnDemandCalls);
    return Math.max(1, Math.ceil((oldest + PROVISION_ON_DEMAND_LIMIT.windowMs - now) / 1000));
  }
  world.provisionOnDemandCalls.push(now);
  return undefined;
}

function provisionOnDemand(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorized(req, emu, SYNC_WRITE);
  if (isResponse(caller)) return caller;
  // Running application provisioning also takes a directory role for a signed-in user.
  if (caller.delegated && !hasRole(caller.user, PROVISIONING_ADMIN_ROLES)) return forbidden(req);
  const sp = servicePrincipal(req, emu);
  if (isResponse(sp)) return sp;
  const found = job(req, sp);
  if (isResponse(found)) return found;
  const retryAfter = takeRateLimit(emu.world);
  if (retryAfter !== undefined) {
    const throttled = errorFor(
      req,
      429,
      'TooManyRequests',
      'Too many requests. The rate limit for provisionOnDemand is 5 requests per 10 seconds.',
    );
    return { ...throttled, headers: { ...throttled.headers, 'retry-after': String(retryAfter) } };
  }
  if (found.status.code === 'Quarantine') {
    return badRequest(
      req,
      `The synchronization job '${found.id}' is in quarantine (${found.status.quarantine?.reason ?? 'unknown reason'}); on-demand provisioning is not available until the job leaves quarantine.`,
    );
  }
  if (found.status.code === 'NotConfigured') {
    return badRequest(req, `The synchronization job '${found.id}' is not configured.`);
  }

  const body = parseJsonBody<{ parameters?: { ruleId?: unknown; subjects?: OnDemandSubject[] }[] }>(req);
  const parameters = body?.parameters;
  if (!Array.isArray(parameters) || parameters.length !== 1 || !parameters[0] || typeof parameters[0] !== 'object') {
    return badRequest(req, "The request body must hold exactly one entry in 'parameters'.");
  }
  const [parameter] = parameters;
  if (parameter.ruleId !== found.ruleId)
    return badRequest(
      req,
      `The ruleId '${String(parameter.ruleId)}' does not belong to the synchronization job '${found.id}'.`,
    );
  const subjects = parameter.subjects;
  if (!Array.isArray(subjects) || subjects.length !== 1)
    return badRequest(req, "The request must name exactly one subject in 'subjects'.");
  const subject = subjects[0]!;
  if (String(subject.objectTypeName).toLowerCase() !== 'group' || typeof subject.objectId !== 'string') {
    return errorFor(
      req,
      501,
      'NotImplemented',
      'The emulator provisions on demand only a Group subject with links.members.',
    );
  }
  const members = subject.links?.members;
  if (!Array.isArray(members) || members.length === 0)
    return badRequest(req, "A Group subject must list the users to provision in 'links.members'.");
  if (members.length > PROVISION_ON_DEMAND_MAX_MEMBERS) {
    return badRequest(
      req,
      `At most ${PROVISION_ON_DEMAND_MAX_MEMBERS} group members can be provisioned on demand in one request.`,
    );
  }
  const userIds: string[] = [];
  for (const member of members) {
    if (String(member.objectTypeName).toLowerCase() !== 'user' || typeof member.objectId !== 'string') {
      return badRequest(req, "Each entry in 'links.members' must be a User with an objectId.");
    }
    userIds.push(member.objectId);
  }
  // Scoping (a group not assigned to the app) is reported like Graph does: 200 with result "Skipped".
  const result = provisionGroupOnDemand(emu.world, {
    groupId: subject.objectId,
    userIds,
    servicePrincipalId: sp.id,
    jobId: found.id,
  });
  if (!result.ok) {
    return result.status === 404
      ? resourceNotFound(req, subject.objectId)
      : badRequest(req, result.message, result.code);
  }
  return json(200, {
    ...onDemandResponseBody(result),
    '@odata.context': odataContext(emu, 'microsoft.graph.stringKeyStringValuePair'),
    '@odata.type': '#microsoft.graph.stringKeyStringValuePair',
  });
}

export function synchronizationRoutes(): Route[] {
  const sp = String.raw`\/v1\.0\/servicePrincipals\/(?<id>[^/]+)`;
  const jobs = `${sp}\\/synchronization\\/jobs`;
  return [
    route('graph', 'GET', /^\/v1\.0\/servicePrincipals$/, listServicePrincipals),
    route('graph', 'GET', new RegExp(`^${sp}$`), getServicePrincipal),
    route('graph', 'GET', new RegExp(`^${sp}\\/appRoleAssignedTo$`), listAppRoleAssignedTo),
    route('graph', 'GET', new RegExp(`^${jobs}$`), listJobs),
    route('graph', 'GET', new RegExp(`^${jobs}\\/(?<jobId>[^/]+)$`), getJob),
    route('graph', 'POST', new RegExp(`^${jobs}\\/(?<jobId>[^/]+)\\/provisionOnDemand$`), provisionOnDemand),
  ];
}
