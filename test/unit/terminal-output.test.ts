/**
 * The output layer's last line of defence (src/cli/output.ts) and the
 * helper it rests on (stripControls in src/core/text.ts): whatever a command
 * renders, no control character or bidi control reaches a terminal, a pipe or
 * a --json document, while the layout (line breaks, tabs) and our own colour
 * stay and the visible text around the removed sequences is kept.
 */
import { stripControls, stripControlsDeep } from '../../src/core/text.js';
import { jsonDocument, table, terminalText, type Output } from '../../src/cli/output.js';
import { Chalk } from 'chalk';

const ERASE = '\u001b[2K\u001b[1A';
const TITLE = '\u001b]0;pwned\u0007';
const BIDI = '\u202e';

describe('stripControls', () => {
  test.each([
    ['erase and cursor-up sequences go whole', `alice${ERASE}@contoso.example`, 'alice@contoso.example'],
    ['an OSC title (BEL) goes whole, its text too', `a${TITLE}b`, 'ab'],
    [
      'an OSC hyperlink (ST) leaves only its visible text',
      '\u001b]8;;https://evil.example\u001b\\click\u001b]8;;\u001b\\',
      'click',
    ],
    ['C1 CSI', 'x\u009b31my', 'xy'],
    ['bidi overrides, isolates and marks', `r-abc${BIDI}\u2066\u200fdef`, 'r-abcdef'],
    ['line breaks and tabs fold to one space', 'one\r\ntwo\tthree', 'one two three'],
    ['a two-byte ESC sequence and a BEL', 'a\u001bb\u0007c', 'ac'],
    ['plain and non-Latin text is left alone', 'Zoë Ŝmith 山田 ✓', 'Zoë Ŝmith 山田 ✓'],
  ])('%s', (_name, raw, clean) => {
    expect(stripControls(raw)).toBe(clean);
  });

  test('stripControlsDeep cleans every string, keys included, and keeps the shape', () => {
    const when = new Date('2026-01-02T03:04:05.000Z');
    expect(stripControlsDeep({ [`k${BIDI}`]: [`v${ERASE}`, 1, null, true, { at: when }], n: undefined })).toEqual({
      k: ['v', 1, null, true, { at: '2026-01-02T03:04:05.000Z' }],
      n: undefined,
    });
  });
});

describe('output layer', () => {
  const colour = new Chalk({ level: 1 });
  const output = (tty: boolean, level: 0 | 1): Output => ({
    json: false,
    tty,
    style: new Chalk({ level }),
    info: () => undefined,
    warn: () => undefined,
    success: () => undefined,
    data: () => undefined,
    time: () => '-',
  });

  test('terminalText keeps line breaks, tabs and (with colour) our colour codes, and nothing else', () => {
    const rendered = `${colour.bold('GROUP')}\tOCI${ERASE}\nremoved  mallory${TITLE}${BIDI}@contoso.example  ${colour.red('x')}`;
    expect(terminalText(rendered, { colour: true })).toBe(
      `${colour.bold('GROUP')}\tOCI\nremoved  mallory@contoso.example  ${colour.red('x')}`,
    );
    expect(terminalText(`a${ERASE}\tb\nc${BIDI}`, { colour: false })).toBe('a\tb\nc');
    // Without colour even colour codes go; with colour, codes that hide text or are not ours go.
    expect(terminalText('\u001b[31mred\u001b[39m', { colour: false })).toBe('red');
    expect(terminalText('\u001b[8mhidden\u001b[28m \u001b[38;5;1mx', { colour: true })).toBe('hidden x');
  });

  test('a table cell cannot add rows or fields, on a terminal or piped', () => {
    const rows = [['r-1', `INC-1${ERASE}\nfake\trow${BIDI}`]];
    expect(table(output(false, 0), ['ID', 'WHY'], rows)).toBe('ID\tWHY\nr-1\tINC-1 fake row');
    const aligned = table(output(true, 1), ['ID', 'WHY'], [['r-1', colour.green(`ok${TITLE}`)]]);
    expect(aligned.split('\n')).toHaveLength(2);
    expect(aligned).toContain(colour.green('ok'));
    expect(aligned).not.toContain('pwned');
  });

  test('the --json document holds no control characters, escaped or not', () => {
    const text = jsonDocument({ requester: `alice${ERASE}${BIDI}`, [`key${TITLE}`]: 'v' });
    expect(JSON.parse(text)).toEqual({ requester: 'alice', key: 'v' });
    expect(text).not.toMatch(/\\u00(1b|07)|\u202e/);
  });
});
