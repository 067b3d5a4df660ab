/**
 * Retry-After bookkeeping, so a test can tell whether a client came back
 * before it was told to. When the emulator answers with a Retry-After (429,
 * or a 503 carrying one), it remembers "not before" for that client and that
 * request (method, URL and body); a later identical request from the same client
 * that arrives earlier is flagged in the request log (`early`, in ms).
 *
 * A client is told apart by its credential: the bearer token for Graph (each
 * process holds its own app token), the signing key for OCI. Timing uses the
 * real monotonic clock: clients wait in real time whatever the virtual clock says.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import type { World } from './state.js';

/** Timers may fire up to a millisecond before their time; anything less than this is not "early". */
const TOLERANCE_MS = 5;

export function clientOf(headers: IncomingHttpHeaders): string {
  const auth = String(headers.authorization ?? '');
  if (/^bearer /i.test(auth)) return `bearer:${createHash('sha256').update(auth.slice(7)).digest('hex').slice(0, 16)}`;
  const keyId = /keyId="([^"]+)"/.exec(auth)?.[1];
  if (keyId) return `key:${keyId}`;
  return 'anonymous';
}

/**
 * What makes two requests "the same request": client, method, URL and body.
 * The body counts because calls to one URL may be different requests: two
 * $batch calls with different items are not a retry of each other, while the
 * SDK's retry of a throttled call resends the same bytes.
 */
export function retryKey(client: string, method: string, url: string, body?: Buffer): string {
  const digest = body && body.length > 0 ? ` #${createHash('sha256').update(body).digest('hex').slice(0, 16)}` : '';
  return `${client} ${method.toUpperCase()} ${url}${digest}`;
}

/** Remembers the Retry-After of an answer (seconds, as sent in the header). */
export function noteRetryAfter(world: World, key: string, headerValue: string | undefined): void {
  if (headerValue === undefined) return;
  const seconds = Number(headerValue);
  if (!Number.isFinite(seconds) || seconds < 0) return;
  world.retryNotBefore.set(key, performance.now() + seconds * 1000);
}

/** How many ms before its Retry-After this request came (undefined when it was not early). */
export function earlyBy(world: World, key: string): number | undefined {
  const notBefore = world.retryNotBefore.get(key);
  if (notBefore === undefined) return undefined;
  const early = notBefore - performance.now();
  if (early <= TOLERANCE_MS) {
    world.retryNotBefore.delete(key);
    return undefined;
  }
  return Math.round(early);
}

export function retryAfterHeader(headers: Record<string, string> | undefined): string | undefined {
  if (!headers) return undefined;
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() === 'retry-after') return value;
  return undefined;
}
