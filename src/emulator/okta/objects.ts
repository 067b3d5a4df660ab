/** Users and groups as /api/v1 answers them ([mgmt] User, Group), and the profile checks against the schema. */
import type { EmulatorApi } from '../http.js';
import { oktaOrgUrl } from './org.js';
import type { OktaGroup, OktaSchemaAttribute, OktaUser } from './state.js';

/** The user object; `forSelf` hides the attributes whose SELF permission is HIDE. */
export function userJson(emu: EmulatorApi, user: OktaUser, forSelf = false): Record<string, unknown> {
  const profile: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(user.profile)) {
    if (forSelf && emu.world.okta.userSchema.get(name)?.self === 'HIDE') continue;
    profile[name] = value;
  }
  return {
    id: user.id,
    status: user.status,
    created: user.created,
    activated: user.created,
    statusChanged: user.created,
    lastLogin: null,
    lastUpdated: user.lastUpdated,
    passwordChanged: user.created,
    type: { id: 'otyemulatordefault001' },
    profile,
    credentials: { provider: { type: 'OKTA', name: 'OKTA' } },
    _links: { self: { href: `${oktaOrgUrl(emu.baseUrl)}/api/v1/users/${user.id}` } },
  };
}

export function groupJson(emu: EmulatorApi, group: OktaGroup): Record<string, unknown> {
  const href = `${oktaOrgUrl(emu.baseUrl)}/api/v1/groups/${group.id}`;
  return {
    id: group.id,
    created: group.created,
    lastUpdated: group.lastUpdated,
    lastMembershipUpdated: group.lastMembershipUpdated,
    objectClass: ['okta:user_group'],
    type: 'OKTA_GROUP',
    profile: { ...group.profile },
    _links: { logo: [], users: { href: `${href}/users` }, apps: { href: `${href}/apps` } },
  };
}

/** What is wrong with `profile` against `schema` (E0000001 causes); empty when it fits. */
export function profileErrors(profile: Record<string, unknown>, schema: Map<string, OktaSchemaAttribute>): string[] {
  const causes: string[] = [];
  for (const [name, value] of Object.entries(profile)) {
    const attribute = schema.get(name);
    if (!attribute) {
      causes.push(`Property name '${name}' is not defined in profile`);
      continue;
    }
    if (value === null) {
      if (attribute.required) causes.push(`${name}: The field cannot be left blank`);
      continue;
    }
    const type = Array.isArray(value) ? 'array' : typeof value;
    const fits = attribute.type === 'integer' ? Number.isInteger(value) : type === attribute.type;
    if (!fits) causes.push(`${name}: The field must be of type ${attribute.type}`);
    else if (attribute.maxLength !== undefined && typeof value === 'string' && value.length > attribute.maxLength) {
      causes.push(`${name}: The field cannot exceed ${attribute.maxLength} characters`);
    }
  }
  return causes;
}
