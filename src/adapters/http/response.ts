/**
 * An answer read whole (requestWhole), shaped as the WHATWG Response the SDKs
 * read (the Graph SDK's handlers and response parser, oci-common's retrier and
 * models), and request headers from whichever form an SDK keeps them in.
 */
import { textOf, type WholeAnswer } from './request.js';

/** Statuses whose Response must have no body (the constructor refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** Headers as a plain record (names in lower case), from whichever form an SDK keeps them in: Headers, pairs or a record. */
export function headerRecord(headers: unknown): Record<string, string> {
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
export class BufferedResponse {
  readonly ok: boolean;
  readonly redirected = false;
  readonly type = 'basic';
  private used = false;

  constructor(
    private readonly bytes: Buffer | null,
    readonly status: number,
    readonly headers: Headers,
    readonly url: string,
    readonly statusText = '',
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
    return new BufferedResponse(
      this.bytes && Buffer.from(this.bytes),
      this.status,
      new Headers(this.headers),
      this.url,
      this.statusText,
    );
  }
}

/** The Response for an answer to `url`: a null body where the status allows none. */
export function bufferedResponseOf(answer: WholeAnswer, url: string): BufferedResponse {
  return new BufferedResponse(
    NULL_BODY_STATUSES.has(answer.status) ? null : answer.bytes,
    answer.status,
    answer.headers,
    url,
    answer.statusText,
  );
}
