/**
 * The default seed tells the product's story: an eligible requester (alice),
 * two approvers who own the temp group (bob, carol), a user who is not
 * eligible (mallory), a break-glass member (breakglass), the Entra group
 * OCI-Temp-Admins assigned to the OCI enterprise app with its provisioning
 * job, and an OCI domain holding the same group, JIT on (Overwrite).
 * A second managed group, OCI-Temp-Admins-PIM, is governed by PIM for Groups
 * instead of the tool's records: alice is eligible, bob and carol approve
 * (see seedPim), assigned to the same app and mapped to its own OCI group.
 */
import { generateKeyPairSync, randomBytes, createHash } from 'node:crypto';
import { World, type EntraUser, type EntraGroup } from './state.js';
import { makeEligible } from './pim/control.js';

/** The Okta org (docs/okta.md): its URL is the base URL plus OKTA_ORG_PATH; SEED_OKTA holds its ids. */
export { OKTA_ORG_PATH, oktaOrgUrl } from './okta/org.js';
export { SEED_OKTA } from './okta/seed.js';

export const SEED = {
  tenantId: '7f3c2a10-5b1e-4c8d-9a61-0e4b2d9c7a01',
  domain: 'contoso.example',
  cliAppId: '0c1a5e7e-2b6d-4f3a-8c9e-1d2f3a4b5c6d',
  automationAppId: 'a9d8c7b6-5e4f-4a3b-9c2d-1e0f9a8b7c6d',
  ociAppId: 'b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e',
  ociServicePrincipalId: 'c0ffee00-1234-4abc-9def-0123456789ab',
  syncJobId: 'oracleOCI.4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90.2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e',
  syncRuleId: '03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8',
  tempGroupId: '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b',
  tempGroupName: 'OCI-Temp-Admins',
  /** The group PIM for Groups governs (backend "pim"). */
  pimGroupId: '7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d',
  pimGroupName: 'OCI-Temp-Admins-PIM',
  users: {
    alice: '11111111-1111-4111-8111-111111111111',
    bob: '22222222-2222-4222-8222-222222222222',
    carol: '33333333-3333-4333-8333-333333333333',
    mallory: '44444444-4444-4444-8444-444444444444',
    breakglass: '55555555-5555-4555-8555-555555555555',
    dave: '66666666-6666-4666-8666-666666666666',
  },
  /** Delegated permissions consented for the CLI's public client. */
  cliDelegatedPermissions: [
    'openid',
    'profile',
    'offline_access',
    'User.Read',
    'User.ReadWrite',
    'User.ReadBasic.All',
    'User.Read.All',
    'GroupMember.ReadWrite.All',
    'Group.Read.All',
    'Synchronization.ReadWrite.All',
    'Application.Read.All',
    // PIM for Groups (docs/pim.md): the policy, eligibility, requests and approvals.
    'RoleManagementPolicy.Read.AzureADGroup',
    'PrivilegedEligibilitySchedule.Read.AzureADGroup',
    'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
  ],
  /** Application permissions granted to the automation (sweep). */
  automationApplicationPermissions: [
    'User.Read.All',
    'GroupMember.ReadWrite.All',
    'Group.ReadWrite.All',
    'Synchronization.ReadWrite.All',
    'Application.Read.All',
    'RoleManagementPolicy.Read.AzureADGroup',
    'PrivilegedEligibilitySchedule.Read.AzureADGroup',
    'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
  ],
} as const;

export interface SeedSecrets {
  automationClientSecret: string;
  /** OCI API signing key of the domain's admin user (for the OCI config file). */
  ociApiKey: { tenancyOcid: string; userOcid: string; fingerprint: string; privateKeyPem: string };
}

/** Directory roles the seeded users hold (by name in SEED.users); the others hold none. */
export const SEED_DIRECTORY_ROLES: Readonly<Record<string, readonly string[]>> = { dave: ['Groups Administrator'] };

function user(
  id: string,
  name: string,
  displayName: string,
  roles: readonly string[] = SEED_DIRECTORY_ROLES[name] ?? [],
): EntraUser {
  return {
    id,
    userPrincipalName: `${name}@${SEED.domain}`,
    displayName,
    mail: `${name}@${SEED.domain}`,
    accountEnabled: true,
    directoryRoles: new Set(roles),
    extensions: new Map(),
  };
}

function group(id: string, displayName: string, owners: string[], members: string[]): EntraGroup {
  return {
    id,
    displayName,
    description: null,
    mailNickname: displayName.replace(/[^A-Za-z0-9]/g, ''),
    securityEnabled: true,
    mailEnabled: false,
    members: new Set(members),
    owners: new Set(owners),
    extensions: new Map(),
  };
}

/**
 * PIM as seeded: OCI-Temp-Admins-PIM governed with at most 8 hours, a justification, and
 * bob's or carol's approval (one day to decide); alice eligible without end. Clears any
 * other PIM state (tests put the tenant back with it).
 */
export function seedPim(world: World): void {
  const u = SEED.users;
  world.pim.clear();
  world.pim.policies.set(SEED.pimGroupId, {
    maximumDuration: 'PT8H',
    isExpirationRequired: true,
    enabledRules: ['Justification'],
    isApprovalRequired: true,
    approverUserIds: [u.bob, u.carol],
    approverGroupIds: [],
    approvalStageTimeOutInDays: 1,
  });
  makeEligible(world, SEED.pimGroupId, u.alice);
}

