/**
 * The one mapping from what the OCI SDK threw to our typed errors, for every
 * OCI call (OciDomain, OciInspector): our own errors and HTTP limits as they
 * are, 401/403 as OCI_AUTH_FAILED (exit 4), 429, 5xx and no answer as
 * OCI_UNAVAILABLE (exit 5, "try again later"), anything else as OCI_ERROR.
 */
import { AuthError, OciAccessError, UpstreamError } from '../../errors.js';
import { describeUnreachable, limitErrorOf, unreachableCodeIn } from '../http/request.js';
import { stripControls } from '../../core/text.js';

/** The host of oci.domainUrl, as messages name it. */
export function domainHostOf(domainUrl: string): string | undefined {
  try {
    return new URL(domainUrl).host;
  } catch {
    return undefined;
  }
}

/**
 * `operation` says what was being done ("list identity providers"); `authHint` what the key's user needs
 * for it; `domainHost` (oci.domainUrl's host) is named when it could not be reached at all.
 */
export function ociErrorOf(operation: string, error: unknown, authHint: string, domainHost?: string): OciAccessError {
  if (error instanceof OciAccessError) return error;
  // oci-common's retrier keeps only the code and message of what our http client threw: HTTP_DEADLINE_EXCEEDED, HTTP_BODY_TOO_LARGE.
  const limit = limitErrorOf(error);
  if (limit) return limit;
  const status = (error as { statusCode?: number } | null)?.statusCode ?? 0;
  // The domain's own text, quoted in ours: one line, no control characters.
  const message = stripControls((error as Error | null)?.message ?? String(error));
  if (status === 401 || status === 403) {
    return new AuthError(
      'OCI_AUTH_FAILED',
      `The OCI identity domain refused the request to ${operation} (${status}): ${message}`,
      { hint: authHint, cause: error },
    );
  }
  const unreachable = status === 0 ? unreachableCodeIn(message) : undefined;
  if (unreachable) {
    return new UpstreamError(
      'OCI_UNAVAILABLE',
      `The OCI identity domain${domainHost ? ` at ${domainHost}` : ''} could not be reached while trying to ${operation} (${describeUnreachable(unreachable)}).`,
      { hint: 'Check the network and any proxy, and oci.domainUrl in the config.', cause: error, details: { status } },
    );
  }
  const unavailable = status === 429 || status >= 500 || status === 0;
  return new UpstreamError(
    unavailable ? 'OCI_UNAVAILABLE' : 'OCI_ERROR',
    `The OCI identity domain failed to ${operation} (${status || 'no answer'}): ${message}`,
    {
      hint: unavailable ? 'Try again later; the domain may be throttling or unreachable.' : undefined,
      cause: error,
      details: { status },
    },
  );
}
