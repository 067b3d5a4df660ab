/**
 * Shared pieces of the identity domain's SCIM surface: error bodies, the
 * request signature gate, list responses with startIndex/count paging and
 * sorting, and PatchOp parsing.
 */
import { randomUUID } from 'node:crypto';
import type { EmuRequest, EmuResponse, Handler } from '../http.js';
import { parseJsonBody } from '../http.js';
import { FilterError, matchesFilter, parseFilter, type FilterNode } from './filter.js';
import { AttributesError, SCHEMA } from './resources.js';
import { verifyOciSignature } from './signature.js';

const SCIM_JSON = 'application/scim+json';

/**
 * SCIM error body as the identity domain answers it. Throttling (429) is the
 * exception: it comes from OCI's API front door in OCI's own error format
 * ({code:"TooManyRequests", message}), which is also what oci-common's retry
 * condition looks for (it retries a 429 only when serviceCode is TooManyRequests).
 */
export function scimError(status: number, detail: string, scimType?: string): EmuResponse {
  if (status === 429) {
    return { status, headers: { 'content-type': 'application/json' }, body: { code: 'TooManyRequests', message: detail } };
  }
  return {
    status,
    headers: { 'content-type': SCIM_JSON },
    body: {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: String(status),
      detail,
      ...(scimType ? { scimType } : {}),
    },
  };
}

export function scimJson(status: number, body: unknown, headers: Record<string, string> = {}): EmuResponse {
  return { status, body, headers: { 'content-type': SCIM_JSON, ...headers } };
}

export function notFound(kind: string, id: string): EmuResponse {
  return scimError(404, `Resource ${kind} with id ${id} is not found.`);
}

/** A thrown ScimFailure becomes its response; lets deep helpers stop a request cleanly. */
export class ScimFailure extends Error {
  constructor(readonly response: EmuResponse) {
    super(String((response.body as { detail?: string } | undefined)?.detail ?? response.status));
  }
}

/**
 * Wraps a SCIM handler: the request must carry a valid OCI signature (401
 * NotAuthenticated otherwise, with the API gateway's error body rather than a
 * SCIM one), and typed failures thrown inside become SCIM errors.
 */
export function signed(handler: Handler): Handler {
  return async (req, emu) => {
    const result = verifyOciSignature(emu.world, req);
    if (!result.ok) {
      return {
        status: 401,
        // x-emulator-auth-failure is the emulator's own: it says why, so a failing test can too.
        headers: { 'content-type': 'application/json', 'opc-request-id': randomUUID(), 'x-emulator-auth-failure': result.reason },
        body: {
          code: 'NotAuthenticated',
          message: 'The required information to complete authentication was not provided or was incorrect.',
        },
      };
    }
    req.principal = result.key.userOcid;
    try {
      const response = await handler(req, emu);
      return { ...response, headers: { 'opc-request-id': randomUUID(), ...(response.headers ?? {}) } };
    } catch (error) {
      if (error instanceof ScimFailure) return error.response;
      if (error instanceof FilterError) return scimError(400, error.message, 'invalidFilter');
      if (error instanceof AttributesError) return scimError(400, error.message, 'invalidSyntax');
      throw error;
    }
  };
}

export interface ListParams {
  filter?: string;
  startIndex?: number;
  count?: number;
  sortBy?: string;
  sortOrder?: string;
  attributes?: string | string[];
  attributeSets?: string | string[];
}

/** The largest page the identity domain serves, and its default page size. */
export const MAX_COUNT = 1000;
export const DEFAULT_COUNT = 50;

/** Query-string list parameters; page/limit (opc-next-page paging) are refused loudly, not ignored. */
export function listParamsFromQuery(req: EmuRequest): ListParams {
  if (req.query.has('page') || req.query.has('limit')) {
    throw new ScimFailure(scimError(501, 'The emulator does not implement page/limit paging; use startIndex and count.'));
  }
  const number = (name: string): number | undefined => {
    const raw = req.query.get(name);
    if (raw === null || raw === '') return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value)) throw new ScimFailure(scimError(400, `Query parameter ${name} must be an integer.`, 'invalidValue'));
    return value;
  };
  return {
    filter: req.query.get('filter') ?? undefined,
    startIndex: number('startIndex'),
    count: number('count'),
    sortBy: req.query.get('sortBy') ?? undefined,
    sortOrder: req.query.get('sortOrder') ?? undefined,
    attributes: req.query.get('attributes') ?? undefined,
    attributeSets: req.query.get('attributeSets') ?? undefined,
  };
}

/** POST …/.search body (SearchRequest). */
export function listParamsFromSearch(req: EmuRequest): ListParams {
  const body = parseJsonBody<Record<string, unknown>>(req);
  if (!body || typeof body !== 'object') throw new ScimFailure(scimError(400, 'The request body is not valid JSON.', 'invalidSyntax'));
  const schemas = Array.isArray(body.schemas) ? body.schemas : [];
  if (!schemas.includes(SCHEMA.searchRequest)) {
    throw new ScimFailure(scimError(400, `A search request must declare the schema ${SCHEMA.searchRequest}.`, 'invalidSyntax'));
  }
  return {
    filter: typeof body.filter === 'string' ? body.filter : undefined,
    startIndex: typeof body.startIndex === 'number' ? body.startIndex : undefined,
    count: typeof body.count === 'number' ? body.count : undefined,
    sortBy: typeof body.sortBy === 'string' ? body.sortBy : undefined,
    sortOrder: typeof body.sortOrder === 'string' ? body.sortOrder : undefined,
    attributes: Array.isArray(body.attributes) ? (body.attributes as string[]) : undefined,
    attributeSets: Array.isArray(body.attributeSets) ? (body.attributeSets as string[]) : undefined,
  };
}

