/**
 * The config's syntax-error locator agrees with JSON.parse on what is JSON,
 * and gives a position without any of the text.
 */
import fc from 'fast-check';
import { jsonSyntaxErrorAt } from '../../src/config/json-syntax.js';

const parses = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

test('finds an error exactly when JSON.parse does (random documents, randomly damaged)', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.nat(), fc.string({ maxLength: 3 }), fc.nat({ max: 3 }), (value, at, insert, cut) => {
      const text = JSON.stringify(value, null, 2);
      const where = at % (text.length + 1);
      const damaged = text.slice(0, where) + insert + text.slice(where + cut);
      expect(jsonSyntaxErrorAt(damaged) === undefined).toBe(parses(damaged));
    }),
    { numRuns: 2000 },
  );
});

test('line and column of the first error, 1-based', () => {
  expect(jsonSyntaxErrorAt('{\n  "a": 1,\n  "b": oops\n}')).toEqual({ line: 3, column: 8 });
  expect(jsonSyntaxErrorAt('')).toEqual({ line: 1, column: 1 });
  expect(jsonSyntaxErrorAt('{"a": 1} x')).toEqual({ line: 1, column: 10 });
  expect(jsonSyntaxErrorAt('{"a": "\\q"}')).toEqual({ line: 1, column: 8 });
  expect(jsonSyntaxErrorAt('{"a": [1, 2,]}')).toEqual({ line: 1, column: 13 });
});
