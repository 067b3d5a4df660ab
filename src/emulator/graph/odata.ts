/**
 * The OData query options the emulated routes understand: $select, $expand of
 * open extensions, $filter (the few forms the tool uses), $top with
 * $skiptoken paging and $count (which, as in Graph, needs
 * "ConsistencyLevel: eventual").
 */
import type { EmuRequest, EmuResponse, EmulatorApi } from '../http.js';
import { badRequest, errorFor } from './errors.js';

export type Json = Record<string, unknown>;

export function odataContext(emu: EmulatorApi, fragment: string): string {
  return `${emu.baseUrl}/v1.0/$metadata#${fragment}`;
}

/** The properties named in $select, or undefined when absent; unknown names give Graph's 400. */
export function parseSelect(
  req: EmuRequest,
  typeName: string,
  known: readonly string[],
): string[] | undefined | EmuResponse {
  const raw = req.query.get('$select');
  if (raw === null || raw.trim() === '') return undefined;
  const wanted = raw
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const byLower = new Map(known.map((name) => [name.toLowerCase(), name]));
  const selected: string[] = [];
  for (const name of wanted) {
    const canonical = byLower.get(name.toLowerCase());
    if (!canonical) {
      return badRequest(
        req,
        `Parsing OData Select and Expand failed: Could not find a property named '${name}' on type '${typeName}'.`,
      );
    }
    if (!selected.includes(canonical)) selected.push(canonical);
  }
  return selected;
}

export function applySelect(entity: Json, selected: string[] | undefined): Json {
  if (!selected) return entity;
  const out: Json = {};
  for (const [key, value] of Object.entries(entity)) {
    if (key.startsWith('@odata.') || selected.includes(key)) out[key] = value;
  }
  return out;
}

/**
 * $expand=extensions, optionally with ($filter=id eq 'name'). On users and groups (directory
 * objects) Graph's pages always pair it with $select (user-get, group-get, "Add custom data to
 * users using open extensions"); without $select the object comes back with its default
 * properties and no extensions. The routes do the same: a client that forgets $select sees
 * no extension rather than an error, which is the harder case for it to notice.
 */
export interface ExtensionExpand {
  /** Only the extension with this id (= extensionName), when filtered. */
  id?: string;
}

export function parseExpand(req: EmuRequest, typeName: string): ExtensionExpand | undefined | EmuResponse {
  const raw = req.query.get('$expand');
  if (raw === null || raw.trim() === '') return undefined;
  const match = /^\s*extensions\s*(?:\(\s*\$filter\s*=\s*id\s+eq\s+'(?<id>(?:[^']|'')*)'\s*\))?\s*$/i.exec(raw);
  if (!match) {
    const name = raw.split('(')[0]!.trim();
    if (name.toLowerCase() === 'extensions') return badRequest(req, `Invalid $expand option for extensions: '${raw}'.`);
    return badRequest(
      req,
      `Parsing OData Select and Expand failed: Could not find a property named '${name}' on type '${typeName}'.`,
    );
  }
  const id = match.groups?.id;
  return id === undefined ? {} : { id: id.replace(/''/g, "'") };
}

/** One clause of $filter: `prop eq 'v'`, `prop eq true`, `prop in ('a','b')` or `startswith(prop,'v')`. */
export interface FilterClause {
  property: string;
  op: 'eq' | 'in' | 'startswith';
  values: (string | boolean)[];
}

function unquote(literal: string): string | boolean | undefined {
  const trimmed = literal.trim();
  if (/^'(?:[^']|'')*'$/.test(trimmed)) return trimmed.slice(1, -1).replace(/''/g, "'");
  if (trimmed === 'true') return true;
  if (trimmed === 'false') return false;
  return undefined;
}

/** Parses $filter as clauses joined by `and`; undefined when absent, Graph's 400 when unsupported. */
export function parseFilter(req: EmuRequest, filterable: readonly string[]): FilterClause[] | undefined | EmuResponse {
  const raw = req.query.get('$filter');
  if (raw === null || raw.trim() === '') return undefined;
  const byLower = new Map(filterable.map((name) => [name.toLowerCase(), name]));
  const clauses: FilterClause[] = [];
  for (const part of raw.split(/\s+and\s+/i)) {
    let match = /^\s*(?<prop>[A-Za-z]+)\s+eq\s+(?<value>'(?:[^']|'')*'|true|false)\s*$/.exec(part);
    if (match) {
      const property = byLower.get(match.groups!.prop!.toLowerCase());
      const value = unquote(match.groups!.value!);
      if (!property || value === undefined) return unsupportedQuery(req);
      clauses.push({ property, op: 'eq', values: [value] });
      continue;
    }
    match = /^\s*(?<prop>[A-Za-z]+)\s+in\s+\((?<list>.*)\)\s*$/.exec(part);
    if (match) {
      const property = byLower.get(match.groups!.prop!.toLowerCase());
      const items = match.groups!.list!.match(/'(?:[^']|'')*'/g) ?? [];
      if (!property || items.length === 0) return unsupportedQuery(req);
      clauses.push({ property, op: 'in', values: items.map((item) => unquote(item) as string) });
      continue;
    }
    match = /^\s*startswith\(\s*(?<prop>[A-Za-z]+)\s*,\s*(?<value>'(?:[^']|'')*')\s*\)\s*$/i.exec(part);
    if (match) {
      const property = byLower.get(match.groups!.prop!.toLowerCase());
      if (!property) return unsupportedQuery(req);
      clauses.push({ property, op: 'startswith', values: [unquote(match.groups!.value!) as string] });
      continue;
    }
    return unsupportedQuery(req);
  }
  return clauses;
}

