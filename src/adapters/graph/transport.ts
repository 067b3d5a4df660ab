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
 *
 * What it adds (links.ts says why): every request must go to the Graph origin
 * with no user info in its URL, or it fails with GRAPH_BAD_LINK before a byte
 * is sent; a redirect is never followed (the SDK's RedirectHandler is left out
 * of the chain, client.ts), a 3xx answer fails with GRAPH_REDIRECT_REFUSED;
 * and the HTTP limits of requestWhole apply (HTTP_DEADLINE_EXCEEDED,
 * HTTP_BODY_TOO_LARGE). These typed errors would lose their type inside the
 * SDK (it rebuilds every error as a GraphError), so they travel as the cause
 * of a GraphClientError, which the SDK passes on unchanged; typedErrorOf
 * takes them out again.
 */
import type { Dispatcher } from 'undici';
import type { HttpConnections } from '../http/tls.js';
import { GraphClientError, type Context, type Middleware } from '@microsoft/microsoft-graph-client';
import { requestWhole } from '../http/request.js';
import { bufferedResponseOf, headerRecord } from '../http/response.js';
import { OciAccessError, RefusedAnswerError } from '../../errors.js';
import { checkedGraphLink } from './links.js';

type PlainBody = string | Uint8Array | ArrayBuffer | null | undefined;

function isPlainBody(body: unknown): body is PlainBody {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array || body instanceof ArrayBuffer;
}

/** Our typed error behind a Graph call's failure (see above), if there is one. */
export function typedErrorOf(error: unknown): OciAccessError | undefined {
  if (error instanceof OciAccessError) return error;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return error instanceof GraphClientError && cause instanceof OciAccessError ? cause : undefined;
}

/**
 * The SDK keeps only a failed request's message ("fetch failed"), not its
 * cause: the network error's code (ECONNREFUSED, ENOTFOUND, …) is added to the
 * message so that graph-directory can say the host could not be reached.
 */
function withNetworkCode(error: unknown): unknown {
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (!(error instanceof TypeError) || typeof code !== 'string' || !/^E[A-Z_]+$/.test(code)) return error;
  return new TypeError(`${error.message} (${code})`, { cause: (error as { cause?: unknown }).cause });
}

/** Carries `error` through the SDK unchanged (it rethrows a GraphClientError as it is). */
function carried(error: unknown): unknown {
  if (!(error instanceof OciAccessError)) return error;
  const carrier = new GraphClientError(error.message);
  (carrier as { cause?: unknown }).cause = error;
  return carrier;
}

export class WholeMessageHandler implements Middleware {
  /** `graphOrigin`: where requests may go (createGraphClient always gives it). */
  constructor(
    private readonly connections: HttpConnections | undefined,
    private readonly graphOrigin?: string,
  ) {}

  async execute(context: Context): Promise<void> {
    try {
      await this.send(context);
    } catch (error) {
      throw carried(withNetworkCode(error));
    }
    refuseRedirect(context.response!);
  }

  private async send(context: Context): Promise<void> {
    const options = (context.options ?? {}) as RequestInit & { dispatcher?: Dispatcher };
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    if (this.graphOrigin) checkedGraphLink(url, this.graphOrigin, 'a request URL');
    if (typeof context.request !== 'string' || !isPlainBody(options.body)) {
      const dispatcher = this.connections?.dispatcher ?? options.dispatcher;
      // Never followed: a 3xx comes back as it is and is refused below.
      const init = { ...options, redirect: 'manual' as const, ...(dispatcher ? { dispatcher } : {}) };
      context.response = await fetch(context.request, init as RequestInit);
      return;
    }
    const answer = await requestWhole(url, {
      method: options.method,
      headers: headerRecord(options.headers),
      body: options.body === null || options.body === undefined ? undefined : options.body instanceof ArrayBuffer ? Buffer.from(options.body) : options.body,
      connections: this.connections,
      signal: options.signal ?? undefined,
    });
    context.response = bufferedResponseOf(answer, url) as unknown as Response;
  }
}

/** A redirect (any 3xx but 304 Not Modified) is an error naming where it pointed; the token never follows it. */
function refuseRedirect(response: { status: number; url: string; headers: { get(name: string): string | null } }): void {
  if (response.status < 300 || response.status > 399 || response.status === 304) return;
  const location = response.headers.get('location');
  let target = '(no Location header)';
  if (location !== null) {
    // Read alone first, as the SDK's RedirectHandler would send it on: "https:other/x" is then
    // the host "other", though against the request's URL it would resolve to the same host.
    target = hostIn(location) ?? hostIn(location, response.url) ?? '(a Location that is not a URL)';
  }
  throw carried(
    new RefusedAnswerError('GRAPH_REDIRECT_REFUSED', `Microsoft Graph answered ${response.status}, a redirect to ${target}; ociaccess does not follow redirects, so it was not followed and the token was not sent.`, {
      details: { status: response.status, host: target },
    }),
  );
}

function hostIn(location: string, base?: string): string | undefined {
  try {
    return new URL(location, base || undefined).host || undefined;
  } catch {
    return undefined;
  }
}
