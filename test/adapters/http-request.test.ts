/**
 * requestWhole (src/adapters/http/request.ts), the one HTTP call under the
 * Graph transport and our own small calls: an answer read whole with its
 * headers as fetch reads them, and failures shaped as fetch's — an abort stays
 * an AbortError, anything else is TypeError "fetch failed" with the cause kept;
 * connections kept for the next call, capped per host, and a deadline
 * (http-limits.test.ts tests the limits on every path).
 * Against a local plain-HTTP server on 127.0.0.1.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { requestWhole } from '../../src/adapters/http/request.js';
import { connectionsForCaFile } from '../../src/adapters/http/tls.js';
import { caught } from '../store/support/helpers.js';

let server: http.Server;
let base: string;
let received: string[];
let connections = 0;

beforeAll(async () => {
  received = [];
  server = http.createServer((req, res) => {
    received.push(`${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url === '/echo?x=1') {
        res.writeHead(201, [
          ['Content-Type', 'application/json'],
          ['Set-Cookie', 'a=1'],
          ['Set-Cookie', 'b=2'],
          ['X-Raw', Buffer.from('€', 'utf8').toString('latin1')],
        ]);
        res.end(JSON.stringify({ method: req.method, body: Buffer.concat(chunks).toString('utf8') }));
      } else if (req.url === '/wait') {
        setTimeout(() => res.end('done'), 100).unref();
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 2_000).unref();
      } else if (req.url === '/cut') {
        res.writeHead(200, { 'Content-Length': '1000' });
        res.write('only the start');
        setTimeout(() => res.destroy(), 20).unref();
      } else {
        res.writeHead(204);
        res.end();
      }
    });
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

it('sends method, query and body, and reads status, repeated headers (Latin-1, as fetch) and the whole body', async () => {
  const answer = await requestWhole(`${base}/echo?x=1`, {
    method: 'post',
    headers: { 'content-type': 'text/plain' },
    body: 'hello',
  });
  expect(answer.status).toBe(201);
  expect(answer.statusText).toBe('Created');
  expect(JSON.parse(answer.bytes.toString('utf8'))).toEqual({ method: 'POST', body: 'hello' });
  expect(answer.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
  const viaFetch = await fetch(`${base}/echo?x=1`, { method: 'POST', body: 'hello' });
  expect(answer.headers.get('x-raw')).toBe(viaFetch.headers.get('x-raw'));
  await viaFetch.arrayBuffer();
});

it('a 204 has an empty body', async () => {
  const answer = await requestWhole(`${base}/nothing`, { method: 'DELETE' });
  expect(answer.status).toBe(204);
  expect(answer.bytes.length).toBe(0);
});

it('a signal aborted before the call rejects with AbortError and sends nothing', async () => {
  const before = received.length;
  const error = await caught(() => requestWhole(`${base}/echo?x=1`, { signal: AbortSignal.abort() }));
  expect(error.name).toBe('AbortError');
  expect(received.length).toBe(before);
});

it('aborting while the answer is awaited rejects with AbortError at once', async () => {
  const controller = new AbortController();
  const started = Date.now();
  const pending = requestWhole(`${base}/slow`, { signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  const error = await caught(() => pending);
  expect(error.name).toBe('AbortError');
  expect(Date.now() - started).toBeLessThan(1_500);
});

it('a body that breaks off fails as fetch does: TypeError "fetch failed" with the cause', async () => {
  const error = await caught(() => requestWhole(`${base}/cut`));
  expect(error).toBeInstanceOf(TypeError);
  expect(error.message).toBe('fetch failed');
  // The connection's end before the promised 1,000 bytes (an Error from Node's realm, so not instanceof here).
  expect(error.cause?.code).toBe('ECONNRESET');
});

it('nothing listening fails the same way', async () => {
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const error = await caught(() => requestWhole(`http://127.0.0.1:${port}/`));
  expect(error.message).toBe('fetch failed');
  expect(error.cause?.code).toBe('ECONNREFUSED');
});

it('connections with connectionsPerOrigin open no more connections than that: further calls wait for one', async () => {
  const capped = connectionsForCaFile(undefined, { timeoutMs: 5_000, connectionsPerOrigin: 2 });
  const before = connections;
  const answers = await Promise.all(
    Array.from({ length: 6 }, () => requestWhole(`${base}/wait`, { connections: capped })),
  );
  expect(answers.map((a) => a.bytes.toString('utf8'))).toEqual(Array(6).fill('done'));
  expect(connections - before).toBe(2);
  // Under the default limit (the default sweep's 4 $batch slots and 3 reads beside them), six calls at once open six.
  const open = connectionsForCaFile(undefined, { timeoutMs: 5_000 });
  const beforeOpen = connections;
  await Promise.all(Array.from({ length: 6 }, () => requestWhole(`${base}/wait`, { connections: open })));
  expect(connections - beforeOpen).toBe(6);
});

it('a connection is kept for the next call: calls one after another share one', async () => {
  const pool = connectionsForCaFile(undefined, { timeoutMs: 5_000, connectionsPerOrigin: 3 });
  const before = connections;
  for (let call = 0; call < 4; call += 1)
    expect(
      (await requestWhole(`${base}/echo?x=1`, { method: 'POST', body: String(call), connections: pool })).status,
    ).toBe(201);
  expect(connections - before).toBe(1);
});

it("a server that stops sending fails at the connections' deadline with HTTP_DEADLINE_EXCEEDED, naming the host and the limit", async () => {
  const impatient = connectionsForCaFile(undefined, { timeoutMs: 300 });
  const error = await caught(() => requestWhole(`${base}/slow`, { connections: impatient }));
  expect({ code: error.code, exitCode: error.exitCode }).toEqual({ code: 'HTTP_DEADLINE_EXCEEDED', exitCode: 5 });
  expect(error.message).toContain(`${new URL(base).host} within 0.3 s`);
});
