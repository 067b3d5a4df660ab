/**
 * Shared pieces of the identity domain's SCIM surface: error bodies, the
 * request signature gate, list responses with startIndex/count paging and
 * sorting, and PatchOp parsing.
 */
import { randomUUID } from 'node:crypto';
import type { EmuRequest, EmuResponse, Handler } from '../http.js';
import type { World } from '../state.js';
import { parseJsonBody } from '../http.js';
import { FilterError, matchesFilter, parseFilter, type FilterNode } from './filter.js';
import { AttributesError, SCHEMA } from './resources.js';
import { verifyOciSignature } from './signature.js';
import { admitOciCall } from './rate-limits.js';

const SCIM_JSON = 'application/scim+json';

/**
 * SCIM error body as the identity domain answers it. Throttling (429) is the
 * exception: it comes from OCI's API front door in OCI's own error format
 * ({code:"TooManyRequests", message}), which is also what oci-common's retry
 * condition looks for (it retries a 429 only when serviceCode is TooManyRequests).
 */
export function scimError(status: number, detail: string, scimType?: string): EmuResponse {
  if (status === 429) {
    return {
      status,
      headers: { 'content-type': 'application/json' },
      body: { code: 'TooManyRequests', message: detail },
    };
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
    // The domain's rate limits come first, at its front door: a 429 with no Retry-After (none is documented).
    if (!admitOciCall(emu.world, emu.world.now())) {
      return scimError(429, "Too many requests: the identity domain's rate limit was reached.");
    }
    const result = verifyOciSignature(emu.world, req);
    if (!result.ok) {
      return {
        status: 401,
        // x-emulator-auth-failure is the emulator's own: it says why, so a failing test can too.
        headers: {
          'content-type': 'application/json',
          'opc-request-id': randomUUID(),
          'x-emulator-auth-failure': result.reason,
        },
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
  /** OCI's own paging (the SDKs' `limit`/`page`): `page` is the opaque opc-next-page of the previous answer. */
  limit?: number;
  page?: string;
  /** The most resources the domain puts in one answer, whatever was asked (World.oci.maxPageSize). */
  serverMaxPage?: number;
}

/** The largest page the identity domain serves, and its default page size. */
export const MAX_COUNT = 1000;
export const DEFAULT_COUNT = 50;

/**
 * Query-string list parameters: SCIM's startIndex/count, or OCI's limit/page
 * (the SDKs expose both on every List call). Mixing the two styles is refused
 * (400): which one would win is not documented, so a client must not rely on it.
 */
export function listParamsFromQuery(req: EmuRequest, world: World): ListParams {
  const number = (name: string): number | undefined => {
    const raw = req.query.get(name);
    if (raw === null || raw === '') return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value))
      throw new ScimFailure(scimError(400, `Query parameter ${name} must be an integer.`, 'invalidValue'));
    return value;
  };
  const limit = number('limit');
  const page = req.query.get('page') ?? undefined;
  if ((limit !== undefined || page !== undefined) && (req.query.has('startIndex') || req.query.has('count'))) {
    throw new ScimFailure(
      scimError(400, 'Use either startIndex/count or limit/page paging, not both.', 'invalidValue'),
    );
  }
  if (limit !== undefined && limit < 1)
    throw new ScimFailure(scimError(400, 'Query parameter limit must be at least 1.', 'invalidValue'));
  return {
    filter: req.query.get('filter') ?? undefined,
    startIndex: number('startIndex'),
    count: number('count'),
    sortBy: req.query.get('sortBy') ?? undefined,
    sortOrder: req.query.get('sortOrder') ?? undefined,
    attributes: req.query.get('attributes') ?? undefined,
    attributeSets: req.query.get('attributeSets') ?? undefined,
    limit,
    page,
    serverMaxPage: world.oci.maxPageSize,
  };
}

/** opc-next-page tokens are opaque to clients; this one carries the next offset and the query it belongs to. */
function pageToken(offset: number, params: ListParams): string {
  return Buffer.from(JSON.stringify({ o: offset, q: queryKey(params) })).toString('base64url');
}

function queryKey(params: ListParams): string {
  return JSON.stringify([params.filter ?? '', params.sortBy ?? '', params.sortOrder ?? '']);
}

function offsetOfPageToken(token: string, params: ListParams): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown; q?: unknown };
    if (Number.isInteger(parsed.o) && (parsed.o as number) >= 0 && parsed.q === queryKey(params))
      return parsed.o as number;
  } catch {
    // falls through to the refusal
  }
  throw new ScimFailure(scimError(400, 'The page token is not valid for this query.', 'invalidValue'));
}

