/**
 * Text that came from Graph, OCI or a record anyone can write reaches people's
 * terminals, tables, logs and JSON documents. Control characters in it could
 * move the cursor, erase other lines or retitle the terminal, and bidi
 * overrides could make "r-abc" read as something else; none of them belongs
 * in a name, a justification or an id.
 */

// Whole terminal escape sequences go first, so "\u001b]0;pwned\u0007" leaves
// nothing behind rather than a stray "]0;pwned": CSI (ESC [ or C1 CSI, then
// parameters, intermediates and a final byte), OSC/DCS/SOS/PM/APC strings
// (up to BEL or ST, never past a line; unterminated ones lose only their
// introducer below), and two-byte ESC sequences.
const SEQUENCES =
  // eslint-disable-next-line no-control-regex
  /(?:\u001b\[|\u009b)[\u0030-\u003f]*[\u0020-\u002f]*[\u0040-\u007e]|(?:\u001b[\]PX^_]|[\u009d\u0090\u0098\u009e\u009f])[^\u0007\u001b\u009c\n]*(?:\u0007|\u001b\\|\u009c)|\u001b[\u0020-\u002f]*[\u0030-\u007e]/g;
// C0 controls (tab and line breaks are folded to a space first), DEL, C1 controls,
// and the bidirectional embeddings, overrides, isolates and marks.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const BREAKS = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;

// Anything either pattern above could touch (every sequence starts with ESC or a C1 control).
// eslint-disable-next-line no-control-regex
const ANY = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

/** The text without control characters or bidi controls; tabs and line breaks become one space. */
export function stripControls(text: string): string {
  // Nearly all text is clean: one scan instead of three replaces (a sweep report holds thousands of names).
  if (!ANY.test(text)) return text;
  return text.replace(SEQUENCES, '').replace(BREAKS, ' ').replace(UNSAFE, '');
}

/** Whether the text holds anything stripControls would change. */
export function hasControls(text: string): boolean {
  return ANY.test(text);
}

/**
 * A copy of JSON-like data with stripControls applied to every string, object
 * keys included: for documents built from remote data (--json output, audit
 * entries). Dates and other objects with toJSON are turned into what JSON
 * would print; undefined members stay undefined.
 */
export function stripControlsDeep<T>(value: T): T {
  return strip(value) as T;
}

function strip(value: unknown): unknown {
  if (typeof value === 'string') return stripControls(value);
  if (value === null || typeof value !== 'object') return value;
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return strip(withJson.toJSON());
  if (Array.isArray(value)) return value.map(strip);
  const copy: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) copy[stripControls(key)] = strip(member);
  return copy;
}
