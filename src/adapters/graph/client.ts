/** The one way we build a Graph client: base URL, our host trusted for the bearer token, our CA-trusting connections. */
import { Client, MiddlewareFactory, RedirectHandler } from '@microsoft/microsoft-graph-client';
import type { HttpConnections } from '../http/tls.js';
import { graphOriginOf } from './links.js';
import { WholeMessageHandler } from './transport.js';

// The SDK's middleware asks `request instanceof Request` and builds `new Headers`
// on every call, and Node loads those classes (its bundled undici) on first
// touch: about 20 ms. Loaded here, with the SDK, rather than inside the first
// Graph call, where it held up every request queued behind it.
void globalThis.Request;

export function createGraphClient(graphBaseUrl: string, connections: HttpConnections | undefined, getAccessToken: () => Promise<string>): Client {
  const base = graphBaseUrl.replace(/\/+$/, '');
  // The client attaches the token only to Graph hosts and customHosts (port and IPv6 brackets stripped).
  const host = new URL(base).hostname.replace(/^\[|\]$/g, '');
  // The SDK's default chain (authentication, retry, telemetry) with our transport as its
  // last link instead of the global fetch (see transport.ts), and without its
  // RedirectHandler: it keeps the token on a Location without "://" (links.ts). Our
  // transport refuses redirects and any URL off the Graph origin.
  const middleware = MiddlewareFactory.getDefaultMiddlewareChain({ getAccessToken }).filter((link) => !(link instanceof RedirectHandler));
  middleware[middleware.length - 1] = new WholeMessageHandler(connections, graphOriginOf(base));
  return Client.initWithMiddleware({
    baseUrl: `${base}/`,
    defaultVersion: 'v1.0',
    customHosts: new Set([host]),
    fetchOptions: connections ? ({ dispatcher: connections.dispatcher } as any) : undefined,
    middleware,
  });
}
