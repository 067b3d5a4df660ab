/**
 * Graph v1.0 routes of PIM for Groups (docs/pim.md, the contract with the CLI's adapter):
 * the membership policy, eligibility and assignment schedule instances, schedule requests
 * (create, get, list, filterByCurrentUser, cancel) and their approvals (get, PATCH a stage).
 * Permissions as each call's page lists them; approvals are delegated only.
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
import { authenticate, hasAny, hasRole, isResponse, type Caller } from '../graph/auth.js';
import { badRequest, errorFor, forbidden } from '../graph/errors.js';
import { collection, matchesFilter, odataContext, pageOf, parseFilter, type Json } from '../graph/odata.js';
import { approvalJson, assignmentJson, eligibilityJson, policyAssignmentJson, requestJson } from './json.js';
import { ACTIONS, completeApproved, parseScheduleInfo, submitRequest, type RequestInput } from './requests.js';
import type { PimAction } from './state.js';

const POLICY_READ = ['RoleManagementPolicy.Read.AzureADGroup', 'RoleManagementPolicy.ReadWrite.AzureADGroup'];
const ELIGIBILITY_READ = [
  'PrivilegedEligibilitySchedule.Read.AzureADGroup',
  'PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup',
];
const ASSIGNMENT_READ = [
  'PrivilegedAssignmentSchedule.Read.AzureADGroup',
  'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
];
const ASSIGNMENT_WRITE = ['PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup'];
/** Delegated admin actions: the group's owner or one of these roles (the emulator's reading of the RBAC note). */
const PIM_GROUP_ADMIN_ROLES = ['Global Administrator', 'Privileged Role Administrator', 'Groups Administrator'];

const PAG = String.raw`\/v1\.0\/identityGovernance\/privilegedAccess\/group`;
const CURRENT_USER = String.raw`\/filterByCurrentUser\(on='(?<on>principal|approver)'\)`;

type Authorized = Caller | EmuResponse;

function authorize(req: EmuRequest, emu: EmulatorApi, permissions: string[], delegatedOnly = false): Authorized {
  const caller = authenticate(req, emu.world);
  if (isResponse(caller)) return caller;
  if (delegatedOnly && !caller.delegated) return forbidden(req);
  if (!hasAny(caller, ...permissions)) return forbidden(req);
  return caller;
}

function listAnswer(req: EmuRequest, emu: EmulatorApi, fragment: string, items: Json[]): EmuResponse {
  const page = pageOf(req, emu, items as (Json & { id: string })[]);
  if (isResponse(page)) return page;
  return json(200, collection(odataContext(emu, fragment), page.items, page.nextLink));
}

/** The list calls without filterByCurrentUser need $filter on groupId or principalId (the list pages say so). */
function requiredFilter(req: EmuRequest, filterable: string[]) {
  const filter = parseFilter(req, filterable);
  if (isResponse(filter)) return filter;
  if (!filter || !filter.some((clause) => clause.property === 'groupId' || clause.property === 'principalId'))
    return badRequest(req, "The $filter query parameter with 'groupId' or 'principalId' is required.", 'BadRequest');
  return filter;
}

function listPolicyAssignments(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, POLICY_READ);
  if (isResponse(caller)) return caller;
  const filter = parseFilter(req, ['scopeId', 'scopeType', 'roleDefinitionId']);
  if (isResponse(filter)) return filter;
  // policyroot-list-rolemanagementpolicyassignments: "This method requires the $filter (eq) … scopeId and scopeType".
  const names = new Set((filter ?? []).map((clause) => clause.property));
  if (!names.has('scopeId') || !names.has('scopeType'))
    return badRequest(req, "The $filter query parameter with 'scopeId' and 'scopeType' is required.");
  const expandRaw = req.query.get('$expand');
  const expand = expandRaw !== null && /^\s*policy\s*(\(\s*\$expand\s*=\s*rules\s*\))?\s*$/i.test(expandRaw);
  if (expandRaw !== null && !expand) return badRequest(req, `Invalid $expand option: '${expandRaw}'.`);
  const items = [...emu.world.pim.policies]
    .map(([groupId, policy]) => policyAssignmentJson(groupId, policy, expand))
    .filter((item) => matchesFilter(item, filter));
  return listAnswer(req, emu, 'policies/roleManagementPolicyAssignments', items);
}

