/** PIM for Groups objects as Graph v1.0 renders them (the resources' documented properties). */
import type { World } from '../state.js';
import type { PimApproval, PimAssignment, PimEligibility, PimPolicy, PimRequest } from './state.js';
import type { Json } from '../graph/odata.js';

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

export function policyIdOf(groupId: string): string {
  return `Group_${groupId}_member`;
}

function target(caller: 'EndUser' | 'Admin', level: 'Assignment' | 'Eligibility') {
  return { caller, operations: ['all'], level, inheritableSettings: [], enforcedSettings: [] };
}

/** The policy's rules: the ones the emulator enforces, as Entra names them (unifiedrolemanagementpolicyrule). */
export function policyRulesJson(policy: PimPolicy): Json[] {
  return [
    {
      '@odata.type': '#microsoft.graph.unifiedRoleManagementPolicyExpirationRule',
      id: 'Expiration_EndUser_Assignment',
      isExpirationRequired: policy.isExpirationRequired,
      maximumDuration: policy.maximumDuration,
      target: target('EndUser', 'Assignment'),
    },
    {
      '@odata.type': '#microsoft.graph.unifiedRoleManagementPolicyEnablementRule',
      id: 'Enablement_EndUser_Assignment',
      enabledRules: [...policy.enabledRules],
      target: target('EndUser', 'Assignment'),
    },
    {
      '@odata.type': '#microsoft.graph.unifiedRoleManagementPolicyApprovalRule',
      id: 'Approval_EndUser_Assignment',
      target: target('EndUser', 'Assignment'),
      setting: {
        isApprovalRequired: policy.isApprovalRequired,
        isApprovalRequiredForExtension: false,
        isRequestorJustificationRequired: true,
        approvalMode: 'SingleStage',
        approvalStages: [
          {
            approvalStageTimeOutInDays: policy.approvalStageTimeOutInDays,
            isApproverJustificationRequired: true,
            escalationTimeInMinutes: 0,
            isEscalationEnabled: false,
            primaryApprovers: [
              ...policy.approverUserIds.map((userId) => ({ '@odata.type': '#microsoft.graph.singleUser', userId })),
              ...policy.approverGroupIds.map((groupId) => ({
                '@odata.type': '#microsoft.graph.groupMembers',
                groupId,
              })),
            ],
            escalationApprovers: [],
          },
        ],
      },
    },
  ];
}

export function policyAssignmentJson(groupId: string, policy: PimPolicy, expand: boolean): Json {
  const policyId = policyIdOf(groupId);
  const body: Json = {
    id: `${policyId}_member`,
    policyId,
    scopeId: groupId,
    scopeType: 'Group',
    roleDefinitionId: 'member',
  };
  if (expand) {
    body.policy = {
      id: policyId,
      displayName: 'Group',
      description: 'Group',
      isOrganizationDefault: false,
      scopeId: groupId,
      scopeType: 'Group',
      lastModifiedDateTime: null,
      lastModifiedBy: { displayName: null, id: null },
      rules: policyRulesJson(policy),
    };
  }
  return body;
}

export function eligibilityJson(eligibility: PimEligibility): Json {
  return {
    id: eligibility.id,
    accessId: 'member',
    groupId: eligibility.groupId,
    principalId: eligibility.principalId,
    memberType: 'Direct',
    startDateTime: iso(eligibility.startDateTime),
    endDateTime: iso(eligibility.endDateTime),
    eligibilityScheduleId: eligibility.id,
  };
}

export function assignmentJson(assignment: PimAssignment): Json {
  return {
    id: assignment.id,
    accessId: 'member',
    groupId: assignment.groupId,
    principalId: assignment.principalId,
    memberType: 'Direct',
    assignmentType: assignment.assignmentType,
    startDateTime: iso(assignment.startDateTime),
    endDateTime: iso(assignment.endDateTime),
    assignmentScheduleId: assignment.id,
  };
}

export function requestJson(request: PimRequest): Json {
  const schedule = request.scheduleInfo;
  return {
    id: request.id,
    status: request.status,
    action: request.action,
    accessId: request.accessId,
    groupId: request.groupId,
    principalId: request.principalId,
    justification: request.justification,
    customData: request.customData,
    isValidationOnly: false,
    approvalId: request.approvalId,
    targetScheduleId: request.targetScheduleId,
    createdDateTime: iso(request.createdDateTime),
    completedDateTime: iso(request.completedDateTime),
    createdBy: request.createdBy.userId
      ? { user: { id: request.createdBy.userId } }
      : { application: { id: request.createdBy.appId ?? null } },
    ticketInfo: { ...request.ticketInfo },
    scheduleInfo: schedule
      ? {
          startDateTime: iso(schedule.startDateTime),
          recurrence: null,
          expiration: {
            type: schedule.expiration.type,
            duration: schedule.expiration.duration ?? null,
            endDateTime: iso(schedule.expiration.endDateTime),
          },
        }
      : null,
  };
}

/** approval: stages with assignedToMe as the caller sees it (approval-get). */
export function approvalJson(world: World, approval: PimApproval, callerId: string | undefined): Json {
  return {
    id: approval.id,
    stages: approval.stages.map((stage) => {
      const reviewer = stage.reviewedBy ? world.users.get(stage.reviewedBy) : undefined;
      return {
        id: stage.id,
        displayName: null,
        reviewedDateTime: iso(stage.reviewedDateTime),
        reviewResult: stage.reviewResult,
        status: stage.status,
        assignedToMe: !!callerId && stage.assignedTo.includes(callerId),
        justification: stage.justification,
        reviewedBy: reviewer
          ? { id: reviewer.id, displayName: reviewer.displayName, userPrincipalName: reviewer.userPrincipalName }
          : null,
      };
    }),
  };
}
