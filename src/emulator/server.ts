/**
 * The emulator's HTTPS server: one loopback port serving Entra sign-in,
 * Microsoft Graph v1.0, an OCI identity domain's SCIM API and the control
 * endpoints, and a sink for notification webhooks (/_hooks/), told apart by
 * path as the real hosts are told apart by name.
 * Cross-cutting behaviour lives here: request log, latency, fault and
 * throttling injection, and 501 for anything not implemented.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { World } from './state.js';
import { generateTls, type EmulatorTls } from './tls.js';
import type { EmuRequest, EmuResponse, EmulatorApi, Route, Service } from './http.js';
import { entraRoutes } from './entra/index.js';
import { graphRoutes, graphError } from './graph/index.js';
import { INSUFFICIENT_PRIVILEGES } from './graph/errors.js';
import { ociRoutes, scimError } from './oci/index.js';
import { controlRoutes } from './control.js';
import { webhookRoutes } from './webhooks/index.js';
import { OKTA_ORG_PATH, oktaError, oktaRoutes, runDueOktaPushes } from './okta/index.js';
import { runDueProvisioningCycles, runProvisioningCycleNow } from './provisioning.js';
import { applyPimClock } from './pim/clock.js';
import { clientOf, earlyBy, noteRetryAfter, retryAfterHeader, retryKey } from './retry-after.js';
import { groupBy } from '../core/group-by.js';

export interface EmulatorServerOptions {
  host?: string;
  port?: number;
  world?: World;
  tls?: EmulatorTls;
  /** Real-time interval at which due provisioning cycles are checked (ms). */
  tickMs?: number;
}

export function serviceOf(path: string): Service {
  if (path.startsWith('/_emulator/')) return 'control';
  if (path.startsWith('/v1.0/') || path === '/v1.0' || path.startsWith('/beta/')) return 'graph';
  if (path.startsWith('/admin/v1/')) return 'oci';
  if (path.startsWith('/_hooks/')) return 'webhooks';
  // Before Entra's pattern, which /okta/oauth2/… would also match.
  if (path === OKTA_ORG_PATH || path.startsWith(`${OKTA_ORG_PATH}/`)) return 'okta';
  if (/^\/[^/]+\/(oauth2\/|v2\.0\/|discovery\/)/.test(path) || path.startsWith('/common/')) return 'entra';
  return 'unknown';
}

function unimplemented(service: Service, method: string, path: string): EmuResponse {
  const message = `The emulator does not implement ${method} ${path}.`;
  if (service === 'graph') return graphError(501, 'NotImplemented', message);
  if (service === 'oci') return scimError(501, message);
  if (service === 'okta') return oktaError(501, 'E0000060', 'Unsupported operation.', [message]);
  return { status: 501, body: { error: 'not_implemented', error_description: message } };
}

/** `said`: the error code and message a fault rule puts in the body instead of the usual ones. */
function faultResponse(
  service: Service,
  status: number,
  retryAfterSeconds?: number,
  said: { code?: string; message?: string } = {},
): EmuResponse {
  const headers: Record<string, string> = {};
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
  if (service === 'graph') {
    const code =
      said.code ??
      (status === 403
        ? 'Authorization_RequestDenied'
        : status === 429
          ? 'TooManyRequests'
          : status === 503
            ? 'serviceNotAvailable'
            : 'generalException');
    const message =
      said.message ??
      (status === 403
        ? INSUFFICIENT_PRIVILEGES
        : status === 429
          ? 'Too many requests.'
          : 'The service is temporarily unavailable.');
    const response = graphError(status, code, message);
    return { ...response, headers: { ...response.headers, ...headers } };
  }
  if (service === 'okta') {
    const response =
      status === 429
        ? oktaError(429, 'E0000047', 'API call exceeded rate limit due to too many requests.')
        : status === 403
          ? oktaError(403, 'E0000006', 'You do not have permission to perform the requested action')
          : oktaError(status, said.code ?? 'E0000009', said.message ?? 'Internal Server Error');
    return { ...response, headers: { ...response.headers, ...headers } };
  }
  if (service === 'oci') {
    const response = scimError(status, said.message ?? (status === 429 ? 'Too many requests.' : 'Internal error.'));
    return { ...response, headers: { ...response.headers, ...headers } };
  }
  return { status, headers, body: { error: 'temporarily_unavailable', error_description: `Injected ${status}.` } };
}

