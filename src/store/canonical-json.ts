/**
 * Canonical JSON: the JSON Canonicalization Scheme of RFC 8785, through the
 * `canonicalize` package. Object members sorted by the UTF-16 code units of
 * their keys at every level, no whitespace, numbers and strings written as
 * ECMAScript's JSON.stringify writes them.
 *
 * Only JSON data is canonical: pass what JSON.parse returns (jsonCopy makes
 * that of anything else). The audit log hashes nothing else, which is why logs
 * written before this module existed (by a hand-written serializer that sorted
 * keys the same way and wrote values with JSON.stringify) still verify:
 * test/store/audit-legacy.test.ts checks that on logs that code wrote, and that
 * the two agree on random JSON values.
 *
 * Outside RFC 8785: a string with a lone surrogate (not I-JSON) is written the
 * way JSON.stringify writes it, as a `\udxxx` escape, as it always was here.
 */
import canonicalizeModule from 'canonicalize';

// The package is CommonJS (`module.exports = serialize`) while its types declare an ES default export, which
// TypeScript under NodeNext reads as `{ default }`; Node hands an ES import the function itself.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

/** JSON data, as JSON.parse returns it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export function canonicalJson(value: JsonValue): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('canonicalJson needs JSON data');
  return text;
}

/**
 * What a reader will parse back from JSON.stringify(value): dates become
 * strings, NaN and ±Infinity null, undefined members disappear. Canonicalizing
 * the copy, not the value, keeps the writer's hash the one a verifier computes.
 */
export function jsonCopy<T>(value: T): JsonValue {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('the value has no JSON form');
  return JSON.parse(text) as JsonValue;
}
