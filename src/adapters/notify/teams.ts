/**
 * Microsoft Teams, through a Workflows webhook ("Post to a channel when a
 * webhook request is received", trigger "When a Teams webhook request is
 * received"). Workflows take Adaptive Cards only, in the message envelope
 * Microsoft documents for webhooks: {"type":"message","attachments":[{
 * "contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,
 * "content":{AdaptiveCard}}]}. Sources in docs/notifications.md.
 */
import type { NotifyMessage, Tone } from './message.js';

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';
/** 1.4: what Teams renders on desktop, web and mobile alike. */
export const ADAPTIVE_CARD_VERSION = '1.4';

const COLOUR: Record<Tone, string> = { good: 'Good', info: 'Default', warning: 'Warning', attention: 'Attention' };

/**
 * Text shown in a card is read as Markdown: a justification holding
 * "[the portal](https://elsewhere)" would show a link that hides where it
 * goes. Breaking "](" keeps the text readable and the link inert.
 */
export function teamsText(text: string): string {
  return text.replace(/\]\s*\(/g, '] (');
}

export function teamsPayload(message: NotifyMessage): unknown {
  const body: unknown[] = [
    {
      type: 'TextBlock',
      text: teamsText(message.title),
      weight: 'Bolder',
      size: 'Medium',
      color: COLOUR[message.tone],
      wrap: true,
    },
    {
      type: 'FactSet',
      facts: message.facts.map((fact) => ({ title: teamsText(fact.name), value: teamsText(fact.value) })),
    },
  ];
  for (const line of message.lines)
    body.push({ type: 'TextBlock', text: `• ${teamsText(line)}`, wrap: true, spacing: 'None' });
  body.push({ type: 'TextBlock', text: teamsText(message.next), wrap: true, spacing: 'Medium' });
  if (message.command)
    body.push({
      type: 'TextBlock',
      text: teamsText(message.command),
      fontType: 'Monospace',
      wrap: true,
      spacing: 'Small',
    });
  return {
    type: 'message',
    attachments: [
      {
        contentType: ADAPTIVE_CARD_CONTENT_TYPE,
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: ADAPTIVE_CARD_VERSION,
          body,
          msteams: { width: 'Full' },
        },
      },
    ],
  };
}
