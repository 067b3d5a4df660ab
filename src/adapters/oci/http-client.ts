/**
 * oci-common's HttpClient on requestWhole, in place of its FetchHttpClient
 * (which sends through Node's global fetch): the request is signed exactly as
 * FetchHttpClient signs it (the SDK's own DefaultRequestSigner), then sent on
 * our connections, the one path every call takes, and the answer comes back
 * as the Response the SDK reads.
 *
 * A body that is not a string (bytes or a stream: no operation we call sends
 * one) is read whole first and sent the same way; as in FetchHttpClient, the
 * signer sees it only when it is not excluded from signing.
 */
import * as common from 'oci-common';
import { requestWhole, withNetworkCode } from '../http/request.js';
import { bufferedResponseOf, headerRecord } from '../http/response.js';
import type { HttpConnections } from '../http/tls.js';

export type AnswerObserver = (status: number, headers: { get(name: string): string | null }) => void;

export class WholeHttpClient implements common.HttpClient {
  constructor(
    private readonly signer: common.RequestSigner,
    private readonly connections: HttpConnections | undefined,
    /** Told every answer's status and headers (the SDK's errors drop the headers: Retry-After). */
    private readonly onAnswer?: AnswerObserver,
    /** Throws to refuse a request before it is signed or sent (a read-only config's writes). */
    private readonly guard?: (method: string, uri: string) => void,
  ) {}

  async send(request: common.HttpRequest, forceExcludeBody = false): Promise<Response> {
    this.guard?.(request.method, request.uri);
    const whole = await wholeBody(request.body);
    const sent = whole === '' || (whole !== undefined && whole.length === 0) ? undefined : whole;
    // As FetchHttpClient: the signer sees the body unless it is excluded from signing, and adds its headers to request.headers.
    const signed =
      forceExcludeBody || sent === undefined ? undefined : typeof sent === 'string' ? sent : sent.toString('utf8');
    await this.signer.signHttpRequest(
      { method: request.method, headers: request.headers, uri: request.uri, body: signed },
      forceExcludeBody,
    );
    const answer = await requestWhole(request.uri, {
      method: request.method,
      headers: headerRecord(request.headers),
      // What was signed is what is sent (the signer reads a body as UTF-8 text, as FetchHttpClient's does).
      body: forceExcludeBody ? sent : signed,
      connections: this.connections,
    }).catch((error: unknown) => {
      // The SDK's retrier keeps only the message: the network code goes in it (errors.ts names the unreachable host).
      throw withNetworkCode(error);
    });
    this.onAnswer?.(answer.status, answer.headers);
    return bufferedResponseOf(answer, request.uri) as unknown as Response;
  }
}

/** The request body as a string or bytes, a stream read to its end. */
async function wholeBody(body: unknown): Promise<string | Buffer | undefined> {
  if (body === undefined || body === null || typeof body === 'string') return body ?? undefined;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<string | Uint8Array>)
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
    return Buffer.concat(chunks);
  }
  return Buffer.from(await new Response(body as ConstructorParameters<typeof Response>[0]).arrayBuffer());
}
