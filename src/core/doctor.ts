/**
 * `doctor`: checks the whole chain, in the order the data flows — config,
 * sign-in, Graph permissions, the Entra groups, their assignment to the OCI
 * enterprise application, the provisioning job, the OCI domain and group,
 * JIT — and says for each failure what to do. Every check runs even when an
 * earlier one warned; a check whose input is missing (no sign-in, no OCI
 * client) is skipped and says why. The probes are the only I/O.
 */
import type { Config, GroupConfig, OciConfig } from '../config/schema.js';
import type { PimPolicy } from './pim/port.js';
import { describePolicy } from './pim/policy.js';
import { requireOci } from '../config/oci.js';
import { isObjectId } from '../config/object-id.js';
import { ExitCode, OciAccessError } from '../errors.js';
import type { OciPort } from './ports.js';
import { isoSeconds } from './time-text.js';
import {
  describeSyncError,
  provisioningHealth,
  type ProvisioningHealth,
  type SyncJobStatus,
} from './provisioning-health.js';
import {
  applicationNeeds,
  decodeTokenClaims,
  delegatedNeeds,
  grantedPermissions,
  missingPermissions,
  type NeedsOptions,
} from './permissions.js';

export interface NamedObject {
  id: string;
  displayName: string;
  /** Groups only: a role-assignable group, whose members only a Privileged Role Administrator (with RoleManagement.ReadWrite.Directory) may change. */
  isAssignableToRole?: boolean;
}

/** A user or group assigned to an enterprise application (appRoleAssignedTo). */
export interface AppAssignment {
  principalId: string;
  principalType: string;
  principalDisplayName: string | null;
}

/** A provisioning (synchronization) job's status, as doctor needs it. */
export type SyncJobInfo = SyncJobStatus;

/** How one SAML identity provider of the OCI domain does JIT provisioning. */
export interface JitSettings {
  id: string;
  name: string;
  enabled: boolean;
  jitEnabled: boolean;
  createUsers: boolean;
  groupAssignmentMethod: string | null;
  mappingMode: string | null;
  /** OCI group ids that the assertion's groups are mapped to (explicit mapping mode). */
  mappedOciGroupIds: string[];
}

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';
/**
 * What a failure means for the exit code: config → 2, auth (sign-in,
 * permissions, OCI key) → 4, upstream (a service that does not answer) → 5,
 * anything else → 1.
 */
export type CheckCategory = 'config' | 'auth' | 'upstream' | 'entra' | 'okta' | 'oci';

/** Codes of a service that did not answer (after retries), as opposed to one that answered "no". */
const NO_ANSWER = new Set([
  'ENTRA_UNREACHABLE',
  'OKTA_UNAVAILABLE',
  'GRAPH_UNAVAILABLE',
  'OCI_UNAVAILABLE',
  'EMULATOR_UNREACHABLE',
  'HTTP_DEADLINE_EXCEEDED',
]);

/** The category of a typed error's failure, by its exit code; `fallback` for the rest. */
export function categoryOf(error: unknown, fallback: CheckCategory): CheckCategory {
  if (!(error instanceof OciAccessError)) return fallback;
  if (error.exitCode === ExitCode.usage) return 'config';
  if (error.exitCode === ExitCode.auth) return 'auth';
  if (NO_ANSWER.has(error.code)) return 'upstream';
  return fallback;
}

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  category: CheckCategory;
  detail: string;
  fix: string | null;
}

export interface DoctorReport {
  identity: 'user' | 'app';
  ok: boolean;
  exitCode: number;
  summary: Record<CheckStatus, number>;
  checks: CheckResult[];
}

export interface DoctorGraph {
  getGroup(id: string): Promise<NamedObject | null>;
  nestedGroups(groupId: string): Promise<NamedObject[]>;
  userExists(upn: string): Promise<boolean>;
  appAssignments(servicePrincipalId: string): Promise<AppAssignment[]>;
  syncJob(servicePrincipalId: string, jobId: string): Promise<SyncJobInfo | null>;
  /** The PIM for Groups policy of a group's membership; null when PIM does not govern it (pim groups only). */
  pimPolicy?(groupId: string): Promise<PimPolicy | null>;
}

export interface DoctorProbes {
  identity: 'user' | 'app';
  now(): Date;
  /**
   * How a past or future time is shown in a check's detail: relative and
   * absolute on a terminal, absolute UTC when piped or in JSON (the CLI's
   * out.time). Absolute UTC to the second when not given.
   */
  time?(when: Date, now: Date): string;
  /** The validated config; throws a ConfigError when it is missing or invalid. */
  config(): Promise<Config>;
  /** The authority's published token endpoint (OpenID configuration). */
  authority(config: Config): Promise<{ tokenEndpoint: string; expectedTokenEndpoint: string }>;
  /** A Graph access token for the identity being checked, and who it is. */
  token(config: Config): Promise<{ token: string; expiresOn: Date; who: string; role?: 'requester' | 'approver' }>;
  graph(config: Config): DoctorGraph;
  /**
   * Who can read or change the files that hold authority (the config, the
   * automation's secret or key, the OCI config and API key, the state
   * directory): each problem in words with the command that fixes it.
   */
  files?(config: Config): Promise<{ checked: number; problems: { message: string; fix: string }[] }>;
  /**
   * Whether each notification target's URL (and signing secret) can be read
   * from its file or environment variable, without sending anything: the
   * problems in words (naming the source, never the secret).
   */
  notifyTargets?(config: Config): { checked: number; problems: { message: string; fix: string }[] };
  /** The OCI port and the JIT reader; throws when the OCI config profile cannot be used. */
  oci(config: Config): Promise<{ domain: OciPort; identityProviders(): Promise<JitSettings[]> }>;
}