/** POST …/.search body (SearchRequest). */
export function listParamsFromSearch(req: EmuRequest, world: World): ListParams {
  const body = parseJsonBody<Record<string, unknown>>(req);
  if (!body || typeof body !== 'object')
    throw new ScimFailure(scimError(400, 'The request body is not valid JSON.', 'invalidSyntax'));
  const schemas = Array.isArray(body.schemas) ? body.schemas : [];
  if (!schemas.includes(SCHEMA.searchRequest)) {
    throw new ScimFailure(
      scimError(400, `A search request must declare the schema ${SCHEMA.searchRequest}.`, 'invalidSyntax'),
    );
  }
  return {
    filter: typeof body.filter === 'string' ? body.filter : undefined,
    startIndex: typeof body.startIndex === 'number' ? body.startIndex : undefined,
    count: typeof body.count === 'number' ? body.count : undefined,
    sortBy: typeof body.sortBy === 'string' ? body.sortBy : undefined,
    sortOrder: typeof body.sortOrder === 'string' ? body.sortOrder : undefined,
    attributes: Array.isArray(body.attributes) ? (body.attributes as string[]) : undefined,
    attributeSets: Array.isArray(body.attributeSets) ? (body.attributeSets as string[]) : undefined,
    serverMaxPage: world.oci.maxPageSize,
  };
}

export function compileFilter(filter: string | undefined): FilterNode | undefined {
  return filter && filter.trim() ? parseFilter(filter) : undefined;
}

function sortKey(resource: Record<string, unknown>, path: string): string {
  let value: unknown = resource;
  for (const segment of path.split('.')) {
    if (value === null || typeof value !== 'object') return '';
    const entry = Object.entries(value as Record<string, unknown>).find(
      ([name]) => name.toLowerCase() === segment.toLowerCase(),
    );
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
  const serverMax = Math.min(MAX_COUNT, params.serverMaxPage ?? MAX_COUNT);
  const ociPaging = params.limit !== undefined || params.page !== undefined;
  const offset =
    params.page !== undefined ? offsetOfPageToken(params.page, params) : Math.max(1, params.startIndex ?? 1) - 1;
  // A domain may serve fewer than asked (RFC 7644 3.4.2.4): itemsPerPage is the page size in effect, totalResults how many match.
  const count = Math.min(serverMax, Math.max(0, (ociPaging ? params.limit : params.count) ?? DEFAULT_COUNT));
  const page = matched.slice(offset, offset + count);
  const next = offset + page.length;
  // opc-next-page: present while more remain (the SDKs' List responses expose it as opcNextPage).
  const headers: Record<string, string> =
    count > 0 && next < matched.length ? { 'opc-next-page': pageToken(next, params) } : {};
  return scimJson(
    200,
    {
      schemas: [SCHEMA.listResponse],
      totalResults: matched.length,
      ...(count > 0 ? { Resources: page.map(render) } : {}),
      startIndex: offset + 1,
      itemsPerPage: count,
    },
    headers,
  );
}

export interface PatchOperation {
  op: 'add' | 'remove' | 'replace';
  path?: string;
  value?: unknown;
}

/** Validates a PatchOp body: the PatchOp schema, and add/remove/replace operations. */
export function parsePatchOp(req: EmuRequest): PatchOperation[] {
  const body = parseJsonBody<Record<string, unknown>>(req);
  if (!body || typeof body !== 'object')
    throw new ScimFailure(scimError(400, 'The request body is not valid JSON.', 'invalidSyntax'));
  const schemas = Array.isArray(body.schemas) ? body.schemas : [];
  if (!schemas.includes(SCHEMA.patchOp)) {
    throw new ScimFailure(
      scimError(400, `A PATCH request must declare the schema ${SCHEMA.patchOp}.`, 'invalidSyntax'),
    );
  }
  const operations = (body.Operations ?? body.operations) as unknown;
  if (!Array.isArray(operations) || operations.length === 0) {
    throw new ScimFailure(scimError(400, 'A PATCH request needs a non-empty Operations array.', 'invalidSyntax'));
  }
  return operations.map((raw: unknown, index) => {
    const operation = raw as Record<string, unknown>;
    const op = String(operation?.op ?? '').toLowerCase();
    if (op !== 'add' && op !== 'remove' && op !== 'replace') {
      throw new ScimFailure(
        scimError(
          400,
          `Operations[${index}].op "${String(operation?.op)}" is not add, remove or replace.`,
          'invalidSyntax',
        ),
      );
    }
    const path = typeof operation.path === 'string' && operation.path.trim() ? operation.path.trim() : undefined;
    if (op === 'remove' && !path)
      throw new ScimFailure(scimError(400, `Operations[${index}]: remove needs a path.`, 'noTarget'));
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
    if (error instanceof FilterError)
      throw new ScimFailure(scimError(400, `Invalid path "${path}": ${error.message}`, 'invalidPath'));
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
