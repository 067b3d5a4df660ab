import fc from 'fast-check';
import { parseHours, parseDuration, checkJustification, checkRequestId, formatHours } from '../../src/cli/args.js';
import { UsageError } from '../../src/errors.js';

describe('parseHours', () => {
  test.each([
    ['2', 2],
    ['1.5', 1.5],
    ['0.25', 0.25],
    [' 8 ', 8],
    ['0.5', 0.5],
    ['1.05', 1.05],
    ['2h', 2],
    ['90m', 1.5],
    ['1h30m', 1.5],
    ['20m', 1 / 3],
    ['1h1m', 61 / 60],
  ])('accepts %p as %p hours', (raw, hours) => {
    expect(parseHours(raw)).toBe(hours);
  });

  test.each([
    ['0', 'INVALID_HOURS'],
    ['-1', 'INVALID_HOURS'],
    ['-0.5', 'INVALID_HOURS'],
    ['abc', 'INVALID_HOURS'],
    ['2 h', 'INVALID_HOURS'],
    ['30s', 'INVALID_HOURS'],
    ['30m1h', 'INVALID_HOURS'],
    ['1e3', 'INVALID_HOURS'],
    ['NaN', 'INVALID_HOURS'],
    ['Infinity', 'INVALID_HOURS'],
    ['1.0001', 'INVALID_HOURS'],
    ['0.001', 'INVALID_HOURS'],
    ['', 'HOURS_REQUIRED'],
    [undefined, 'HOURS_REQUIRED'],
  ])('refuses %p with %s (exit 2)', (raw, code) => {
    try {
      parseHours(raw as string | undefined);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).code).toBe(code);
      expect((error as UsageError).exitCode).toBe(2);
      expect((error as UsageError).hint ?? (error as UsageError).message).toMatch(/--hours/);
    }
  });

  test('the fix for a sub-minute value names a rounded value', () => {
    expect(() => parseHours('1.0001')).toThrow(/whole number of minutes/);
    try {
      parseHours('1.0001');
    } catch (error) {
      expect((error as UsageError).hint).toBe('Round it to the minute, e.g. --hours 1h.');
    }
  });

  test('--hours 1.01 suggests 1h1m (not 1.02, which is refused too)', () => {
    expect(() => parseHours('1.01')).toThrow('--hours "1.01" is not a whole number of minutes.');
    try {
      parseHours('1.01');
    } catch (error) {
      expect((error as UsageError).hint).toBe('Round it to the minute, e.g. --hours 1h1m.');
    }
  });

  test('property: whenever a value is refused with a suggestion, the suggestion is accepted', () => {
    const decimal = fc
      .tuple(fc.nat({ max: 200 }), fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 6 }))
      .map(([whole, fraction]) => `${whole}.${fraction}`);
    const units = fc
      .tuple(
        fc.nat({ max: 30 }),
        fc.constantFrom('h', 'm', 's'),
        fc.option(fc.tuple(fc.nat({ max: 90 }), fc.constantFrom('m', 's'))),
      )
      .map(([n, unit, more]) => `${n}${unit}${more ? `${more[0]}${more[1]}` : ''}`);
    fc.assert(
      fc.property(fc.oneof(decimal, units), (raw) => {
        try {
          parseHours(raw);
        } catch (error) {
          const suggested = /e\.g\. --hours (\S+)\.$/.exec((error as UsageError).hint ?? '')?.[1];
          if ((error as UsageError).message.includes('whole number of minutes')) {
            expect(suggested).toBeDefined();
            expect(parseHours(suggested!)).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('formatHours shows simple decimals as typed and other fractions as a duration', () => {
    expect([2, 1.5, 0.25, 1 / 3, 61 / 60, 1.05].map(formatHours)).toEqual(['2', '1.5', '0.25', '20m', '1h1m', '1.05']);
  });
});

describe('parseDuration', () => {
  test.each([
    ['30m', 30 * 60_000],
    ['2h', 2 * 3600_000],
    ['1h30m', 90 * 60_000],
    ['45s', 45_000],
    ['90', 90 * 60_000],
    ['1.5h', 90 * 60_000],
    ['7d', 7 * 24 * 3600_000],
  ])('%p', (raw, ms) => expect(parseDuration(raw, '--x')).toBe(ms));

  test.each(['', 'h', '2 hours', '-5m', '30m1h', '1h1h'])('refuses %p', (raw) => {
    expect(() => parseDuration(raw, '--timeout')).toThrow(UsageError);
  });
});

describe('justification and ids', () => {
  test('justification is required, trimmed, bounded and single-line', () => {
    expect(() => checkJustification(undefined)).toThrow(/required/);
    expect(() => checkJustification('   ')).toThrow(/required/);
    expect(checkJustification('  fix prod  ')).toBe('fix prod');
    expect(() => checkJustification('x'.repeat(201))).toThrow(/at most 200/);
    expect(() => checkJustification('a\nb')).toThrow(/control characters/);
    expect(() => checkJustification('a\u001b[31mred')).toThrow(/control characters/);
  });

  test('request ids look like r-xxxx', () => {
    expect(checkRequestId('r-7k2m9q3a')).toBe('r-7k2m9q3a');
    expect(checkRequestId(undefined)).toBeUndefined();
    expect(() => checkRequestId('7k2m9q3a')).toThrow(/not a request id/);
    expect(() => checkRequestId('r-../../etc')).toThrow(UsageError);
  });
});