/** A Graph failure as a check result: 403 names the permission the check needs. */
function graphFailure(error: unknown, permission: string): Pick<CheckResult, 'detail' | 'fix' | 'category'> {
  const status = (error as { status?: number }).status;
  if (status === 403) {
    return {
      category: 'auth',
      detail: `Graph denied the read (403): ${(error as Error).message}`,
      fix: `Grant ${permission} to this identity (admin consent), then run doctor again.`,
    };
  }
  if (error instanceof OciAccessError)
    return { category: categoryOf(error, 'entra'), detail: error.message, fix: error.hint ?? null };
  if (!status)
    return {
      category: 'upstream',
      detail: `Graph did not answer: ${(error as Error).message}`,
      fix: 'Check the network, proxy and tls.caFile; try again.',
    };
  return {
    category: 'entra',
    detail: `Graph answered ${status || 'nothing'}: ${(error as Error).message}`,
    fix: 'Try again; if it persists, run with --debug.',
  };
}

/** Absolute UTC to the second, for probes that do not say how to show a time. */
export const absoluteTime = (when: Date): string => isoSeconds(when);

/** A time Graph sent as text, shown as every other time (a text that is no time is shown as it is). */
function shownTime(probes: DoctorProbes, text: string, now: Date): string {
  const when = new Date(text);
  return Number.isNaN(when.getTime()) ? text : (probes.time ?? absoluteTime)(when, now);
}

