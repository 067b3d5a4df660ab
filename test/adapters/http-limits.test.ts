/**
 * The HTTP limits on every path ociaccess sends on (security issue, item 11):
 * an overall deadline per request (headers and the whole body) and a cap on
 * the answer's body size, each failing with its own code that names the host
 * and the limit. Paths: requestWhole (under the Graph transport, the OCI http
 * client and fetchWithCa), fetchWithCa (MSAL's network client, the authority
 * metadata, the emulator's clock and control calls) and oci-common's
 * HttpClient (WholeHttpClient).
 *
 * Against a plain-HTTP server on 127.0.0.1 that drips one byte every 200 ms
 * (bounded: 40 bytes, then it ends the answer, so a client without a deadline
 * gets a complete answer after 8 s) or sends a body far larger than the cap
 * (bounded: 64 MiB, written only as fast as the client reads it). No timing is
 * asserted beyond "it failed with the code".
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as common from 'oci-common';
import { caAwareNetworkClient } from '../../src/adapters/auth/network.js';
import { requestWhole } from '../../src/adapters/http/request.js';
import { connectionsForCaFile, fetchWithCa } from '../../src/adapters/http/tls.js';
import { WholeHttpClient } from '../../src/adapters/oci/http-client.js';
import { caught } from '../store/support/helpers.js';

const DRIP_BYTES = 40;
const DRIP_EVERY_MS = 200;
const HUGE_BYTES = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
/** The cap the tests use: large enough for several chunks, far below what the server would send. */
const CAP = 1024 * 1024;
/** The deadline the tests use (the drip would take 8 s to finish). */
const DEADLINE_MS = 1_000;

let server: http.Server;
let base: string;
let host: string;
/** Bytes the server managed to write for each /huge answer, noted when its connection closed. */
const hugeWritten: number[] = [];

function drip(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('[');
  let sent = 0;
  const timer = setInterval(() => {
    sent += 1;
    if (sent >= DRIP_BYTES) {
      clearInterval(timer);
      res.end(']');
    } else {
      res.write(' ');
    }
  }, DRIP_EVERY_MS);
  res.on('close', () => clearInterval(timer));
}

