/**
 * The canonical JSON the audit log used up to commit aaef420, copied verbatim
 * from src/store/audit-log.ts of that commit, so that test/store/audit-legacy.test.ts
 * can check that today's RFC 8785 serializer agrees with it on every value an
 * audit line can hold. Do not "fix" it: it is a record of what was written.
 */
export function canonicalJson(value: unknown): string {
  const sorted = sortedPlainCopy(value);
  return sorted === NOT_PLAIN ? canonicalJsonByMembers(value) : (JSON.stringify(sorted) ?? 'null');
}

/** The member-by-member canonical JSON, for any value (exported for the test that it agrees with canonicalJson). */
export function canonicalJsonByMembers(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((item) => (item === undefined ? 'null' : canonicalJsonByMembers(item))).join(',')}]`;
  return joinMembers(canonicalMembers(value as Record<string, unknown>, canonicalJsonByMembers));
}

const NOT_PLAIN = Symbol('not plain JSON data');
/** An object key V8 keeps ahead of the others whatever the insertion order (an array index). */
const INDEX_LIKE_KEY = /^(?:0|[1-9][0-9]*)$/;

/**
 * A deep copy of plain JSON data with object keys inserted in sorted order and
 * undefined members left out, so that one JSON.stringify gives the canonical
 * text and JSON.parse of that text gives the copy back; NOT_PLAIN for anything
 * JSON would change or V8 would order otherwise (functions, symbols, bigints,
 * NaN, ±Infinity, -0, undefined or missing array items, objects that are not
 * plain, "__proto__" and array-index keys).
 */
function sortedPlainCopy(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : NOT_PLAIN;
    case 'object':
      break;
    default:
      return NOT_PLAIN; // undefined (outside an object member), functions, symbols, bigints
  }
  if (value === null) return null;
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    for (let index = 0; index < value.length; index += 1) {
      const item = index in value ? sortedPlainCopy(value[index]) : NOT_PLAIN;
      if (item === NOT_PLAIN) return NOT_PLAIN;
      copy.push(item);
    }
    return copy;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN; // a Date, a Map, a class instance
  const record = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(record).sort()) {
    if (INDEX_LIKE_KEY.test(key) || key === '__proto__') return NOT_PLAIN;
    const member = record[key];
    if (member === undefined) continue;
    const sorted = sortedPlainCopy(member);
    if (sorted === NOT_PLAIN) return NOT_PLAIN;
    copy[key] = sorted;
  }
  return copy;
}

/** The object text of canonical members. */
function joinMembers(members: [string, string][]): string {
  return `{${members.map(([key, json]) => `${JSON.stringify(key)}:${json}`).join(',')}}`;
}

/** The members of canonicalJson(record), in order: [key, canonical JSON of the value]. */
function canonicalMembers(
  record: Record<string, unknown>,
  valueJson: (value: unknown) => string = canonicalJson,
): [string, string][] {
  return Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
    .map((key) => [key, valueJson(record[key])]);
}