export async function runDoctor(probes: DoctorProbes): Promise<DoctorReport> {
  const checks: CheckResult[] = [];
  const add = (
    id: string,
    title: string,
    category: CheckCategory,
    status: CheckStatus,
    detail: string,
    fix: string | null = null,
  ) => {
    checks.push({ id, title, category, status, detail, fix });
  };
  const skipRest = (reason: string, ids: [string, string, CheckCategory][]) => {
    for (const [id, title, category] of ids) add(id, title, category, 'skip', reason);
  };
  const who = probes.identity === 'app' ? 'the automation app' : 'you';

  let config: Config;
  try {
    config = await probes.config();
    add('config', 'config', 'config', 'pass', `valid: ${config.groups.length} group(s), tenant ${config.tenantId}`);
  } catch (error) {
    const e = error as OciAccessError;
    add('config', 'config', 'config', 'fail', e.message, e.hint ?? 'Run `ociaccess init`.');
    skipRest('needs a valid config', [
      ['files', 'file permissions', 'config'],
      ['authority', 'sign-in service', 'auth'],
      ['sign-in', 'sign-in', 'auth'],
      ['permissions', 'Graph permissions', 'auth'],
      ['groups', 'Entra groups', 'entra'],
      ['people', 'requesters and approvers', 'entra'],
      ['nested-groups', 'nested groups', 'entra'],
      ['app-assignment', 'OCI app assignment', 'entra'],
      ['provisioning-job', 'provisioning job', 'entra'],
      ['oci-config', 'OCI config and key', 'oci'],
      ['oci-domain', 'OCI identity domain', 'oci'],
      ['oci-group', 'OCI groups', 'oci'],
      ['jit', 'JIT provisioning', 'oci'],
    ]);
    return finish(probes.identity, checks);
  }
  const now = probes.now();

  await filesCheck(probes, config, add);

  if (probes.notifyTargets) {
    try {
      notifyCheck(probes.notifyTargets(config), add);
    } catch (error) {
      add(
        'notify',
        'notification targets',
        'config',
        'warn',
        (error as Error)?.message ?? String(error),
        'See docs/notifications.md.',
      );
    }
  }

  try {
    const { tokenEndpoint, expectedTokenEndpoint } = await probes.authority(config);
    if (tokenEndpoint === expectedTokenEndpoint)
      add(
        'authority',
        'sign-in service',
        'auth',
        'pass',
        `${config.cloud.authorityHost} publishes tenant ${config.tenantId}`,
      );
    else
      add(
        'authority',
        'sign-in service',
        'auth',
        'warn',
        `the authority publishes token endpoint ${tokenEndpoint}, not ${expectedTokenEndpoint}`,
        'Check cloud.authorityHost (sovereign clouds use their own host).',
      );
  } catch (error) {
    addError(add, 'authority', 'sign-in service', error, 'auth');
  }

  // Sign-in and permissions.
  let token: { token: string; expiresOn: Date; who: string; role?: 'requester' | 'approver' } | undefined;
  try {
    token = await probes.token(config);
  } catch (error) {
    addError(add, 'sign-in', 'sign-in', error, 'entra');
  }
  const needsOptions: NeedsOptions = {
    autoApproval: config.groups.some((group) => group.autoApproval),
    provisionOnDemand: config.provisioning?.provisionOnDemand ?? false,
    provisioning: Boolean(config.provisioning),
    pim: config.groups.some((group) => group.backend === 'pim'),
    ...(token?.role ? { role: token.role } : {}),
  };
  if (token) {
    const claims = decodeTokenClaims(token.token);
    if (claims?.tid && claims.tid !== config.tenantId) {
      add(
        'sign-in',
        'sign-in',
        'auth',
        'fail',
        `the token is for tenant ${claims.tid}, the config names ${config.tenantId}`,
        probes.identity === 'app'
          ? 'Check tenantId and automation.clientId.'
          : 'Run `ociaccess logout`, then `ociaccess login` with an account of the configured tenant.',
      );
    } else {
      add(
        'sign-in',
        'sign-in',
        'auth',
        'pass',
        `${token.who}; token expires ${(probes.time ?? absoluteTime)(token.expiresOn, probes.now())}`,
      );
    }
    if (!claims) {
      add(
        'permissions',
        'Graph permissions',
        'auth',
        'warn',
        'the access token is opaque, so its permissions cannot be read',
        'Nothing to do if the commands work; otherwise check the API permissions in the app registration.',
      );
    } else {
      const granted = grantedPermissions(claims);
      const needs = probes.identity === 'app' ? applicationNeeds(needsOptions) : delegatedNeeds(needsOptions);
      const missing = missingPermissions(needs, granted);
      const required = missing.filter((need) => need.required);
      const optional = missing.filter((need) => !need.required);
      const describe = (list: typeof missing) =>
        list.map((need) => `${need.permission} (${need.command}: ${need.why})`).join('; ');
      const kind = probes.identity === 'app' ? 'application permission' : 'delegated permission';
      const where =
        probes.identity === 'app'
          ? `the automation app ${config.automation?.clientId ?? ''}`.trim()
          : `the CLI app ${config.clientId}`;
      if (required.length > 0) {
        add(
          'permissions',
          'Graph permissions',
          'auth',
          'fail',
          `missing: ${describe(required)}`,
          `Add the ${kind}${required.length > 1 ? 's' : ''} ${[...new Set(required.map((n) => n.permission))].join(', ')} to ${where} and grant admin consent${probes.identity === 'user' ? ', then `ociaccess login` again' : ''} (docs/setup-entra.md).`,
        );
      } else if (optional.length > 0) {
        add(
          'permissions',
          'Graph permissions',
          'auth',
          'warn',
          `optional features unavailable: ${describe(optional)}`,
          `Add ${[...new Set(optional.map((n) => n.permission))].join(', ')} to ${where} if you want them.`,
        );
      } else {
        add(
          'permissions',
          'Graph permissions',
          'auth',
          'pass',
          `${who === 'you' ? 'your token' : 'the app token'} carries what ${probes.identity === 'app' ? 'sweep needs' : 'every command needs'} (${granted.length} permission(s))`,
        );
      }
    }
  } else {
    add('permissions', 'Graph permissions', 'auth', 'skip', 'needs a sign-in');
  }

  await entraChecks(probes, config, token !== undefined, now, add);
  await ociChecks(probes, config, add);
  return finish(probes.identity, checks);
}

/** Who can read or change the files that hold authority: one check, failing with the commands that fix it. */
export async function filesCheck(probes: Pick<DoctorProbes, 'files'>, config: Config, add: Add): Promise<void> {
  if (!probes.files) return;
  try {
    const { checked, problems } = await probes.files(config);
    if (problems.length)
      add(
        'files',
        'file permissions',
        'config',
        'fail',
        problems.map((p) => p.message).join('; '),
        `Check that nobody else changed them, then run: ${[...new Set(problems.map((p) => p.fix))].join(' && ')}`,
      );
    else
      add(
        'files',
        'file permissions',
        'config',
        'pass',
        `${checked} file(s) and the state directory: secrets and keys readable by their owner only, nothing writable by others`,
      );
  } catch (error) {
    addError(add, 'files', 'file permissions', error, 'config');
  }
}

export type Add = (
  id: string,
  title: string,
  category: CheckCategory,
  status: CheckStatus,
  detail: string,
  fix?: string | null,
) => void;

/** Adds a check that a thrown error decided: its message and hint, its category by exit code or `fallback`. */
export function addError(
  add: Add,
  id: string,
  title: string,
  error: unknown,
  fallback: CheckCategory,
  status: CheckStatus = 'fail',
): void {
  const detail = error instanceof Error ? error.message : String(error);
  const fix = error instanceof OciAccessError ? (error.hint ?? null) : null;
  add(id, title, categoryOf(error, fallback), status, detail, fix);
}

