/**
 * SCIM filter expressions (RFC 7644 §3.4.2.2) over rendered resources:
 * eq ne co sw ew gt ge lt le pr, and/or/not, parentheses and value paths
 * (`emails[type eq "work"]`). Attribute names and string values compare
 * without case, as the identity domain does for userName, displayName and
 * the other caseExact=false attributes the emulator serves.
 */

export class FilterError extends Error {}

type Token =
  { kind: 'word'; text: string } | { kind: 'string'; text: string } | { kind: 'punct'; text: '(' | ')' | '[' | ']' };

type Literal = string | number | boolean | null;

export type FilterNode =
  | { type: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { type: 'not'; inner: FilterNode }
  | { type: 'compare'; path: string[]; op: string; value: Literal }
  | { type: 'present'; path: string[] }
  | { type: 'valuePath'; path: string[]; inner: FilterNode };

const COMPARE_OPS: ReadonlySet<string> = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    if (/\s/.test(ch)) {
      i += 1;
    } else if (ch === '(' || ch === ')' || ch === '[' || ch === ']') {
      tokens.push({ kind: 'punct', text: ch });
      i += 1;
    } else if (ch === '"') {
      let j = i + 1;
      while (j < input.length && input[j] !== '"') j += input[j] === '\\' ? 2 : 1;
      if (j >= input.length) throw new FilterError(`Unterminated string in filter at position ${i}.`);
      try {
        tokens.push({ kind: 'string', text: JSON.parse(input.slice(i, j + 1)) as string });
      } catch {
        throw new FilterError(`Invalid string literal in filter at position ${i}.`);
      }
      i = j + 1;
    } else {
      const match = /^[A-Za-z0-9_.:$+\-@]+/.exec(input.slice(i));
      if (!match) throw new FilterError(`Unexpected character "${ch}" in filter at position ${i}.`);
      tokens.push({ kind: 'word', text: match[0] });
      i += match[0].length;
    }
  }
  return tokens;
}

const CORE_PREFIX = /^urn:ietf:params:scim:schemas:core:2\.0:(user|group):/i;

