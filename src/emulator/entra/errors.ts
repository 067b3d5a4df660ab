/**
 * Entra's error shape ({error, error_description, error_codes, timestamp,
 * trace_id, correlation_id}) with its AADSTS numbers, and the error a control
 * helper throws for a wrong input (a control route turns it into a 4xx).
 */
import { randomUUID } from 'node:crypto';
import { json, type EmuRequest, type EmuResponse, type EmulatorApi } from '../http.js';
import type { World } from '../state.js';

/** A wrong input to an emulator helper (unknown user, code, app): the control routes turn it into a 4xx. */
export class EmulatorInputError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'EmulatorInputError';
  }
}

function entraTimestamp(world: World): string {
  return world
    .nowIso()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

interface EntraErrorOptions {
  status?: number;
  suberror?: string;
  claims?: string;
}

export function entraError(
  req: EmuRequest,
  emu: EmulatorApi,
  error: string,
  aadsts: number,
  description: string,
  options: EntraErrorOptions = {},
): EmuResponse {
  const traceId = randomUUID();
  const header = req.headers['client-request-id'];
  const correlationId = (Array.isArray(header) ? header[0] : header) || randomUUID();
  const timestamp = entraTimestamp(emu.world);
  const body: Record<string, unknown> = {
    error,
    error_description: `AADSTS${aadsts}: ${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [aadsts],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${emu.baseUrl}/error?code=${aadsts}`,
  };
  if (options.suberror) body.suberror = options.suberror;
  if (options.claims) body.claims = options.claims;
  return json(options.status ?? 400, body, { 'cache-control': 'no-store', pragma: 'no-cache' });
}

/** A control route's answer to an EmulatorInputError; anything else is the emulator's own failure. */
export function controlFailure(error: unknown): EmuResponse {
  if (error instanceof EmulatorInputError) return json(error.status, { error: 'bad_request', message: error.message });
  throw error;
}
