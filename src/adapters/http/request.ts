/**
 * One HTTP call with undici's request() on a dispatcher, read whole and shaped
 * as fetch would give it: the Graph SDK's transport (graph/transport.ts) and
 * our own small calls (tls.ts, fetchTextWithCa) both go through it, so they
 * fail and read headers the same way.
 */
// undici's own Headers: the global one is Node's bundled copy of undici, about 20 ms to load on first use.
import { Headers, request, type Dispatcher } from 'undici';

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
}

export interface WholeAnswer {
  status: number;
  /** As fetch reads them: repeated headers kept, values as Latin-1 bytes. */
  headers: Headers;
  bytes: Buffer;
}

/**
 * Failures read as fetch's: TypeError "fetch failed" with the network error as
 * its cause (an abort stays an AbortError), whether the answer never came or
 * its body broke off.
 */
export async function requestWhole(url: string, options: RequestOptions = {}): Promise<WholeAnswer> {
  try {
    const answer = await request(url, {
      method: (options.method ?? 'GET').toUpperCase() as Dispatcher.HttpMethod,
      headers: options.headers,
      body: options.body,
      dispatcher: options.dispatcher,
      signal: options.signal,
    });
    const chunks: Buffer[] = [];
    for await (const chunk of answer.body) chunks.push(chunk as Buffer);
    return { status: answer.statusCode, headers: new Headers(responseHeaders(answer.headers)), bytes: Buffer.concat(chunks) };
  } catch (error) {
    if ((error as Error)?.name === 'AbortError') throw error;
    throw new TypeError('fetch failed', { cause: error });
  }
}

/**
 * A header value as fetch reads it. fetch takes header bytes as Latin-1;
 * undici's request() decodes them as UTF-8, and Headers refuse a value with
 * characters above U+00FF. Re-encoding gives fetch's reading for UTF-8 bytes
 * (invalid ones stay replaced) instead of failing a good answer.
 */
function byteString(value: string): string {
  // eslint-disable-next-line no-control-regex
  return /[^\x00-\xff]/.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

/** Response headers as a Headers init (repeated headers kept as separate pairs). */
function responseHeaders(headers: Record<string, string | string[] | undefined>): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const one of value) pairs.push([name, byteString(one)]);
    else if (value !== undefined) pairs.push([name, byteString(value)]);
  }
  return pairs;
}