/**
 * A warning, not a failure: a notification never blocks an action, and a
 * target's URL may be set only where it is used (the sweep host's
 * environment), not on every machine that runs doctor.
 */
export function notifyCheck(
  { checked, problems }: { checked: number; problems: { message: string; fix: string }[] },
  add: Add,
): void {
  // No targets, no check: most configs have none, and a skipped row would only be noise.
  if (checked === 0) return;
  if (problems.length)
    add(
      'notify',
      'notification targets',
      'config',
      'warn',
      problems.map((p) => p.message).join('; '),
      [...new Set(problems.map((p) => p.fix))].join(' '),
    );
  else
    add(
      'notify',
      'notification targets',
      'config',
      'pass',
      `${checked} target(s): every URL and signing secret can be read (nothing was sent; \`ociaccess notify test\` sends a test message)`,
    );
}

async function entraChecks(
  probes: DoctorProbes,
  config: Config,
  signedIn: boolean,
  now: Date,
  add: Add,
): Promise<void> {
  const ids: [string, string][] = [
    ['groups', 'Entra groups'],
    ['people', 'requesters and approvers'],
    ['nested-groups', 'nested groups'],
    ['app-assignment', 'OCI app assignment'],
    ['provisioning-job', 'provisioning job'],
  ];
  const pimGroups = config.groups.filter((group) => group.backend === 'pim');
  if (pimGroups.length > 0) ids.push(['pim-policy', 'PIM for Groups policy']);
  if (!signedIn) {
    for (const [id, title] of ids) add(id, title, 'entra', 'skip', 'needs a sign-in');
    return;
  }
  const graph = probes.graph(config);

  const existing: NamedObject[] = [];
  try {
    const problems: string[] = [];
    const renamed: string[] = [];
    for (const group of config.groups) {
      const found = await graph.getGroup(group.entraGroupId);
      if (!found) problems.push(`"${group.name}": no Entra group has id ${group.entraGroupId}`);
      else {
        existing.push(found);
        if (found.displayName !== group.name) renamed.push(`"${group.name}" is called "${found.displayName}" in Entra`);
      }
    }
    const roleAssignable = existing.filter((g) => g.isAssignableToRole);
    if (problems.length)
      add(
        'groups',
        'Entra groups',
        'entra',
        'fail',
        problems.join('; '),
        'Fix groups[].entraGroupId (`ociaccess init` looks the group up by name), or create the group (docs/setup-entra.md).',
      );
    else if (roleAssignable.length) {
      // Graph (group-post-members, group-delete-members): owners and Groups Administrators cannot change a
      // role-assignable group's members; it takes RoleManagement.ReadWrite.Directory and, for a signed-in
      // user, the Privileged Role Administrator role.
      add(
        'groups',
        'Entra groups',
        'entra',
        'warn',
        `${roleAssignable.map((g) => `${g.displayName} (${g.id})`).join(', ')} ${roleAssignable.length > 1 ? 'are' : 'is'} role-assignable (isAssignableToRole): its owners and Groups Administrators cannot change its members — approve, revoke and sweep need the RoleManagement.ReadWrite.Directory permission${probes.identity === 'app' ? ' (application permission of the automation app)' : ' and the Privileged Role Administrator role'}`,
        probes.identity === 'app'
          ? 'Use a group that is not role-assignable (the setting cannot be turned off: create a new group), or grant the automation app the RoleManagement.ReadWrite.Directory application permission (admin consent).'
          : 'Use a group that is not role-assignable (the setting cannot be turned off: create a new group). ociaccess does not ask people for RoleManagement.ReadWrite.Directory, so approvals of such a group are refused (docs/setup-entra.md).',
      );
    } else if (renamed.length)
      add(
        'groups',
        'Entra groups',
        'entra',
        'warn',
        renamed.join('; '),
        'Rename one or the other so that people and the OCI group mapping agree.',
      );
    else add('groups', 'Entra groups', 'entra', 'pass', existing.map((g) => `${g.displayName} (${g.id})`).join(', '));
  } catch (error) {
    add('groups', 'Entra groups', ...statusOf('fail', graphFailure(error, 'GroupMember.Read.All')));
  }

  try {
    const unknown: string[] = [];
    // Standing members named by object id are not users (nested groups, service principals, devices).
    const upns = [
      ...new Set(
        config.groups.flatMap((g) => [
          ...g.eligibleRequesters,
          ...g.approvers,
          ...g.standingMembers.filter((entry) => !isObjectId(entry)),
        ]),
      ),
    ];
    for (const upn of upns.slice(0, 200)) if (!(await graph.userExists(upn))) unknown.push(upn);
    if (unknown.length)
      add(
        'people',
        'requesters and approvers',
        'entra',
        'warn',
        `not found in Entra: ${unknown.join(', ')}`,
        'Correct the user principal names in the config (a renamed user keeps their id, not their UPN).',
      );
    else add('people', 'requesters and approvers', 'entra', 'pass', `${upns.length} user(s) found`);
  } catch (error) {
    add('people', 'requesters and approvers', ...statusOf('warn', graphFailure(error, 'User.Read.All')));
  }

  try {
    const nested: string[] = [];
    for (const group of existing) {
      const inner = await graph.nestedGroups(group.id);
      if (inner.length)
        nested.push(`${group.displayName} contains ${inner.map((g) => `"${g.displayName}"`).join(', ')}`);
    }
    if (nested.length) {
      add(
        'nested-groups',
        'nested groups',
        'entra',
        'warn',
        `${nested.join('; ')}: provisioning to OCI does not follow nested groups (SAML JIT does), and sweep removes them unless listed in standingMembers by object id`,
        'Remove the nested groups and add the people directly (approvals do this for you).',
      );
    } else add('nested-groups', 'nested groups', 'entra', 'pass', 'no group has groups as members');
  } catch (error) {
    add('nested-groups', 'nested groups', ...statusOf('warn', graphFailure(error, 'GroupMember.Read.All')));
  }

  const provisioning = config.provisioning;
  if (!provisioning) {
    const fix =
      'Add provisioning.servicePrincipalId and provisioning.jobId to the config (`ociaccess init --service-principal … --job …`).';
    add(
      'app-assignment',
      'OCI app assignment',
      'entra',
      'warn',
      'no "provisioning" section: the assignment cannot be checked',
      fix,
    );
    add(
      'provisioning-job',
      'provisioning job',
      'entra',
      'warn',
      'no "provisioning" section: quarantine goes unnoticed and provision-on-demand is off',
      fix,
    );
    return;
  }
  try {
    const assigned = new Set((await graph.appAssignments(provisioning.servicePrincipalId)).map((a) => a.principalId));
    const missing = config.groups.filter((group) => !assigned.has(group.entraGroupId));
    if (missing.length) {
      add(
        'app-assignment',
        'OCI app assignment',
        'entra',
        'fail',
        `not assigned to the OCI enterprise application: ${missing.map((g) => g.name).join(', ')} — neither SCIM nor SAML sign-in will carry the membership to OCI`,
        'Entra admin center → Enterprise applications → the OCI app → Users and groups → Add user/group → the group.',
      );
    } else
      add(
        'app-assignment',
        'OCI app assignment',
        'entra',
        'pass',
        `every group is assigned to service principal ${provisioning.servicePrincipalId}`,
      );
  } catch (error) {
    if ((error as { status?: number }).status === 404) {
      add(
        'app-assignment',
        'OCI app assignment',
        'entra',
        'fail',
        `no service principal ${provisioning.servicePrincipalId}`,
        "provisioning.servicePrincipalId is the OCI enterprise application's object id (Enterprise applications → the app → Overview → Object ID).",
      );
    } else {
      // Reading an app's assignments is the one thing only doctor does: a refusal here is not a problem for the other commands.
      const refused = assignmentReadRefused(probes, config, error);
      add('app-assignment', 'OCI app assignment', ...statusOf('warn', refused ?? graphFailure(error, APP_READ)));
    }
  }

  try {
    const job = await graph.syncJob(provisioning.servicePrincipalId, provisioning.jobId);
    if (!job) {
      add(
        'provisioning-job',
        'provisioning job',
        'entra',
        'fail',
        `no provisioning job ${provisioning.jobId} on service principal ${provisioning.servicePrincipalId}`,
        'Copy the job id from GET /servicePrincipals/{id}/synchronization/jobs (docs/setup-entra.md).',
      );
    } else {
      // Graph's times, shown as every other time; a text that is no time is shown as it is.
      const shown = (text: string) => shownTime(probes, text, now);
      const [status, detail, fix] = jobCheck(provisioningHealth(job), provisioning.cycleMinutes, now, shown);
      add('provisioning-job', 'provisioning job', 'entra', status, detail, fix);
    }
  } catch (error) {
    if ((error as { status?: number }).status === 403 && probes.identity === 'user') {
      // Graph lets a signed-in user read a synchronization job only with, besides the scope, an
      // Application Administrator, Cloud Application Administrator or Hybrid Identity Administrator role.
      add(
        'provisioning-job',
        'provisioning job',
        'entra',
        'warn',
        `Microsoft Graph refused to show you the provisioning job: a signed-in user needs Synchronization.Read.All and the ${PROVISIONING_ROLES} role`,
        'Run `ociaccess doctor --as app` on the sweep host, or ask for one of those roles (it is needed for `--provision-now` too).',
      );
    } else
      add('provisioning-job', 'provisioning job', ...statusOf('fail', graphFailure(error, 'Synchronization.Read.All')));
  }
  await pimPolicyCheck(graph, pimGroups, add);
}

