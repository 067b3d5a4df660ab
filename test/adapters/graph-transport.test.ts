/**
 * The Graph transport (src/adapters/graph/transport.ts): the last link of the
 * SDK's middleware chain sends with requestWhole (Node's own agents) instead
 * of the global fetch. These tests hold it to what fetch did, through the real SDK client
 * that createGraphClient builds, against the emulator; where the answer must
 * be exact (the headers sent, null-body statuses, repeated headers,
 * redirects refused), against a tiny HTTPS server on 127.0.0.1 that the test
 * controls. It serves the emulator's certificate, so the same connections
 * trust it; and it must be HTTPS: the SDK attaches the token and its
 * telemetry headers to https:// URLs only.
 */
import { jest } from '@jest/globals';
import type http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { GraphError, RetryHandlerOptions, type Context } from '@microsoft/microsoft-graph-client';
import { createGraphClient } from '../../src/adapters/graph/client.js';
import { GraphDirectory } from '../../src/adapters/graph/graph-directory.js';
import { WholeMessageHandler } from '../../src/adapters/graph/transport.js';
import { connectionsForCaFile, fetchWithCa, type HttpConnections } from '../../src/adapters/http/tls.js';
import { systemClock } from '../../src/context.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { clientOf } from '../../src/emulator/retry-after.js';
import { SEED } from '../../src/emulator/seed.js';
import type { LoggedRequest } from '../../src/emulator/state.js';
import { issueToken } from '../../src/emulator/tokens.js';
import { AuthError, UpstreamError } from '../../src/errors.js';
import { caught } from '../store/support/helpers.js';
import { postControl } from '../support/emulator-control.js';
import { closeReferenceDispatchers, referenceDispatcher } from '../support/reference-fetch.js';

const U = SEED.users;
const GROUP = SEED.tempGroupId;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A request as the local server received it. */
interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type LocalHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface LocalServer {
  base: string;
  received: Received[];
  /** Requests for a path with no route: checked empty after each test, as an unregistered stub would fail it. */
  unknown: string[];
  close(): Promise<void>;
}

