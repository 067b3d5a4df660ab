/**
 * One HTTP call on an undici dispatcher, read whole and shaped as fetch would
 * give it: the Graph SDK's transport (graph/transport.ts) and our own small
 * calls (tls.ts, fetchTextWithCa) both go through it, so they fail and read
 * headers the same way.
 *
 * It talks to the dispatcher's handler interface directly: the answer's bytes
 * are collected as they arrive, with no Readable stream per answer (request()'s
 * body stream and its async iteration were a good part of the client's CPU per
 * call in a sweep of a hundred $batch calls).
 */
// undici's own Headers: the global one is Node's bundled copy of undici, about 20 ms to load on first use.
import { Headers, getGlobalDispatcher, type Dispatcher } from 'undici';

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
export function requestWhole(url: string, options: RequestOptions = {}): Promise<WholeAnswer> {
  const fail = (error: unknown) => ((error as Error)?.name === 'AbortError' ? error : new TypeError('fetch failed', { cause: error }));
  const signal = options.signal;
  const abortReason = (): Error => (signal?.reason as Error | undefined) ?? new DOMException('This operation was aborted', 'AbortError');
  if (signal?.aborted) return Promise.reject(fail(abortReason()));
  let target: URL;
  try {
    target = new URL(url);
  } catch (error) {
    return Promise.reject(fail(error));
  }
  return new Promise<WholeAnswer>((resolve, reject) => {
    let status = 0;
    let rawHeaders: Buffer[] = [];
    const chunks: Buffer[] = [];
    let abortCall: ((reason?: Error) => void) | undefined;
    const onAbort = () => abortCall?.(abortReason());
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (outcome: () => void) => {
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const handler: Dispatcher.DispatchHandlers = {
      onConnect(abort) {
        abortCall = abort;
        if (signal?.aborted) abort(abortReason());
      },
      onHeaders(statusCode, headers) {
        // 1xx answers are interim: the final answer follows on the same call.
        if (statusCode < 200) return true;
        status = statusCode;
        rawHeaders = headers as unknown as Buffer[];
        return true;
      },
      onData(chunk) {
        chunks.push(chunk);
        return true;
      },
      onComplete() {
        settle(() => resolve({ status, headers: new Headers(latin1Pairs(rawHeaders)), bytes: Buffer.concat(chunks) }));
      },
      onError(error) {
        settle(() => reject(fail(error)));
      },
    };
    try {
      (options.dispatcher ?? getGlobalDispatcher()).dispatch(
        {
          origin: target.origin,
          path: `${target.pathname}${target.search}`,
          method: (options.method ?? 'GET').toUpperCase() as Dispatcher.HttpMethod,
          headers: options.headers,
          body: options.body,
        },
        handler,
      );
    } catch (error) {
      settle(() => reject(fail(error)));
    }
  });
}

/** The body as fetch's text() reads it: UTF-8, a leading byte order mark dropped. */
export function textOf(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes);
}

/**
 * Header name/value pairs as fetch reads them: bytes as Latin-1 (so UTF-8
 * bytes read as fetch reads them, and no value is refused by Headers),
 * repeated headers kept as separate pairs.
 */
function latin1Pairs(raw: Buffer[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let index = 0; index + 1 < raw.length; index += 2) pairs.push([raw[index]!.toString('latin1'), raw[index + 1]!.toString('latin1')]);
  return pairs;
}