/**
 * For each group with the pim backend: PIM must govern its membership, and
 * what its policy says (the longest activation, approval and approvers,
 * justification and ticket) is shown, since PIM, not the config, enforces it.
 */
async function pimPolicyCheck(graph: DoctorGraph, groups: GroupConfig[], add: Add): Promise<void> {
  if (groups.length === 0 || !graph.pimPolicy) return;
  const said: string[] = [];
  const ungoverned: string[] = [];
  const wider: string[] = [];
  try {
    for (const group of groups) {
      const policy = await graph.pimPolicy(group.entraGroupId);
      if (!policy) {
        ungoverned.push(group.name);
        continue;
      }
      said.push(`${group.name}: ${describePolicy(policy)}`);
      if (!policy.approvalRequired) wider.push(`${group.name} activates without approval`);
    }
  } catch (error) {
    add(
      'pim-policy',
      'PIM for Groups policy',
      ...statusOf('fail', graphFailure(error, 'RoleManagementPolicy.Read.AzureADGroup')),
    );
    return;
  }
  if (ungoverned.length)
    add(
      'pim-policy',
      'PIM for Groups policy',
      'entra',
      'fail',
      `PIM for Groups does not govern ${ungoverned.join(', ')} (no policy assignment for its membership)`,
      'Bring the group under PIM (Entra admin center → Identity Governance → Privileged Identity Management → Groups → Discover groups), or set its "backend" to "records" (docs/pim.md).',
    );
  else if (wider.length)
    add(
      'pim-policy',
      'PIM for Groups policy',
      'entra',
      'warn',
      `${said.join('; ')}. ${wider.join('; ')}: anyone eligible gets the membership at once`,
      "Require approval in the group's PIM settings (Role settings → Member → Require approval to activate) unless self-service is intended.",
    );
  else add('pim-policy', 'PIM for Groups policy', 'entra', 'pass', said.join('; '));
}

