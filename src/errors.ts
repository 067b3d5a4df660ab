/**
 * Typed errors. Every failure a person can act on is an OciAccessError with a
 * stable code, a message that names the problem and a hint that names the fix.
 * Only cli/main.ts turns one into output and an exit code.
 */

export const ExitCode = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  refused: 3,
  auth: 4,
  upstream: 5,
  pendingInOci: 6,
  /**
   * The command did what it was asked (e.g. removed the member in Entra), then
   * something after it failed (the OCI check, writing local state, the audit
   * entry): the problems are reported as warnings with their own codes.
   */
  doneWithProblems: 7,
  /** The person said no at a prompt (or pressed Ctrl-C): nothing was changed. */
  cancelled: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface ErrorOptions {
  hint?: string;
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class OciAccessError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: string, exitCode: ExitCodeValue, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.hint = options.hint;
    this.details = options.details;
  }

  toJSON(): { code: string; message: string; hint?: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

/** A bad flag, a bad value, a missing argument: exit 2, nothing touched. */
export class UsageError extends OciAccessError {
  constructor(message: string, options: ErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'USAGE', ExitCode.usage, message, options);
  }
}

/** The configuration file is missing or does not validate: exit 2. */
export class ConfigError extends OciAccessError {
  constructor(
    code: 'CONFIG_MISSING' | 'CONFIG_INVALID' | 'INSECURE_FILE_PERMISSIONS' | 'INSECURE_FILE_OWNER',
    message: string,
    options: ErrorOptions = {},
  ) {
    super(code, ExitCode.usage, message, options);
  }
}

/** Refused by policy or by the state of a request: exit 3. */
export class PolicyError extends OciAccessError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, ExitCode.refused, message, options);
  }
}

/** Not signed in, session expired, or a missing permission: exit 4. */
export class AuthError extends OciAccessError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, ExitCode.auth, message, { hint: 'Run `ociaccess login`.', ...options });
  }
}

/** Graph, Entra or OCI still failing after retries: exit 5. */
export class UpstreamError extends OciAccessError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, ExitCode.upstream, message, options);
  }
}

/** The person declined at a confirmation prompt: nothing was changed. */
export class CancelledError extends OciAccessError {
  constructor(message = 'Cancelled; nothing was changed.', options: ErrorOptions = {}) {
    super('CANCELLED', ExitCode.cancelled, message, options);
  }
}

/** Local state or audit log that cannot be read or written safely: exit 1 with a precise code. */
export class StateError extends OciAccessError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, ExitCode.unexpected, message, options);
  }
}

/** The most characters of a value someone supplied that an error quotes. */
export const ECHO_LIMIT = 80;

/**
 * How every error quotes a value someone typed or a file held: in double
 * quotes, and cut at ECHO_LIMIT characters with the full length after it, so
 * a 5 MB argument is not printed whole and a pasted secret shows at most its
 * start. Never splits a surrogate pair.
 */
export function quoteInput(value: unknown, limit = ECHO_LIMIT): string {
  const text = typeof value === 'string' ? value : String(value);
  if (text.length <= limit) return `"${text}"`;
  let end = limit;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `"${text.slice(0, end)}…" (${text.length} characters)`;
}

/**
 * The argument parser (commander) quotes what was typed whole, in single
 * quotes ("unknown option '--…'", "argument '…' is invalid"): each such
 * quote longer than ECHO_LIMIT is cut the way quoteInput cuts.
 */
export function capQuotedEchoes(text: string): string {
  // A scan, not a regular expression: the echo can be megabytes long, and a regex over it can
  // overflow V8's backtracking stack ("Maximum call stack size exceeded") on a loaded machine.
  let out = '';
  let from = 0;
  for (;;) {
    const open = text.indexOf("'", from);
    if (open < 0) break;
    let close = open + 1;
    while (close < text.length && text[close] !== "'" && text[close] !== '\n') close += 1;
    if (close >= text.length) break;
    if (text[close] === '\n') {
      out += text.slice(from, close);
      from = close;
      continue;
    }
    const inner = text.slice(open + 1, close);
    if (inner.length > ECHO_LIMIT) {
      const quoted = quoteInput(inner);
      const end = quoted.lastIndexOf('"');
      out += `${text.slice(from, open)}'${quoted.slice(1, end)}'${quoted.slice(end + 1)}`;
    } else out += text.slice(from, close + 1);
    from = close + 1;
  }
  return out + text.slice(from);
}

