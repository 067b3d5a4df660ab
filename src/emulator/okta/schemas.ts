/**
 * The profile schemas (docs/okta.md S1, S2): GET /api/v1/meta/schemas/user/default
 * and …/group/default, with base and custom properties, their types, maxLength
 * and (users) the SELF permission.
 */
import { json, type EmuRequest, type EmuResponse, type EmulatorApi, type Route } from '../http.js';
import { authorize, isCaller } from './auth.js';
import { notFound } from './errors.js';
import { oktaOrgUrl, orgPattern } from './org.js';
import { oktaRoute } from './rate-limits.js';
import type { OktaSchemaAttribute } from './state.js';

function propertyJson(attribute: OktaSchemaAttribute, forUsers: boolean): Record<string, unknown> {
  return {
    title: attribute.title,
    type: attribute.type,
    ...(attribute.maxLength !== undefined ? { maxLength: attribute.maxLength } : {}),
    required: attribute.required ?? false,
    mutability: 'READ_WRITE',
    scope: 'NONE',
    ...(forUsers ? { permissions: [{ principal: 'SELF', action: attribute.self ?? 'READ_ONLY' }] } : {}),
    master: { type: 'PROFILE_MASTER' },
  };
}

function schemaJson(emu: EmulatorApi, kind: 'user' | 'group', attributes: Map<string, OktaSchemaAttribute>) {
  const section = (base: boolean) =>
    Object.fromEntries(
      [...attributes]
        .filter(([, attribute]) => (attribute.base ?? false) === base)
        .map(([name, attribute]) => [name, propertyJson(attribute, kind === 'user')]),
    );
  return {
    id: `${oktaOrgUrl(emu.baseUrl)}/meta/schemas/${kind}/default`,
    $schema: 'http://json-schema.org/draft-04/schema#',
    name: kind,
    title: kind === 'user' ? 'User' : 'Okta group',
    lastUpdated: emu.world.nowIso(),
    type: 'object',
    definitions: {
      base: { id: '#base', type: 'object', properties: section(true), required: [] },
      custom: { id: '#custom', type: 'object', properties: section(false), required: [] },
    },
    properties: { profile: { allOf: [{ $ref: '#/definitions/custom' }, { $ref: '#/definitions/base' }] } },
  };
}

function getSchema(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, 'okta.schemas.read', 'schemas.read');
  if (!isCaller(caller)) return caller;
  if (req.params.schemaId !== 'default') return notFound('UserSchema', req.params.schemaId!);
  const kind = req.params.kind as 'user' | 'group';
  const okta = emu.world.okta;
  return json(200, schemaJson(emu, kind, kind === 'user' ? okta.userSchema : okta.groupSchema));
}

export function schemaRoutes(): Route[] {
  return [
    oktaRoute(
      'GET',
      orgPattern('/api/v1/meta/schemas/(?<kind>user|group)/(?<schemaId>[^/]+)'),
      'api/v1/meta/schemas',
      getSchema,
    ),
  ];
}
