/**
 * MSAL's HTTP layer, on the one path every call takes. msal-node's own
 * client calls the global fetch, which on Node 20 cannot be taught an extra CA
 * after start-up; the emulator, a TLS-inspecting proxy or a private cloud all
 * need one. So every MSAL request goes through httpFetch on the connections
 * for tls.caFile (../http/tls.ts), the same pool as Graph's and OCI's.
 *
 * Failures are thrown as MSAL AuthErrors (MSAL rethrows those unchanged and
 * would replace anything else with a bare "network_error"), and never carry a
 * request body: it holds client secrets, assertions and refresh tokens.
 * msal-common 16's AuthError takes (code, correlationId, message): the message
 * is the third argument (no correlation id of our own: '').
 */
import {
  AuthError as MsalAuthError,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import { limitErrorOf } from '../http/request.js';
import { headerRecord } from '../http/response.js';
import { fetchWithCa, type HttpFetch } from '../http/tls.js';

export interface NetworkObserver {
  /** Called before each request with its method and URL (no headers, no body). */
  onRequest?(method: 'GET' | 'POST', url: string): void;
  /**
   * Called with Entra's OAuth error answer ("error", "error_description"):
   * MSAL keeps only the "error" string of a failed device code poll, and the
   * description holds what the person needs (AADSTS65001 and the missing scope).
   */
  onOAuthError?(error: string, description: string): void;
}

/** MSAL's network code for a failed connection; session.ts maps it to ENTRA_UNREACHABLE. */
export const MSAL_NETWORK_ERROR = 'network_error';

export function caAwareNetworkClient(
  caFile: string | undefined,
  observer: NetworkObserver = {},
  fetchImpl?: HttpFetch,
): INetworkModule {
  const doFetch = fetchImpl ?? fetchWithCa(caFile);

  async function send<T>(
    method: 'GET' | 'POST',
    url: string,
    options: NetworkRequestOptions = {},
    timeoutMs?: number,
  ): Promise<NetworkResponse<T>> {
    observer.onRequest?.(method, url);
    const controller = new AbortController();
    const timer = timeoutMs ? setTimeout(() => controller.abort(), timeoutMs) : undefined;
    let response: Response;
    try {
      response = await doFetch(url, {
        method,
        headers: options.headers ?? {},
        body: method === 'POST' ? (options.body ?? '') : undefined,
        signal: controller.signal,
      });
    } catch (error) {
      // Our limits (HTTP_DEADLINE_EXCEEDED, HTTP_BODY_TOO_LARGE) keep their code; session.ts turns them back into typed errors.
      const limit = limitErrorOf(error);
      if (limit) throw new MsalAuthError(limit.code, '', limit.message);
      const reason = controller.signal.aborted ? 'request timed out' : describeFetchFailure(error);
      throw new MsalAuthError(MSAL_NETWORK_ERROR, '', `Network request to ${new URL(url).origin} failed: ${reason}`);
    } finally {
      if (timer) clearTimeout(timer);
    }
    const text = await response.text();
    let body: T;
    try {
      body = (text === '' ? {} : JSON.parse(text)) as T;
    } catch {
      throw new MsalAuthError(
        'token_parsing_error',
        '',
        `The sign-in service at ${new URL(url).origin} answered HTTP ${response.status} with a body that is not JSON.`,
      );
    }
    const oauth = body as { error?: unknown; error_description?: unknown };
    if (typeof oauth?.error === 'string' && typeof oauth.error_description === 'string')
      observer.onOAuthError?.(oauth.error, oauth.error_description);
    return { headers: headerRecord(response.headers), body, status: response.status };
  }

  return {
    sendGetRequestAsync: <T>(url: string, options?: NetworkRequestOptions, timeout?: number) =>
      send<T>('GET', url, options, timeout),
    sendPostRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>('POST', url, options),
  };
}

/** fetch-shaped failures hide the useful part (ECONNREFUSED, certificate errors) in error.cause. */
function describeFetchFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code && cause.message) return `${cause.code}: ${cause.message}`;
  if (cause?.message) return cause.message;
  return (error as Error)?.message ?? String(error);
}
