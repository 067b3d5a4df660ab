/**
 * Output rules in one place: data on stdout, messages on stderr; on a terminal
 * aligned tables, colour and relative times; piped, plain text and absolute UTC
 * times; with --json exactly one JSON document on stdout.
 */
import { Chalk, type ChalkInstance } from 'chalk';
import type { Context } from '../context.js';
import { stripControls, stripControlsDeep } from '../core/text.js';
import { humanTime } from '../core/time-text.js';

export interface GlobalOptions {
  json: boolean;
  color: boolean;
  debug: boolean;
  quiet: boolean;
}

export interface Output {
  readonly json: boolean;
  readonly tty: boolean;
  readonly style: ChalkInstance;
  /** A message for people, on stderr (suppressed by --quiet unless it is a warning). */
  info(message: string): void;
  warn(message: string): void;
  success(message: string): void;
  /** Writes the command's result: JSON document with --json, else the rendered text. */
  data(value: unknown, render: () => string): void;
  /**
   * A time for people: on a terminal relative and absolute ("in 1h 12m (14:05 UTC)"),
   * otherwise absolute UTC to the second ("2026-11-03T14:05:00Z"). Never milliseconds.
   */
  time(when: Date | string | undefined, now: Date): string;
}

export function wantsColor(ctx: Context, options: Pick<GlobalOptions, 'color' | 'json'>): boolean {
  if (options.json || !options.color) return false;
  if (ctx.env.NO_COLOR !== undefined && ctx.env.NO_COLOR !== '') return false;
  if (ctx.env.FORCE_COLOR && ctx.env.FORCE_COLOR !== '0') return true;
  return Boolean(ctx.stdout.isTTY);
}

export function createOutput(ctx: Context, options: GlobalOptions): Output {
  const tty = Boolean(ctx.stdout.isTTY) && !options.json;
  const colour = wantsColor(ctx, options);
  const style = new Chalk({ level: colour ? 1 : 0 });
  const errStyle = new Chalk({ level: colour && ctx.stderr.isTTY ? 1 : 0 });
  const message = (text: string) => terminalText(text, { colour });
  return {
    json: options.json,
    tty,
    style,
    info(text) {
      if (!options.quiet) ctx.stderr.write(`${message(text)}\n`);
    },
    warn(text) {
      ctx.stderr.write(`${errStyle.yellow('warning:')} ${message(text)}\n`);
    },
    success(text) {
      if (!options.quiet) ctx.stderr.write(`${errStyle.green('✓')} ${message(text)}\n`);
    },
    data(value, render) {
      if (options.json) {
        ctx.stdout.write(`${jsonDocument(value)}\n`);
        return;
      }
      const text = terminalText(render(), { colour });
      if (text) ctx.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    time: (when, now) => humanTime(when, now, tty),
  };
}

export { clockTime, formatDuration, isoSeconds } from '../core/time-text.js';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
const visibleLength = (text: string) => text.replace(ANSI, '').length;

/**
 * The colour codes our own styling writes (chalk, 16 colours): bold, dim,
 * italic, underline, inverse, strike-through, foreground and background
 * colours and their resets. Nothing that moves the cursor, erases, hides text
 * (8) or talks to the terminal.
 */
const OWN_STYLE_SOURCE = '\\u001b\\[(?:[0-79]|2[1-79]|3[0-79]|4[0-79]|9[0-7]|10[0-7])m';
const OWN_STYLE = new RegExp(`^${OWN_STYLE_SOURCE}$`);
/** Line breaks and tabs that are our own layout, and (when colour is on) our own colour codes. */
const LAYOUT = new RegExp(`(\\n|\\t|${OWN_STYLE_SOURCE})`);

/**
 * The last line of defence for text on its way to a terminal or a pipe: text
 * from Graph and OCI is cleaned where it enters (the adapters, the record
 * decoders), and whatever a command renders is cleaned again here, so a field
 * someone forgets still cannot move the cursor, erase lines, retitle the
 * terminal or reorder text with bidi controls. Line breaks and tabs are kept
 * (they are the layout of tables and reports), and our own colour codes when
 * colour is on; every other control character and bidi control is removed.
 */
export function terminalText(text: string, options: { colour: boolean }): string {
  if (!options.colour) {
    // Text rendered without colour holds no escape sequence of ours.
    return text
      .split('\n')
      .map((line) => line.split('\t').map(stripControls).join('\t'))
      .join('\n');
  }
  return text
    .split(LAYOUT)
    .map((part, index) => (index % 2 === 1 ? part : stripControls(part)))
    .join('');
}

/** One cell of a table: no line breaks or tabs of its own (they would break rows and fields), our colour kept. */
function cellText(cell: string): string {
  return (
    cell
      // eslint-disable-next-line no-control-regex
      .split(/(\u001b\[[0-9;]*m)/)
      .map((part, index) => (index % 2 === 1 && OWN_STYLE.test(part) ? part : stripControls(part)))
      .join('')
  );
}

/** The --json document: every string in it (keys too) without control characters or bidi controls. */
export function jsonDocument(value: unknown): string {
  return JSON.stringify(stripControlsDeep(value), null, 2);
}

/** Aligned columns on a terminal; tab-separated when piped so scripts can cut fields. */
export function table(output: Output, headers: string[], rawRows: string[][]): string {
  const rows = rawRows.map((row) => row.map(cellText));
  if (!output.tty) return [headers.join('\t'), ...rows.map((row) => row.join('\t'))].join('\n');
  const widths = headers.map((header, column) =>
    Math.max(visibleLength(header), ...rows.map((row) => visibleLength(row[column] ?? ''))),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell + ' '.repeat(Math.max(0, widths[column]! - visibleLength(cell))))
      .join('  ')
      .trimEnd();
  return [output.style.bold(line(headers)), ...rows.map(line)].join('\n');
}