export function compileFilter(filter: string | undefined): FilterNode | undefined {
  return filter && filter.trim() ? parseFilter(filter) : undefined;
}

function sortKey(resource: Record<string, unknown>, path: string): string {
  let value: unknown = resource;
  for (const segment of path.split('.')) {
    if (value === null || typeof value !== 'object') return '';
    const entry = Object.entries(value as Record<string, unknown>).find(([name]) => name.toLowerCase() === segment.toLowerCase());
    value = entry?.[1];
  }
  return value === undefined || value === null ? '' : String(value).toLowerCase();
}

/**
 * Filters, sorts and pages full resources into a ListResponse. `render`
 * projects each resource of the page (done after paging: members are costly).
 * itemsPerPage is the page size in effect, as the identity domain reports it.
 */
export function listResponse<T>(
  items: T[],
  full: (item: T) => Record<string, unknown>,
  params: ListParams,
  render: (item: T) => Record<string, unknown>,
): EmuResponse {
  const filter = compileFilter(params.filter);
  let matched = filter ? items.filter((item) => matchesFilter(full(item), filter)) : [...items];
  if (params.sortBy) {
    const direction = (params.sortOrder ?? 'ascending').toLowerCase() === 'descending' ? -1 : 1;
    const keyed = matched.map((item) => ({ item, key: sortKey(full(item), params.sortBy!) }));
    keyed.sort((a, b) => (a.key < b.key ? -direction : a.key > b.key ? direction : 0));
    matched = keyed.map((entry) => entry.item);
  }
  const startIndex = Math.max(1, params.startIndex ?? 1);
  const count = Math.min(MAX_COUNT, Math.max(0, params.count ?? DEFAULT_COUNT));
  const page = matched.slice(startIndex - 1, startIndex - 1 + count);
  return scimJson(200, {
    schemas: [SCHEMA.listResponse],
    totalResults: matched.length,
    ...(count > 0 ? { Resources: page.map(render) } : {}),
    startIndex,
    itemsPerPage: count,
  });
}

export interface PatchOperation {
  op: 'add' | 'remove' | 'replace';
  path?: string;
  value?: unknown;
}

/** Validates a PatchOp body: the PatchOp schema, and add/remove/replace operations. */
export function parsePatchOp(req: EmuRequest): PatchOperation[] {
  const body = parseJsonBody<Record<string, unknown>>(req);
  if (!body || typeof body !== 'object') throw new ScimFailure(scimError(400, 'The request body is not valid JSON.', 'invalidSyntax'));
  const schemas = Array.isArray(body.schemas) ? body.schemas : [];
  if (!schemas.includes(SCHEMA.patchOp)) {
    throw new ScimFailure(scimError(400, `A PATCH request must declare the schema ${SCHEMA.patchOp}.`, 'invalidSyntax'));
  }
  const operations = (body.Operations ?? body.operations) as unknown;
  if (!Array.isArray(operations) || operations.length === 0) {
    throw new ScimFailure(scimError(400, 'A PATCH request needs a non-empty Operations array.', 'invalidSyntax'));
  }
  return operations.map((raw: unknown, index) => {
    const operation = raw as Record<string, unknown>;
    const op = String(operation?.op ?? '').toLowerCase();
    if (op !== 'add' && op !== 'remove' && op !== 'replace') {
      throw new ScimFailure(scimError(400, `Operations[${index}].op "${String(operation?.op)}" is not add, remove or replace.`, 'invalidSyntax'));
    }
    const path = typeof operation.path === 'string' && operation.path.trim() ? operation.path.trim() : undefined;
    if (op === 'remove' && !path) throw new ScimFailure(scimError(400, `Operations[${index}]: remove needs a path.`, 'noTarget'));
    if (op !== 'remove' && operation.value === undefined) {
      throw new ScimFailure(scimError(400, `Operations[${index}]: ${op} needs a value.`, 'invalidValue'));
    }
    return { op, path, value: operation.value };
  });
}

/** Splits a PATCH path like `members[value eq "x"]` or `members` into attribute and optional filter. */
export function splitPatchPath(path: string): { attribute: string; filter?: FilterNode; subAttribute?: string } {
  const match = /^([A-Za-z$][\w$:.-]*?)(?:\[(.+)\])?(?:\.([A-Za-z$][\w$]*))?$/.exec(path.trim());
  if (!match) throw new ScimFailure(scimError(400, `Invalid path "${path}".`, 'invalidPath'));
  const attribute = match[1]!.replace(/^urn:ietf:params:scim:schemas:core:2\.0:(user|group):/i, '').toLowerCase();
  try {
    return { attribute, filter: match[2] ? parseFilter(match[2]) : undefined, subAttribute: match[3] };
  } catch (error) {
    if (error instanceof FilterError) throw new ScimFailure(scimError(400, `Invalid path "${path}": ${error.message}`, 'invalidPath'));
    throw error;
  }
}

export function hostOf(req: EmuRequest): string {
  const host = req.headers.host;
  return typeof host === 'string' && host ? host : 'idcs.emulator.invalid';
}

export function requireJsonBody(req: EmuRequest): Record<string, unknown> {
  const body = parseJsonBody<Record<string, unknown>>(req);
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ScimFailure(scimError(400, 'The request body is not a JSON object.', 'invalidSyntax'));
  }
  return body;
}
