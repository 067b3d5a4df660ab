/**
 * Calls to an Okta org's management API (`{orgUrl}/api/v1/…`, docs/okta.md),
 * through the project's one HTTP path (an injected fetch over requestWhole:
 * tls.caFile, the proxy, one pool per origin). Here, once for every call:
 * the bearer token (refreshed once on a 401), Okta's rate limits (a 429 waits
 * until X-Rate-Limit-Reset, bounded and abortable, on the injected clock),
 * `Link: <…>; rel="next"` paging followed only within the org, and Okta's
 * error bodies (errorCode, errorSummary, errorCauses) mapped to typed errors.
 */
import type { Clock } from '../../../context.js';
import { AuthError, OciAccessError, RefusedAnswerError, UpstreamError } from '../../../errors.js';
import type { HttpFetch } from '../../http/tls.js';
import { describeUnreachable, unreachableCodeIn } from '../../http/request.js';
import { backoffDelayMs, retryAfterMs, type BackoffPolicy } from '../../http/retry.js';
import { stripControls } from '../../../core/text.js';

/**
 * Okta's 429s name when the window resets (X-Rate-Limit-Reset); the windows are one minute, so a
 * reset further off than two minutes is not a rate-limit window and ends the retries.
 */
export const OKTA_RATE_LIMIT_BACKOFF: BackoffPolicy = {
  firstMs: 1_000,
  capMs: 30_000,
  maxAttempts: 5,
  maxRetryAfterMs: 120_000,
};

/** "A little" past the reset (docs/okta.md, Rate limits): the window's edge is Okta's clock, not ours. */
const RESET_MARGIN_MS = 1_000;

/** An Okta error body ([mgmt] ModelError). */
export interface OktaErrorBody {
  errorCode?: string;
  errorSummary?: string;
  errorCauses?: { errorSummary?: string }[];
}

export interface OktaAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

export interface OktaApiOptions {
  /** The org URL, possibly with a path (the emulator serves its org under /okta). */
  orgUrl: string;
  fetch: HttpFetch;
  /** A bearer token; `force` after a 401 (the token was revoked or expired early). */
  getToken(force: boolean): Promise<string>;
  /**
   * The headers that present `token` on this call: `bearer` for a bearer token; a DPoP-bound one
   * (a service app that requires DPoP) needs a new proof each time (OktaSession.authorizationFor).
   */
  authorization(token: string, method: string, url: string): Record<string, string>;
  /** Who the token speaks for: the hints differ (a person signs in again; the automation checks its key). */
  identity: 'user' | 'app';
  clock: Clock;
  /** Waits between attempts (default: the clock's sleep, ended by `stop`). */
  sleep?: (ms: number) => Promise<void>;
  /** Aborted when the command is over: a retry still waiting gives up. */
  stop?: AbortSignal;
  policy?: BackoffPolicy;
  random?: () => number;
  onRequest?: (method: string, url: string, status: number) => void;
}

/** The scope and admin permission each kind of call needs (docs/okta.md, Scopes), named in PERMISSION_DENIED hints. */
export const OKTA_PERMISSION = {
  self: 'okta.users.read.self',
  selfWrite: "okta.users.manage.self (and the attribute's SELF permission READ_WRITE in the profile schema)",
  users: 'okta.users.read and an admin role that reads users (the ociaccess-reader custom role)',
  usersWrite: 'okta.users.manage and a user-admin role',
  groups: 'okta.groups.read and an admin role that reads the group (the ociaccess-reader custom role)',
  members: 'okta.groups.manage and the Group Membership Administrator role on the group',
  groupWrite: 'okta.groups.manage and the Group Administrator role on the group',
} as const;

/** The plain presentation of a bearer token. */
export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

export class OktaApi {
  private readonly org: URL;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly policy: BackoffPolicy;
  private forceToken = false;

  constructor(private readonly options: OktaApiOptions) {
    this.org = new URL(options.orgUrl.replace(/\/+$/, ''));
    this.sleep = options.sleep ?? ((ms) => options.clock.sleep(ms, options.stop));
    this.policy = options.policy ?? OKTA_RATE_LIMIT_BACKOFF;
  }

  /** `{orgUrl}{path}`: the org URL may carry a path, so it is never taken for an origin. */
  url(path: string): string {
    return `${this.org.href.replace(/\/+$/, '')}${path}`;
  }

  /**
   * One call; a 404 is returned (callers decide what "not found" means), every other failure is
   * thrown typed. `what` finishes "while trying to …"; `permission` is what a 403 lacks.
   */
  async call(method: string, pathOrUrl: string, what: string, permission: string, body?: unknown): Promise<OktaAnswer> {
    const url = pathOrUrl.startsWith('/') ? this.url(pathOrUrl) : this.checkedLink(pathOrUrl);
    let refreshed = false;
    for (let attempt = 1; ; attempt += 1) {
      const force = this.forceToken;
      this.forceToken = false;
      const token = await this.options.getToken(force);
      let response: Response;
      try {
        response = await this.options.fetch(url, {
          method,
          headers: {
            accept: 'application/json',
            ...this.options.authorization(token, method, url),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: this.options.stop,
        });
      } catch (error) {
        if (error instanceof OciAccessError) throw error;
        throw this.unreachable(what, error);
      }
      const text = await response.text();
      this.options.onRequest?.(method, url, response.status);
      let parsed: unknown = undefined;
      if (text) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
      }
      const answer: OktaAnswer = { status: response.status, headers: response.headers, body: parsed };
      if (response.status === 401 && !refreshed) {
        refreshed = true;
        this.forceToken = true;
        continue;
      }
      if (response.status === 429 || response.status === 503) {
        const delay = backoffDelayMs(
          this.policy,
          attempt,
          waitForReset(response.headers, this.options.clock.now().getTime()),
          this.options.random,
        );
        if (delay !== undefined && !this.options.stop?.aborted) {
          await this.sleep(delay);
          if (!this.options.stop?.aborted) continue;
        }
      }
      if (response.ok || response.status === 404) return answer;
      throw this.failure(what, permission, answer);
    }
  }

