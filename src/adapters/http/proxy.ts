/**
 * An outbound proxy, as companies require: `network.proxy` in the config, or
 * HTTPS_PROXY / https_proxy, with NO_PROXY / no_proxy (or `network.noProxy`)
 * naming the hosts reached directly. HTTPS goes through the proxy in a
 * CONNECT tunnel, so TLS (and the CA from tls.caFile) is end to end and the
 * proxy sees only the host and port. Plain-http URLs (only local emulators
 * use them) are never proxied.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { UpstreamError } from '../../errors.js';

export interface ProxySettings {
  /** The proxy, http:// or https://, maybe with user:password for Basic proxy authentication. */
  url: URL;
  /** Hosts (and host:port) reached directly: exact names, domain suffixes (".corp" or "corp"), IP addresses, or "*". */
  noProxy: readonly string[];
}

/** The proxy from the config's `network` section, else from the environment; undefined when there is none. */
export function proxySettings(
  env: Readonly<Record<string, string | undefined>>,
  network?: { proxy?: string; noProxy?: readonly string[] },
): ProxySettings | undefined {
  const raw = network?.proxy ?? env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy;
  if (!raw || raw.trim() === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new UpstreamError(
      'PROXY_INVALID',
      `The proxy setting is not a URL (${network?.proxy ? 'network.proxy' : 'HTTPS_PROXY'}).`,
      {
        hint: 'Give it as http://proxy.example.com:3128 (or https://…).',
      },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UpstreamError('PROXY_INVALID', `The proxy must be an http:// or https:// URL, not ${url.protocol}//.`, {
      hint: 'Give it as http://proxy.example.com:3128.',
    });
  }
  const noProxyText = network?.noProxy ? network.noProxy.join(',') : (env.NO_PROXY ?? env.no_proxy ?? '');
  const noProxy = noProxyText
    .split(/[\s,]+/)
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean);
  return { url, noProxy };
}

/** Whether NO_PROXY sends this host (and port) around the proxy. */
export function bypassesProxy(hostname: string, port: string, noProxy: readonly string[]): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  for (const raw of noProxy) {
    if (raw === '*') return true;
    let entry = raw;
    let entryPort: string | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      entry = bracketed[1]!;
      entryPort = bracketed[2];
    } else if (/^[^:]+:\d+$/.test(entry)) {
      [entry, entryPort] = entry.split(':') as [string, string];
    }
    if (entryPort !== undefined && entryPort !== port) continue;
    const name = entry.replace(/^\*?\./, '');
    if (host === name || (!net.isIP(host) && host.endsWith(`.${name}`))) return true;
  }
  return false;
}

/** The proxy for this URL, or undefined when it is reached directly. */
export function proxyFor(url: URL, proxy: ProxySettings | undefined): ProxySettings | undefined {
  if (!proxy || url.protocol !== 'https:') return undefined;
  const port = url.port || '443';
  return bypassesProxy(url.hostname, port, proxy.noProxy) ? undefined : proxy;
}

/** How the proxy is named in messages: scheme, host and port, never its credentials. */
export function describeProxy(proxy: ProxySettings): string {
  return `${proxy.url.protocol}//${proxy.url.host}`;
}

/**
 * An https agent whose connections go through the proxy: a CONNECT tunnel to
 * the origin, then TLS to the origin inside it (server name and trust as
 * without a proxy). Node's agent pools the tunnelled sockets per origin as it
 * pools direct ones.
 */
export class TunnelAgent extends https.Agent {
  constructor(
    private readonly proxy: ProxySettings,
    options: https.AgentOptions,
  ) {
    super(options);
  }

  // Node's agent takes the socket from the callback when createConnection returns nothing.
  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (error: Error | null, socket: Duplex) => void,
  ): Duplex | null | undefined {
    const host = String(options.host ?? options.hostname);
    const port = Number(options.port ?? 443);
    openTunnel(this.proxy, host, port).then(
      (raw) => {
        const secure = tls.connect({
          ...(options as tls.ConnectionOptions),
          socket: raw,
          servername: net.isIP(host) ? undefined : host,
        });
        callback?.(null, secure);
      },
      (error: Error) => callback?.(error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** A socket to host:port through the proxy (after its 200 to CONNECT). */
function openTunnel(proxy: ProxySettings, host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const proxyPort = Number(proxy.url.port || (proxy.url.protocol === 'https:' ? 443 : 80));
    const proxyHost = proxy.url.hostname.replace(/^\[|\]$/g, '');
    const headers: Record<string, string> = { host: `${host}:${port}` };
    if (proxy.url.username) {
      const credentials = `${decodeURIComponent(proxy.url.username)}:${decodeURIComponent(proxy.url.password)}`;
      headers['proxy-authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
    }
    const request = (proxy.url.protocol === 'https:' ? https : http).request({
      host: proxyHost,
      port: proxyPort,
      method: 'CONNECT',
      path: `${host.includes(':') ? `[${host}]` : host}:${port}`,
      headers,
      agent: false,
    });
    request.once('connect', (response: http.IncomingMessage, socket: net.Socket) => {
      if (response.statusCode === 200) {
        resolve(socket);
        return;
      }
      socket.destroy();
      reject(
        new UpstreamError(
          'PROXY_REFUSED',
          `The proxy ${describeProxy(proxy)} refused the tunnel to ${host}:${port} (HTTP ${response.statusCode ?? '?'}).`,
          {
            hint:
              response.statusCode === 407
                ? 'The proxy wants credentials: put them in the proxy URL (http://user:password@proxy:3128), from a file or the environment.'
                : `Ask the proxy's administrators to allow ${host}:${port}, or list the host in NO_PROXY (network.noProxy) if it is reachable directly.`,
          },
        ),
      );
    });
    request.once('error', (error: Error) => {
      reject(
        new UpstreamError(
          'PROXY_UNREACHABLE',
          `The proxy ${describeProxy(proxy)} could not be reached: ${(error as NodeJS.ErrnoException).code ?? error.message}.`,
          {
            hint: 'Check HTTPS_PROXY (or network.proxy) and that the proxy is up; list hosts reached directly in NO_PROXY.',
            cause: error,
          },
        ),
      );
    });
    request.end();
  });
}