const APP_READ = 'Application.Read.All';

const QUARANTINE_FIX =
  'Open the OCI app\'s Provisioning logs and fix the cause (usually the OCI SCIM credentials: regenerate the confidential app\'s secret token and enter it under Provisioning → Admin credentials). Entra retries 6 h, 12 h and 24 h after the first failure, then daily, and leaves quarantine by itself at the first retry that succeeds; to retry now, "Restart provisioning" (it clears the quarantine).';

/** The provisioning-job check for a job Graph showed: status, detail, fix. */
function jobCheck(
  health: ProvisioningHealth,
  cycleMinutes: number,
  now: Date,
  time: (iso: string) => string,
): [CheckStatus, string, string | null] {
  const error = describeSyncError(health.error);
  switch (health.state) {
    case 'quarantined':
      return [
        'fail',
        `in quarantine${health.since ? ` since ${time(health.since)}` : ''}: ${health.reason ?? 'no reason given'}${error ? `; error ${error}` : ''}; next attempt ${health.nextAttempt ? time(health.nextAttempt) : 'not given'} — no change reaches OCI until a retry succeeds`,
        QUARANTINE_FIX,
      ];
    case 'failing':
      return [
        'fail',
        `${health.code}, but its last ${health.failures} cycle(s) failed${error ? `: ${error}` : ''}${health.lastSuccessfulRun ? `; last successful cycle ${time(health.lastSuccessfulRun)}` : ''} — changes do not reach OCI`,
        "Open the OCI app's Provisioning logs and fix the cause named there; Entra retries at every cycle and puts the job in quarantine if it keeps failing.",
      ];
    case 'stopped':
      if (health.disabled)
        return [
          'fail',
          `disabled by Entra after four weeks in quarantine${health.since ? ` (since ${time(health.since)})` : ''}: ${health.reason ?? 'no reason given'}${error ? `; error ${error}` : ''} — no cycle runs until provisioning is restarted`,
          'Open the OCI app\'s Provisioning logs and fix the cause, then "Restart provisioning" (it clears the quarantine and runs a full cycle).',
        ];
      return [
        'fail',
        `state ${health.code}: changes are not provisioned to OCI`,
        health.code === 'Paused'
          ? 'Start provisioning on the OCI enterprise application (Provisioning → Start provisioning).'
          : 'Configure and start provisioning on the OCI enterprise application (docs/setup-entra.md).',
      ];
  }
  const last = health.lastSuccessfulRun;
  if (!last)
    return [
      'warn',
      `${health.code}, but it has not completed a cycle yet`,
      'Wait for the first cycle (up to 40 minutes), then run doctor again.',
    ];
  if (now.getTime() - new Date(last).getTime() > 3 * cycleMinutes * 60_000)
    return [
      'warn',
      `${health.code}, but its last successful cycle was ${time(last)} (cycle ~${cycleMinutes}m)`,
      'Check the Provisioning logs of the OCI enterprise application.',
    ];
  return ['pass', `${health.code}; last successful cycle ${time(last)}`, null];
}

/**
 * Listing the groups assigned to the OCI app takes Application.Read.All
 * (serviceprincipal-list-approleassignedto), delegated or application: said the
 * same way as docs/setup-entra.md, whether Entra refused to consent to it
 * (SCOPE_NOT_GRANTED, a person's token) or Graph refused the read (403).
 */
