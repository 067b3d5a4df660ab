/**
 * Text that came from Graph, OCI or a record anyone can write reaches people's
 * terminals, tables, logs and JSON documents. Control characters in it could
 * move the cursor, erase other lines or retitle the terminal, and bidi
 * overrides could make "r-abc" read as something else; none of them belongs
 * in a name, a justification or an id.
 */

// C0 controls (tab and line breaks are folded to a space first), DEL, C1 controls,
// and the bidirectional embeddings, overrides, isolates and marks.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const BREAKS = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;

/** The text without control characters or bidi controls; tabs and line breaks become one space. */
export function stripControls(text: string): string {
  return text.replace(BREAKS, ' ').replace(UNSAFE, '');
}

/** Whether the text holds anything stripControls would change. */
export function hasControls(text: string): boolean {
  UNSAFE.lastIndex = 0;
  BREAKS.lastIndex = 0;
  return UNSAFE.test(text) || BREAKS.test(text);
}