function huge(res: http.ServerResponse, declared: boolean): void {
  res.writeHead(200, {
    'content-type': 'application/json',
    ...(declared ? { 'content-length': String(HUGE_BYTES) } : {}),
  });
  let written = 0;
  let closed = false;
  res.on('close', () => {
    closed = true;
    hugeWritten.push(written);
  });
  const more = () => {
    while (!closed && written < HUGE_BYTES) {
      written += CHUNK.length;
      if (!res.write(CHUNK)) {
        res.once('drain', more);
        return;
      }
    }
    if (!closed) res.end();
  };
  more();
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/drip') drip(res);
      else if (req.url === '/huge') huge(res, false);
      else if (req.url === '/huge-declared') huge(res, true);
      else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  base = `http://${host}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  hugeWritten.length = 0;
});

/** The server stopped writing well before the whole body: the client dropped the connection instead of reading it all. */
async function expectHugeAbandoned(): Promise<void> {
  for (let wait = 0; hugeWritten.length === 0 && wait < 100; wait += 1)
    await new Promise((resolve) => setTimeout(resolve, 20));
  expect(hugeWritten).toHaveLength(1);
  expect(hugeWritten[0]).toBeLessThan(HUGE_BYTES / 2);
}

function expectDeadline(error: any): void {
  expect({ code: error?.code, exitCode: error?.exitCode }).toEqual({ code: 'HTTP_DEADLINE_EXCEEDED', exitCode: 5 });
  expect(error.message).toContain(host);
  expect(error.message).toContain('1 s');
}

function expectTooLarge(error: any): void {
  expect({ code: error?.code, exitCode: error?.exitCode }).toEqual({ code: 'HTTP_BODY_TOO_LARGE', exitCode: 5 });
  expect(error.message).toContain(host);
  expect(error.message).toContain('1 MiB');
}

describe('requestWhole (Graph transport, OCI http client, fetchWithCa)', () => {
  it('a server that drips one byte every 200 ms fails at the deadline with HTTP_DEADLINE_EXCEEDED', async () => {
    const connections = connectionsForCaFile(undefined, { timeoutMs: DEADLINE_MS });
    expectDeadline(await caught(() => requestWhole(`${base}/drip`, { connections })));
  });

  it('a body larger than the cap fails with HTTP_BODY_TOO_LARGE without being read whole', async () => {
    const connections = connectionsForCaFile(undefined, { maxBodyBytes: CAP });
    expectTooLarge(await caught(() => requestWhole(`${base}/huge`, { connections })));
    await expectHugeAbandoned();
  });

  it('a declared Content-Length over the cap fails before the body is read', async () => {
    const connections = connectionsForCaFile(undefined, { maxBodyBytes: CAP });
    expectTooLarge(await caught(() => requestWhole(`${base}/huge-declared`, { connections })));
    await expectHugeAbandoned();
  });

  it('an answer within both limits still arrives', async () => {
    const connections = connectionsForCaFile(undefined, { timeoutMs: DEADLINE_MS, maxBodyBytes: CAP });
    const answer = await requestWhole(`${base}/small`, { connections });
    expect(answer.status).toBe(200);
    expect(answer.bytes.toString('utf8')).toBe('{"ok":true}');
  });
});

describe('fetchWithCa (authority metadata, control calls)', () => {
  it('the deadline covers reading the body: a drip fails with HTTP_DEADLINE_EXCEEDED', async () => {
    const fetchLimited = fetchWithCa(undefined, { timeoutMs: DEADLINE_MS });
    expectDeadline(await caught(async () => (await fetchLimited(`${base}/drip`)).text()));
  });

  it('a body over the cap fails with HTTP_BODY_TOO_LARGE, declared or not', async () => {
    const fetchLimited = fetchWithCa(undefined, { maxBodyBytes: CAP });
    expectTooLarge(await caught(async () => (await fetchLimited(`${base}/huge`)).arrayBuffer()));
    await expectHugeAbandoned();
    hugeWritten.length = 0;
    expectTooLarge(await caught(async () => (await fetchLimited(`${base}/huge-declared`)).arrayBuffer()));
  });
});

describe("MSAL's network client (fetchWithCa)", () => {
  it('a token endpoint that drips fails with the deadline code, which session.ts turns back into HTTP_DEADLINE_EXCEEDED', async () => {
    const limited = fetchWithCa(undefined, { timeoutMs: DEADLINE_MS });
    const network = caAwareNetworkClient(undefined, {}, limited);
    const error = await caught(() =>
      network.sendPostRequestAsync(`${base}/drip`, { body: 'grant_type=client_credentials' }),
    );
    expect(error?.errorCode).toBe('HTTP_DEADLINE_EXCEEDED');
    expect(error.errorMessage).toContain(host);
  });

  it('a token endpoint answering more than the cap fails with HTTP_BODY_TOO_LARGE', async () => {
    const limited = fetchWithCa(undefined, { maxBodyBytes: CAP });
    const network = caAwareNetworkClient(undefined, {}, limited);
    const error = await caught(() => network.sendGetRequestAsync(`${base}/huge`));
    expect(error?.errorCode).toBe('HTTP_BODY_TOO_LARGE');
    await expectHugeAbandoned();
  });
});

describe("oci-common's HttpClient (WholeHttpClient)", () => {
  const signer = { signHttpRequest: async () => undefined } as unknown as common.RequestSigner;
  const request = (path: string) => ({ method: 'GET' as common.Method, headers: new Headers(), uri: `${base}${path}` });

  it('a domain that drips fails with HTTP_DEADLINE_EXCEEDED', async () => {
    const client = new WholeHttpClient(signer, connectionsForCaFile(undefined, { timeoutMs: DEADLINE_MS }));
    expectDeadline(await caught(() => client.send(request('/drip'))));
  });

  it('a domain answering more than the cap fails with HTTP_BODY_TOO_LARGE', async () => {
    const client = new WholeHttpClient(signer, connectionsForCaFile(undefined, { maxBodyBytes: CAP }));
    expectTooLarge(await caught(() => client.send(request('/huge'))));
    await expectHugeAbandoned();
  });
});
