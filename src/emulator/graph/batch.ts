/**
 * JSON batching (POST /v1.0/$batch): up to 20 requests, each run through the
 * same Graph routes with the batch's token and answered with its own status,
 * headers and body. As in Graph, each item is evaluated on its own against
 * throttling and injected faults, a failed dependency gives 424, and the
 * answers come back in no particular order (shuffled on purpose, so clients
 * correlate by id).
 */
import type { EmuRequest, EmuResponse, EmulatorApi, Route } from '../http.js';
import { json, parseJsonBody, route } from '../http.js';
import type { FaultRule, World } from '../state.js';
import { authenticate, isResponse } from './auth.js';
import { badRequest, errorFor, graphError, INSUFFICIENT_PRIVILEGES } from './errors.js';
import { clientOf, earlyBy, noteRetryAfter, retryAfterHeader, retryKey } from '../retry-after.js';

export const MAX_BATCH_REQUESTS = 20;

interface BatchItem {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: unknown;
  dependsOn: string[];
}

interface ItemAnswer {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

export interface BatchResponse extends EmuResponse {
  /** Recorded by the server in the request log: one entry per item, in answer order. */
  batchItems: { method: string; url: string; status: number; early?: number }[];
}

/**
 * Per-item throttling is deterministic: a plan of rate r throttles every item
 * at which its accumulated credit reaches 1 (rate 0.5: every second item), so
 * a test knows how many 429s to expect.
 */
function itemThrottle(world: World): number | undefined {
  const throttleCredit = world.batchThrottleCredit;
  for (const plan of world.throttles) {
    if (plan.service && plan.service !== 'graph') continue;
    const credit = (throttleCredit.get(plan) ?? 0) + plan.rate;
    if (credit < 1) {
      throttleCredit.set(plan, credit);
      continue;
    }
    throttleCredit.set(plan, credit - 1);
    const [low, high] = Array.isArray(plan.retryAfterSeconds)
      ? plan.retryAfterSeconds
      : [plan.retryAfterSeconds, plan.retryAfterSeconds];
    return low + Math.floor(Math.random() * (high - low + 1));
  }
  return undefined;
}

function itemFault(world: World, method: string, path: string): FaultRule | undefined {
  for (const rule of world.faults) {
    if (rule.remaining <= 0) continue;
    if (rule.service && rule.service !== 'graph') continue;
    if (rule.method && rule.method.toUpperCase() !== method) continue;
    if (rule.pathPattern && !new RegExp(rule.pathPattern).test(path)) continue;
    rule.remaining -= 1;
    return rule;
  }
  return undefined;
}

function faultAnswer(status: number, retryAfterSeconds?: number): EmuResponse {
  // An injected 403 reads as Graph's own refusal (e.g. a permission the app lacks for this object).
  const code =
    status === 403
      ? 'Authorization_RequestDenied'
      : status === 429
        ? 'TooManyRequests'
        : status === 503
          ? 'serviceNotAvailable'
          : status === 504
            ? 'gatewayTimeout'
            : 'generalException';
  const message =
    status === 403
      ? INSUFFICIENT_PRIVILEGES
      : status === 429
        ? 'Too many requests.'
        : 'The service is temporarily unavailable.';
  const response = graphError(status, code, message);
  if (retryAfterSeconds !== undefined)
    response.headers = { ...response.headers, 'retry-after': String(retryAfterSeconds) };
  return response;
}

const CANONICAL_HEADERS: Record<string, string> = {
  'content-type': 'Content-Type',
  'retry-after': 'Retry-After',
  location: 'Location',
  'request-id': 'request-id',
  'client-request-id': 'client-request-id',
  'cache-control': 'Cache-Control',
};

/** Item headers as Graph writes them (Content-Type, Retry-After): the SDK looks them up case-sensitively. */
function itemHeaders(response: EmuResponse): Record<string, string> {
  const headers: Record<string, string> = { 'Cache-Control': 'no-cache' };
  for (const [name, value] of Object.entries(response.headers ?? {}))
    headers[CANONICAL_HEADERS[name.toLowerCase()] ?? name] = value;
  if (
    response.body !== undefined &&
    response.status !== 204 &&
    !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')
  ) {
    headers['Content-Type'] = typeof response.body === 'string' ? 'text/plain' : 'application/json';
  }
  return headers;
}

function itemBody(response: EmuResponse): unknown {
  if (response.status === 204 || response.body === undefined) return undefined;
  if (Buffer.isBuffer(response.body)) return response.body.toString('base64');
  return response.body;
}

/** Validates the batch payload as Graph does before running anything (400 for the whole batch). */
function parseBatch(req: EmuRequest): BatchItem[] | EmuResponse {
  const payload = parseJsonBody<{ requests?: unknown }>(req);
  if (!payload || typeof payload !== 'object' || !Array.isArray(payload.requests)) {
    return badRequest(req, 'Invalid batch payload format.');
  }
  if (payload.requests.length === 0) return badRequest(req, 'Invalid batch payload format.');
  if (payload.requests.length > MAX_BATCH_REQUESTS) {
    return badRequest(
      req,
      `Number of batch request steps exceeds the maximum value of ${MAX_BATCH_REQUESTS}.`,
      'MaximumValueExceeded',
    );
  }
  const items: BatchItem[] = [];
  const seen = new Set<string>();
  for (const raw of payload.requests as Record<string, unknown>[]) {
    if (!raw || typeof raw !== 'object') return badRequest(req, 'Invalid batch payload format.');
    const { id, method, url, headers, body, dependsOn } = raw;
    if (typeof id !== 'string' || id === '') return badRequest(req, "A batch request step must have a string 'id'.");
    if (seen.has(id.toLowerCase()))
      return badRequest(req, `Batch request ids must be unique: '${id}' is used more than once.`);
    seen.add(id.toLowerCase());
    if (typeof method !== 'string' || method === '')
      return badRequest(req, `Batch request step '${id}' has no 'method'.`);
    if (typeof url !== 'string' || url === '') return badRequest(req, `Batch request step '${id}' has no 'url'.`);
    const itemHeaderMap: Record<string, string> = {};
    if (headers !== undefined) {
      if (!headers || typeof headers !== 'object' || Array.isArray(headers))
        return badRequest(req, `Batch request step '${id}' has invalid 'headers'.`);
      for (const [name, value] of Object.entries(headers)) itemHeaderMap[name.toLowerCase()] = String(value);
    }
    if (body !== undefined && itemHeaderMap['content-type'] === undefined) {
      return badRequest(req, `Write request id : ${id} does not contain Content-Type header or body.`);
    }
    if (dependsOn !== undefined && (!Array.isArray(dependsOn) || dependsOn.some((dep) => typeof dep !== 'string'))) {
      return badRequest(req, `Batch request step '${id}' has an invalid 'dependsOn'.`);
    }
    items.push({
      id,
      method: method.toUpperCase(),
      url,
      headers: itemHeaderMap,
      body,
      dependsOn: (dependsOn as string[] | undefined) ?? [],
    });
  }
  const ids = new Map(items.map((item) => [item.id.toLowerCase(), item]));
  for (const item of items) {
    for (const dep of item.dependsOn) {
      if (!ids.has(dep.toLowerCase()) || dep.toLowerCase() === item.id.toLowerCase()) {
        return badRequest(req, `Batch request step '${item.id}' depends on '${dep}', which is not in the batch.`);
      }
    }
  }
  return items;
}

/** Items in an order that runs every dependency first; a cycle is a malformed batch. */
function executionOrder(req: EmuRequest, items: BatchItem[]): BatchItem[] | EmuResponse {
  const byId = new Map(items.map((item) => [item.id.toLowerCase(), item]));
  const ordered: BatchItem[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (item: BatchItem): boolean => {
    const key = item.id.toLowerCase();
    if (state.get(key) === 'done') return true;
    if (state.get(key) === 'visiting') return false;
    state.set(key, 'visiting');
    for (const dep of item.dependsOn) if (!visit(byId.get(dep.toLowerCase())!)) return false;
    state.set(key, 'done');
    ordered.push(item);
    return true;
  };
  for (const item of items)
    if (!visit(item)) return badRequest(req, 'The dependsOn references in the batch form a cycle.');
  return ordered;
}

/** The item as a request to the Graph routes: its URL resolved under /v1.0/, the batch's Authorization. */
function itemRequest(batch: EmuRequest, item: BatchItem): EmuRequest | undefined {
  const relative = item.url.replace(/^\/+/, '').replace(/^v1\.0\//, '');
  let url: URL;
  try {
    url = new URL(`/v1.0/${relative}`, 'https://graph.invalid');
  } catch {
    return undefined;
  }
  if (!url.pathname.startsWith('/v1.0/')) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    path = url.pathname;
  }
  let body: Buffer;
  if (item.body === undefined) body = Buffer.alloc(0);
  else if (typeof item.body === 'string' && !/json/i.test(item.headers['content-type'] ?? ''))
    body = Buffer.from(item.body, 'base64');
  else body = Buffer.from(JSON.stringify(item.body), 'utf8');
  const headers: EmuRequest['headers'] = { ...item.headers, authorization: batch.headers.authorization };
  return {
    service: 'graph',
    method: item.method,
    path,
    rawUrl: `${url.pathname}${url.search}`,
    query: url.searchParams,
    headers,
    body,
    params: {},
  };
}

async function runItem(
  batch: EmuRequest,
  emu: EmulatorApi,
  item: BatchItem,
  early: Map<string, number>,
): Promise<EmuResponse> {
  const request = itemRequest(batch, item);
  if (!request) return errorFor(batch, 400, 'BadRequest', `Invalid request URI '${item.url}'.`);
  if (/^\/v1\.0\/\$batch$/i.test(request.path))
    return errorFor(batch, 400, 'BadRequest', 'A batch request cannot contain another batch request.');
  // Items keep their own Retry-After, per client and item (see retry-after.ts).
  const key = retryKey(clientOf(batch.headers), request.method, request.rawUrl, request.body);
  const earlyMs = earlyBy(emu.world, key);
  if (earlyMs !== undefined) early.set(item.id, earlyMs);
  const answer = await answerItem(batch, emu, request);
  noteRetryAfter(emu.world, key, retryAfterHeader(answer.headers));
  return answer;
}

async function answerItem(batch: EmuRequest, emu: EmulatorApi, request: EmuRequest): Promise<EmuResponse> {
  const fault = itemFault(emu.world, request.method, request.path);
  if (fault) {
    const status = fault.kind === 'reset' || fault.kind === 'timeout' ? 504 : fault.status;
    return faultAnswer(status, fault.retryAfterSeconds);
  }
  const throttled = itemThrottle(emu.world);
  if (throttled !== undefined) return faultAnswer(429, throttled);
  try {
    return await emu.dispatch(request);
  } catch (error) {
    return errorFor(
      batch,
      500,
      'generalException',
      `The emulator failed on this batch item: ${String((error as Error)?.message ?? error)}`,
    );
  }
}

function shuffle<T>(values: T[]): T[] {
  const out = [...values];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function batch(req: EmuRequest, emu: EmulatorApi): Promise<EmuResponse> {
  const caller = authenticate(req, emu.world);
  if (isResponse(caller)) return caller;
  const items = parseBatch(req);
  if (isResponse(items)) return items;
  const order = executionOrder(req, items);
  if (isResponse(order)) return order;

  const statusById = new Map<string, number>();
  const early = new Map<string, number>();
  const answers: ItemAnswer[] = [];
  for (const item of order) {
    const failedDependency = item.dependsOn.some((dep) => (statusById.get(dep.toLowerCase()) ?? 0) >= 400);
    const response = failedDependency
      ? errorFor(req, 424, 'FailedDependency', 'The request depends on another request in the batch that failed.')
      : await runItem(req, emu, item, early);
    statusById.set(item.id.toLowerCase(), response.status);
    const answer: ItemAnswer = { id: item.id, status: response.status, headers: itemHeaders(response) };
    const body = itemBody(response);
    if (body !== undefined) answer.body = body;
    answers.push(answer);
  }

  const shuffled = shuffle(answers);
  const byId = new Map(items.map((item) => [item.id, item]));
  const response: BatchResponse = {
    ...json(200, { responses: shuffled }),
    batchItems: shuffled.map((answer) => ({
      method: byId.get(answer.id)!.method,
      url: byId.get(answer.id)!.url,
      status: answer.status,
      ...(early.has(answer.id) ? { early: early.get(answer.id) } : {}),
    })),
  };
  return response;
}

export function batchRoutes(): Route[] {
  return [route('graph', 'POST', /^\/v1\.0\/\$batch$/, batch)];
}
