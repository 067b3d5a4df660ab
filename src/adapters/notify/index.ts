/**
 * Notifications: targets (Teams, Slack, a signed JSON webhook) that hear of
 * domain events. The dispatcher routes, compose.ts words, teams.ts /
 * slack.ts / webhook.ts shape, send.ts delivers.
 */
import type { NotifyMessage } from './message.js';
import type { ResolvedTarget } from './targets.js';
import { deliver, type DeliveryOptions, type DeliveryResult } from './send.js';
import { teamsPayload } from './teams.js';
import { slackPayload } from './slack.js';
import { signedHeaders, webhookPayload } from './webhook.js';

export {
  createNotifier,
  sendTestMessages,
  type DeliveryReport,
  type EventSubscriber,
  type Notifier,
} from './dispatcher.js';
export { resolveTarget, maskUrl, targetLabel, TargetSourceError, type ResolvedTarget } from './targets.js';
export { httpPost, type PostJson, type DeliveryResult } from './send.js';

/** The body (and headers) one attempt sends to `target`. */
export function prepareFor(
  target: ResolvedTarget,
  message: NotifyMessage,
  deliveryId: string,
  nowMs: () => number,
): () => { body: string; headers: Record<string, string> } {
  if (target.kind === 'teams') {
    const body = JSON.stringify(teamsPayload(message));
    return () => ({ body, headers: {} });
  }
  if (target.kind === 'slack') {
    const body = JSON.stringify(slackPayload(message));
    return () => ({ body, headers: {} });
  }
  const body = JSON.stringify(webhookPayload(message, deliveryId));
  return () => ({ body, headers: signedHeaders(target.secret ?? '', body, nowMs(), deliveryId) });
}

/** The dispatcher's `send`: shaped for the target's kind, delivered with retries within the budget. */
export function sendWith(
  options: DeliveryOptions & { uuid(): string },
): (target: ResolvedTarget, message: NotifyMessage) => Promise<DeliveryResult> {
  return (target, message) => deliver(target.url, prepareFor(target, message, options.uuid(), options.now), options);
}
