/**
 * Which Microsoft Graph permissions each command needs, and which of them an
 * access token lacks. Used by `doctor`, which reads the token's own claims
 * (`scp` for a person's delegated token, `roles` for the automation's
 * app-only token) instead of waiting for a 403 in the middle of an approval.
 *
 * "Needs" is least privilege (see docs/setup-entra.md); a broader permission
 * satisfies a narrower one (GroupMember.ReadWrite.All covers
 * GroupMember.Read.All, Directory.ReadWrite.All covers nearly everything).
 */

export interface TokenClaims {
  /** Delegated permissions, space-separated in the token. */
  scp?: string;
  /** Application permissions (app-only tokens). */
  roles?: string[];
  tid?: string;
  oid?: string;
  upn?: string;
  preferred_username?: string;
  appid?: string;
  azp?: string;
  idtyp?: string;
  aud?: string;
  exp?: number;
  [claim: string]: unknown;
}

/**
 * The claims of a JWT-shaped access token, or null when the token is opaque.
 * The signature is not checked: the token is our own, just received from
 * Entra, and only read here to explain what Graph will allow.
 */
export function decodeTokenClaims(token: string): TokenClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? (claims as TokenClaims) : null;
  } catch {
    return null;
  }
}

/** The Graph permissions a token carries, by their canonical names. */
export function grantedPermissions(claims: TokenClaims): string[] {
  const delegated = typeof claims.scp === 'string' ? claims.scp.split(/\s+/).filter(Boolean) : [];
  const application = Array.isArray(claims.roles)
    ? claims.roles.filter((role): role is string => typeof role === 'string')
    : [];
  return [...delegated, ...application];
}