export function ociOcid(kind: string): string {
  return `ocid1.${kind}.oc1..aaaaaaaa${randomBytes(20).toString('hex').slice(0, 32)}`;
}

/** Fills an empty world with the default story. Returns the secrets a client needs. */
export function seedDefault(world: World): SeedSecrets {
  const u = SEED.users;
  for (const entry of [
    user(u.alice, 'alice', 'Alice Adams'),
    user(u.bob, 'bob', 'Bob Baker'),
    user(u.carol, 'carol', 'Carol Chen'),
    user(u.mallory, 'mallory', 'Mallory Moss'),
    user(u.breakglass, 'breakglass', 'Break Glass'),
    user(u.dave, 'dave', 'Dave Diaz'),
  ]) {
    world.users.set(entry.id, entry);
  }
  world.groups.set(SEED.tempGroupId, group(SEED.tempGroupId, SEED.tempGroupName, [u.bob, u.carol], [u.breakglass]));
  world.groups.set(SEED.pimGroupId, group(SEED.pimGroupId, SEED.pimGroupName, [u.bob, u.carol], []));
  seedPim(world);

  const automationClientSecret = `emu~${randomBytes(24).toString('base64url')}`;
  world.apps.set(SEED.cliAppId, {
    appId: SEED.cliAppId,
    displayName: 'ociaccess CLI',
    secrets: [],
    certificates: [],
    applicationPermissions: [],
    delegatedPermissions: [...SEED.cliDelegatedPermissions],
    isPublicClient: true,
  });
  world.apps.set(SEED.automationAppId, {
    appId: SEED.automationAppId,
    displayName: 'ociaccess automation',
    secrets: [automationClientSecret],
    certificates: [],
    applicationPermissions: [...SEED.automationApplicationPermissions],
    delegatedPermissions: [],
    isPublicClient: false,
  });
  world.apps.set(SEED.ociAppId, {
    appId: SEED.ociAppId,
    displayName: 'Oracle Cloud Infrastructure Console',
    secrets: [],
    certificates: [],
    applicationPermissions: [],
    delegatedPermissions: [],
    isPublicClient: false,
  });
  const now = world.now();
  world.servicePrincipals.set(SEED.ociServicePrincipalId, {
    id: SEED.ociServicePrincipalId,
    appId: SEED.ociAppId,
    displayName: 'Oracle Cloud Infrastructure Console',
    assignedGroupIds: new Set([SEED.tempGroupId, SEED.pimGroupId]),
    synchronizationJobs: [
      {
        id: SEED.syncJobId,
        templateId: 'oracleOCI',
        ruleId: SEED.syncRuleId,
        status: {
          code: 'Active',
          quarantine: null,
          lastSuccessfulExecution: {
            timeBegan: new Date(now - 60_000).toISOString(),
            timeEnded: new Date(now - 55_000).toISOString(),
            state: 'Succeeded',
          },
        },
        intervalMs: 40 * 60_000,
        nextCycleAt: now + 40 * 60_000,
      },
    ],
  });

  // The OCI domain as the last provisioning cycle left it: the group and its break-glass member.
  const ociBreakglassId = randomBytes(16).toString('hex');
  world.ociUsers.set(ociBreakglassId, {
    id: ociBreakglassId,
    ocid: ociOcid('user'),
    userName: `breakglass@${SEED.domain}`,
    displayName: 'Break Glass',
    active: true,
    externalId: u.breakglass,
    createdBy: 'scim',
  });
  const ociGroupId = randomBytes(16).toString('hex');
  world.ociGroups.set(ociGroupId, {
    id: ociGroupId,
    ocid: ociOcid('group'),
    displayName: SEED.tempGroupName,
    externalId: SEED.tempGroupId,
    members: new Set([ociBreakglassId]),
  });
  const ociPimGroupId = randomBytes(16).toString('hex');
  world.ociGroups.set(ociPimGroupId, {
    id: ociPimGroupId,
    ocid: ociOcid('group'),
    displayName: SEED.pimGroupName,
    externalId: SEED.pimGroupId,
    members: new Set(),
  });
  const idpId = randomBytes(16).toString('hex');
  world.identityProviders.set(idpId, {
    id: idpId,
    partnerName: 'EntraID',
    enabled: true,
    jitUserProvEnabled: true,
    jitUserProvCreateUserEnabled: true,
    jitUserProvGroupAssertionAttributeEnabled: true,
    jitUserProvGroupAssignmentMethod: 'Overwrite',
    jitUserProvGroupMappingMode: 'explicit',
    jitUserProvGroupMappings: [
      { idpGroup: SEED.tempGroupId, ociGroupId },
      { idpGroup: SEED.pimGroupId, ociGroupId: ociPimGroupId },
    ],
  });

  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const der = Buffer.from(publicKey.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const fingerprint = (createHash('md5').update(der).digest('hex').match(/../g) ?? []).join(':');
  const tenancyOcid = ociOcid('tenancy');
  const userOcid = ociOcid('user');
  world.ociApiKeys.push({ tenancyOcid, userOcid, fingerprint, publicKeyPem: publicKey });

  return { automationClientSecret, ociApiKey: { tenancyOcid, userOcid, fingerprint, privateKeyPem: privateKey } };
}