  /** Every item of a list, following `Link: <…>; rel="next"` until there is none. */
  async list<T>(path: string, what: string, permission: string): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined = path;
    while (next) {
      const answer = await this.call('GET', next, what, permission);
      if (answer.status === 404) throw this.failure(what, permission, answer);
      if (!Array.isArray(answer.body))
        throw new UpstreamError('OKTA_ERROR', `Okta answered a list with something else while trying to ${what}.`, {
          details: { status: answer.status },
        });
      items.push(...(answer.body as T[]));
      next = nextLink(answer.headers.get('link'));
    }
    return items;
  }

  /** A link Okta sent (rel="next") is followed only within the org: same origin, under the org's path, no user info. */
  private checkedLink(link: string): string {
    let parsed: URL | undefined;
    try {
      parsed = new URL(link);
    } catch {
      parsed = undefined;
    }
    const orgPath = this.org.pathname.replace(/\/+$/, '');
    if (
      !parsed ||
      parsed.origin !== this.org.origin ||
      parsed.username !== '' ||
      parsed.password !== '' ||
      !(parsed.pathname === orgPath || parsed.pathname.startsWith(`${orgPath}/`))
    ) {
      const host = parsed ? parsed.host || parsed.protocol : 'a URL that is not absolute';
      throw new RefusedAnswerError(
        'OKTA_BAD_LINK',
        `Okta sent a paging link (Link rel="next") to ${host}, outside the org ${this.org.origin}${orgPath}; it was not followed and the token was not sent.`,
        { details: { host, org: this.org.origin } },
      );
    }
    return link;
  }

  private unreachable(what: string, error: unknown): OciAccessError {
    const message = (error as Error)?.message ?? String(error);
    const code = unreachableCodeIn(
      `${message} ${String((error as { cause?: { code?: unknown } })?.cause?.code ?? '')}`,
    );
    return new UpstreamError(
      'OKTA_UNAVAILABLE',
      code
        ? `The Okta org at ${this.org.host} could not be reached while trying to ${what} (${describeUnreachable(code)}).`
        : `The Okta org at ${this.org.host} did not answer while trying to ${what}: ${stripControls(message)}.`,
      { hint: 'Check the network and any proxy, and idp.orgUrl in the config.', cause: error },
    );
  }

  /** Okta's error answer as a typed error: the errorCode and errorSummary (and causes) quoted, one line. */
  failure(what: string, permission: string, answer: OktaAnswer): OciAccessError {
    const error = (answer.body ?? {}) as OktaErrorBody;
    const code = typeof error.errorCode === 'string' ? stripControls(error.errorCode).slice(0, 20) : '';
    const causes = Array.isArray(error.errorCauses)
      ? error.errorCauses.map((cause) => cause?.errorSummary).filter((text): text is string => typeof text === 'string')
      : [];
    const summary = stripControls(
      [typeof error.errorSummary === 'string' ? error.errorSummary : `HTTP ${answer.status}`, ...causes].join(': '),
    ).slice(0, 300);
    const details = { status: answer.status, oktaCode: code || undefined };
    if (answer.status === 401)
      return new AuthError(
        'SESSION_EXPIRED',
        `Okta refused the sign-in while trying to ${what} (${code || 'HTTP 401'}).`,
        {
          hint:
            this.options.identity === 'user'
              ? 'Run `ociaccess login`.'
              : 'Check idp.automation in the config: the service app, its key and that the key is registered on it.',
          details,
        },
      );
    if (answer.status === 403)
      return new AuthError('PERMISSION_DENIED', `Okta denied the permission to ${what}: ${summary} (${code || 403}).`, {
        hint: `The ${this.options.identity === 'user' ? 'signed-in user' : 'automation service app'} needs ${permission} (docs/okta.md, Scopes).`,
        details,
      });
    if (answer.status === 429 || answer.status >= 500)
      return new UpstreamError(
        'OKTA_UNAVAILABLE',
        `Okta did not answer successfully while trying to ${what} (${answer.status}${code ? ` ${code}` : ''}: ${summary}).`,
        {
          hint:
            answer.status === 429
              ? "The org's rate limit for this endpoint is spent; try again after a minute (X-Rate-Limit-Reset says when)."
              : 'Try again in a few minutes; Okta may be unavailable.',
          details,
        },
      );
    return new UpstreamError(
      'OKTA_ERROR',
      `Okta answered ${answer.status} ${code} while trying to ${what}: ${summary}`,
      {
        details,
      },
    );
  }
}

/**
 * How long until Okta's rate-limit window resets: X-Rate-Limit-Reset (UTC epoch seconds) read
 * against the answer's own Date (Okta's clock, so a skewed local clock does not matter), plus a
 * margin; else a Retry-After; undefined when neither says (the backoff decides).
 */
export function waitForReset(headers: Headers, nowMs: number): number | undefined {
  const reset = headers.get('x-rate-limit-reset')?.trim();
  const date = Date.parse(headers.get('date') ?? '');
  if (reset && /^\d+$/.test(reset) && !Number.isNaN(date))
    return Math.max(0, Number(reset) * 1000 - date) + RESET_MARGIN_MS;
  return retryAfterMs(headers.get('retry-after'), Number.isNaN(date) ? nowMs : date);
}

/** The target of `rel="next"` in a Link header (RFC 8288), if there is one. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match && /(^|;)\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(match[2]!)) return match[1];
  }
  return undefined;
}
