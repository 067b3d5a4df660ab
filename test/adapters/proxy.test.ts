/**
 * The outbound proxy (issue 14): HTTPS_PROXY / network.proxy with NO_PROXY.
 * A local CONNECT proxy counts the tunnels it is asked for; it refuses the
 * public cloud's hosts (this machine has no route to them) and tunnels
 * loopback targets to the emulator.
 */
import net from 'node:net';
import { bypassesProxy, proxySettings } from '../../src/adapters/http/proxy.js';
import { connectionsForCaFile } from '../../src/adapters/http/tls.js';
import { requestWhole } from '../../src/adapters/http/request.js';
import { useHarness } from '../support/harness.js';

interface CountingProxy {
  url: string;
  /** host:port of every CONNECT asked for, in order. */
  tunnels: string[];
  close(): Promise<void>;
}

async function startProxy(): Promise<CountingProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.once('data', (head) => {
      const match = /^CONNECT ([^\s]+) HTTP\/1\.1\r\n/.exec(head.toString('latin1'));
      if (!match) {
        client.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
        return;
      }
      const target = match[1]!;
      tunnels.push(target);
      const [host, port] = [
        target.slice(0, target.lastIndexOf(':')),
        Number(target.slice(target.lastIndexOf(':') + 1)),
      ];
      if (host !== '127.0.0.1') {
        client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      const upstream = net.connect(port, host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(client);
        client.pipe(upstream);
      });
      sockets.add(upstream);
      upstream.once('close', () => sockets.delete(upstream));
      upstream.once('error', () => client.destroy());
      client.once('error', () => upstream.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

let proxy: CountingProxy;
beforeAll(async () => {
  proxy = await startProxy();
});
afterAll(async () => {
  await proxy.close();
});
beforeEach(() => {
  proxy.tunnels.length = 0;
});

describe('NO_PROXY', () => {
  test.each([
    ['graph.microsoft.com', '443', ['.microsoft.com'], true],
    ['graph.microsoft.com', '443', ['microsoft.com'], true],
    ['notmicrosoft.com', '443', ['microsoft.com'], false],
    ['127.0.0.1', '8443', ['127.0.0.1'], true],
    ['127.0.0.1', '8443', ['127.0.0.1:9000'], false],
    ['127.0.0.1', '9000', ['127.0.0.1:9000'], true],
    ['::1', '443', ['[::1]'], true],
    ['login.microsoftonline.com', '443', ['*'], true],
    ['idcs-abc.identity.oraclecloud.com', '443', ['localhost', '127.0.0.1'], false],
  ])('%s:%s with NO_PROXY %j reached directly: %s', (host, port, noProxy, expected) => {
    expect(bypassesProxy(host, port, noProxy)).toBe(expected);
  });

  test('the config wins over the environment; the environment is read in either case of its names', () => {
    expect(proxySettings({ HTTPS_PROXY: 'http://env:3128', NO_PROXY: 'a.example, b.example' })).toEqual({
      url: new URL('http://env:3128'),
      noProxy: ['a.example', 'b.example'],
    });
    expect(proxySettings({ https_proxy: 'proxy.corp:8080' })?.url.href).toBe('http://proxy.corp:8080/');
    expect(
      proxySettings({ HTTPS_PROXY: 'http://env:3128' }, { proxy: 'http://config:3128', noProxy: ['x.example'] }),
    ).toEqual({ url: new URL('http://config:3128'), noProxy: ['x.example'] });
    expect(proxySettings({})).toBeUndefined();
  });
});

test('a call to a public cloud host goes through the proxy (one CONNECT for graph.microsoft.com:443); a refusal names the proxy, not its credentials', async () => {
  const settings = proxySettings({ HTTPS_PROXY: proxy.url.replace('http://', 'http://user:secret@') })!;
  const connections = connectionsForCaFile(undefined, { proxy: settings, timeoutMs: 5000 });
  const error = await requestWhole('https://graph.microsoft.com/v1.0/me', { connections }).then(
    () => undefined,
    (e: unknown) => e as any,
  );
  expect(proxy.tunnels).toEqual(['graph.microsoft.com:443']);
  expect(error?.code).toBe('PROXY_REFUSED');
  expect(error.message).toContain('graph.microsoft.com:443');
  expect(error.message).toContain(new URL(proxy.url).host);
  expect(error.message).not.toContain('secret');
});

describe('commands through the proxy', () => {
  const h = useHarness({ logins: ['alice'] });

  test('with HTTPS_PROXY every call (Entra sign-in, Graph) goes through the proxy; with NO_PROXY naming the loopback none does, and both work', async () => {
    const H = h();
    const port = new URL(H.emu.baseUrl).port;
    const through = await H.run('alice', ['status', '--no-oci', '--json'], {
      env: { HTTPS_PROXY: proxy.url, NO_PROXY: '' },
    });
    expect(through.code).toBe(0);
    expect(proxy.tunnels.length).toBeGreaterThan(0);
    expect(new Set(proxy.tunnels)).toEqual(new Set([`127.0.0.1:${port}`]));

    proxy.tunnels.length = 0;
    const direct = await H.run('alice', ['status', '--no-oci', '--json'], {
      env: { HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1,localhost,::1' },
    });
    expect(direct.code).toBe(0);
    expect(proxy.tunnels).toEqual([]);
    expect(direct.json).toEqual(through.json);
  });
});
