/**
 * The generic JSON webhook: the message and the events behind it, signed so
 * that the receiver can tell it came from a holder of the shared secret and
 * was not replayed. Two headers:
 *
 *   X-Ociaccess-Timestamp: <unix seconds when it was sent>
 *   X-Ociaccess-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 *
 * The timestamp is inside what is signed, so it cannot be changed; a receiver
 * refuses a timestamp more than five minutes from its own clock, and (to be
 * strict) a delivery id (X-Ociaccess-Delivery) it has already seen. How to
 * verify: docs/notifications.md.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { cleanEvents, type NotifyMessage } from './message.js';

export const SIGNATURE_HEADER = 'x-ociaccess-signature';
export const TIMESTAMP_HEADER = 'x-ociaccess-timestamp';
export const DELIVERY_HEADER = 'x-ociaccess-delivery';
/** How far a receiver should let a timestamp be from its clock. */
export const MAX_SIGNATURE_AGE_SECONDS = 300;

export interface WebhookBody {
  type: 'ociaccess.notification';
  version: 1;
  /** The same id as the X-Ociaccess-Delivery header; the same for every attempt of one delivery. */
  id: string;
  audience: NotifyMessage['audience'];
  group: NotifyMessage['group'];
  title: string;
  tone: NotifyMessage['tone'];
  facts: NotifyMessage['facts'];
  lines: string[];
  next: string;
  command: string | null;
  events: NotifyMessage['events'];
}

export function webhookPayload(message: NotifyMessage, deliveryId: string): WebhookBody {
  return {
    type: 'ociaccess.notification',
    version: 1,
    id: deliveryId,
    audience: message.audience,
    group: message.group,
    title: message.title,
    tone: message.tone,
    facts: message.facts,
    lines: message.lines,
    next: message.next,
    command: message.command ?? null,
    events: cleanEvents(message.events),
  };
}

/** The signature header's value for this body, sent at `timestampSeconds`. */
export function webhookSignature(secret: string, timestampSeconds: number, rawBody: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampSeconds}.${rawBody}`).digest('hex')}`;
}

/** The headers that sign one attempt (signed again at each attempt, with its own time). */
export function signedHeaders(
  secret: string,
  rawBody: string,
  nowMs: number,
  deliveryId: string,
): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    [TIMESTAMP_HEADER]: String(timestamp),
    [SIGNATURE_HEADER]: webhookSignature(secret, timestamp, rawBody),
    [DELIVERY_HEADER]: deliveryId,
  };
}

/**
 * What a receiver does (and what docs/notifications.md shows): recompute the
 * signature over the raw bytes received, compare in constant time, and check
 * the timestamp. Returns the problem, or undefined when the delivery is genuine.
 */
export function verifyWebhook(
  secret: string,
  headers: { timestamp?: string; signature?: string },
  rawBody: string,
  nowMs: number,
): string | undefined {
  const timestamp = Number(headers.timestamp);
  if (!headers.timestamp || !Number.isInteger(timestamp)) return 'missing or malformed timestamp header';
  if (Math.abs(nowMs / 1000 - timestamp) > MAX_SIGNATURE_AGE_SECONDS)
    return 'timestamp too far from now (a replay, or a wrong clock)';
  const expected = Buffer.from(webhookSignature(secret, timestamp, rawBody));
  const given = Buffer.from(headers.signature ?? '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature does not match';
  return undefined;
}