function assignmentReadRefused(
  probes: DoctorProbes,
  config: Config,
  error: unknown,
): Pick<CheckResult, 'detail' | 'fix' | 'category'> | null {
  const notConsented = (error as { code?: string }).code === 'SCOPE_NOT_GRANTED';
  if (!notConsented && (error as { status?: number }).status !== 403) return null;
  const app = probes.identity === 'app';
  const where = app
    ? `the application permission ${APP_READ} to the automation app ${config.automation?.clientId ?? ''}`.replace(
        / $/,
        '',
      )
    : `the delegated permission ${APP_READ} to the CLI app ${config.clientId}`;
  return {
    category: 'auth',
    detail: notConsented
      ? `reading the groups assigned to the OCI enterprise application needs ${APP_READ}, and Entra has no consent for it: ${(error as Error).message}`
      : `Graph denied the read (403): reading the groups assigned to the OCI enterprise application needs ${APP_READ}: ${(error as Error).message}`,
    fix: `An administrator adds ${where} and grants admin consent (docs/setup-entra.md), so doctor can check it; or check it by hand: Enterprise applications → the OCI app → Users and groups.`,
  };
}

/** The directory roles Graph asks of a signed-in user to read provisioning jobs or provision on demand. */
export const PROVISIONING_ROLES =
  'Application Administrator, Cloud Application Administrator or Hybrid Identity Administrator';

/**
 * What the OCI key is declared for (oci.access), read against who runs doctor:
 * a person's machine should hold no write key (only the sweep host changes
 * OCI), and a sweep host told to force removals needs one. Whether the key's
 * user could write anyway (its identity-domain admin roles) is not read here:
 * ociaccess refuses writes with a "read" config whatever the key can do.
 */
function keyRole(
  probes: Pick<DoctorProbes, 'identity'>,
  config: Config,
  oci: OciConfig,
): { status: CheckStatus; detail: string; fix: string | null } {
  const where = `profile ${oci.profile} of ${oci.configFile}`;
  if (probes.identity === 'user') {
    if (oci.access === 'write') {
      return {
        status: 'warn',
        detail: `${where}, declared "access": "write": this machine holds an OCI key meant to change group membership, which only the sweep host needs`,
        fix: 'On people\'s machines remove the "oci" section (status and list then say "not checked from this machine"), or use a key of its own whose user holds only the Audit Administrator role and set "access": "read" (docs/setup-oci.md).',
      };
    }
    return {
      status: 'pass',
      detail: `${where}, read-only ("access": "read"): ociaccess sends no change to OCI from here`,
      fix: null,
    };
  }
  if (oci.access === 'read' && config.sweep.forceOciAfterMinutes > 0) {
    return {
      status: 'warn',
      detail: `${where} is read-only ("access": "read"), but sweep.forceOciAfterMinutes is ${config.sweep.forceOciAfterMinutes}: forced OCI removals (and --fix-drift) will be refused`,
      fix: 'On the sweep host set "access": "write" and give the key\'s user the User Manager role (docs/setup-oci.md), or set sweep.forceOciAfterMinutes to 0.',
    };
  }
  return {
    status: 'pass',
    detail:
      oci.access === 'write'
        ? `${where}, may write ("access": "write"): forced removals and --fix-drift`
        : `${where}, read-only ("access": "read"): --fix-drift and forced removals would be refused`,
    fix: null,
  };
}

/**
 * The OCI checks. With Okta (`idp` "okta") the group reaches OCI through Push Groups, not SAML JIT
 * or Entra's provisioning: no JIT row, and the missing-group fix names the push.
 */
