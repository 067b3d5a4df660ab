/**
 * One connection pool per origin (src/adapters/http/tls.ts): MSAL's network
 * client, the Graph transport, the OCI SDK's http client and our own small
 * calls, each built on its own from the same tls.caFile, send on the same
 * connections — a loopback HTTPS server counts the TLS connections it
 * accepts — and share one cap per origin.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as common from 'oci-common';
import { caAwareNetworkClient } from '../../src/adapters/auth/network.js';
import { WholeMessageHandler } from '../../src/adapters/graph/transport.js';
import { DEFAULT_CONNECTIONS_PER_ORIGIN, connectionsForCaFile, fetchWithCa } from '../../src/adapters/http/tls.js';
import { WholeHttpClient } from '../../src/adapters/oci/http-client.js';
import { generateTls } from '../../src/emulator/tls.js';

let server: https.Server;
let base: string;
let dir: string;
let caFile: string;
let tlsConnections = 0;
let inFlight = 0;
let mostInFlight = 0;

beforeAll(async () => {
  const material = generateTls();
  dir = await mkdtemp(path.join(os.tmpdir(), 'ociaccess-pool-'));
  caFile = path.join(dir, 'ca.pem');
  await writeFile(caFile, material.caCertPem);
  server = https.createServer({ cert: material.serverCertPem, key: material.serverKeyPem }, (req, res) => {
    inFlight += 1;
    mostInFlight = Math.max(mostInFlight, inFlight);
    req.resume();
    req.on('end', () => {
      const reply = () => {
        inFlight -= 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      };
      if (req.url === '/wait') setTimeout(reply, 100).unref();
      else reply();
    });
  });
  server.on('secureConnection', () => (tlsConnections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const signer = { signHttpRequest: async () => undefined } as unknown as common.RequestSigner;

it('four clients, each made on its own from the same CA file, send one after another on one connection', async () => {
  const before = tlsConnections;
  const msal = caAwareNetworkClient(caFile);
  const graph = new WholeMessageHandler(connectionsForCaFile(caFile));
  // Different limits, same pool: the pool belongs to the trust and the cap, not to the deadline.
  const oci = new WholeHttpClient(signer, connectionsForCaFile(caFile, { timeoutMs: 5_000 }));
  const control = fetchWithCa(caFile);

  expect((await msal.sendGetRequestAsync<{ ok: boolean }>(`${base}/msal`)).body).toEqual({ ok: true });
  const context = { request: `${base}/graph`, options: { method: 'GET' } };
  await graph.execute(context);
  expect((context as { response?: Response }).response!.status).toBe(200);
  expect((await oci.send({ method: 'GET' as common.Method, headers: new Headers(), uri: `${base}/oci` })).status).toBe(
    200,
  );
  expect(await (await control(`${base}/control`)).json()).toEqual({ ok: true });

  expect(tlsConnections - before).toBe(1);
});

it('the per-origin cap is shared: two clients with many calls at once open no more than the cap between them', async () => {
  const before = tlsConnections;
  mostInFlight = 0;
  const graph = new WholeMessageHandler(connectionsForCaFile(caFile));
  const control = fetchWithCa(caFile);
  const calls = Array.from({ length: 2 * DEFAULT_CONNECTIONS_PER_ORIGIN }, (_, index) =>
    index % 2 === 0 ? graph.execute({ request: `${base}/wait`, options: { method: 'GET' } }) : control(`${base}/wait`),
  );
  await Promise.all(calls);
  expect(mostInFlight).toBe(DEFAULT_CONNECTIONS_PER_ORIGIN);
  // Up to the cap in all (the test before's connection, if still open, is one of them).
  expect(tlsConnections - before).toBeLessThanOrEqual(DEFAULT_CONNECTIONS_PER_ORIGIN);
  expect(tlsConnections - before).toBeGreaterThanOrEqual(DEFAULT_CONNECTIONS_PER_ORIGIN - 1);
});