/** An HTTPS server on 127.0.0.1 (the emulator's certificate) answering exactly as `routes` say; 501 to any other path, noted in `unknown`. */
async function startLocalServer(routes: Record<string, LocalHandler>): Promise<LocalServer> {
  const received: Received[] = [];
  const unknown: string[] = [];
  const server = https.createServer(
    { cert: emu.server.tls.serverCertPem, key: emu.server.tls.serverKeyPem },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const handler = routes[(req.url ?? '').split('?')[0]!];
        if (!handler) {
          unknown.push(`${req.method} ${req.url}`);
          res.writeHead(501, { 'content-type': 'text/plain' });
          res.end(`no route for ${req.method} ${req.url}`);
          return;
        }
        handler(req, res);
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `https://127.0.0.1:${port}`,
    received,
    unknown,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port where nothing listens: bound, noted, closed. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** What a call rejects with (the test fails if it resolves). */
const rejection = (call: Promise<unknown>): Promise<unknown> => caught(() => call);

async function graphFailure(call: Promise<unknown>): Promise<GraphError> {
  const error = await rejection(call);
  expect(error).toBeInstanceOf(GraphError);
  return error as GraphError;
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

let emu: RunningEmulator;
let connections: HttpConnections;
let control: typeof fetch;
let local: LocalServer;
/** A second local server: a different authority to be redirected to. */
let elsewhere: LocalServer;

beforeAll(async () => {
  emu = await startEmulator();
  connections = connectionsForCaFile(emu.caFile);
  control = fetchWithCa(emu.caFile);
  elsewhere = await startLocalServer({
    '/v1.0/me': (_req, res) => json(res, 200, { id: 'elsewhere' }),
  });
  local = await startLocalServer({
    '/v1.0/me': (_req, res) => json(res, 200, { id: 'local' }),
    '/status/204': (_req, res) => {
      res.writeHead(204, { 'x-answer': 'no content' });
      res.end();
    },
    '/status/304': (_req, res) => {
      res.writeHead(304, { etag: '"v1"' });
      res.end();
    },
    '/repeated-headers': (_req, res) => {
      res.setHeader('set-cookie', ['first=1; Path=/', 'second=2; Path=/']);
      res.setHeader('x-repeated', ['one', 'two']);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    },
    '/v1.0/moved-here': (_req, res) => {
      // Absolute: the SDK's RedirectHandler sends a relative Location as it is, which no client can fetch.
      res.writeHead(307, { location: `${local.base}/v1.0/me` });
      res.end();
    },
    '/v1.0/users/moved-away': (_req, res) => {
      res.writeHead(307, { location: `${elsewhere.base}/v1.0/me` });
      res.end();
    },
    '/echo': (req, res) => json(res, 200, { contentType: req.headers['content-type'] ?? null }),
    '/non-ascii-header': (_req, res) => {
      // Bytes above 0x7F in header values: UTF-8 "€" and a lone Latin-1 "é" (Node's server sends strings as Latin-1 bytes).
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-utf8': Buffer.from('€', 'utf8').toString('latin1'),
        'x-latin1': 'é',
      });
      res.end(JSON.stringify({ id: 'odd-headers' }));
    },
    '/echo-headers': (req, res) => json(res, 200, { accept: req.headers['accept'] ?? null }),
  });
});

afterAll(async () => {
  await local?.close();
  await elsewhere?.close();
  await emu?.stop();
  await closeReferenceDispatchers();
});

beforeEach(async () => {
  // No fault or throttle carries over from one test to the next.
  const response = await control(`${emu.baseUrl}/_emulator/faults`, { method: 'DELETE' });
  expect(response.status).toBe(204);
});

afterEach(() => {
  jest.restoreAllMocks();
  expect([...local.unknown, ...elsewhere.unknown]).toEqual([]);
});

async function emulatorControl(pathName: string, body: unknown): Promise<void> {
  const response = await postControl(control, emu.baseUrl, pathName, body);
  await response.arrayBuffer();
  expect(response.status).toBe(201);
}

const appToken = (roles: string[]): string =>
  issueToken(emu.world, { principalType: 'app', appId: SEED.automationAppId, roles }).token;
const logMark = (): number => emu.world.requestLog.at(-1)?.seq ?? 0;
const graphRequestsSince = (mark: number): LoggedRequest[] =>
  emu.world.requestLog.filter((entry) => entry.seq > mark && entry.service === 'graph');

function directory(getToken: (forceRefresh: boolean) => Promise<string>, graphBaseUrl = emu.baseUrl): GraphDirectory {
  return new GraphDirectory({
    graphBaseUrl,
    getToken,
    connections,
    clock: systemClock,
    identity: 'app',
    batching: false,
  });
}

describe('WholeMessageHandler through the SDK client of createGraphClient', () => {
  it('GET: returns the parsed JSON, the bearer token reaches the emulator, and the global fetch is not used', async () => {
    const token = appToken(['User.Read.All']);
    const graph = createGraphClient(emu.baseUrl, connections, async () => token);
    const fetchSpy = jest.spyOn(globalThis, 'fetch');
    const mark = logMark();

    const alice = await graph.api(`/users/${U.alice}`).select(['id', 'userPrincipalName']).get();

    expect(alice).toEqual({
      '@odata.context': expect.any(String),
      id: U.alice,
      userPrincipalName: `alice@${SEED.domain}`,
    });
    expect(fetchSpy).not.toHaveBeenCalled();
    const logged = graphRequestsSince(mark);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      method: 'GET',
      status: 200,
      principal: SEED.automationAppId,
      // The emulator tells clients apart by a hash of the bearer token it received.
      client: clientOf({ authorization: `Bearer ${token}` }),
    });
    expect(logged[0]!.path).toMatch(new RegExp(`^/v1\\.0/users/${U.alice}\\?`));
  });

  it("GET: the SDK's own headers (Authorization, SdkVersion, client-request-id) go out as the SDK set them", async () => {
    // The emulator's request log keeps no headers; the local server records them exactly.
    const graph = createGraphClient(local.base, connections, async () => 'local-token');
    const before = local.received.length;

    expect(await graph.api('/me').get()).toEqual({ id: 'local' });

    expect(local.received.slice(before)).toHaveLength(1);
    const sent = local.received.at(-1)!;
    expect(sent.method).toBe('GET');
    expect(sent.url).toBe('/v1.0/me');
    expect(sent.headers.authorization).toBe('Bearer local-token');
    expect(sent.headers.sdkversion).toMatch(/^graph-js\/\d+\.\d+\.\d+/);
    expect(sent.headers['client-request-id']).toMatch(UUID);
  });

  it("POST with a JSON body and DELETE answered 204 resolve; a repeated DELETE rejects with GraphError 404 and Graph's code", async () => {
    const graph = createGraphClient(emu.baseUrl, connections, async () => appToken(['GroupMember.ReadWrite.All']));
    const members = emu.world.groups.get(GROUP)!.members;
    expect(members.has(U.alice)).toBe(false);
    const mark = logMark();

    // The body goes out (the emulator answers 400 to an empty or unreadable one).
    await expect(
      graph
        .api(`/groups/${GROUP}/members/$ref`)
        .post({ '@odata.id': `${emu.baseUrl}/v1.0/directoryObjects/${U.alice}` }),
    ).resolves.toBeUndefined();
    expect(members.has(U.alice)).toBe(true);

    await expect(graph.api(`/groups/${GROUP}/members/${U.alice}/$ref`).delete()).resolves.toBeUndefined();
    expect(members.has(U.alice)).toBe(false);

    const clientRequestId = '0f0e0d0c-0b0a-4908-8706-050403020100';
    const notFound = await graphFailure(
      graph.api(`/groups/${GROUP}/members/${U.alice}/$ref`).header('client-request-id', clientRequestId).delete(),
    );
    expect(notFound.statusCode).toBe(404);
    expect(notFound.code).toBe('Request_ResourceNotFound');
    expect(notFound.message).toBe(
      `Resource '${U.alice}' does not exist or one of its queried reference-property objects are not present.`,
    );
    // Graph echoes the caller's client-request-id: the header went out, and the answer's headers came back.
    expect(notFound.headers?.get('client-request-id')).toBe(clientRequestId);
    expect(notFound.requestId).toMatch(UUID);
    expect(notFound.headers?.get('request-id')).toBe(notFound.requestId);

    expect(graphRequestsSince(mark).map((entry) => `${entry.method} ${entry.status}`)).toEqual([
      'POST 204',
      'DELETE 204',
      'DELETE 404',
    ]);
  });

  it('a 429 from the throttle hands Retry-After to the SDK: its RetryHandler reads it and the GraphError keeps it', async () => {
    await emulatorControl('throttle', { service: 'graph', rate: 1, retryAfterSeconds: 7 });
    const graph = createGraphClient(emu.baseUrl, connections, async () => appToken(['User.Read.All']));
    const seenByRetryHandler: (string | null)[] = [];
    // No retry (it would wait the 7 s it was told): only what the RetryHandler saw matters here.
    const noRetry = new RetryHandlerOptions(0, 1, (_delay, _attempt, _request, _options, response) => {
      seenByRetryHandler.push(response.headers.get('Retry-After'));
      return false;
    });
    const mark = logMark();

    const throttled = await graphFailure(graph.api(`/users/${U.bob}`).middlewareOptions([noRetry]).get());

    expect(seenByRetryHandler).toEqual(['7']);
    expect(throttled.statusCode).toBe(429);
    expect(throttled.code).toBe('TooManyRequests');
    expect(throttled.headers?.get('retry-after')).toBe('7');
    expect(graphRequestsSince(mark).map((entry) => entry.status)).toEqual([429]);
  });

  it('through GraphDirectory, a lasting 429 is retried by the SDK as Retry-After says, then maps to GRAPH_UNAVAILABLE', async () => {
    // Retry-After: 0 lets the SDK's three retries go at once (without the header it would wait 3 s, 5 s, 7 s).
    await emulatorControl('throttle', { service: 'graph', rate: 1, retryAfterSeconds: 0 });
    const token = appToken(['User.Read.All']);
    const mark = logMark();

    const error = await rejection(directory(async () => token).getUser(U.bob));

    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).code).toBe('GRAPH_UNAVAILABLE');
    expect((error as UpstreamError).message).toContain('(429: Too many requests.)');
    const cause = (error as UpstreamError).cause as GraphError;
    expect(cause).toBeInstanceOf(GraphError);
    expect(cause.headers?.get('retry-after')).toBe('0');
    const logged = graphRequestsSince(mark);
    expect(logged.map((entry) => entry.status)).toEqual([429, 429, 429, 429]);
    expect(logged.filter((entry) => entry.early !== undefined)).toEqual([]);
  });

  it('401 and 403 keep their status: one forced token refresh then SESSION_EXPIRED, and PERMISSION_DENIED', async () => {
    const mark = logMark();
    const asked: boolean[] = [];
    const revoked = directory(async (forceRefresh) => {
      asked.push(forceRefresh);
      return 'not-a-token-the-emulator-issued';
    });
    const expired = await rejection(revoked.getUser(U.bob));
    expect(expired).toBeInstanceOf(AuthError);
    expect((expired as AuthError).code).toBe('SESSION_EXPIRED');
    expect(asked).toEqual([false, true]);

    const unprivileged = appToken([]);
    const denied = await rejection(directory(async () => unprivileged).getUser(U.bob));
    expect(denied).toBeInstanceOf(AuthError);
    expect((denied as AuthError).code).toBe('PERMISSION_DENIED');
    expect(((denied as AuthError).cause as GraphError).statusCode).toBe(403);
    expect(graphRequestsSince(mark).map((entry) => entry.status)).toEqual([401, 401, 403]);
  });

  it('no answer at all (nothing listens) fails as fetch failed: GraphError -1 through the SDK, GRAPH_UNAVAILABLE through GraphDirectory', async () => {
    const port = await deadPort();
    const base = `https://127.0.0.1:${port}`;

    // In a plain Node process the stock chain (the SDK's HTTPMessageHandler, i.e. the global fetch)
    // fails exactly so on a dead port: GraphError -1, code "TypeError", message "fetch failed". Under
    // jest the stock chain cannot be compared directly: fetch's TypeError comes from another realm,
    // the SDK's `instanceof Error` misses it and it drops code and message.
    const failed = await graphFailure(
      createGraphClient(base, connections, async () => 'token')
        .api('/me')
        .get(),
    );
    expect({ statusCode: failed.statusCode, code: failed.code, message: failed.message }).toEqual({
      statusCode: -1,
      code: 'TypeError',
      message: 'fetch failed (ECONNREFUSED)',
    });

    // Directly: a TypeError("fetch failed") whose cause is the network error, as fetch's is.
    const thrown = await rejection(
      new WholeMessageHandler(connections).execute({ request: `${base}/v1.0/me`, options: { method: 'GET' } }),
    );
    const fetchThrown = (await rejection(
      fetch(`${base}/v1.0/me`, { dispatcher: referenceDispatcher(emu.caFile) } as RequestInit),
    )) as TypeError;
    expect(thrown).toBeInstanceOf(TypeError);
    // fetch's message, plus the network error's code (the adapter says the host could not be reached).
    expect((thrown as TypeError).message).toBe(`${fetchThrown.message} (ECONNREFUSED)`);
    expect(((thrown as TypeError).cause as { code?: string }).code).toBe('ECONNREFUSED');
    expect((fetchThrown.cause as { code?: string }).code).toBe('ECONNREFUSED');

    const error = await rejection(directory(async () => 'token', base).getUser(U.bob));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).code).toBe('GRAPH_UNAVAILABLE');
    expect((error as UpstreamError).exitCode).toBe(5);
    expect((error as UpstreamError).message).toMatch(
      /^Microsoft Graph at 127\.0\.0\.1:\d+ could not be reached while trying to read user .* \(connection refused\)\.$/,
    );
  });

  it('a connection the emulator drops without answering fails the same way (GraphError -1, GRAPH_UNAVAILABLE)', async () => {
    await emulatorControl('faults', { service: 'graph', status: 0, kind: 'reset', count: 2 });
    const token = appToken(['User.Read.All']);
    const mark = logMark();

    const dropped = await graphFailure(
      createGraphClient(emu.baseUrl, connections, async () => token)
        .api(`/users/${U.bob}`)
        .get(),
    );
    expect(dropped.statusCode).toBe(-1);
    // fetch's message, with the network error's code (so that the host can be said to be unreachable).
    expect(dropped.message).toBe('fetch failed (ECONNRESET)');

    const error = await rejection(directory(async () => token).getUser(U.bob));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).code).toBe('GRAPH_UNAVAILABLE');
    // Each call reached the emulator once: a failure without an answer is not retried.
    expect(graphRequestsSince(mark).map((entry) => entry.status)).toEqual([0, 0]);
  });

  it('does not follow redirects, to the same authority or another: GRAPH_REDIRECT_REFUSED through GraphDirectory, the token stays home', async () => {
    const graph = createGraphClient(local.base, connections, async () => 'local-token');
    const here = local.received.length;
    const away = elsewhere.received.length;
    const refused = await rejection(graph.api('/moved-here').get());
    expect((refused as { cause?: { code?: string } }).cause?.code).toBe('GRAPH_REDIRECT_REFUSED');
    expect(local.received.slice(here).map((entry) => entry.url)).toEqual(['/v1.0/moved-here']);

    const error = await rejection(directory(async () => 'local-token', local.base).getUser('moved-away'));
    expect(error).toMatchObject({ code: 'GRAPH_REDIRECT_REFUSED', exitCode: 5 });
    expect((error as Error).message).toContain(new URL(elsewhere.base).host);
    expect(elsewhere.received.slice(away)).toEqual([]);
  });
});