export class EmulatorServer implements EmulatorApi {
  readonly world: World;
  readonly tls: EmulatorTls;
  private readonly server: https.Server;
  /** Routes by method, in their declared order (a sweep matches thousands of batch items). */
  private readonly routes: Map<string, Route[]>;
  private readonly options: EmulatorServerOptions;
  private ticker: NodeJS.Timeout | undefined;
  private port = 0;
  private readonly sockets = new Set<import('node:stream').Duplex>();

  constructor(options: EmulatorServerOptions = {}) {
    this.options = options;
    this.world = options.world ?? new World();
    this.tls = options.tls ?? generateTls();
    this.routes = groupBy(
      [...oktaRoutes(), ...entraRoutes(), ...graphRoutes(), ...ociRoutes(), ...controlRoutes(), ...webhookRoutes()],
      (route) => route.method,
    );
    this.server = https.createServer({ cert: this.tls.serverCertPem, key: this.tls.serverKeyPem }, (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'emulator_failure', message: String(error) }));
        }
      });
    });
    // Longer than any client's idle timeout (ours drop idle sockets after 4 s), as
    // Entra's and Graph's front ends are: the client then always closes an idle
    // connection first. With 5 s, a test that blocks the event loop (RSA key
    // generation) for ~5 s could send a request on a socket the server was just
    // closing, and get ECONNRESET (seen on Node 24).
    this.server.keepAliveTimeout = 65_000;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get baseUrl(): string {
    const host = this.options.host ?? '127.0.0.1';
    return `https://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    const tickMs = this.options.tickMs ?? 100;
    this.ticker = setInterval(() => this.runDueCycles(), tickMs);
    this.ticker.unref();
    return this;
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  runDueCycles(): void {
    // PIM first: a membership that ended before a due cycle is not exported by that cycle.
    applyPimClock(this.world);
    runDueProvisioningCycles(this.world);
    runDueOktaPushes(this.world);
  }

  runCycleNow(): void {
    runProvisioningCycleNow(this.world);
  }

  async dispatch(request: EmuRequest): Promise<EmuResponse> {
    const match = this.match(request.method, request.path);
    if (!match) {
      return unimplemented(request.service, request.method, request.path);
    }
    request.params = match.params;
    return match.route.handler(request, this);
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    for (const candidate of this.routes.get(method) ?? []) {
      const found = candidate.pattern.exec(path);
      if (found) return { route: candidate, params: { ...(found.groups ?? {}) } };
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAt = performance.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawUrl = req.url ?? '/';
    const url = new URL(rawUrl, 'https://emulator.invalid');
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      path = url.pathname;
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const service = serviceOf(path);
    const request: EmuRequest = {
      service,
      method,
      path,
      rawUrl,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks),
      params: {},
    };

    // Let time-driven work (provisioning cycles) catch up before answering, so a
    // client never sees a state older than the virtual clock says.
    this.runDueCycles();

    // Did this client come back before the Retry-After it was given for this request?
    const client = clientOf(req.headers);
    const key = retryKey(client, method, rawUrl, request.body);
    const early = service === 'control' ? undefined : earlyBy(this.world, key);
    const marks = { client, ...(early !== undefined ? { early } : {}) };

    // Latency: the answer leaves no sooner than this long after the request
    // arrived. The emulator's own work happens within that time, as a real
    // service's does on its own machines; here it runs on the client's CPU, and
    // adding it on top would charge the client for the emulator.
    const delay = service === 'control' ? 0 : (this.world.latencyMs[service] ?? 0) + (this.world.latencyMs['*'] ?? 0);
    const answerAt = arrivedAt + delay;
    const held = async () => {
      const wait = answerAt - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    };

    if (service !== 'control') {
      const fault = this.takeFault(service, method, path);
      if (fault) {
        this.world.log({
          service,
          method,
          path: rawUrl,
          status: fault.kind === 'status' || !fault.kind ? fault.status : 0,
          ...marks,
        });
        if (fault.kind === 'timeout') return; // never answered; the client's timeout decides
        const answer = faultResponse(service, fault.status, fault.retryAfterSeconds, {
          code: fault.code,
          message: fault.message,
        });
        await held();
        // Retry-After counts from when the answer leaves.
        noteRetryAfter(this.world, key, retryAfterHeader(answer.headers));
        if (fault.kind === 'reset') {
          req.socket.destroy();
          return;
        }
        return this.send(res, answer);
      }
      // Graph throttles the items of a $batch one by one (the batch module does that), not the batch call itself.
      const throttled = service === 'graph' && path === '/v1.0/$batch' ? undefined : this.takeThrottle(service);
      if (throttled !== undefined) {
        this.world.log({ service, method, path: rawUrl, status: 429, ...marks });
        await held();
        noteRetryAfter(this.world, key, String(throttled));
        return this.send(res, faultResponse(service, 429, throttled));
      }
    }

    const match = this.match(method, path);
    let response: EmuResponse;
    if (!match) {
      response = unimplemented(service, method, path);
      this.world.log({ service, method, path: rawUrl, status: response.status, unimplemented: true });
    } else {
      request.params = match.params;
      try {
        response = await match.route.handler(request, this);
      } catch (error) {
        response = {
          status: 500,
          body: { error: 'emulator_failure', message: String((error as Error)?.stack ?? error) },
        };
      }
      if (service !== 'control' || path !== '/_emulator/requests') {
        const entry = this.world.log({
          service,
          method,
          path: rawUrl,
          status: response.status,
          principal: request.principal,
          ...marks,
        });
        const items = (response as EmuResponse & { batchItems?: typeof entry.batchItems }).batchItems;
        if (items) entry.batchItems = items;
      }
    }
    // Serialised before the wait: it is the emulator's own work, and belongs inside the latency too.
    const prepared = prepare(response);
    await held();
    if (match && service !== 'control') noteRetryAfter(this.world, key, retryAfterHeader(response.headers));
    this.write(res, prepared);
  }

  private send(res: ServerResponse, response: EmuResponse): void {
    this.write(res, prepare(response));
  }

  private write(res: ServerResponse, { status, headers, payload }: PreparedResponse): void {
    // Every answer is dated, as HTTP origin servers with a clock must be (RFC 9110, 6.6.1), on the
    // emulator's virtual clock: `approve` compares the machine's clock with it.
    const all: Record<string, string> = { date: new Date(this.world.now()).toUTCString(), ...headers };
    // Graph answers every call, not only failures, with request-id and client-request-id: the
    // caller's, or, when none was sent, the request-id (Graph activity logs: "If no client request
    // identifier is sent, the value will be equal to the operation identifier").
    const service = serviceOf(new URL(res.req.url ?? '/', 'https://emulator.invalid').pathname);
    if (service === 'graph') {
      const sent = res.req.headers['client-request-id'];
      const echoed = Array.isArray(sent) ? sent[0] : sent;
      if (echoed) all['client-request-id'] = echoed;
      else all['client-request-id'] ??= all['request-id']!;
    }
    res.writeHead(status, all);
    res.end(payload);
  }

  private takeFault(service: Service, method: string, path: string) {
    for (const rule of this.world.faults) {
      if (rule.remaining <= 0) continue;
      if (rule.service && rule.service !== service) continue;
      if (rule.method && rule.method.toUpperCase() !== method) continue;
      if (rule.pathPattern && !new RegExp(rule.pathPattern).test(path)) continue;
      rule.remaining -= 1;
      return rule;
    }
    return undefined;
  }

  /** Returns the Retry-After (seconds) when this call is to be throttled. */
  private takeThrottle(service: Service): number | undefined {
    for (const plan of this.world.throttles) {
      if (plan.service && plan.service !== service) continue;
      if (Math.random() >= plan.rate) continue;
      const [low, high] = Array.isArray(plan.retryAfterSeconds)
        ? plan.retryAfterSeconds
        : [plan.retryAfterSeconds, plan.retryAfterSeconds];
      return low + Math.floor(Math.random() * (high - low + 1));
    }
    return undefined;
  }
}

interface PreparedResponse {
  status: number;
  headers: Record<string, string>;
  payload: Buffer | undefined;
}

/** An answer as bytes and headers, ready to write. */
function prepare(response: EmuResponse): PreparedResponse {
  const headers: Record<string, string> = { ...(response.headers ?? {}) };
  let payload: Buffer | undefined;
  if (response.body === undefined || response.status === 204) {
    payload = undefined;
  } else if (Buffer.isBuffer(response.body)) {
    payload = response.body;
  } else if (typeof response.body === 'string') {
    payload = Buffer.from(response.body, 'utf8');
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  } else {
    payload = Buffer.from(JSON.stringify(response.body), 'utf8');
    headers['content-type'] ??= 'application/json';
  }
  headers['request-id'] ??= randomUUID();
  if (payload) headers['content-length'] = String(payload.length);
  return { status: response.status, headers, payload };
}