/**
 * The filter of a schedule-instance list: filterByCurrentUser(on='principal')
 * needs a signed-in user and takes an optional filter; the tenant-wide list
 * requires one on groupId or principalId.
 */
function schedulesFilter(req: EmuRequest, caller: { user?: unknown }, currentUser: boolean) {
  if (!currentUser) return requiredFilter(req, ['groupId', 'principalId']);
  if (!caller.user || req.params.on !== 'principal')
    return badRequest(req, "filterByCurrentUser(on='principal') needs a signed-in user.");
  return parseFilter(req, ['groupId', 'principalId']);
}

function listEligibility(currentUser: boolean) {
  return (req: EmuRequest, emu: EmulatorApi): EmuResponse => {
    const caller = authorize(req, emu, ELIGIBILITY_READ);
    if (isResponse(caller)) return caller;
    const filter = schedulesFilter(req, caller, currentUser);
    if (isResponse(filter)) return filter;
    const now = emu.world.now();
    const items = [...emu.world.pim.eligibilities.values()]
      .filter((item) => item.startDateTime <= now && (item.endDateTime === undefined || item.endDateTime > now))
      .filter((item) => !currentUser || item.principalId === caller.user!.id)
      .map(eligibilityJson)
      .filter((item) => matchesFilter(item, filter));
    return listAnswer(req, emu, 'identityGovernance/privilegedAccess/group/eligibilityScheduleInstances', items);
  };
}

function listAssignments(currentUser: boolean) {
  return (req: EmuRequest, emu: EmulatorApi): EmuResponse => {
    const caller = authorize(req, emu, ASSIGNMENT_READ);
    if (isResponse(caller)) return caller;
    const filter = schedulesFilter(req, caller, currentUser);
    if (isResponse(filter)) return filter;
    const now = emu.world.now();
    const items = [...emu.world.pim.assignments.values()]
      .filter((item) => item.startDateTime <= now)
      .filter((item) => !currentUser || item.principalId === caller.user!.id)
      .map(assignmentJson)
      .filter((item) => matchesFilter(item, filter));
    return listAnswer(req, emu, 'identityGovernance/privilegedAccess/group/assignmentScheduleInstances', items);
  };
}

function listRequests(currentUser: boolean) {
  return (req: EmuRequest, emu: EmulatorApi): EmuResponse => {
    const caller = authorize(req, emu, ASSIGNMENT_READ);
    if (isResponse(caller)) return caller;
    const pim = emu.world.pim;
    let filter;
    let mine: (requestId: string, principalId: string) => boolean = () => true;
    if (currentUser) {
      if (!caller.user) return badRequest(req, 'filterByCurrentUser needs a signed-in user.');
      const me = caller.user.id;
      mine =
        req.params.on === 'approver'
          ? (requestId) => !!pim.approvals.get(requestId)?.stages.some((stage) => stage.assignedTo.includes(me))
          : (_requestId, principalId) => principalId === me;
      filter = parseFilter(req, ['groupId', 'principalId', 'status']);
    } else filter = requiredFilter(req, ['groupId', 'principalId', 'status']);
    if (isResponse(filter)) return filter;
    const items = [...pim.requests.values()]
      .filter((request) => mine(request.id, request.principalId))
      .map(requestJson)
      .filter((item) => matchesFilter(item, filter));
    return listAnswer(req, emu, 'identityGovernance/privilegedAccess/group/assignmentScheduleRequests', items);
  };
}

function notFound(req: EmuRequest, what: string, id: string): EmuResponse {
  return errorFor(req, 404, 'ResourceNotFound', `The ${what} '${id}' was not found.`);
}