describe('WholeMessageHandler on its own', () => {
  it('a Request object is read and sent on the one path (never through fetch), its answer becoming context.response', async () => {
    const fetchSpy = jest.spyOn(globalThis, 'fetch');
    const token = appToken(['User.Read.All']);
    const request = new Request(`${emu.baseUrl}/v1.0/users/${U.carol}?$select=id,displayName`);
    const context: Context = {
      request,
      options: { method: 'GET', headers: { Authorization: `Bearer ${token}` } },
    };
    const mark = logMark();

    await new WholeMessageHandler(connections).execute(context);

    expect(fetchSpy).not.toHaveBeenCalled();
    expect(context.response!.status).toBe(200);
    expect(await context.response!.json()).toMatchObject({ id: U.carol, displayName: expect.any(String) });
    expect(graphRequestsSince(mark)).toEqual([
      expect.objectContaining({ method: 'GET', status: 200, principal: SEED.automationAppId }),
    ]);
  });

  it('a body that is not plain (a Blob) is read whole and sent on the one path, with its type, as a string body is; neither through fetch', async () => {
    const fetchSpy = jest.spyOn(globalThis, 'fetch');
    const handler = new WholeMessageHandler(connections);

    const blob: Context = {
      request: `${local.base}/echo`,
      options: { method: 'POST', body: new Blob(['{"a":1}'], { type: 'application/json' }) } as Context['options'],
    };
    await handler.execute(blob);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(await blob.response!.json()).toEqual({ contentType: 'application/json' });
    expect(local.received.at(-1)!.body).toBe('{"a":1}');

    const direct: Context = {
      request: `${local.base}/echo`,
      options: { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"b":2}' },
    };
    await handler.execute(direct);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(await direct.response!.json()).toEqual({ contentType: 'application/json' });
    expect(local.received.at(-1)!.body).toBe('{"b":2}');
  });

  it('answers 204 and 304 as a Response with a null body, their headers kept', async () => {
    const handler = new WholeMessageHandler(connections);
    const noContent: Context = { request: `${local.base}/status/204`, options: { method: 'DELETE' } };
    await handler.execute(noContent);
    expect(noContent.response!.status).toBe(204);
    expect(noContent.response!.body).toBeNull();
    expect(noContent.response!.headers.get('x-answer')).toBe('no content');
    expect(noContent.response!.url).toBe(`${local.base}/status/204`);

    const notModified: Context = {
      request: `${local.base}/status/304`,
      options: { method: 'GET', headers: { 'If-None-Match': '"v1"' } },
    };
    await handler.execute(notModified);
    expect(notModified.response!.status).toBe(304);
    expect(notModified.response!.body).toBeNull();
    expect(notModified.response!.headers.get('etag')).toBe('"v1"');
    expect(local.received.at(-1)!.headers['if-none-match']).toBe('"v1"');
  });

  it('a header value with bytes above 0x7F does not fail a good answer; UTF-8 bytes read as fetch reads them', async () => {
    const context: Context = { request: `${local.base}/non-ascii-header`, options: { method: 'GET' } };
    await new WholeMessageHandler(connections).execute(context);
    const viaFetch = await fetch(`${local.base}/non-ascii-header`, {
      dispatcher: referenceDispatcher(emu.caFile),
    } as RequestInit);
    expect(context.response!.status).toBe(200);
    expect(await context.response!.json()).toEqual({ id: 'odd-headers' });
    expect(context.response!.headers.get('x-utf8')).toBe(viaFetch.headers.get('x-utf8'));
    // A byte that is not UTF-8 at all: read as the Latin-1 byte it is, as fetch reads it.
    expect(context.response!.headers.get('x-latin1')).toBe('é');
    expect(context.response!.headers.get('x-latin1')).toBe(viaFetch.headers.get('x-latin1'));
    await viaFetch.arrayBuffer();
  });

  it('a request header named twice is sent once with both values, as fetch sends it', async () => {
    const context: Context = {
      request: `${local.base}/echo-headers`,
      options: {
        method: 'GET',
        headers: [
          ['Accept', 'application/json'],
          ['accept', 'text/plain'],
        ],
      },
    };
    await new WholeMessageHandler(connections).execute(context);
    expect(await context.response!.json()).toEqual({ accept: 'application/json, text/plain' });
  });

  it("a Request object goes out on the handler's connections (the CA they trust)", async () => {
    const context: Context = { request: new Request(`${local.base}/v1.0/me`), options: { method: 'GET' } };
    await new WholeMessageHandler(connections).execute(context);
    expect(await context.response!.json()).toEqual({ id: 'local' });
  });

  it('keeps repeated response headers: both Set-Cookie values, and the others joined as fetch joins them', async () => {
    const context: Context = { request: `${local.base}/repeated-headers`, options: { method: 'GET' } };
    await new WholeMessageHandler(connections).execute(context);
    const viaFetch = await fetch(`${local.base}/repeated-headers`, {
      dispatcher: referenceDispatcher(emu.caFile),
    } as RequestInit);

    const response = context.response!;
    expect(response.headers.getSetCookie()).toEqual(['first=1; Path=/', 'second=2; Path=/']);
    expect(response.headers.get('x-repeated')).toBe('one, two');
    expect(response.headers.getSetCookie()).toEqual(viaFetch.headers.getSetCookie());
    expect(response.headers.get('x-repeated')).toBe(viaFetch.headers.get('x-repeated'));
    expect(await response.text()).toBe('ok');
    await viaFetch.arrayBuffer();
  });
});
