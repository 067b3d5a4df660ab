/**
 * One notification, before it is shaped for a target kind (teams.ts,
 * slack.ts, webhook.ts): what happened (title and facts), the details (lines),
 * and what to do (next, command). Every string in it that came from Graph,
 * a record or a person has been through `clean`: no control characters, and
 * capped, so one message stays one screen whatever a justification holds.
 */
import { stripControls, stripControlsDeep } from '../../core/text.js';
import type { DomainEvent } from '../../core/events.js';

export type Audience = 'approvers' | 'requester' | 'operators';

/** How the message is coloured where the target can: good news, news, something to look at, something to act on. */
export type Tone = 'good' | 'info' | 'warning' | 'attention';

export interface NotifyFact {
  name: string;
  value: string;
}

export interface NotifyMessage {
  /** What happened, in one line. */
  title: string;
  tone: Tone;
  audience: Audience;
  group: { id: string; name: string };
  facts: NotifyFact[];
  /** Details, one item a line (a sweep's removals, failures, drift). */
  lines: string[];
  /** What to do next, in a sentence or two. */
  next: string;
  /** The exact command to run, when there is one. */
  command?: string;
  /** The events the message tells of (the generic webhook sends them along). */
  events: DomainEvent[];
}

/** The longest a single value gets: a justification, a reason, an error. */
export const MAX_VALUE = 500;
/** The longest a name gets: a user principal name, a group, an id. */
export const MAX_NAME = 200;
/** The most detail lines one message lists; the rest are counted. */
export const MAX_LINES = 15;

/** Remote text as a message may show it: no control characters, line breaks folded, at most `max` characters. */
export function clean(text: string | undefined, max = MAX_VALUE): string {
  if (text === undefined) return '';
  const plain = stripControls(text).trim();
  if (plain.length <= max) return plain;
  let end = max - 1;
  const last = plain.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${plain.slice(0, end)}…`;
}

/** The lines, at most MAX_LINES of them, the rest counted in a last line. */
export function capLines(lines: string[]): string[] {
  if (lines.length <= MAX_LINES) return lines;
  return [
    ...lines.slice(0, MAX_LINES - 1),
    `…and ${lines.length - (MAX_LINES - 1)} more (see \`ociaccess audit\` on the sweep host)`,
  ];
}

/** The events as the generic webhook sends them: every string cleaned and capped. */
export function cleanEvents(events: DomainEvent[]): DomainEvent[] {
  return events.map((event) => capStrings(stripControlsDeep(event)) as DomainEvent);
}

function capStrings(value: unknown): unknown {
  if (typeof value === 'string') return clean(value, MAX_VALUE);
  if (Array.isArray(value)) return value.slice(0, 100).map(capStrings);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, member]) => [key, capStrings(member)]));
  }
  return value;
}
