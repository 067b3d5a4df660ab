/**
 * Issue 15: a host that cannot be reached is said as such — which service, at
 * which host, and that the connection was refused — never as "did not answer
 * successfully" or as a throttling Graph.
 */
import net from 'node:net';
import { configWith, upnOf, useHarness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob'] });

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('the OCI identity domain refusing the connection: revoke says it was done, then OCI_CHECK_FAILED naming the host that could not be reached', async () => {
  const H = h();
  const requested = await H.run('alice', ['request', '--hours', '1', '--justification', 'INC-15: x', '--json']);
  expect((await H.run('bob', ['approve', requested.json.id, '--yes'])).code).toBe(0);
  const port = await closedPort();
  const config = await configWith(H, 'oci-closed', (c) => {
    c.oci.domainUrl = `https://127.0.0.1:${port}`;
  });
  const result = await H.run('bob', ['revoke', '--user', upnOf('alice'), '--json'], {
    env: { OCIACCESS_CONFIG: config },
  });
  expect(result.code).toBe(7);
  expect(result.json.problems).toEqual([
    expect.objectContaining({
      code: 'OCI_CHECK_FAILED',
      cause: {
        code: 'OCI_UNAVAILABLE',
        message: `The OCI identity domain at 127.0.0.1:${port} could not be reached while trying to find a group (connection refused).`,
      },
    }),
  ]);
});

test('the sign-in service refusing the connection: ENTRA_UNREACHABLE naming its host, for the sweep (not "Graph did not answer") and for login', async () => {
  const H = h();
  const port = await closedPort();
  const config = await configWith(H, 'entra-closed', (c) => {
    c.cloud.authorityHost = `https://127.0.0.1:${port}`;
    // Only the emulator's own config may name its control URL.
    delete c.emulator;
  });
  const env = { OCIACCESS_CONFIG: config };
  const expected = `error: The Entra sign-in service at 127.0.0.1:${port} could not be reached (connection refused). [ENTRA_UNREACHABLE]`;
  const sweep = await H.run('cron', ['sweep'], { env });
  expect(sweep.code).toBe(5);
  expect(sweep.stderr.split('\n').find((line) => line.startsWith('error:'))).toBe(expected);
  const login = await H.run('carol', ['login'], { env });
  expect(login.code).toBe(5);
  expect(login.stderr.split('\n')[0]).toBe(expected);
});
