/** Validation of flag values, done before any config, sign-in or network work (usage errors, exit 2). */
import { UsageError, quoteInput } from '../errors.js';
import {
  MAX_JUSTIFICATION_LENGTH,
  MAX_REASON_LENGTH,
  MAX_TICKET_LENGTH,
  REQUEST_ID_PATTERN,
  textProblem,
} from '../core/records.js';
import { hasControls, stripControls } from '../core/text.js';

/** PIM's request ids (a pim group's): GUIDs, compared in lower case. */
const PIM_REQUEST_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const UNIT_SECONDS = { d: 86_400n, h: 3_600n, m: 60n, s: 1n } as const;
type Unit = keyof typeof UNIT_SECONDS;
/** Longer input is refused before any arithmetic: no duration anyone means is written with more characters. */
const MAX_DURATION_TEXT = 40;

/**
 * A duration as people type it — "2h", "90m", "1h30m", "45s", "1.5h", or a
 * bare number in `bareUnit` — as an exact fraction of seconds (numerator,
 * denominator), so that "whole number of minutes" is decided without floating
 * point error. Undefined when the text is not a duration.
 */
function durationFraction(text: string, bareUnit: Unit): { numerator: bigint; denominator: bigint } | undefined {
  if (text.length > MAX_DURATION_TEXT) return undefined;
  const number = String.raw`(\d+(?:\.\d*)?|\.\d+)`;
  const bare = new RegExp(`^${number}$`).exec(text);
  const parts: [string, Unit][] = [];
  if (bare) {
    parts.push([bare[1]!, bareUnit]);
  } else {
    if (!new RegExp(`^(?:${number}[dhms])+$`).test(text)) return undefined;
    const seen = new Set<string>();
    for (const match of text.matchAll(new RegExp(`${number}([dhms])`, 'g'))) {
      const unit = match[2] as Unit;
      if (seen.has(unit)) return undefined;
      seen.add(unit);
      parts.push([match[1]!, unit]);
    }
    // Largest unit first, as people write them: "1h30m", not "30m1h".
    const order = 'dhms';
    if (parts.some(([, unit], index) => index > 0 && order.indexOf(unit) <= order.indexOf(parts[index - 1]![1])))
      return undefined;
  }
  // Sum of value × unit over a common denominator 10^k.
  const decimals = Math.max(...parts.map(([value]) => (value.split('.')[1] ?? '').length));
  const denominator = 10n ** BigInt(decimals);
  let numerator = 0n;
  for (const [value, unit] of parts) {
    const [whole = '', fraction = ''] = value.split('.');
    numerator += BigInt(`${whole || '0'}${fraction.padEnd(decimals, '0')}`) * UNIT_SECONDS[unit];
  }
  return { numerator, denominator };
}

/** "20m", "1h", "1h30m", "2d3h": the shortest form, which the duration parsers accept back. */
export function formatMinutes(totalMinutes: number): string {
  const days = Math.floor(totalMinutes / 1440);
  const hours = Math.floor((totalMinutes % 1440) / 60);
  const minutes = totalMinutes % 60;
  const text = `${days ? `${days}d` : ''}${hours ? `${hours}h` : ''}${minutes ? `${minutes}m` : ''}`;
  return text || '0m';
}

/**
 * How long a grant lasts, as people type it: hours ("2", "1.5", "0.25"), or a
 * duration ("90m", "1h30m", "20m"). Returns hours (20m → 1/3). Zero,
 * negative, non-numeric and values that are not a whole number of minutes are
 * refused; the fix offered is always a value this function accepts.
 */
export function parseHours(raw: string | undefined, flag = '--hours'): number {
  if (raw === undefined || raw.trim() === '') {
    throw new UsageError(`${flag} needs a duration, e.g. ${flag} 2 (hours) or ${flag} 30m.`, {
      code: 'HOURS_REQUIRED',
    });
  }
  const text = raw.trim().toLowerCase();
  const fraction = durationFraction(text, 'h');
  if (!fraction) {
    throw new UsageError(`${flag} ${quoteInput(raw)} is not a duration.`, {
      code: 'INVALID_HOURS',
      hint: `Use hours or a duration, such as ${flag} 2, ${flag} 1.5, ${flag} 90m or ${flag} 1h30m.`,
    });
  }
  const { numerator, denominator } = fraction;
  if (numerator === 0n) {
    throw new UsageError(`${flag} must be more than 0 (got ${quoteInput(raw)}).`, {
      code: 'INVALID_HOURS',
      hint: `Use a positive duration such as ${flag} 2 or ${flag} 30m.`,
    });
  }
  const perMinute = 60n * denominator;
  if (numerator % perMinute !== 0n) {
    // Nearest minute, at least one: shown in the "1h1m" form, which is exact (a decimal such as 1.02 hours is not).
    const rounded = (numerator * 2n + perMinute) / (2n * perMinute);
    const suggestion = formatMinutes(Number(rounded > 0n ? rounded : 1n));
    throw new UsageError(`${flag} ${quoteInput(raw)} is not a whole number of minutes.`, {
      code: 'INVALID_HOURS',
      hint: `Round it to the minute, e.g. ${flag} ${suggestion}.`,
    });
  }
  return Number(numerator / perMinute) / 60;
}

