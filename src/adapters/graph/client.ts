/** The one way we build a Graph client: base URL, our host trusted for the bearer token, our CA dispatcher. */
import { Client, MiddlewareFactory } from '@microsoft/microsoft-graph-client';
import type { Dispatcher } from 'undici';
import { UndiciMessageHandler } from './transport.js';

export function createGraphClient(graphBaseUrl: string, dispatcher: Dispatcher | undefined, getAccessToken: () => Promise<string>): Client {
  const base = graphBaseUrl.replace(/\/+$/, '');
  // The client attaches the token only to Graph hosts and customHosts (port and IPv6 brackets stripped).
  const host = new URL(base).hostname.replace(/^\[|\]$/g, '');
  // The SDK's default chain (authentication, retry, redirect, telemetry) with our
  // transport as its last link instead of the global fetch (see transport.ts).
  const middleware = MiddlewareFactory.getDefaultMiddlewareChain({ getAccessToken });
  middleware[middleware.length - 1] = new UndiciMessageHandler(dispatcher);
  return Client.initWithMiddleware({
    baseUrl: `${base}/`,
    defaultVersion: 'v1.0',
    customHosts: new Set([host]),
    fetchOptions: dispatcher ? ({ dispatcher } as any) : undefined,
    middleware,
  });
}
