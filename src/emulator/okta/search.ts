/**
 * The `search` expressions of listUsers and listGroups, as far as the CLI
 * needs them: clauses `property eq|sw|co "value"` or `property pr`, joined by
 * `and` (binding first) and `or`, without parentheses. String comparison
 * ignores case ([mgmt] listUsers: "operators … and string values are case
 * insensitive"); `co` only on the properties the spec names.
 */

export type Lookup = (property: string) => unknown;

/** A predicate over objects seen through `lookup`, or why the expression cannot be read. */
export function parseSearch(
  search: string,
  containsAllowed: ReadonlySet<string>,
): ((lookup: Lookup) => boolean) | string {
  const alternatives = search.split(/\s+or\s+/i).map((part) => part.split(/\s+and\s+/i));
  const parsed: ((lookup: Lookup) => boolean)[][] = [];
  for (const conjunction of alternatives) {
    const clauses: ((lookup: Lookup) => boolean)[] = [];
    for (const text of conjunction) {
      const present = /^\s*([A-Za-z0-9_.]+)\s+pr\s*$/i.exec(text);
      if (present) {
        const property = present[1]!;
        clauses.push((lookup) => {
          const value = lookup(property);
          return value !== undefined && value !== null;
        });
        continue;
      }
      const clause = /^\s*([A-Za-z0-9_.]+)\s+(eq|sw|co)\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(text);
      if (!clause) return `Invalid search criteria: ${search}`;
      const property = clause[1]!;
      const op = clause[2]!.toLowerCase();
      if (op === 'co' && !containsAllowed.has(property))
        return `Invalid search criteria: co is not supported on ${property}`;
      const wanted = clause[3]!.replace(/\\(.)/g, '$1').toLowerCase();
      clauses.push((lookup) => {
        const value = lookup(property);
        if (typeof value !== 'string') return false;
        const have = value.toLowerCase();
        return op === 'eq' ? have === wanted : op === 'sw' ? have.startsWith(wanted) : have.includes(wanted);
      });
    }
    parsed.push(clauses);
  }
  return (lookup) => parsed.some((clauses) => clauses.every((clause) => clause(lookup)));
}

/** `profile.x`, or a top-level property, of an object with a profile. */
export function lookupIn(object: { id: string; profile: Record<string, unknown>; status?: string }): Lookup {
  return (property) => {
    if (property.startsWith('profile.')) return object.profile[property.slice('profile.'.length)];
    if (property === 'id') return object.id;
    if (property === 'status') return object.status;
    return undefined;
  };
}