export async function ociChecks(
  probes: Pick<DoctorProbes, 'identity' | 'oci'>,
  config: Config,
  add: Add,
  idp: 'entra' | 'okta' = 'entra',
): Promise<void> {
  const rest = (
    [
      ['oci-domain', 'OCI identity domain'],
      ['oci-group', 'OCI groups'],
      ['jit', 'JIT provisioning'],
    ] as const
  ).filter(([id]) => idp === 'entra' || id !== 'jit');
  if (!config.oci) {
    if (probes.identity === 'app') {
      // The sweep needs the domain: the same error the sweep itself gives.
      try {
        requireOci(config, 'sweep');
      } catch (error) {
        const e = error as OciAccessError;
        add('oci-config', 'OCI config and key', 'config', 'fail', e.message, e.hint ?? null);
      }
      for (const [id, title] of rest) add(id, title, 'oci', 'skip', 'needs the "oci" section');
      return;
    }
    add(
      'oci-config',
      'OCI config and key',
      'oci',
      'skip',
      'no "oci" section: OCI is not checked from this machine (people\'s machines need no OCI key)',
    );
    for (const [id, title] of rest) add(id, title, 'oci', 'skip', 'not checked from this machine');
    return;
  }
  const ociConfig = config.oci;
  let oci: Awaited<ReturnType<DoctorProbes['oci']>>;
  try {
    oci = await probes.oci(config);
    const role = keyRole(probes, config, ociConfig);
    add('oci-config', 'OCI config and key', 'oci', role.status, role.detail, role.fix);
  } catch (error) {
    const e = error as OciAccessError;
    add(
      'oci-config',
      'OCI config and key',
      categoryOf(error, 'oci'),
      'fail',
      e.message ?? String(error),
      e.hint ?? null,
    );
    for (const [id, title] of rest) add(id, title, 'oci', 'skip', 'needs a usable OCI config profile');
    return;
  }
  const ociGroups = new Map<string, string>();
  let reached = false;
  try {
    for (const group of config.groups) {
      const found = await oci.domain.findGroup(group.ociGroupName);
      reached = true;
      if (found) ociGroups.set(group.ociGroupName, found.id);
    }
    add('oci-domain', 'OCI identity domain', 'oci', 'pass', `${ociConfig.domainUrl} answers signed requests`);
  } catch (error) {
    const e = error as OciAccessError;
    add(
      'oci-domain',
      'OCI identity domain',
      categoryOf(error, 'oci'),
      'fail',
      e.message ?? String(error),
      e.hint ?? 'Check oci.domainUrl (Identity → Domains → the domain → Domain URL).',
    );
  }
  if (!reached) add('oci-group', 'OCI groups', 'oci', 'skip', 'needs the identity domain');
  else {
    const missing = config.groups.filter((group) => !ociGroups.has(group.ociGroupName));
    if (missing.length) {
      add(
        'oci-group',
        'OCI groups',
        'oci',
        'fail',
        `not in the identity domain: ${missing.map((g) => g.ociGroupName).join(', ')}`,
        idp === 'okta'
          ? "Push Groups creates the OCI group (under the Okta group's name) at its first push: check groups[].ociGroupName and the OCI app's Push Groups tab in Okta (docs/okta.md, Push Groups)."
          : 'Provisioning creates the OCI group at its first cycle once the Entra group is assigned; check groups[].ociGroupName and the provisioning logs (docs/setup-oci.md).',
      );
    } else add('oci-group', 'OCI groups', 'oci', 'pass', config.groups.map((g) => g.ociGroupName).join(', '));
  }
  if (idp === 'okta') return;

  try {
    const providers = (await oci.identityProviders()).filter((idp) => idp.enabled);
    const jit = providers.filter((idp) => idp.jitEnabled);
    if (providers.length === 0) {
      add(
        'jit',
        'JIT provisioning',
        'oci',
        'warn',
        'no enabled SAML identity provider in the domain',
        "Set up Entra ID as the domain's SAML identity provider (docs/setup-oci.md).",
      );
    } else if (jit.length === 0) {
      add(
        'jit',
        'JIT provisioning',
        'oci',
        'warn',
        `JIT is off on ${providers.map((p) => p.name).join(', ')}: access starts only at the next provisioning cycle (~40 minutes)`,
        'Enable JIT provisioning with group mapping on the identity provider (docs/setup-oci.md).',
      );
    } else {
      const merge = jit.filter((idp) => idp.groupAssignmentMethod === 'Merge');
      const unmapped = jit.filter(
        (idp) =>
          idp.mappingMode === 'explicit' && [...ociGroups.values()].some((id) => !idp.mappedOciGroupIds.includes(id)),
      );
      if (merge.length) {
        add(
          'jit',
          'JIT provisioning',
          'oci',
          'warn',
          `${merge.map((p) => p.name).join(', ')} assigns groups with Merge: a sign-in never removes an OCI group, so removals rely on provisioning alone`,
          'Set "Assign groups" to Overwrite (jitUserProvGroupAssignmentMethod) on the identity provider.',
        );
      } else if (unmapped.length) {
        add(
          'jit',
          'JIT provisioning',
          'oci',
          'warn',
          `${unmapped.map((p) => p.name).join(', ')} maps no Entra group to ${config.groups.map((g) => g.ociGroupName).join(', ')}: JIT will not grant the group at sign-in`,
          "Map the Entra group (its object id) to the OCI group in the identity provider's JIT group mapping.",
        );
      } else
        add(
          'jit',
          'JIT provisioning',
          'oci',
          'pass',
          `on (${jit.map((p) => `${p.name}: ${p.groupAssignmentMethod ?? 'default'}`).join(', ')})`,
        );
    }
  } catch (error) {
    addError(add, 'jit', 'JIT provisioning', error, 'oci', 'warn');
  }
}

function statusOf(
  status: CheckStatus,
  failure: Pick<CheckResult, 'detail' | 'fix' | 'category'>,
): [CheckCategory, CheckStatus, string, string | null] {
  return [failure.category, status, failure.detail, failure.fix];
}

/** The exit code is the first failure's, in chain order: the root cause, not its echoes. */
export function finish(identity: 'user' | 'app', checks: CheckResult[]): DoctorReport {
  const summary: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const check of checks) summary[check.status] += 1;
  const firstFailure = checks.find((check) => check.status === 'fail');
  const exitCode = !firstFailure
    ? ExitCode.ok
    : firstFailure.category === 'config'
      ? ExitCode.usage
      : firstFailure.category === 'auth'
        ? ExitCode.auth
        : firstFailure.category === 'upstream'
          ? ExitCode.upstream
          : ExitCode.unexpected;
  return { identity, ok: !firstFailure, exitCode, summary, checks };
}