/** For each permission the tool asks for, the permissions that also allow what it needs. */
const SATISFIED_BY: Record<string, string[]> = {
  'User.Read': [
    'User.Read',
    'User.ReadWrite',
    'User.ReadBasic.All',
    'User.Read.All',
    'User.ReadWrite.All',
    'Directory.Read.All',
    'Directory.ReadWrite.All',
  ],
  'User.ReadWrite': ['User.ReadWrite', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
  'User.Read.All': ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  'GroupMember.Read.All': [
    'GroupMember.Read.All',
    'GroupMember.ReadWrite.All',
    'Group.Read.All',
    'Group.ReadWrite.All',
    'Directory.Read.All',
    'Directory.ReadWrite.All',
  ],
  'GroupMember.ReadWrite.All': ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.ReadWrite.All'],
  'Group.Read.All': ['Group.Read.All', 'Group.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  'Group.ReadWrite.All': ['Group.ReadWrite.All', 'Directory.ReadWrite.All'],
  'Synchronization.Read.All': ['Synchronization.Read.All', 'Synchronization.ReadWrite.All'],
  'Synchronization.ReadWrite.All': ['Synchronization.ReadWrite.All'],
  'RoleManagementPolicy.Read.AzureADGroup': [
    'RoleManagementPolicy.Read.AzureADGroup',
    'RoleManagementPolicy.ReadWrite.AzureADGroup',
  ],
  'PrivilegedEligibilitySchedule.Read.AzureADGroup': [
    'PrivilegedEligibilitySchedule.Read.AzureADGroup',
    'PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup',
    'PrivilegedAccess.Read.AzureADGroup',
    'PrivilegedAccess.ReadWrite.AzureADGroup',
  ],
  'PrivilegedAssignmentSchedule.Read.AzureADGroup': [
    'PrivilegedAssignmentSchedule.Read.AzureADGroup',
    'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
    'PrivilegedAccess.Read.AzureADGroup',
    'PrivilegedAccess.ReadWrite.AzureADGroup',
  ],
  'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup': [
    'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
    'PrivilegedAccess.ReadWrite.AzureADGroup',
  ],
  'Application.Read.All': [
    'Application.Read.All',
    'Application.ReadWrite.All',
    'Directory.Read.All',
    'Directory.ReadWrite.All',
  ],
};

export function isSatisfied(permission: string, granted: Iterable<string>): boolean {
  const have = new Set([...granted].map((name) => name.toLowerCase()));
  return (SATISFIED_BY[permission] ?? [permission]).some((name) => have.has(name.toLowerCase()));
}

export interface PermissionNeed {
  /** The command (or feature) that needs it, as a person would type it. */
  command: string;
  permission: string;
  why: string;
  /** Required: the command fails without it. Optional: only a feature (e.g. provision on demand) does. */
  required: boolean;
}

export interface NeedsOptions {
  /** Some group has an auto-approval rule (its decisions live on the group object). */
  autoApproval: boolean;
  /** provisioning.provisionOnDemand is on (approve, revoke and sweep push changes to OCI at once). */
  provisionOnDemand: boolean;
  /** A provisioning section is configured (sweep reads the job's quarantine state). */
  provisioning: boolean;
  /** Whose needs (delegated only): a requester's are a subset of an approver's (default: approver). */
  role?: 'requester' | 'approver';
  /** Some group uses the "pim" backend (docs/pim.md). */
  pim?: boolean;
}

/** What PIM for Groups takes from a person (docs/pim.md): the same for requesters and approvers. */
function pimDelegatedNeeds(role: 'requester' | 'approver'): PermissionNeed[] {
  const needs: PermissionNeed[] = [
    {
      command: 'request',
      permission: 'RoleManagementPolicy.Read.AzureADGroup',
      why: "read a PIM group's policy (maximum duration, approval, justification and ticket rules)",
      required: true,
    },
    {
      command: 'request',
      permission: 'PrivilegedEligibilitySchedule.Read.AzureADGroup',
      why: 'read your PIM eligibility for a group',
      required: true,
    },
    {
      command: 'request',
      permission: 'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
      why: 'activate, extend or deactivate your membership of a PIM group',
      required: true,
    },
  ];
  if (role === 'approver') {
    needs.push({
      command: 'approve',
      permission: 'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
      why: "decide the PIM approvals assigned to you (and, for revoke --user, end someone's assignment: also needs the group's ownership or the Privileged Role Administrator role)",
      required: true,
    });
  }
  return needs;
}

/**
 * What a person's delegated token must allow, command by command, for their
 * role (the same sets the CLI asks for: src/adapters/auth/scopes.ts).
 */
export function delegatedNeeds(options: NeedsOptions): PermissionNeed[] {
  const needs: PermissionNeed[] = [
    {
      command: 'request',
      permission: 'User.ReadWrite',
      why: 'write your own request record (an open extension on your user)',
      required: true,
    },
    { command: 'status', permission: 'User.Read.All', why: "read the approvers' decision records", required: true },
    { command: 'list', permission: 'User.Read.All', why: "read the requesters' records", required: true },
  ];
  if (options.autoApproval) {
    needs.push({
      command: 'status',
      permission: 'Group.Read.All',
      why: "read the auto-approval decisions kept on the group's object",
      required: true,
    });
  }
  if (options.pim) needs.push(...pimDelegatedNeeds(options.role ?? 'approver'));
  if (options.role === 'requester') return needs;
  needs.push(
    { command: 'approve', permission: 'User.ReadWrite', why: 'write your own decision record', required: true },
    {
      command: 'approve',
      permission: 'GroupMember.ReadWrite.All',
      why: 'add the requester to the group (you must also own it, or be a Groups Administrator)',
      required: true,
    },
    {
      command: 'revoke',
      permission: 'GroupMember.ReadWrite.All',
      why: 'remove the member from the group',
      required: true,
    },
  );
  needs.push({
    command: 'approve --provision-now',
    permission: 'Synchronization.ReadWrite.All',
    why: 'ask Entra to provision the change to OCI at once (also needs an application administrator role)',
    required: options.provisionOnDemand,
  });
  return needs;
}

/** What the automation's app-only token must allow for `sweep`. */
export function applicationNeeds(options: NeedsOptions): PermissionNeed[] {
  const needs: PermissionNeed[] = [
    {
      command: 'sweep',
      permission: 'User.Read.All',
      why: 'resolve members and read request and decision records',
      required: true,
    },
    {
      command: 'sweep',
      permission: 'GroupMember.ReadWrite.All',
      why: 'remove expired and unapproved members, add auto-approved ones',
      required: true,
    },
  ];
  if (options.pim) {
    needs.push(
      {
        command: 'sweep',
        permission: 'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
        why: "read a PIM group's active assignments, and end (adminRemove) those no grant covers",
        required: true,
      },
      {
        command: 'doctor --as app',
        permission: 'RoleManagementPolicy.Read.AzureADGroup',
        why: "read a PIM group's policy",
        required: false,
      },
    );
  }
  if (options.autoApproval) {
    needs.push({
      command: 'sweep',
      permission: 'Group.ReadWrite.All',
      why: "record auto-approvals on the group's object",
      required: true,
    });
  }
  if (options.provisioning) {
    needs.push({
      command: 'sweep',
      permission: options.provisionOnDemand ? 'Synchronization.ReadWrite.All' : 'Synchronization.Read.All',
      why: options.provisionOnDemand
        ? 'read the provisioning job and provision removals on demand'
        : "read the provisioning job's state (quarantine)",
      required: true,
    });
  }
  if (options.provisioning) {
    needs.push({
      command: 'doctor --as app',
      permission: 'Application.Read.All',
      why: 'check that the groups are assigned to the OCI enterprise application',
      required: false,
    });
  }
  if (!options.provisionOnDemand) {
    needs.push({
      command: 'sweep --provision-now',
      permission: 'Synchronization.ReadWrite.All',
      why: 'provision removals to OCI at once',
      required: false,
    });
  }
  return needs;
}

export function missingPermissions(needs: PermissionNeed[], granted: Iterable<string>): PermissionNeed[] {
  const have = [...granted];
  return needs.filter((need) => !isSatisfied(need.permission, have));
}
