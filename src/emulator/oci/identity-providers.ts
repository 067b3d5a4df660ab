/** /admin/v1/IdentityProviders: list, get and PATCH of the SAML IdP and its JIT settings. */
import { route, type EmuRequest, type EmuResponse, type Route } from '../http.js';
import type { OciIdentityProvider, World } from '../state.js';
import { matchesFilter } from './filter.js';
import { identityProviderResource, project, projection } from './resources.js';
import {
  ScimFailure,
  hostOf,
  listParamsFromQuery,
  listParamsFromSearch,
  listResponse,
  notFound,
  parsePatchOp,
  scimError,
  scimJson,
  signed,
  splitPatchPath,
  type ListParams,
  type PatchOperation,
} from './scim.js';

type Mapping = OciIdentityProvider['jitUserProvGroupMappings'][number];

function listIdps(world: World, req: EmuRequest, params: ListParams): EmuResponse {
  const host = hostOf(req);
  const view = projection('IdentityProvider', params.attributes ?? null, params.attributeSets ?? null);
  return listResponse(
    [...world.identityProviders.values()],
    (idp) => identityProviderResource(idp, host),
    params,
    (idp) => project(identityProviderResource(idp, host), view),
  );
}

function idpOr404(world: World, id: string): OciIdentityProvider {
  const idp = world.identityProviders.get(id);
  if (!idp) throw new ScimFailure(notFound('IdentityProvider', id));
  return idp;
}

function respondIdp(req: EmuRequest, idp: OciIdentityProvider): EmuResponse {
  const view = projection('IdentityProvider', req.query.get('attributes'), req.query.get('attributeSets'));
  return scimJson(200, project(identityProviderResource(idp, hostOf(req)), view));
}

function invalid(detail: string): ScimFailure {
  return new ScimFailure(scimError(400, detail, 'invalidValue'));
}

function mappings(world: World, value: unknown): Mapping[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((entry, index) => {
    const mapping = entry as { value?: unknown; idpGroup?: unknown };
    if (typeof mapping?.value !== 'string' || typeof mapping.idpGroup !== 'string') {
      throw invalid(`jitUserProvGroupMappings[${index}] needs string "value" (the OCI group id) and "idpGroup".`);
    }
    if (!world.ociGroups.has(mapping.value)) throw new ScimFailure(notFound('Group', mapping.value));
    return { idpGroup: mapping.idpGroup, ociGroupId: mapping.value };
  });
}

function boolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalid(`${name} must be a boolean.`);
  return value;
}

const BOOLEAN_SETTINGS = {
  enabled: 'enabled',
  jituserprovenabled: 'jitUserProvEnabled',
  jituserprovcreateuserenabled: 'jitUserProvCreateUserEnabled',
  jituserprovgroupassertionattributeenabled: 'jitUserProvGroupAssertionAttributeEnabled',
} as const;

function applyIdpOperation(world: World, draft: OciIdentityProvider, operation: PatchOperation): void {
  if (!operation.path) {
    if (operation.value === null || typeof operation.value !== 'object' || Array.isArray(operation.value)) {
      throw invalid('Without a path, value must be an object of attributes.');
    }
    for (const [path, value] of Object.entries(operation.value as Record<string, unknown>)) {
      applyIdpOperation(world, draft, { op: operation.op, path, value });
    }
    return;
  }
  const { attribute, filter } = splitPatchPath(operation.path);
  if (attribute === 'jituserprovgroupmappings') {
    if (operation.op === 'remove') {
      draft.jitUserProvGroupMappings = filter
        ? draft.jitUserProvGroupMappings.filter(
            (m) => !matchesFilter({ value: m.ociGroupId, idpGroup: m.idpGroup }, filter),
          )
        : [];
      return;
    }
    if (filter) throw new ScimFailure(scimError(400, `${operation.op} cannot take a filtered path.`, 'invalidPath'));
    const added = mappings(world, operation.value);
    draft.jitUserProvGroupMappings = operation.op === 'replace' ? added : [...draft.jitUserProvGroupMappings, ...added];
    return;
  }
  if (filter) throw new ScimFailure(scimError(400, `Invalid path "${operation.path}".`, 'invalidPath'));
  if (operation.op === 'remove')
    throw new ScimFailure(scimError(400, `The attribute ${attribute} cannot be removed.`, 'mutability'));
  if (attribute in BOOLEAN_SETTINGS) {
    const name = BOOLEAN_SETTINGS[attribute as keyof typeof BOOLEAN_SETTINGS];
    draft[name] = boolean(operation.value, name);
    return;
  }
  switch (attribute) {
    case 'jituserprovgroupassignmentmethod':
      if (operation.value !== 'Overwrite' && operation.value !== 'Merge')
        throw invalid('jitUserProvGroupAssignmentMethod must be Overwrite or Merge.');
      draft.jitUserProvGroupAssignmentMethod = operation.value;
      return;
    case 'jituserprovgroupmappingmode':
      if (operation.value !== 'implicit' && operation.value !== 'explicit')
        throw invalid('jitUserProvGroupMappingMode must be implicit or explicit.');
      draft.jitUserProvGroupMappingMode = operation.value;
      return;
    case 'partnername':
      if (typeof operation.value !== 'string' || !operation.value.trim())
        throw invalid('partnerName must be a non-empty string.');
      draft.partnerName = operation.value;
      return;
    case 'id':
    case 'schemas':
    case 'meta':
    case 'type':
      throw new ScimFailure(scimError(400, `The attribute ${attribute} is read-only.`, 'mutability'));
    default:
      throw new ScimFailure(
        scimError(501, `The emulator does not model the identity provider attribute "${attribute}".`),
      );
  }
}

function patchIdp(req: EmuRequest, world: World): EmuResponse {
  const idp = idpOr404(world, req.params.id!);
  const operations = parsePatchOp(req);
  const draft: OciIdentityProvider = { ...idp, jitUserProvGroupMappings: [...idp.jitUserProvGroupMappings] };
  for (const operation of operations) applyIdpOperation(world, draft, operation);
  Object.assign(idp, draft);
  return respondIdp(req, idp);
}

export function identityProviderRoutes(): Route[] {
  return [
    route(
      'oci',
      'GET',
      /^\/admin\/v1\/IdentityProviders$/,
      signed((req, emu) => listIdps(emu.world, req, listParamsFromQuery(req, emu.world))),
    ),
    route(
      'oci',
      'POST',
      /^\/admin\/v1\/IdentityProviders\/\.search$/,
      signed((req, emu) => listIdps(emu.world, req, listParamsFromSearch(req, emu.world))),
    ),
    route(
      'oci',
      'GET',
      /^\/admin\/v1\/IdentityProviders\/(?<id>[^/]+)$/,
      signed((req, emu) => respondIdp(req, idpOr404(emu.world, req.params.id!))),
    ),
    route(
      'oci',
      'PATCH',
      /^\/admin\/v1\/IdentityProviders\/(?<id>[^/]+)$/,
      signed((req, emu) => patchIdp(req, emu.world)),
    ),
  ];
}
