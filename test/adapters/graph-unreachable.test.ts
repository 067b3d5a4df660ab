/**
 * A Graph host that cannot be reached (connection refused, no such host) is
 * said to be unreachable, naming the host: not "throttling or unavailable",
 * which would send the reader to wait instead of checking the address.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { GraphDirectory } from '../../src/adapters/graph/graph-directory.js';
import { connectionsForCaFile } from '../../src/adapters/http/tls.js';
import { systemClock } from '../../src/context.js';
import { UpstreamError } from '../../src/errors.js';

/** A port on 127.0.0.1 that nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('connection refused: GRAPH_UNAVAILABLE (exit 5) saying the host could not be reached, not that Graph may be throttling', async () => {
  const port = await closedPort();
  const directory = new GraphDirectory({
    graphBaseUrl: `https://127.0.0.1:${port}`,
    getToken: async () => 'token',
    connections: connectionsForCaFile(undefined),
    clock: systemClock,
    identity: 'user',
    batching: false,
  });
  const error = (await directory.me().then(
    () => undefined,
    (e: unknown) => e,
  )) as UpstreamError;
  expect(error).toBeInstanceOf(UpstreamError);
  expect([error.exitCode, error.code]).toEqual([5, 'GRAPH_UNAVAILABLE']);
  expect(error.message).toBe(
    `Microsoft Graph at 127.0.0.1:${port} could not be reached while trying to read your user profile (connection refused).`,
  );
  expect(error.hint).toBe('Check the network and any proxy, and cloud.graphBaseUrl in the config.');
});

test('no such host: the same, naming ENOTFOUND', async () => {
  const directory = new GraphDirectory({
    graphBaseUrl: 'https://graph.invalid',
    getToken: async () => 'token',
    connections: connectionsForCaFile(undefined),
    clock: systemClock,
    identity: 'user',
    batching: false,
  });
  const error = (await directory.me().then(
    () => undefined,
    (e: unknown) => e,
  )) as UpstreamError;
  expect(error.message).toMatch(
    /^Microsoft Graph at graph\.invalid could not be reached while trying to read your user profile \((ENOTFOUND|EAI_AGAIN): no such host or no route\)\.$/,
  );
  expect(error.hint).not.toContain('throttling');
});
