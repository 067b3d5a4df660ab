/** Microsoft Graph v1.0 subset. (To be filled in.) */
import type { EmuResponse, Route } from '../http.js';
import { randomUUID } from 'node:crypto';

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
        innerError: { date: new Date().toISOString().replace(/\.\d{3}Z$/, ''), 'request-id': requestId, 'client-request-id': clientRequestId ?? requestId },
      },
    },
  };
}

export function graphRoutes(): Route[] {
  return [];
}