function unsupportedQuery(req: EmuRequest): EmuResponse {
  return errorFor(req, 400, 'Request_UnsupportedQuery', 'Unsupported Query.');
}

export function matchesFilter(entity: Json, clauses: FilterClause[] | undefined): boolean {
  if (!clauses) return true;
  return clauses.every((clause) => {
    const actual = entity[clause.property];
    const same = (expected: string | boolean) =>
      typeof actual === 'string' && typeof expected === 'string'
        ? actual.toLowerCase() === expected.toLowerCase()
        : actual === expected;
    if (clause.op === 'startswith') {
      return typeof actual === 'string' && actual.toLowerCase().startsWith(String(clause.values[0]).toLowerCase());
    }
    return clause.values.some(same);
  });
}

/** $count=true needs the ConsistencyLevel: eventual header, as in Graph's advanced queries. */
export function wantsCount(req: EmuRequest): boolean | EmuResponse {
  const raw = req.query.get('$count');
  if (raw === null) return false;
  if (raw !== 'true' && raw !== 'false') return badRequest(req, `Invalid value '${raw}' for $count query option.`);
  if (raw === 'false') return false;
  const level = req.headers.consistencylevel;
  if ((Array.isArray(level) ? level[0] : level)?.toLowerCase() !== 'eventual') {
    return errorFor(req, 400, 'Request_BadRequest', '$count is not currently supported.');
  }
  return true;
}

/** The page size: $top between 1 and 999, 100 by default. */
export function pageSize(req: EmuRequest): number | EmuResponse {
  const raw = req.query.get('$top');
  if (raw === null) return 100;
  if (!/^-?\d+$/.test(raw.trim())) return badRequest(req, `Invalid value '${raw}' for $top query option.`);
  const top = Number(raw);
  if (top < 1 || top > 999) {
    return errorFor(
      req,
      400,
      'Request_UnsupportedQuery',
      `Invalid page size specified: '${raw}'. Must be between 1 and 999 inclusive.`,
    );
  }
  return top;
}

/**
 * The skip token is a cursor: the id after which the next page starts, in id
 * order. Members added or removed between pages therefore never shift the
 * window: nobody present the whole time is skipped or returned twice.
 */
function encodeSkipToken(lastId: string): string {
  return `X${Buffer.from(JSON.stringify({ after: lastId }), 'utf8').toString('base64url')}`;
}

function decodeSkipToken(token: string): string | undefined {
  if (!token.startsWith('X')) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token.slice(1), 'base64url').toString('utf8')) as { after?: unknown };
    return typeof parsed.after === 'string' ? parsed.after : undefined;
  } catch {
    return undefined;
  }
}

export interface Page<T> {
  items: T[];
  nextLink?: string;
}

/**
 * One page of a collection sorted by id. The nextLink is absolute, on the
 * emulator's base URL, and repeats the request's query options with a new
 * $skiptoken, as Graph's do.
 */
export function pageOf<T extends { id: string }>(req: EmuRequest, emu: EmulatorApi, all: T[]): Page<T> | EmuResponse {
  const top = pageSize(req);
  if (typeof top !== 'number') return top;
  const sorted = [...all].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const token = req.query.get('$skiptoken');
  let start = 0;
  if (token !== null) {
    const after = decodeSkipToken(token);
    if (after === undefined) return errorFor(req, 400, 'Request_BadRequest', `Invalid skip token '${token}'.`);
    start = sorted.findIndex((item) => item.id > after);
    if (start === -1) start = sorted.length;
  }
  const items = sorted.slice(start, start + top);
  if (start + top >= sorted.length || items.length === 0) return { items };
  const params: string[] = [];
  for (const [key, value] of req.query) {
    if (key === '$skiptoken') continue;
    params.push(`${key}=${encodeURIComponent(value)}`);
  }
  if (!req.query.has('$top')) params.unshift(`$top=${top}`);
  params.push(`$skiptoken=${encodeSkipToken(items[items.length - 1]!.id)}`);
  return { items, nextLink: `${emu.baseUrl}${encodeURI(req.path)}?${params.join('&')}` };
}

/** A collection answer: {"@odata.context", "@odata.count"?, "@odata.nextLink"?, value}. */
export function collection(context: string, value: unknown[], nextLink?: string, count?: number): Json {
  const body: Json = { '@odata.context': context };
  if (count !== undefined) body['@odata.count'] = count;
  if (nextLink) body['@odata.nextLink'] = nextLink;
  body.value = value;
  return body;
}
