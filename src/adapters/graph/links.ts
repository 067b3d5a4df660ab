/**
 * Where a Graph bearer token may go: the configured Graph origin, and nowhere
 * else. The Graph SDK decides whether to attach the token by reading the host
 * out of the URL text by hand (everything after "https://" up to the first
 * ":" or "/"), so `https://graph.microsoft.com:443@elsewhere/…` passes its check
 * while the request goes to "elsewhere"; and its redirect handler treats a
 * Location without "://" (`https:elsewhere/…`) as relative and keeps the
 * token. So every URL a Graph call goes to, and every paging link before it is
 * followed, is parsed here with the WHATWG URL parser (as the request itself
 * is) and must have exactly the Graph origin (scheme, host, port) and no user
 * info; redirects are not followed at all (transport.ts).
 */
import { RefusedAnswerError } from '../../errors.js';

/** The origin (scheme://host[:port]) of the configured Graph base URL. */
export function graphOriginOf(graphBaseUrl: string): string {
  return new URL(graphBaseUrl).origin;
}

/**
 * `link` as given when it points at the Graph origin; otherwise a
 * GRAPH_BAD_LINK error naming the host it points at (never the link's query
 * or anything sent with it). `what` says where the link came from.
 */
export function checkedGraphLink(link: unknown, graphOrigin: string, what = 'a paging link (@odata.nextLink)'): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof link === 'string' ? new URL(link) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed) {
    throw new RefusedAnswerError(
      'GRAPH_BAD_LINK',
      `Microsoft Graph sent ${what} that is not an absolute URL; it was not followed.`,
      { details: { graphOrigin } },
    );
  }
  if (parsed.origin !== graphOrigin || parsed.username !== '' || parsed.password !== '') {
    const host = parsed.host || parsed.protocol;
    const reason =
      parsed.origin === graphOrigin ? 'with a user name or password in it' : `to ${host}, not to ${graphOrigin}`;
    throw new RefusedAnswerError(
      'GRAPH_BAD_LINK',
      `Microsoft Graph sent ${what} ${reason}; it was not followed and the token was not sent.`,
      {
        details: { host, graphOrigin },
      },
    );
  }
  return link as string;
}
