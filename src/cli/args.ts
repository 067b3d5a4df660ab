/** Validation of flag values, done before any config, sign-in or network work (usage errors, exit 2). */
import { UsageError, quoteInput } from '../errors.js';
import { MAX_JUSTIFICATION_LENGTH, MAX_REASON_LENGTH, MAX_TICKET_LENGTH, REQUEST_ID_PATTERN, textProblem } from '../core/records.js';
import { hasControls, stripControls } from '../core/text.js';

/**
 * Hours as people type them: "2", "1.5", "0.25". Zero, negative, non-numeric
 * and values that are not a whole number of minutes are refused.
 */
export function parseHours(raw: string | undefined, flag = '--hours'): number {
  if (raw === undefined || raw.trim() === '') {
    throw new UsageError(`${flag} needs a number of hours, e.g. ${flag} 2.`, { code: 'HOURS_REQUIRED' });
  }
  const text = raw.trim();
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(text)) {
    throw new UsageError(`${flag} ${quoteInput(raw)} is not a number of hours.`, { code: 'INVALID_HOURS', hint: `Use a number such as ${flag} 2 or ${flag} 1.5.` });
  }
  const hours = Number(text);
  if (!(hours > 0)) {
    throw new UsageError(`${flag} must be more than 0 (got ${quoteInput(raw)}).`, { code: 'INVALID_HOURS', hint: `Use a positive number such as ${flag} 2.` });
  }
  const minutes = hours * 60;
  if (Math.abs(minutes - Math.round(minutes)) > 1e-9) {
    throw new UsageError(`${flag} ${quoteInput(raw)} is not a whole number of minutes.`, {
      code: 'INVALID_HOURS',
      hint: `Round it to the minute, e.g. ${flag} ${(Math.round(minutes) / 60).toFixed(2).replace(/\.?0+$/, '')}.`,
    });
  }
  return hours;
}

/** Durations such as "30m", "2h", "1h30m", "45s", "90" (minutes). */
export function parseDuration(raw: string, flag: string): number {
  const text = raw.trim().toLowerCase();
  if (/^\d+$/.test(text)) return Number(text) * 60_000;
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!match || text === '' || (!match[1] && !match[2] && !match[3])) {
    throw new UsageError(`${flag} ${quoteInput(raw)} is not a duration.`, { code: 'INVALID_DURATION', hint: `Use e.g. ${flag} 30m, ${flag} 2h or ${flag} 1h30m.` });
  }
  return (Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0)) * 1000;
}

export function checkText(value: string | undefined, flag: string, options: { required: boolean; max: number; code: string }): string | undefined {
  const text = value?.trim();
  if (!text) {
    if (options.required) {
      throw new UsageError(`${flag} is required.`, { code: options.code, hint: `Say why, e.g. ${flag} "INC-1234: restart the database".` });
    }
    return undefined;
  }
  // The rules records are checked against when read (records.ts' textProblem): control characters
  // would garble tables and logs on other people's terminals.
  const problem = textProblem(text, options.max);
  if (problem === 'too-long') {
    throw new UsageError(`${flag} is ${text.length} characters; at most ${options.max} fit in the Entra record.`, {
      code: options.code,
      hint: flag === '--ticket' ? 'Give the ticket id only, e.g. --ticket INC-4711.' : 'Shorten it, and put details in the ticket system (name the ticket with --ticket).',
    });
  }
  if (problem) {
    throw new UsageError(`${flag} contains control characters.`, { code: options.code, hint: 'Use plain text on one line.' });
  }
  return text;
}

export const checkJustification = (value: string | undefined) =>
  checkText(value, '--justification', { required: true, max: MAX_JUSTIFICATION_LENGTH, code: 'JUSTIFICATION_REQUIRED' })!;
export const checkReason = (value: string | undefined, required = false) =>
  checkText(value, '--reason', { required, max: MAX_REASON_LENGTH, code: 'INVALID_REASON' });

export function checkTicket(value: string | undefined): string | undefined {
  return checkText(value, '--ticket', { required: false, max: MAX_TICKET_LENGTH, code: 'INVALID_TICKET' });
}

export function checkRequestId(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  // Ids are lower case by construction; a retyped id in capitals is the same id.
  const id = value.trim().toLowerCase();
  if (!REQUEST_ID_PATTERN.test(id)) {
    throw new UsageError(`${quoteInput(value)} is not a request id (they look like r-7k2m9q3a: "r-" and 8 letters or digits).`, {
      code: 'INVALID_REQUEST_ID',
      hint: 'Run `ociaccess list --pending` to see the ids.',
    });
  }
  return id;
}

/** A user principal name given on the command line. */
export function checkUpn(value: string, flag: string): string {
  const upn = value.trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(upn) || hasControls(upn) || upn.length > 256) {
    throw new UsageError(`${flag} "${stripControls(upn).slice(0, 80)}" is not a user principal name.`, { code: 'INVALID_USER', hint: `Give it as ${flag} alice@contoso.com.` });
  }
  return upn;
}
