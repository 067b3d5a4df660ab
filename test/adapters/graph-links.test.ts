/**
 * The Graph bearer token goes to the configured Graph origin only (security
 * issue, item 9). A "Graph" HTTPS server on 127.0.0.1 answers a members page
 * whose @odata.nextLink, or a redirect, points at a second loopback HTTPS
 * server; the second server must receive nothing (above all no Authorization
 * header), and the adapter must fail with GRAPH_BAD_LINK or
 * GRAPH_REDIRECT_REFUSED naming the other host. Both servers use a throw-away
 * CA that the connections trust; they must be HTTPS, as the SDK attaches the
 * token to https:// URLs only.
 */
import fs from 'node:fs/promises';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { GraphDirectory } from '../../src/adapters/graph/graph-directory.js';
import { GraphInspector } from '../../src/adapters/graph/graph-inspect.js';
import { connectionsForCaFile, type HttpConnections } from '../../src/adapters/http/tls.js';
import { systemClock } from '../../src/context.js';
import { generateTls } from '../../src/emulator/tls.js';
import { removeTree, tempRoot } from '../store/support/helpers.js';

const TOKEN = 'graph-token-that-must-stay-home';

interface Seen {
  url: string;
  authorization: string | undefined;
}

interface Server {
  base: string;
  host: string;
  seen: Seen[];
  close(): Promise<void>;
}

let dir: string;
let connections: HttpConnections;
let graph: Server;
let elsewhere: Server;
/** What the "Graph" server puts in the first page's @odata.nextLink, per test. */
let nextLink: string | undefined;
/** Where /v1.0/groups/moved/... redirects to, per test. */
let redirectTo = '';

