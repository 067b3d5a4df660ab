/**
 * oci-common's HttpClient on requestWhole, in place of its FetchHttpClient
 * (which sends through Node's global fetch): the request is signed exactly as
 * FetchHttpClient signs it (the SDK's own DefaultRequestSigner), then sent on
 * our connections, and the answer comes back as the Response the SDK reads.
 *
 * Why: a sweep reads OCI while its Graph calls are in flight. Through fetch,
 * each OCI call cost several milliseconds of WHATWG streams and undici
 * machinery, and undici's pool opened a second TLS connection for the second
 * of two calls made one after the other; that CPU sat between Graph answers
 * and the calls they free (issue 4). requestWhole reuses the connection and
 * reads the answer in one piece.
 *
 * A body that is not a string (a stream: no operation we call sends one) goes
 * to the SDK's FetchHttpClient, as before.
 */
import * as common from 'oci-common';
import { requestWhole } from '../http/request.js';
import { bufferedResponseOf, headerRecord } from '../http/response.js';
import type { HttpConnections } from '../http/tls.js';

export type AnswerObserver = (status: number, headers: { get(name: string): string | null }) => void;

export class WholeHttpClient implements common.HttpClient {
  private fallback: common.FetchHttpClient | undefined;

  constructor(
    private readonly signer: common.RequestSigner,
    private readonly connections: HttpConnections | undefined,
    /** Told every answer's status and headers (the SDK's errors drop the headers: Retry-After). */
    private readonly onAnswer?: AnswerObserver,
    /** Throws to refuse a request before it is signed or sent (a read-only config's writes). */
    private readonly guard?: (method: string, uri: string) => void,
  ) {}

  async send(request: common.HttpRequest, forceExcludeBody = false, ...rest: unknown[]): Promise<Response> {
    this.guard?.(request.method, request.uri);
    const body: unknown = request.body;
    if (body !== undefined && body !== null && typeof body !== 'string') {
      this.fallback ??= new common.FetchHttpClient(this.signer, null, this.connections ? { dispatcher: this.connections.dispatcher } : undefined);
      return (this.fallback.send as (...args: unknown[]) => Promise<Response>)(request, forceExcludeBody, ...rest);
    }
    const sent = body === '' ? undefined : body;
    // As FetchHttpClient: the signer sees the body unless it is excluded from signing, and adds its headers to request.headers.
    await this.signer.signHttpRequest({ method: request.method, headers: request.headers, uri: request.uri, body: forceExcludeBody ? undefined : sent }, forceExcludeBody);
    const answer = await requestWhole(request.uri, {
      method: request.method,
      headers: headerRecord(request.headers),
      body: sent ?? undefined,
      connections: this.connections,
    });
    this.onAnswer?.(answer.status, answer.headers);
    return bufferedResponseOf(answer, request.uri) as unknown as Response;
  }
}