/** The longest message or hint main prints: a backstop for an echo that escaped quoteInput. */
export const MAX_ERROR_TEXT = 16_000;

export function capErrorText(text: string): string {
  return text.length <= MAX_ERROR_TEXT
    ? text
    : `${text.slice(0, MAX_ERROR_TEXT)}… (${text.length - MAX_ERROR_TEXT} more characters not shown)`;
}

export function isOciAccessError(value: unknown): value is OciAccessError {
  return value instanceof OciAccessError;
}

/**
 * A request that did not complete (headers and the whole body) within its
 * deadline: exit 5. An UpstreamError, so it is retried where a lost
 * connection is ($batch items, OCI reads), and the sweep counts it as
 * "unavailable".
 */
export class DeadlineError extends UpstreamError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('HTTP_DEADLINE_EXCEEDED', message, {
      hint: 'The service answered too slowly or not at all. Try again later; OCIACCESS_HTTP_TIMEOUT_SECONDS sets the limit.',
      ...options,
    });
  }
}

const REFUSED_HINTS: Record<string, string> = {
  HTTP_BODY_TOO_LARGE:
    'No answer ociaccess asks for comes near this size: check that the cloud URLs in the config point at the real service (a proxy or a wrong endpoint may be answering).',
  GRAPH_BAD_LINK:
    'Graph (or something answering in its place) sent a link to another host; nothing was sent there. Check cloud.graphBaseUrl and any proxy in between.',
  OKTA_BAD_LINK:
    'Okta (or something answering in its place) sent a paging link outside the org; nothing was sent there. Check idp.orgUrl and any proxy in between.',
  GRAPH_REDIRECT_REFUSED:
    'ociaccess does not follow redirects from Graph. Check cloud.graphBaseUrl (it must be the Graph endpoint itself) and any proxy in between.',
};

/**
 * An answer we refuse to use: larger than the body cap, or pointing (paging
 * link, redirect) where the bearer token must not go. Exit 5 like other
 * upstream failures, but not an UpstreamError: asking again would get the same
 * answer, so nothing retries it.
 */
export class RefusedAnswerError extends OciAccessError {
  constructor(
    code: 'HTTP_BODY_TOO_LARGE' | 'GRAPH_BAD_LINK' | 'GRAPH_REDIRECT_REFUSED' | 'OKTA_BAD_LINK',
    message: string,
    options: ErrorOptions = {},
  ) {
    super(code, ExitCode.upstream, message, { hint: REFUSED_HINTS[code], ...options });
  }
}

/**
 * What failed after a command made its change (exit 7): the change stands, so
 * this is a warning with its own code, never an error that would say
 * "nothing was changed".
 */
export type ProblemCode = 'MEMBER_NOT_REMOVED' | 'OCI_CHECK_FAILED' | 'STATE_NOT_WRITTEN' | 'AUDIT_NOT_WRITTEN';

export interface Problem {
  code: ProblemCode;
  message: string;
  hint: string;
  /** The failure behind it, as its own error reported it. */
  cause: { code: string; message: string };
}

const PROBLEM_TEXT: Record<ProblemCode, { what: string; hint: string }> = {
  MEMBER_NOT_REMOVED: {
    what: 'The revocation is recorded, but the member could not be removed from the Entra group now',
    hint: 'Nothing to do for the revocation: the next sweep removes a member whose grant is revoked. Run `ociaccess revoke` again to remove them sooner.',
  },
  OCI_CHECK_FAILED: {
    what: 'OCI could not be checked after the change',
    hint: '`ociaccess status` shows what OCI says once it answers; the sweep checks it too.',
  },
  STATE_NOT_WRITTEN: {
    what: "This machine's local state could not be written after the change",
    hint: 'The records in Entra hold the change; fix what the cause names so that the next command can write the state.',
  },
  AUDIT_NOT_WRITTEN: {
    what: 'The audit entry of the change could not be written',
    hint: 'Run `ociaccess audit verify`; keep the files as evidence and fix what the cause names.',
  },
};

/** The problem `code` caused by `error`, carrying the error's own code and message. */
export function problemOf(code: ProblemCode, error: unknown): Problem {
  const cause = isOciAccessError(error)
    ? { code: error.code, message: error.message }
    : { code: 'UNEXPECTED', message: error instanceof Error ? error.message : String(error) };
  const text = PROBLEM_TEXT[code];
  return { code, message: `${text.what}: ${cause.message}`, hint: text.hint, cause };
}
