/**
 * Slack, through an incoming webhook: a JSON body with "text" (the
 * notification's text, and what clients show where blocks cannot be) and
 * "blocks" (Block Kit layout). Sources in docs/notifications.md.
 */
import type { NotifyMessage, Tone } from './message.js';

const MARK: Record<Tone, string> = {
  good: ':white_check_mark:',
  info: ':information_source:',
  warning: ':warning:',
  attention: ':rotating_light:',
};
/** Block Kit's limits: a header's text, a section's text, a section's fields. */
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELDS_MAX = 10;

/**
 * mrkdwn reads "<…>" as links and mentions ("<!channel>" pings everyone) and
 * "&" as the start of an entity: Slack's rule is to escape these three in
 * text that is not the app's own.
 */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const cap = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

export function slackPayload(message: NotifyMessage): unknown {
  // Remote text goes in plain_text objects wherever Block Kit allows them: no links, no mentions.
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: cap(message.title, HEADER_MAX), emoji: false } },
  ];
  if (message.facts.length > 0) {
    blocks.push({
      type: 'section',
      fields: message.facts
        .slice(0, FIELDS_MAX)
        .map((fact) => ({ type: 'plain_text', text: cap(`${fact.name}: ${fact.value}`, 2000), emoji: false })),
    });
  }
  if (message.lines.length > 0)
    blocks.push({
      type: 'section',
      text: {
        type: 'plain_text',
        text: cap(message.lines.map((line) => `• ${line}`).join('\n'), SECTION_MAX),
        emoji: false,
      },
    });
  blocks.push({ type: 'section', text: { type: 'plain_text', text: cap(message.next, SECTION_MAX), emoji: false } });
  if (message.command)
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: cap(`\`${slackEscape(message.command).replace(/`/g, "'")}\``, SECTION_MAX) },
    });
  return {
    text: cap(`${MARK[message.tone]} ${slackEscape(message.title)}`, SECTION_MAX),
    blocks,
  };
}
