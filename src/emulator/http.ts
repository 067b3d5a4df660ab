/** The emulator's tiny routing layer: a route table per service, and the shapes handlers see. */
import type { IncomingHttpHeaders } from 'node:http';
import type { World, LoggedRequest } from './state.js';

export type Service = LoggedRequest['service'];

export interface EmuRequest {
  service: Service;
  method: string;
  /** Path without query string, percent-decoded. */
  path: string;
  /** Path as received, with query string, not decoded. */
  rawUrl: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Path parameters captured by the route's pattern (named groups). */
  params: Record<string, string>;
  /** Set by auth middleware of a service, for the request log. */
  principal?: string;
}

export interface EmuResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings and Buffers as they are. */
  body?: unknown;
}

export interface EmulatorApi {
  readonly world: World;
  /** Base URL of the emulator, e.g. https://127.0.0.1:40123 */
  readonly baseUrl: string;
  /** Runs every provisioning cycle that is due at the current virtual time. */
  runDueCycles(): void;
  /** Runs one provisioning cycle now, for every job, whatever its schedule. */
  runCycleNow(): void;
  /** Dispatches a request through a service's routes (used by Graph $batch). */
  dispatch(request: EmuRequest): Promise<EmuResponse>;
}

export type Handler = (req: EmuRequest, emu: EmulatorApi) => EmuResponse | Promise<EmuResponse>;

export interface Route {
  service: Service;
  method: string;
  /** Anchored pattern over the decoded path; named groups become params. */
  pattern: RegExp;
  handler: Handler;
}

export function route(service: Service, method: string, pattern: RegExp, handler: Handler): Route {
  return { service, method, pattern, handler };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): EmuResponse {
  return { status, body, headers };
}

export function parseJsonBody<T = any>(req: EmuRequest): T | undefined {
  if (req.body.length === 0) return undefined;
  try {
    return JSON.parse(req.body.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}