function getRequest(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, ASSIGNMENT_READ);
  if (isResponse(caller)) return caller;
  const request = emu.world.pim.requests.get(req.params.id!);
  if (!request) return notFound(req, 'assignmentScheduleRequest', req.params.id!);
  return json(200, {
    '@odata.context': odataContext(emu, 'identityGovernance/privilegedAccess/group/assignmentScheduleRequests/$entity'),
    ...requestJson(request),
  });
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function createRequest(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, ASSIGNMENT_WRITE);
  if (isResponse(caller)) return caller;
  const body = parseJsonBody<Record<string, unknown>>(req);
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return badRequest(req, 'Unable to read JSON request payload.');
  const action = body.action as PimAction;
  if (!ACTIONS.includes(action)) return badRequest(req, `The action '${String(body.action)}' is not valid.`);
  if (body.accessId !== 'member')
    return badRequest(req, "accessId must be 'member' (the emulator models memberships only).");
  const groupId = text(body.groupId);
  const principalId = text(body.principalId);
  if (!groupId || !principalId) return badRequest(req, 'groupId and principalId are required.');
  const group = emu.world.groups.get(groupId);
  if (!group) return notFound(req, 'group', groupId);
  if (!emu.world.users.has(principalId)) return notFound(req, 'principal', principalId);
  const self = action.startsWith('self');
  // A self action is the signed-in user's own; an app has no self, and nobody acts as someone else.
  if (self && (!caller.user || caller.user.id !== principalId)) return forbidden(req);
  if (
    !self &&
    caller.delegated &&
    !(caller.user && (group.owners.has(caller.user.id) || hasRole(caller.user, PIM_GROUP_ADMIN_ROLES)))
  )
    return forbidden(req);
  const scheduleInfo = parseScheduleInfo(body.scheduleInfo, emu.world.now());
  if (typeof scheduleInfo === 'string') return badRequest(req, scheduleInfo);
  const ticket = (body.ticketInfo ?? {}) as Record<string, unknown>;
  const input: RequestInput = {
    action,
    groupId,
    principalId,
    justification: text(body.justification),
    ticketInfo: { ticketNumber: text(ticket.ticketNumber), ticketSystem: text(ticket.ticketSystem) },
    scheduleInfo,
    customData: text(body.customData),
    createdBy: caller.user ? { userId: caller.user.id } : { appId: caller.appId },
  };
  const result = submitRequest(emu.world, input);
  if ('code' in result) return errorFor(req, result.status, result.code, result.message);
  return json(201, {
    '@odata.context': odataContext(emu, 'identityGovernance/privilegedAccess/group/assignmentScheduleRequests/$entity'),
    ...requestJson(result),
  });
}

function cancelRequest(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, ASSIGNMENT_WRITE);
  if (isResponse(caller)) return caller;
  const request = emu.world.pim.requests.get(req.params.id!);
  if (!request) return notFound(req, 'assignmentScheduleRequest', req.params.id!);
  // Only the request's own author cancels it (a user their own; an app what it created).
  const author = caller.user ? request.createdBy.userId === caller.user.id : request.createdBy.appId === caller.appId;
  if (!author) return forbidden(req);
  if (request.status !== 'PendingApproval')
    return badRequest(req, `The request is ${request.status} and can no longer be canceled.`, 'InvalidRequestState');
  request.status = 'Canceled';
  request.completedDateTime = emu.world.now();
  const approval = emu.world.pim.approvals.get(request.id);
  for (const stage of approval?.stages ?? []) stage.status = 'Completed';
  return { status: 204 };
}

function getApproval(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, ASSIGNMENT_READ, true);
  if (isResponse(caller)) return caller;
  const approval = emu.world.pim.approvals.get(req.params.id!);
  if (!approval) return notFound(req, 'approval', req.params.id!);
  const request = emu.world.pim.requests.get(approval.requestId)!;
  const me = caller.user!.id;
  // An approval is seen by its approvers and by the requester.
  if (request.principalId !== me && !approval.stages.some((stage) => stage.assignedTo.includes(me)))
    return forbidden(req);
  return json(200, {
    '@odata.context': odataContext(emu, 'identityGovernance/privilegedAccess/group/assignmentApprovals/$entity'),
    ...approvalJson(emu.world, approval, me),
  });
}

