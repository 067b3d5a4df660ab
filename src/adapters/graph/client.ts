/** The one way we build a Graph client: base URL, our host trusted for the bearer token, our connections. */
import { Client, MiddlewareFactory, RedirectHandler, RetryHandler } from '@microsoft/microsoft-graph-client';
import type { HttpConnections } from '../http/tls.js';
import { graphOriginOf } from './links.js';
import { GraphRetryHandler, type GraphRetryOptions } from './retry.js';
import { WholeMessageHandler } from './transport.js';

export function createGraphClient(
  graphBaseUrl: string,
  connections: HttpConnections | undefined,
  getAccessToken: () => Promise<string>,
  retry?: GraphRetryOptions,
): Client {
  const base = graphBaseUrl.replace(/\/+$/, '');
  // The client attaches the token only to Graph hosts and customHosts (port and IPv6 brackets stripped).
  const host = new URL(base).hostname.replace(/^\[|\]$/g, '');
  // The SDK's default chain (authentication, retry, telemetry) with our transport as its
  // last link instead of the global fetch (see transport.ts), our retries in place of its
  // RetryHandler (retry.ts: the one backoff helper), and without its RedirectHandler: it
  // keeps the token on a Location without "://" (links.ts). Our transport refuses
  // redirects and any URL off the Graph origin.
  const middleware = MiddlewareFactory.getDefaultMiddlewareChain({ getAccessToken })
    .filter((link) => !(link instanceof RedirectHandler))
    .map((link) => (link instanceof RetryHandler ? new GraphRetryHandler(retry) : link));
  middleware[middleware.length - 1] = new WholeMessageHandler(connections, graphOriginOf(base));
  return Client.initWithMiddleware({
    baseUrl: `${base}/`,
    defaultVersion: 'v1.0',
    customHosts: new Set([host]),
    middleware,
  });
}
