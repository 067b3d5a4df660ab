/**
 * The last link of the Graph SDK's middleware chain, in place of its
 * HTTPMessageHandler (which calls the global fetch): the same request, sent
 * with requestWhole (../http/request.ts) on our connections, the one path
 * every call takes. Everything before it (the SDK's authentication and
 * telemetry handlers, our GraphRetryHandler) and after it (response parsing,
 * GraphError) is unchanged; only the socket work differs.
 *
 * What fetch did that this keeps: the answer reads as a WHATWG Response
 * (status, ok, headers, url, json()/text()/arrayBuffer()/blob(), body; see
 * BufferedResponse in ../http/response.ts); a call that gets no answer
 * fails as fetch fails, TypeError("fetch failed") with the network error as
 * its cause, so errors read the same everywhere. A Request object or a body
 * that is not a string or bytes (a stream, a Blob, form data) is read whole
 * first and sent the same way. Unlike fetch, it asks for no compression
 * (Graph then answers uncompressed) and decodes none.
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
import type { HttpConnections } from '../http/tls.js';
import { GraphClientError, type Context, type Middleware } from '@microsoft/microsoft-graph-client';
import { requestWhole, withNetworkCode } from '../http/request.js';
import { bufferedResponseOf, headerRecord } from '../http/response.js';
import { OciAccessError, RefusedAnswerError } from '../../errors.js';
import { checkedGraphLink } from './links.js';

type PlainBody = string | Uint8Array | ArrayBuffer | null | undefined;

function isPlainBody(body: unknown): body is PlainBody {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer
  );
}

/** Our typed error behind a Graph call's failure (see above), if there is one. */
export function typedErrorOf(error: unknown): OciAccessError | undefined {
  if (error instanceof OciAccessError) return error;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return error instanceof GraphClientError && cause instanceof OciAccessError ? cause : undefined;
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
    const options = (context.options ?? {}) as RequestInit;
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    if (this.graphOrigin) checkedGraphLink(url, this.graphOrigin, 'a request URL');
    const request =
      typeof context.request === 'string' && isPlainBody(options.body)
        ? undefined
        : new Request(context.request, { ...options, duplex: 'half' } as RequestInit);
    const body = request
      ? request.body
        ? Buffer.from(await request.arrayBuffer())
        : undefined
      : plainBytes(options.body as PlainBody);
    const answer = await requestWhole(url, {
      method: request?.method ?? options.method,
      headers: headerRecord(request?.headers ?? options.headers),
      body,
      connections: this.connections,
      signal: request?.signal ?? options.signal ?? undefined,
    });
    context.response = bufferedResponseOf(answer, url) as unknown as Response;
  }
}

function plainBytes(body: PlainBody): string | Uint8Array | undefined {
  if (body === null || body === undefined) return undefined;
  return body instanceof ArrayBuffer ? Buffer.from(body) : body;
}

/** A redirect (any 3xx but 304 Not Modified) is an error naming where it pointed; the token never follows it. */
function refuseRedirect(response: {
  status: number;
  url: string;
  headers: { get(name: string): string | null };
}): void {
  if (response.status < 300 || response.status > 399 || response.status === 304) return;
  const location = response.headers.get('location');
  let target = '(no Location header)';
  if (location !== null) {
    // Read alone first, as the SDK's RedirectHandler would send it on: "https:other/x" is then
    // the host "other", though against the request's URL it would resolve to the same host.
    target = hostIn(location) ?? hostIn(location, response.url) ?? '(a Location that is not a URL)';
  }
  throw carried(
    new RefusedAnswerError(
      'GRAPH_REDIRECT_REFUSED',
      `Microsoft Graph answered ${response.status}, a redirect to ${target}; ociaccess does not follow redirects, so it was not followed and the token was not sent.`,
      {
        details: { status: response.status, host: target },
      },
    ),
  );
}

function hostIn(location: string, base?: string): string | undefined {
  try {
    return new URL(location, base || undefined).host || undefined;
  } catch {
    return undefined;
  }
}
