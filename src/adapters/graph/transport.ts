/**
 * The last link of the Graph SDK's middleware chain, in place of its
 * HTTPMessageHandler (which calls the global fetch): the same request, sent
 * on our connections with requestWhole (../http/request.ts). Everything before it (the
 * SDK's authentication, retry, redirect and telemetry handlers) and after it
 * (response parsing, GraphError) is the SDK's own; only the socket work
 * changes.
 *
 * Why: Node's fetch runs each call through WHATWG streams and costs about
 * 2 ms of CPU per call on this kind of machine. A sweep makes hundreds of
 * $batch calls with four in flight, so that CPU sat on every round trip
 * (issue 4: within 1.5× of the critical path). One requestWhole call on our
 * connections does the same HTTP work for a fraction of it.
 *
 * What fetch did that this keeps: the answer reads as a WHATWG Response
 * (status, ok, headers, url, json()/text()/arrayBuffer()/blob(), body; see
 * BufferedResponse in ../http/response.ts); a call that gets no answer
 * fails as fetch fails, TypeError("fetch failed") with the network error as
 * its cause, so errors read the same everywhere. Calls this does not handle
 * (a Request object, a streamed body) go to fetch as before. Unlike fetch,
 * it asks for no compression (Graph then answers uncompressed) and decodes none.
 */
import type { Dispatcher } from 'undici';
import type { HttpConnections } from '../http/tls.js';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { requestWhole } from '../http/request.js';
import { bufferedResponseOf, headerRecord } from '../http/response.js';

type PlainBody = string | Uint8Array | ArrayBuffer | null | undefined;

function isPlainBody(body: unknown): body is PlainBody {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array || body instanceof ArrayBuffer;
}

export class WholeMessageHandler implements Middleware {
  constructor(private readonly connections: HttpConnections | undefined) {}

  async execute(context: Context): Promise<void> {
    const options = (context.options ?? {}) as RequestInit & { dispatcher?: Dispatcher };
    if (typeof context.request !== 'string' || !isPlainBody(options.body)) {
      const dispatcher = this.connections?.dispatcher ?? options.dispatcher;
      context.response = await fetch(context.request, (dispatcher ? { ...options, dispatcher } : options) as RequestInit);
      return;
    }
    const url = context.request;
    const answer = await requestWhole(url, {
      method: options.method,
      headers: headerRecord(options.headers),
      body: options.body === null || options.body === undefined ? undefined : options.body instanceof ArrayBuffer ? Buffer.from(options.body) : options.body,
      connections: this.connections,
      signal: options.signal ?? undefined,
    });
    // The url: the redirect handler compares it with the Location it is sent to.
    context.response = bufferedResponseOf(answer, url) as unknown as Response;
  }
}
