/**
 * Okta's error bodies: the management API's ModelError
 * ({errorCode, errorSummary, errorLink, errorId, errorCauses}) and the OAuth
 * endpoints' {error, error_description} (docs/okta.md, "Errors").
 */
import { randomBytes } from 'node:crypto';
import { json, type EmuResponse } from '../http.js';

export function oktaError(
  status: number,
  errorCode: string,
  errorSummary: string,
  causes: string[] = [],
  headers: Record<string, string> = {},
): EmuResponse {
  return json(
    status,
    {
      errorCode,
      errorSummary,
      errorLink: errorCode,
      errorId: `oae${randomBytes(16).toString('base64url').slice(0, 22)}`,
      errorCauses: causes.map((summary) => ({ errorSummary: summary })),
    },
    headers,
  );
}

export const invalidToken = (): EmuResponse =>
  oktaError(401, 'E0000011', 'Invalid token provided', [], {
    'www-authenticate':
      'Bearer authorization_uri="http://{yourOktaDomain}/oauth2/v1/authorize", realm="http://{yourOktaDomain}", scope="okta.users.read", error="invalid_token", error_description="The access token is invalid.", resource="/api/v1/users"',
  });

/** RFC 9449 §7.1: a bound token whose proof is missing or wrong is refused with a DPoP challenge. */
export const invalidDpopProof = (description: string): EmuResponse =>
  oktaError(401, 'E0000011', 'Invalid token provided', [], {
    'www-authenticate': `DPoP algs="ES256 ES384 ES512 RS256 RS384 RS512", error="invalid_dpop_proof", error_description="${description.replace(/"/g, "'")}"`,
  });

export const accessDenied = (): EmuResponse =>
  oktaError(403, 'E0000006', 'You do not have permission to perform the requested action');

export const notFound = (what: string, id: string): EmuResponse =>
  oktaError(404, 'E0000007', `Not found: Resource not found: ${id} (${what})`);

export const validationFailed = (what: string, causes: string[]): EmuResponse =>
  oktaError(400, 'E0000001', `Api validation failed: ${what}`, causes);

export const tooManyRequests = (headers: Record<string, string>): EmuResponse =>
  oktaError(429, 'E0000047', 'API call exceeded rate limit due to too many requests.', [], headers);

export function oauthError(status: number, error: string, description: string): EmuResponse {
  return json(status, { error, error_description: description }, { 'cache-control': 'no-store', pragma: 'no-cache' });
}
