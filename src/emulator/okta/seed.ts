/**
 * The Okta org of the default story (docs/okta.md, "The emulator's seed"): the
 * same people as the Entra seed with Okta ids, the group OCI-Temp-Admins with
 * breakglass in it, the native app for people, the service app with its RSA
 * key, the OCI app whose Group Push mapping sends the group to the OCI group
 * OCI-Temp-Admins-Okta, and the record attributes in the schemas.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { World } from '../state.js';
import { createOciGroup, createOciUser } from '../oci/domain.js';
import type { OktaRole, OktaSchemaAttribute, OktaUser } from './state.js';

export const SEED_OKTA = {
  domain: 'contoso.example',
  users: {
    alice: '00ualice000000000001',
    bob: '00ubob00000000000002',
    carol: '00ucarol000000000003',
    mallory: '00umallory0000000004',
    breakglass: '00ubreakglass0000005',
    dave: '00udave0000000000006',
  },
  tempGroupId: '00gocitempadmins0001',
  tempGroupName: 'OCI-Temp-Admins',
  /** The OCI group the push maps the Okta group to (not Entra's OCI-Temp-Admins). */
  ociGroupName: 'OCI-Temp-Admins-Okta',
  nativeAppClientId: '0oaociaccesscli00001',
  serviceAppClientId: '0oaociaccesssvc00002',
  serviceAppKeyId: 'ociaccess-svc-1',
  ociAppId: '0oaocipush0000000003',
  pushMappingId: 'gPm00ocitempadmins01',
  /** Okta API scopes granted to the people's native app. */
  nativeAppScopes: [
    'okta.users.read.self',
    'okta.users.manage.self',
    'okta.users.read',
    'okta.groups.read',
    'okta.groups.manage',
  ],
  /** Okta API scopes granted to the service app (okta.users.manage only to show it may write any profile). */
  serviceAppScopes: [
    'okta.users.read',
    'okta.users.manage',
    'okta.groups.read',
    'okta.groups.manage',
    'okta.schemas.read',
    'okta.apps.read',
  ],
  recordAttributes: { requests: 'ociaccessRequests', decisions: 'ociaccessDecisions' },
  recordMaxLength: 4096,
} as const;

export interface OktaServiceKey {
  kid: string;
  privateKeyPem: string;
}

/** An RSA key pair for the service app (slow to make: a test file makes one and reuses it). */
export function generateOktaServiceKey(): OktaServiceKey {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { kid: SEED_OKTA.serviceAppKeyId, privateKeyPem: privateKey };
}

const USER_SCHEMA: Record<string, OktaSchemaAttribute> = {
  login: { title: 'Username', type: 'string', maxLength: 100, self: 'READ_ONLY', base: true, required: true },
  email: { title: 'Primary email', type: 'string', maxLength: 100, self: 'READ_ONLY', base: true, required: true },
  firstName: { title: 'First name', type: 'string', maxLength: 50, self: 'READ_WRITE', base: true },
  lastName: { title: 'Last name', type: 'string', maxLength: 50, self: 'READ_WRITE', base: true },
  displayName: { title: 'Display name', type: 'string', self: 'READ_WRITE', base: true },
  employeeNumber: { title: 'Employee number', type: 'string', self: 'READ_ONLY', base: true },
  [SEED_OKTA.recordAttributes.requests]: {
    title: 'ociaccess requests',
    type: 'string',
    maxLength: SEED_OKTA.recordMaxLength,
    self: 'READ_WRITE',
  },
  [SEED_OKTA.recordAttributes.decisions]: {
    title: 'ociaccess decisions',
    type: 'string',
    maxLength: SEED_OKTA.recordMaxLength,
    self: 'READ_WRITE',
  },
};

const GROUP_SCHEMA: Record<string, OktaSchemaAttribute> = {
  name: { title: 'Name', type: 'string', maxLength: 255, base: true, required: true },
  description: { title: 'Description', type: 'string', maxLength: 1024, base: true },
  [SEED_OKTA.recordAttributes.decisions]: {
    title: 'ociaccess decisions',
    type: 'string',
    maxLength: SEED_OKTA.recordMaxLength,
  },
};

