/** The permissions ociaccess asks Entra for. */

/**
 * What a person does with the CLI decides which delegated Microsoft Graph
 * permissions it asks for: a requester only what a requester uses, an
 * approver and an operator more, asked for when first needed. A tenant that
 * consents to no more than the least-privilege set (docs/setup-entra.md)
 * therefore signs everyone in; a command that needs a permission the tenant
 * has not consented to fails naming it (SCOPE_NOT_GRANTED).
 *
 * - requester: write one's own request record (User.ReadWrite), read the
 *   approvers' records and resolve people (User.Read.All), stay signed in
 *   (offline_access); and, only where a group has an auto-approval rule, read
 *   the auto-approvals kept on the group object (Group.Read.All);
 * - approver: also add and remove the temp group's members
 *   (GroupMember.ReadWrite.All);
 * - operator: also provision on demand (Synchronization.ReadWrite.All).
 *
 * Only where a group uses the "pim" backend (docs/pim.md), every role also
 * asks for what PIM for Groups takes from a signed-in user: read the group's
 * policy (RoleManagementPolicy.Read.AzureADGroup), read one's eligibility
 * (PrivilegedEligibilitySchedule.Read.AzureADGroup), and submit, read and
 * decide schedule requests (PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup:
 * a requester's self-activation is a write, as is an approver's decision).
 */
export type DelegatedRole = 'requester' | 'approver' | 'operator';

const REQUESTER_SCOPES = ['User.ReadWrite', 'User.Read.All', 'offline_access'] as const;
const ROLE_EXTRAS: Record<DelegatedRole, readonly string[]> = {
  requester: [],
  approver: ['GroupMember.ReadWrite.All'],
  operator: ['GroupMember.ReadWrite.All', 'Synchronization.ReadWrite.All'],
};

/** Reading a group's PIM for Groups policy (doctor, and init's check of whether PIM governs the group). */
export const PIM_POLICY_SCOPE = 'RoleManagementPolicy.Read.AzureADGroup';

/** What every role asks for where a group uses the "pim" backend. */
export const PIM_DELEGATED_SCOPES = [
  PIM_POLICY_SCOPE,
  'PrivilegedEligibilitySchedule.Read.AzureADGroup',
  'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
] as const;

/**
 * The delegated scopes for a role; Group.Read.All only when some group keeps auto-approvals on its
 * object, the PIM scopes only when some group uses the "pim" backend.
 */
export function delegatedScopes(
  role: DelegatedRole,
  config?: { groups: readonly { autoApproval?: unknown; backend?: string }[] },
): string[] {
  const autoApproval = config === undefined || config.groups.some((group) => Boolean(group.autoApproval));
  const pim = config !== undefined && config.groups.some((group) => group.backend === 'pim');
  return [
    ...REQUESTER_SCOPES,
    ...(autoApproval ? ['Group.Read.All'] : []),
    ...ROLE_EXTRAS[role],
    ...(pim ? PIM_DELEGATED_SCOPES : []),
  ];
}

/** What a role asks for beyond a requester's: named when Entra refuses consent for them. */
export function scopesBeyondRequester(scopes: readonly string[]): string[] {
  return scopes.filter(
    (scope) =>
      !(REQUESTER_SCOPES as readonly string[]).includes(scope) &&
      scope !== 'Group.Read.All' &&
      !(PIM_DELEGATED_SCOPES as readonly string[]).includes(scope),
  );
}

/** Every delegated scope a role may ask for (the operator's: the broadest set the commands use). */
export const CLI_SCOPES = delegatedScopes('operator');

/**
 * What `init` asks for to look the temp group up by name: the requester's
 * scopes its sign-in already asked for (Group.Read.All among them, as no
 * config is read yet), so that whoever runs init is asked for nothing more.
 */
export const INIT_SCOPES = delegatedScopes('requester');

/**
 * Asked only by `doctor`'s app-assignment check, and only when it runs:
 * listing the groups assigned to the OCI enterprise application
 * (`appRoleAssignedTo`) takes Application.Read.All, which no other command
 * uses and which needs an administrator's consent.
 */
export const APP_ASSIGNMENT_SCOPES = ['Application.Read.All'] as const;

/**
 * The only scope an app-only (client credentials) token can ask for: every
 * application permission granted to the automation's service principal on
 * Graph, as `{graph resource}/.default`. The resource follows the cloud
 * (graph.microsoft.us, microsoftgraph.chinacloudapi.cn, the emulator).
 */
export function appOnlyGraphScope(graphBaseUrl: string): string {
  return `${graphBaseUrl.replace(/\/+$/, '')}/.default`;
}
