/**
 * Service principals and their provisioning (synchronization) jobs: read the
 * app, the groups assigned to it and the job's status (quarantine included),
 * and provision on demand with Graph's validation and rate limit (5 calls per
 * 10 seconds). The provisioning itself belongs to the emulator's provisioning
 * engine (../provisioning.ts).
 */
import { json, parseJsonBody, route, type EmuRequest, type EmuResponse, type EmulatorApi, type Route } from '../http.js';
import * as provisioning from '../provisioning.js';
import type { ServicePrincipal, SynchronizationJob, World } from '../state.js';
import {
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
import { applySelect, collection, matchesFilter, odataContext, pageOf, parseFilter, parseSelect, type Json } from './odata.js';

export const PROVISION_ON_DEMAND_LIMIT = { calls: 5, windowMs: 10_000 } as const;
export const PROVISION_ON_DEMAND_MAX_MEMBERS = 5;

type ProvisionOnDemand = (world: World, request: { groupId: string; userIds: string[] }) => unknown;

/** The engine's entry point, looked up at call time so the route works whether or not it is there yet. */
function provisioningEngine(): ProvisionOnDemand | undefined {
  const candidate = (provisioning as unknown as { provisionOnDemand?: unknown }).provisionOnDemand;
  return typeof candidate === 'function' ? (candidate as ProvisionOnDemand) : undefined;
}

/** ISO 8601 duration of a cycle, e.g. PT40M. */
function isoDuration(ms: number): string {
  const totalSeconds = Math.max(0, Math.round(ms / 1000));
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  const parts = `${hours ? `${hours}H` : ''}${minutes ? `${minutes}M` : ''}${seconds ? `${seconds}S` : ''}`;
  return `PT${parts || '0S'}`;
}

function jobJson(job: SynchronizationJob): Json {
  const last = job.status.lastSuccessfulExecution;
  const quarantine = job.status.quarantine
    ? {
        currentBegan: job.status.quarantine.currentBegan,
        nextAttempt: job.status.quarantine.nextAttempt,
        reason: job.status.quarantine.reason,
        seriesBegan: job.status.quarantine.currentBegan,
        seriesCount: 1,
        error: null,
      }
    : null;
  return {
    id: job.id,
    templateId: job.templateId,
    schedule: {
      expiration: null,
      interval: isoDuration(job.intervalMs),
      state: job.status.code === 'Paused' ? 'Paused' : 'Active',
    },
    status: {
      code: job.status.code,
      countSuccessiveCompleteFailures: 0,
      escrowsPruned: false,
      lastExecution: last,
      lastSuccessfulExecution: last,
      lastSuccessfulExecutionWithExports: last,
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
  return found ?? errorFor(req, 404, 'ResourceNotFound', `The synchronization job '${req.params.jobId}' was not found.`);
}

function getServicePrincipal(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorized(req, emu, SERVICE_PRINCIPAL_READ);
  if (isResponse(caller)) return caller;
  const sp = servicePrincipal(req, emu);
  if (isResponse(sp)) return sp;
  const selected = parseSelect(req, 'microsoft.graph.servicePrincipal', SERVICE_PRINCIPAL_PROPERTIES);
  if (isResponse(selected)) return selected;
  return json(200, { '@odata.context': odataContext(emu, 'servicePrincipals/$entity'), ...applySelect(servicePrincipalJson(sp), selected) });
}

function listServicePrincipals(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorized(req, emu, SERVICE_PRINCIPAL_READ);
  if (isResponse(caller)) return caller;
  const filter = parseFilter(req, ['id', 'appId', 'displayName']);
  if (isResponse(filter)) return filter;
  const selected = parseSelect(req, 'microsoft.graph.servicePrincipal', SERVICE_PRINCIPAL_PROPERTIES);
  if (isResponse(selected)) return selected;
  const matching = [...emu.world.servicePrincipals.values()].filter((sp) => matchesFilter(servicePrincipalJson(sp), filter));
  const page = pageOf(req, emu, matching);
  if (isResponse(page)) return page;
  const value = page.items.map((sp) => applySelect(servicePrincipalJson(sp), selected));
  return json(200, collection(odataContext(emu, 'servicePrincipals'), value, page.nextLink));
}

/** The groups (and users) assigned to the enterprise application, as appRoleAssignments. */
function listAppRoleAssignedTo(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorized(req, emu, SERVICE_PRINCIPAL_READ);
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
  return json(200, collection(odataContext(emu, `servicePrincipals('${sp.id}')/appRoleAssignedTo`), page.items, page.nextLink));
}

function listJobs(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorized(req, emu, SYNC_READ);
  if (isResponse(caller)) return caller;
  const sp = servicePrincipal(req, emu);
  if (isResponse(sp)) return sp;
  return json(200, collection(odataContext(emu, `servicePrincipals('${sp.id}')/synchronization/jobs`), sp.synchronizationJobs.map(jobJson)));
}

function getJob(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorized(req, emu, SYNC_READ);
  if (isResponse(caller)) return caller;
  const sp = servicePrincipal(req, emu);
  if (isResponse(sp)) return sp;
  const found = job(req, sp);
  if (isResponse(found)) return found;
  return json(200, { '@odata.context': odataContext(emu, `servicePrincipals('${sp.id}')/synchronization/jobs/$entity`), ...jobJson(found) });
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
    const throttled = errorFor(req, 429, 'TooManyRequests', 'Too many requests. The rate limit for provisionOnDemand is 5 requests per 10 seconds.');
    return { ...throttled, headers: { ...throttled.headers, 'retry-after': String(retryAfter) } };
  }
  if (found.status.code === 'Quarantine') {
    return badRequest(req, `The synchronization job '${found.id}' is in quarantine (${found.status.quarantine?.reason ?? 'unknown reason'}); on-demand provisioning is not available until the job leaves quarantine.`);
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
  if (parameter.ruleId !== found.ruleId) return badRequest(req, `The ruleId '${String(parameter.ruleId)}' does not belong to the synchronization job '${found.id}'.`);
  const subjects = parameter.subjects;
  if (!Array.isArray(subjects) || subjects.length !== 1) return badRequest(req, "The request must name exactly one subject in 'subjects'.");
  const subject = subjects[0]!;
  if (String(subject.objectTypeName).toLowerCase() !== 'group' || typeof subject.objectId !== 'string') {
    return errorFor(req, 501, 'NotImplemented', 'The emulator provisions on demand only a Group subject with links.members.');
  }
  const members = subject.links?.members;
  if (!Array.isArray(members) || members.length === 0) return badRequest(req, "A Group subject must list the users to provision in 'links.members'.");
  if (members.length > PROVISION_ON_DEMAND_MAX_MEMBERS) {
    return badRequest(req, `At most ${PROVISION_ON_DEMAND_MAX_MEMBERS} group members can be provisioned on demand in one request.`);
  }
  const group = emu.world.groups.get(subject.objectId);
  if (!group) return resourceNotFound(req, subject.objectId);
  if (!sp.assignedGroupIds.has(group.id)) {
    return badRequest(req, `The group '${group.displayName}' is not assigned to the application '${sp.displayName}', so it is out of provisioning scope.`);
  }
  const userIds: string[] = [];
  for (const member of members) {
    if (String(member.objectTypeName).toLowerCase() !== 'user' || typeof member.objectId !== 'string') {
      return badRequest(req, "Each entry in 'links.members' must be a User with an objectId.");
    }
    if (!emu.world.users.has(member.objectId)) return resourceNotFound(req, member.objectId);
    userIds.push(member.objectId);
  }

  const engine = provisioningEngine();
  if (!engine) return errorFor(req, 501, 'NotImplemented', 'The emulator has no provisioning engine (provisionOnDemand is missing).');
  const startTime = emu.world.nowIso();
  engine(emu.world, { groupId: group.id, userIds });
  const endTime = emu.world.nowIso();
  const steps = [
    {
      name: 'EntryImport',
      type: 'Import',
      status: 'Success',
      description: `Retrieved Group '${group.displayName}' from Microsoft Entra ID`,
      timestamp: startTime,
      details: { objectId: group.id, displayName: group.displayName },
    },
    {
      name: 'EntrySynchronizationScoping',
      type: 'Scoping',
      status: 'Success',
      description: 'Determine if Group in scope by evaluating against each scoping filter',
      timestamp: startTime,
      details: { Assigned: 'True', IsActive: 'True', IsEffectivelyEntitledForProvisioning: 'True' },
    },
    {
      name: 'EntryExportUpdate',
      type: 'Export',
      status: 'Success',
      description: `Group '${group.displayName}' was updated in the target system for ${userIds.length} member(s)`,
      timestamp: endTime,
      details: { members: userIds.join(',') },
    },
  ];
  const value = {
    action: 'Update',
    changeId: Buffer.from(`${found.id}:${startTime}`).toString('base64url').slice(0, 36),
    startTime,
    endTime,
    provisioningSteps: steps,
    reportableIdentifier: group.displayName,
    sourceIdentity: { id: group.id, type: 'Group', displayName: group.displayName, details: null },
    sourceSystem: { id: null, name: 'Azure Active Directory', details: null },
    statusInfo: { status: 'Success', errorCode: null, reason: null, additionalDetails: null, errorCategory: null, recommendedAction: null },
    targetSystem: { id: null, name: found.templateId, details: null },
  };
  return json(200, {
    '@odata.context': odataContext(emu, 'microsoft.graph.stringKeyStringValuePair'),
    '@odata.type': '#microsoft.graph.stringKeyStringValuePair',
    key: JSON.stringify({ result: 'Success', details: {} }),
    value: JSON.stringify(value),
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
