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
 * BufferedResponse); a call that gets no answer
 * fails as fetch fails, TypeError("fetch failed") with the network error as
 * its cause, so errors read the same everywhere. Calls this does not handle
 * (a Request object, a streamed body) go to fetch as before. Unlike fetch,
 * it asks for no compression (Graph then answers uncompressed) and decodes none.
 */
import { Headers, type Dispatcher } from 'undici';
import type { HttpConnections } from '../http/tls.js';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { requestWhole, textOf } from '../http/request.js';

/** Statuses whose Response must have no body (the constructor refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

type PlainBody = string | Uint8Array | ArrayBuffer | null | undefined;

function isPlainBody(body: unknown): body is PlainBody {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array || body instanceof ArrayBuffer;
}

/** Request headers as a plain record, from whichever form the SDK's middleware left them in. */
function headerRecord(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  // A name given twice (in any case) is sent once with both values, as fetch does.
  const add = (name: string, value: unknown) => {
    const key = name.toLowerCase();
    out[key] = out[key] === undefined ? String(value) : `${out[key]}, ${String(value)}`;
  };
  // Duck-typed: `instanceof Headers` would load Node's own fetch (about 20 ms) just to answer no.
  if (typeof (headers as Headers).forEach === 'function' && typeof (headers as Headers).get === 'function') {
    (headers as Headers).forEach((value, name) => add(name, value));
  } else if (Array.isArray(headers)) {
    for (const [name, value] of headers as [string, string][]) add(name, value);
  } else {
    for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
      if (value !== undefined && value !== null) add(name, value);
    }
  }
  return out;
}

/**
 * The answer, already read, with the part of the WHATWG Response interface the
 * SDK's handlers and response parser use (status, ok, headers, url, json(),
 * text(), arrayBuffer(), blob(), body). A real Response costs a ReadableStream
 * per answer, which is most of what this transport saves; the stream is made
 * only if someone asks for `body`.
 */
class BufferedResponse {
  readonly ok: boolean;
  readonly statusText = '';
  readonly redirected = false;
  readonly type = 'basic';
  private used = false;

  constructor(
    private readonly bytes: Buffer | null,
    readonly status: number,
    readonly headers: Headers,
    readonly url: string,
  ) {
    this.ok = status >= 200 && status <= 299;
  }

  get bodyUsed(): boolean {
    return this.used;
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.bytes === null ? null : new Response(this.take()).body;
  }

  private take(): Buffer {
    if (this.used) throw new TypeError('Body is unusable: Body has already been read');
    this.used = true;
    return this.bytes ?? Buffer.alloc(0);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = this.take();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async text(): Promise<string> {
    return textOf(this.take());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async blob(): Promise<Blob> {
    return new Blob([this.take()], { type: this.headers.get('content-type') ?? '' });
  }

  clone(): BufferedResponse {
    if (this.used) throw new TypeError('Response.clone: Body has already been consumed.');
    return new BufferedResponse(this.bytes && Buffer.from(this.bytes), this.status, new Headers(this.headers), this.url);
  }
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
    const bytes = NULL_BODY_STATUSES.has(answer.status) ? null : answer.bytes;
    // The url: the redirect handler compares it with the Location it is sent to.
    context.response = new BufferedResponse(bytes, answer.status, answer.headers, url) as unknown as Response;
  }
}