export function seedOkta(world: World, serviceKey: OktaServiceKey): void {
  const okta = world.okta;
  const now = world.nowIso();
  const u = SEED_OKTA.users;
  const reader: OktaRole = { type: 'OCIACCESS_READER' };
  const approver: OktaRole = { type: 'GROUP_MEMBERSHIP_ADMIN', groupIds: [SEED_OKTA.tempGroupId] };
  const person = (id: string, name: string, first: string, last: string, roles: OktaRole[]): OktaUser => ({
    id,
    status: 'ACTIVE',
    created: now,
    lastUpdated: now,
    profile: {
      login: `${name}@${SEED_OKTA.domain}`,
      email: `${name}@${SEED_OKTA.domain}`,
      firstName: first,
      lastName: last,
      displayName: `${first} ${last}`,
    },
    roles,
  });
  for (const user of [
    person(u.alice, 'alice', 'Alice', 'Adams', [reader]),
    person(u.bob, 'bob', 'Bob', 'Baker', [reader, approver]),
    person(u.carol, 'carol', 'Carol', 'Chen', [reader, approver]),
    person(u.mallory, 'mallory', 'Mallory', 'Moss', [reader]),
    person(u.breakglass, 'breakglass', 'Break', 'Glass', []),
    person(u.dave, 'dave', 'Dave', 'Diaz', [reader, { type: 'GROUP_ADMIN' }]),
  ]) {
    okta.users.set(user.id, user);
  }
  for (const [name, attribute] of Object.entries(USER_SCHEMA)) okta.userSchema.set(name, { ...attribute });
  for (const [name, attribute] of Object.entries(GROUP_SCHEMA)) okta.groupSchema.set(name, { ...attribute });
  okta.groups.set(SEED_OKTA.tempGroupId, {
    id: SEED_OKTA.tempGroupId,
    created: now,
    lastUpdated: now,
    lastMembershipUpdated: now,
    profile: { name: SEED_OKTA.tempGroupName, description: 'Temporary OCI administrators (ociaccess)' },
    members: new Set([u.breakglass]),
  });

  const publicKey: KeyObject = createPublicKey(serviceKey.privateKeyPem);
  okta.apps.set(SEED_OKTA.nativeAppClientId, {
    clientId: SEED_OKTA.nativeAppClientId,
    label: 'ociaccess CLI',
    kind: 'native',
    grantedScopes: [...SEED_OKTA.nativeAppScopes],
    publicKeys: new Map(),
    roles: [],
  });
  okta.apps.set(SEED_OKTA.serviceAppClientId, {
    clientId: SEED_OKTA.serviceAppClientId,
    label: 'ociaccess automation',
    kind: 'service',
    grantedScopes: [...SEED_OKTA.serviceAppScopes],
    publicKeys: new Map([[serviceKey.kid, publicKey]]),
    roles: [{ type: 'ORG_ADMIN' }],
    // As a new API Services app is created: "Require DPoP header in token requests" on (docs/okta.md, DPoP).
    requireDpop: true,
  });
  okta.apps.set(SEED_OKTA.ociAppId, {
    clientId: SEED_OKTA.ociAppId,
    label: 'Oracle Cloud Infrastructure IAM',
    kind: 'provisioning',
    grantedScopes: [],
    publicKeys: new Map(),
    roles: [],
  });

  // OCI as the last push left it: the group with its break-glass member.
  const breakglassLogin = `breakglass@${SEED_OKTA.domain}`;
  const ociBreakglass =
    world.ociUserByUserName(breakglassLogin) ??
    createOciUser(world, { userName: breakglassLogin, displayName: 'Break Glass', createdBy: 'scim' });
  const ociGroup = createOciGroup(world, { displayName: SEED_OKTA.ociGroupName, externalId: SEED_OKTA.tempGroupId });
  ociGroup.members.add(ociBreakglass.id);
  okta.pushMappings.set(SEED_OKTA.pushMappingId, {
    id: SEED_OKTA.pushMappingId,
    appId: SEED_OKTA.ociAppId,
    sourceGroupId: SEED_OKTA.tempGroupId,
    targetGroupName: SEED_OKTA.ociGroupName,
    status: 'ACTIVE',
    created: now,
    lastUpdated: now,
    lastPush: now,
    errorSummary: null,
    dueAt: null,
    pushedMembers: new Set([u.breakglass]),
  });
}