async function startServer(
  tls: { cert: string; key: string },
  handle: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<Server> {
  const seen: Seen[] = [];
  const server = https.createServer(tls, (req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    req.on('end', () => handle(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base: `https://${host}`,
    host,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

const member = (id: string) => ({
  id,
  userPrincipalName: `${id}@example.test`,
  displayName: id,
  '@odata.type': '#microsoft.graph.group',
});

beforeAll(async () => {
  dir = await tempRoot();
  const material = generateTls();
  const caFile = path.join(dir, 'ca.pem');
  await fs.writeFile(caFile, material.caCertPem);
  connections = connectionsForCaFile(caFile);
  const tls = { cert: material.serverCertPem, key: material.serverKeyPem };
  elsewhere = await startServer(tls, (_req, res) => json(res, 200, { value: [member('stolen')] }));
  graph = await startServer(tls, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://graph.invalid');
    if (url.pathname.startsWith('/v1.0/groups/moved/')) {
      res.writeHead(302, { location: redirectTo, 'content-length': '0' });
      res.end();
    } else if (url.pathname === '/v1.0/$batch') {
      res.writeHead(307, { location: redirectTo, 'content-length': '0' });
      res.end();
    } else if (
      url.pathname.startsWith('/beta/groups/') &&
      url.pathname.endsWith('/members/microsoft.graph.servicePrincipal')
    ) {
      // The service principals the adapter reads beside the member list (v1.0 leaves them out): none here.
      json(res, 200, { value: [] });
    } else if (url.pathname.startsWith('/v1.0/groups/g1/members') && !url.searchParams.has('page')) {
      json(res, 200, { value: [member('first')], ...(nextLink ? { '@odata.nextLink': nextLink } : {}) });
    } else if (url.pathname.startsWith('/v1.0/groups/g1/members')) {
      json(res, 200, { value: [member('second')] });
    } else {
      json(res, 404, { error: { code: 'Request_ResourceNotFound', message: `no route for ${req.url}` } });
    }
  });
});

afterAll(async () => {
  await graph?.close();
  await elsewhere?.close();
  await removeTree(dir);
});

beforeEach(() => {
  graph.seen.length = 0;
  elsewhere.seen.length = 0;
  nextLink = undefined;
});

function directory(batching = false): GraphDirectory {
  return new GraphDirectory({
    graphBaseUrl: graph.base,
    getToken: async () => TOKEN,
    connections,
    clock: systemClock,
    identity: 'app',
    batching,
  });
}

/** What the call failed with (undefined when it did not fail), so the other server's log is checked first. */
const failureOf = (call: Promise<unknown>): Promise<any> =>
  call.then(
    () => undefined,
    (error: unknown) => error,
  );

function expectRefused(error: any, code: string, host: string): void {
  expect({ code: error?.code, exitCode: error?.exitCode }).toEqual({ code, exitCode: 5 });
  expect(error.message).toContain(host);
  expect(error.message).not.toContain(TOKEN);
  expect(JSON.stringify(error.toJSON())).not.toContain(TOKEN);
}

describe('@odata.nextLink is followed only to the Graph origin', () => {
  const crafted = () => [
    // The SDK reads "127.0.0.1" as the host (text up to the first ":"), a custom host: it attaches the token.
    { form: 'https://<graph host:port>@other', link: `${graph.base}@${elsewhere.host}/v1.0/groups/g1/members?page=2` },
    { form: 'https://<graph host>@other', link: `https://127.0.0.1@${elsewhere.host}/v1.0/groups/g1/members?page=2` },
    { form: 'https:other (no slashes)', link: `https:${elsewhere.host}/v1.0/groups/g1/members?page=2` },
    { form: 'another origin outright', link: `${elsewhere.base}/v1.0/groups/g1/members?page=2` },
    { form: 'the Graph origin over http', link: `http://${graph.host}/v1.0/groups/g1/members?page=2` },
  ];

  it.each([0, 1, 2, 3, 4])(
    'crafted link %#: listGroupMembers fails with GRAPH_BAD_LINK and the other server hears nothing',
    async (index) => {
      const { link } = crafted()[index]!;
      nextLink = link;
      const error = await failureOf(directory().listGroupMembers('g1'));
      expect(elsewhere.seen).toEqual([]);
      expect(graph.seen.map((s) => s.url).filter((url) => url.startsWith('/v1.0/'))).toEqual([
        expect.stringMatching(/^\/v1\.0\/groups\/g1\/members[/?]/),
      ]);
      expectRefused(error, 'GRAPH_BAD_LINK', new URL(link).host);
    },
  );

  it("doctor's and init's reads (GraphInspector) refuse the same link", async () => {
    nextLink = `${graph.base}@${elsewhere.host}/v1.0/groups/g1/members?page=2`;
    const inspector = new GraphInspector({ graphBaseUrl: graph.base, getToken: async () => TOKEN, connections });
    const error = await failureOf(inspector.nestedGroups('g1'));
    expect(elsewhere.seen).toEqual([]);
    expectRefused(error, 'GRAPH_BAD_LINK', elsewhere.host);
  });

  it('a link on the Graph origin is followed, with the token', async () => {
    nextLink = `${graph.base}/v1.0/groups/g1/members/microsoft.graph.user?page=2`;
    const members = await directory().listGroupMembers('g1');
    expect(members.map((m) => m.id)).toEqual(['first', 'second']);
    // The first page, the second through the link, and the service principals beside them.
    expect(graph.seen.map((s) => s.authorization)).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
    expect(elsewhere.seen).toEqual([]);
  });
});

describe('redirects from Graph are not followed', () => {
  it.each([
    {
      form: 'https:other (no slashes: the SDK takes it as relative and keeps the token)',
      to: () => `https:${elsewhere.host}/v1.0/me`,
    },
    { form: 'https://other', to: () => `${elsewhere.base}/v1.0/me` },
    { form: 'the same origin', to: () => `${graph.base}/v1.0/groups/g1/members` },
  ])('a 302 to $form fails with GRAPH_REDIRECT_REFUSED naming the Location host', async ({ to }) => {
    redirectTo = to();
    const error = await failureOf(directory().listGroupMembers('moved'));
    expect(elsewhere.seen).toEqual([]);
    expect(graph.seen.filter((s) => s.url.startsWith('/v1.0/'))).toHaveLength(1);
    expectRefused(error, 'GRAPH_REDIRECT_REFUSED', new URL(redirectTo).host);
  });

  it('a redirected $batch call fails at once with GRAPH_REDIRECT_REFUSED (not retried as unavailable)', async () => {
    redirectTo = `https:${elsewhere.host}/v1.0/$batch`;
    const error = await failureOf(directory(true).getUsers(['a', 'b']));
    expect(elsewhere.seen).toEqual([]);
    expect(graph.seen).toHaveLength(1);
    expectRefused(error, 'GRAPH_REDIRECT_REFUSED', elsewhere.host);
  });
});
