/**
 * Output rules in one place: data on stdout, messages on stderr; on a terminal
 * aligned tables, colour and relative times; piped, plain text and absolute UTC
 * times; with --json exactly one JSON document on stdout.
 */
import { Chalk, type ChalkInstance } from 'chalk';
import type { Context } from '../context.js';

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
  /** A time, relative on a terminal ("in 1h 12m"), absolute UTC otherwise. */
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
  const style = new Chalk({ level: wantsColor(ctx, options) ? 1 : 0 });
  const errStyle = new Chalk({ level: wantsColor(ctx, options) && ctx.stderr.isTTY ? 1 : 0 });
  return {
    json: options.json,
    tty,
    style,
    info(message) {
      if (!options.quiet) ctx.stderr.write(`${message}\n`);
    },
    warn(message) {
      ctx.stderr.write(`${errStyle.yellow('warning:')} ${message}\n`);
    },
    success(message) {
      if (!options.quiet) ctx.stderr.write(`${errStyle.green('✓')} ${message}\n`);
    },
    data(value, render) {
      if (options.json) {
        ctx.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
        return;
      }
      const text = render();
      if (text) ctx.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    time(when, now) {
      if (!when) return '-';
      const date = typeof when === 'string' ? new Date(when) : when;
      if (!tty) return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
      const delta = date.getTime() - now.getTime();
      return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
    },
  };
}

/** "1h 12m", "3m", "45s", "2d 4h". */
export function formatDuration(ms: number): string {
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 60) return `${totalSeconds}s`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  if (totalMinutes < 60) return `${totalMinutes}m`;
  const hours = Math.floor(totalMinutes / 60);
  const minutes = totalMinutes % 60;
  if (hours < 48) return minutes ? `${hours}h ${minutes}m` : `${hours}h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days}d ${hours % 24}h` : `${days}d`;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
const visibleLength = (text: string) => text.replace(ANSI, '').length;

/** Aligned columns on a terminal; tab-separated when piped so scripts can cut fields. */
export function table(output: Output, headers: string[], rows: string[][]): string {
  if (!output.tty) return [headers.join('\t'), ...rows.map((row) => row.join('\t'))].join('\n');
  const widths = headers.map((header, column) =>
    Math.max(visibleLength(header), ...rows.map((row) => visibleLength(row[column] ?? ''))),
  );
  const line = (cells: string[]) =>
    cells.map((cell, column) => cell + ' '.repeat(Math.max(0, widths[column]! - visibleLength(cell)))).join('  ').trimEnd();
  return [output.style.bold(line(headers)), ...rows.map(line)].join('\n');
}
