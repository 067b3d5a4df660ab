/** Small helpers the store's modules share. */

/** A JSON object: not null, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An ISO 8601 UTC time usable in a file name on every platform (no colons): `2026-11-29T08-19-21.093Z`. */
export function timestampForFileName(date: Date): string {
  return date.toISOString().replace(/:/g, '-');
}
