/** Graph's error body and the handful of errors every Graph route answers with. */
import { randomUUID } from 'node:crypto';
import type { EmuRequest, EmuResponse } from '../http.js';

/** Graph's error body: {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}. */
export function graphError(status: number, code: string, message: string, clientRequestId?: string): EmuResponse {
  const requestId = randomUUID();
  return {
    status,
    headers: { 'request-id': requestId, 'client-request-id': clientRequestId ?? requestId },
    body: {
      error: {
        code,
        message,
        innerError: {
          date: new Date().toISOString().replace(/\.\d{3}Z$/, ''),
          'request-id': requestId,
          'client-request-id': clientRequestId ?? requestId,
        },
      },
    },
  };
}

function clientRequestId(req: EmuRequest): string | undefined {
  const value = req.headers['client-request-id'];
  return Array.isArray(value) ? value[0] : value;
}

/** graphError carrying the caller's client-request-id back, as Graph does. */
export function errorFor(req: EmuRequest, status: number, code: string, message: string): EmuResponse {
  return graphError(status, code, message, clientRequestId(req));
}

export const INSUFFICIENT_PRIVILEGES = 'Insufficient privileges to complete the operation.';

export function forbidden(req: EmuRequest): EmuResponse {
  return errorFor(req, 403, 'Authorization_RequestDenied', INSUFFICIENT_PRIVILEGES);
}

/** Directory objects (users, groups, service principals, references) that are not there. */
export function resourceNotFound(req: EmuRequest, id: string): EmuResponse {
  return errorFor(
    req,
    404,
    'Request_ResourceNotFound',
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

export function badRequest(req: EmuRequest, message: string, code = 'BadRequest'): EmuResponse {
  return errorFor(req, 400, code, message);
}