function attrPath(text: string): string[] {
  const stripped = text.replace(CORE_PREFIX, '');
  if (!/^[A-Za-z$][A-Za-z0-9_$]*(\.[A-Za-z$][A-Za-z0-9_$]*)*$/.test(stripped)) {
    throw new FilterError(`Invalid attribute path "${text}".`);
  }
  return stripped.split('.');
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): FilterNode {
    const node = this.or();
    if (this.pos < this.tokens.length) throw new FilterError(`Unexpected "${this.tokens[this.pos]!.text}" in filter.`);
    return node;
  }

  private peekWord(word: string): boolean {
    const token = this.tokens[this.pos];
    return token?.kind === 'word' && token.text.toLowerCase() === word;
  }

  private expect(text: string): void {
    const token = this.tokens[this.pos];
    if (!token || token.text !== text || token.kind === 'string')
      throw new FilterError(`Expected "${text}" in filter.`);
    this.pos += 1;
  }

  private or(): FilterNode {
    let left = this.and();
    while (this.peekWord('or')) {
      this.pos += 1;
      left = { type: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): FilterNode {
    let left = this.unary();
    while (this.peekWord('and')) {
      this.pos += 1;
      left = { type: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): FilterNode {
    const token = this.tokens[this.pos];
    if (!token) throw new FilterError('Filter ends too early.');
    if (this.peekWord('not')) {
      this.pos += 1;
      this.expect('(');
      const inner = this.or();
      this.expect(')');
      return { type: 'not', inner };
    }
    if (token.kind === 'punct' && token.text === '(') {
      this.pos += 1;
      const inner = this.or();
      this.expect(')');
      return inner;
    }
    if (token.kind !== 'word') throw new FilterError(`Expected an attribute name, found "${token.text}".`);
    this.pos += 1;
    const path = attrPath(token.text);
    const next = this.tokens[this.pos];
    if (next?.kind === 'punct' && next.text === '[') {
      this.pos += 1;
      const inner = this.or();
      this.expect(']');
      return { type: 'valuePath', path, inner };
    }
    if (!next || next.kind !== 'word') throw new FilterError(`Expected an operator after "${token.text}".`);
    const op = next.text.toLowerCase();
    this.pos += 1;
    if (op === 'pr') return { type: 'present', path };
    if (!COMPARE_OPS.has(op)) throw new FilterError(`Unknown filter operator "${next.text}".`);
    return { type: 'compare', path, op, value: this.literal() };
  }

  private literal(): Literal {
    const token = this.tokens[this.pos];
    if (!token) throw new FilterError('Expected a value in filter.');
    this.pos += 1;
    if (token.kind === 'string') return token.text;
    if (token.kind === 'word') {
      const lower = token.text.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      if (lower === 'null') return null;
      if (/^-?\d+(\.\d+)?$/.test(token.text)) return Number(token.text);
    }
    throw new FilterError(`Invalid value "${token.text}" in filter (strings must be in double quotes).`);
  }
}

export function parseFilter(filter: string): FilterNode {
  return new Parser(tokenize(filter)).parse();
}

function getInsensitive(object: unknown, key: string): unknown {
  if (object === null || typeof object !== 'object') return undefined;
  const lower = key.toLowerCase();
  for (const [name, value] of Object.entries(object as Record<string, unknown>)) {
    if (name.toLowerCase() === lower) return value;
  }
  return undefined;
}

/** All values at a path; arrays on the way are flattened (SCIM multi-valued attributes). */
function valuesAt(resource: unknown, path: string[]): unknown[] {
  let current: unknown[] = [resource];
  for (const segment of path) {
    const next: unknown[] = [];
    for (const item of current) {
      const value = getInsensitive(item, segment);
      if (Array.isArray(value)) {
        for (const element of value) {
          // `emails.value` on [{value}] and `emails` on [{value}] both reach the primitive.
          next.push(element);
        }
      } else if (value !== undefined) {
        next.push(value);
      }
    }
    current = next;
  }
  // A complex multi-valued attribute compared directly compares its "value" sub-attribute.
  return current.map((value) =>
    value !== null && typeof value === 'object' && 'value' in value ? (value as { value: unknown }).value : value,
  );
}

function compare(actual: unknown, op: string, expected: Literal): boolean {
  if (typeof actual === 'string' && typeof expected === 'string') {
    const a = actual.toLowerCase();
    const e = expected.toLowerCase();
    switch (op) {
      case 'eq':
        return a === e;
      case 'ne':
        return a !== e;
      case 'co':
        return a.includes(e);
      case 'sw':
        return a.startsWith(e);
      case 'ew':
        return a.endsWith(e);
      case 'gt':
        return a > e;
      case 'ge':
        return a >= e;
      case 'lt':
        return a < e;
      case 'le':
        return a <= e;
    }
  }
  if (typeof actual === 'number' && typeof expected === 'number') {
    switch (op) {
      case 'eq':
        return actual === expected;
      case 'ne':
        return actual !== expected;
      case 'gt':
        return actual > expected;
      case 'ge':
        return actual >= expected;
      case 'lt':
        return actual < expected;
      case 'le':
        return actual <= expected;
    }
  }
  if (op === 'eq') return actual === expected;
  if (op === 'ne') return actual !== expected;
  return false;
}

export function matchesFilter(resource: unknown, node: FilterNode): boolean {
  switch (node.type) {
    case 'and':
      return matchesFilter(resource, node.left) && matchesFilter(resource, node.right);
    case 'or':
      return matchesFilter(resource, node.left) || matchesFilter(resource, node.right);
    case 'not':
      return !matchesFilter(resource, node.inner);
    case 'present': {
      const values = valuesAt(resource, node.path);
      return values.some((value) => value !== null && value !== '' && value !== undefined);
    }
    case 'compare': {
      const values = valuesAt(resource, node.path);
      if (node.op === 'ne')
        return values.length === 0 ? node.value !== null : values.every((value) => compare(value, 'ne', node.value));
      if (values.length === 0) return node.value === null && node.op === 'eq';
      return values.some((value) => compare(value, node.op, node.value));
    }
    case 'valuePath': {
      let elements: unknown = resource;
      for (const segment of node.path) elements = getInsensitive(elements, segment);
      const list = Array.isArray(elements) ? elements : elements === undefined ? [] : [elements];
      return list.some((element) => matchesFilter(element, node.inner));
    }
  }
}