function reviewStage(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, ASSIGNMENT_WRITE, true);
  if (isResponse(caller)) return caller;
  const world = emu.world;
  const approval = world.pim.approvals.get(req.params.id!);
  if (!approval) return notFound(req, 'approval', req.params.id!);
  const stage = approval.stages.find((candidate) => candidate.id === req.params.stageId);
  if (!stage) return notFound(req, 'approvalStage', req.params.stageId!);
  const request = world.pim.requests.get(approval.requestId)!;
  const me = caller.user!.id;
  if (!stage.assignedTo.includes(me)) return forbidden(req);
  // Self-approval: a requester who is also an approver cannot decide their own request.
  if (request.principalId === me || request.createdBy.userId === me)
    return errorFor(req, 403, 'Authorization_RequestDenied', 'The requestor cannot approve their own request.');
  const body = parseJsonBody<{ reviewResult?: unknown; justification?: unknown }>(req) ?? {};
  if (body.reviewResult !== 'Approve' && body.reviewResult !== 'Deny')
    return badRequest(req, "reviewResult must be 'Approve' or 'Deny'.");
  if (stage.status !== 'InProgress' || request.status !== 'PendingApproval')
    return errorFor(req, 409, 'Conflict', 'The approval stage has already been completed.');
  const now = world.now();
  stage.status = 'Completed';
  stage.reviewResult = body.reviewResult;
  stage.reviewedBy = me;
  stage.reviewedDateTime = now;
  stage.justification = typeof body.justification === 'string' ? body.justification : '';
  if (body.reviewResult === 'Deny') {
    request.status = 'Denied';
    request.completedDateTime = now;
  } else completeApproved(world, request);
  return { status: 204 };
}

export function pimRoutes(): Route[] {
  const requests = `${PAG}\\/assignmentScheduleRequests`;
  return [
    route('graph', 'GET', /^\/v1\.0\/policies\/roleManagementPolicyAssignments$/, listPolicyAssignments),
    route('graph', 'GET', new RegExp(`^${PAG}\\/eligibilityScheduleInstances$`), listEligibility(false)),
    route('graph', 'GET', new RegExp(`^${PAG}\\/eligibilityScheduleInstances${CURRENT_USER}$`), listEligibility(true)),
    route('graph', 'GET', new RegExp(`^${PAG}\\/assignmentScheduleInstances$`), listAssignments(false)),
    route('graph', 'GET', new RegExp(`^${PAG}\\/assignmentScheduleInstances${CURRENT_USER}$`), listAssignments(true)),
    route('graph', 'GET', new RegExp(`^${requests}$`), listRequests(false)),
    route('graph', 'POST', new RegExp(`^${requests}$`), createRequest),
    route('graph', 'GET', new RegExp(`^${requests}${CURRENT_USER}$`), listRequests(true)),
    route('graph', 'GET', new RegExp(`^${requests}\\/(?<id>[^/()]+)$`), getRequest),
    route('graph', 'POST', new RegExp(`^${requests}\\/(?<id>[^/]+)\\/cancel$`), cancelRequest),
    route('graph', 'GET', new RegExp(`^${PAG}\\/assignmentApprovals\\/(?<id>[^/]+)$`), getApproval),
    // approvalstage-update: the v1.0 resource's navigation property is "stages", while the page's
    // HTTP request line for PIM for Groups writes ".../steps/{approvalStageId}"; both are accepted.
    route(
      'graph',
      'PATCH',
      new RegExp(`^${PAG}\\/assignmentApprovals\\/(?<id>[^/]+)\\/(?:stages|steps)\\/(?<stageId>[^/]+)$`),
      reviewStage,
    ),
  ];
}