/**
 * Durations such as "30m", "2h", "1h30m", "1.5h", "45s", "7d", and a bare
 * number of minutes ("90"). Returns milliseconds (0 allowed).
 */
export function parseDuration(raw: string, flag: string): number {
  const fraction = durationFraction(raw.trim().toLowerCase(), 'm');
  if (!fraction) {
    throw new UsageError(`${flag} ${quoteInput(raw)} is not a duration.`, {
      code: 'INVALID_DURATION',
      hint: `Use e.g. ${flag} 30m, ${flag} 2h, ${flag} 1h30m or ${flag} 1.5h.`,
    });
  }
  return Number((fraction.numerator * 1000n + fraction.denominator / 2n) / fraction.denominator);
}

/** Hours as a table shows them: "2", "1.5", "0.25" as typed; other fractions as the duration ("20m", "1h1m"). */
export function formatHours(hours: number): string {
  const text = String(hours);
  if (/^\d+(\.\d{1,2})?$/.test(text)) return text;
  return formatMinutes(Math.round(hours * 60));
}

/**
 * A ticket is an id (INC-4711), not a place for text: details belong in the
 * ticket system, and --ticket names the ticket that holds them.
 */
const TOO_LONG_HINT: Record<string, string> = {
  '--ticket': 'A ticket is an id such as INC-4711: give the id only, and keep the details in the ticket itself.',
  '--justification':
    'Shorten it to one line; keep the details in your ticket system and name the ticket with --ticket INC-4711.',
  '--reason': `Shorten it to one line of at most ${MAX_REASON_LENGTH} characters.`,
};

/** What a value of the flag looks like: a justification says why access is needed, a reason why a request is denied. */
const REQUIRED_EXAMPLE: Record<string, string> = {
  '--justification': '"INC-1234: restart the database"',
  '--reason': '"use the read-only group instead"',
};

export function checkText(
  value: string | undefined,
  flag: string,
  options: { required: boolean; max: number; code: string },
): string | undefined {
  const text = value?.trim();
  if (!text) {
    if (options.required) {
      throw new UsageError(`${flag} is required.`, {
        code: options.code,
        hint: `Say why, e.g. ${flag} ${REQUIRED_EXAMPLE[flag] ?? '"…"'}.`,
      });
    }
    return undefined;
  }
  // The rules records are checked against when read (records.ts' textProblem): control characters
  // would garble tables and logs on other people's terminals.
  const problem = textProblem(text, options.max);
  if (problem === 'too-long') {
    throw new UsageError(`${flag} is ${text.length} characters; at most ${options.max} fit in the request record.`, {
      code: options.code,
      hint: TOO_LONG_HINT[flag] ?? 'Shorten it.',
    });
  }
  if (problem) {
    throw new UsageError(`${flag} contains control characters.`, {
      code: options.code,
      hint:
        flag === '--ticket' ? 'Give the ticket id on one line, e.g. --ticket INC-4711.' : 'Use plain text on one line.',
    });
  }
  return text;
}

export const checkJustification = (value: string | undefined) =>
  checkText(value, '--justification', {
    required: true,
    max: MAX_JUSTIFICATION_LENGTH,
    code: 'JUSTIFICATION_REQUIRED',
  })!;
export const checkReason = (value: string | undefined, required = false) =>
  checkText(value, '--reason', { required, max: MAX_REASON_LENGTH, code: 'INVALID_REASON' });

export function checkTicket(value: string | undefined): string | undefined {
  return checkText(value, '--ticket', { required: false, max: MAX_TICKET_LENGTH, code: 'INVALID_TICKET' });
}

export function checkRequestId(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  // Ids are lower case by construction; a retyped id in capitals is the same id.
  const id = value.trim().toLowerCase();
  if (!REQUEST_ID_PATTERN.test(id) && !PIM_REQUEST_ID_PATTERN.test(id)) {
    throw new UsageError(
      `${quoteInput(value)} is not a request id (they look like r-7k2m9q3a: "r-" and 8 letters or digits; a PIM group's are GUIDs).`,
      {
        code: 'INVALID_REQUEST_ID',
        hint: 'Run `ociaccess list --pending` to see the ids.',
      },
    );
  }
  return id;
}

/** A user principal name given on the command line. */
export function checkUpn(value: string, flag: string): string {
  const upn = value.trim();
  if (upn.length > 256 || !/^[^\s@]+@[^\s@]+$/.test(upn) || hasControls(upn)) {
    throw new UsageError(`${flag} "${stripControls(upn).slice(0, 80)}" is not a user principal name.`, {
      code: 'INVALID_USER',
      hint: `Give it as ${flag} alice@contoso.com.`,
    });
  }
  return upn;
}
