/**
 * A webhook sink standing in for the receivers of notifications: a Teams
 * Workflows webhook, a Slack incoming webhook and a generic signed JSON
 * webhook, each at `POST /_hooks/{name}` once configured. It checks the shape
 * each receiver expects (and the generic one's signature against its secret,
 * on the emulator's clock), answers as the real one does (Workflows 202, Slack
 * 200 "ok", refusals with their status), and records everything that arrived.
 *
 * Control:
 *   POST   /_emulator/hooks            {name, kind: teams|slack|webhook, secret?}  configure (or replace) a hook
 *   GET    /_emulator/hooks/received   ?name=  what arrived, oldest first
 *   DELETE /_emulator/hooks/received   forget what arrived
 *   DELETE /_emulator/hooks            forget the hooks too
 * Failures (429 with Retry-After, 500, no answer) come from the fault rules
 * (/_emulator/faults with "service": "webhooks").
 *
 * The state lives in the routes' closure, one sink per server.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { json, parseJsonBody, route, type EmuRequest, type Route } from '../http.js';

export type HookKind = 'teams' | 'slack' | 'webhook';
const KINDS = new Set<HookKind>(['teams', 'slack', 'webhook']);

export interface HookConfig {
  name: string;
  kind: HookKind;
  /** kind "webhook": the shared secret the signature is checked with. */
  secret?: string;
}

export interface ReceivedHook {
  seq: number;
  at: string;
  name: string;
  kind: HookKind | null;
  /** What the sink answered. */
  status: number;
  /** Whether the shape (and signature) was what the receiver expects. */
  valid: boolean;
  problem: string | null;
  headers: { contentType: string | null; timestamp: string | null; signature: string | null; delivery: string | null };
  /** The body as JSON when it parsed, else its text. */
  body: unknown;
}

/** How far the signature's timestamp may be from the emulator's clock, as a careful receiver allows. */
const MAX_AGE_SECONDS = 300;

const isObject = (value: unknown): value is Record<string, any> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The problem with a Teams Workflows body, or undefined (the envelope Microsoft documents for Adaptive Cards). */
export function teamsProblem(body: unknown): string | undefined {
  if (!isObject(body)) return 'the body is not a JSON object';
  if (body.type !== 'message') return '"type" must be "message"';
  if (!Array.isArray(body.attachments) || body.attachments.length === 0)
    return '"attachments" must be a non-empty array';
  for (const attachment of body.attachments) {
    if (!isObject(attachment)) return 'every attachment must be an object';
    if (attachment.contentType !== 'application/vnd.microsoft.card.adaptive')
      return 'every attachment\'s "contentType" must be "application/vnd.microsoft.card.adaptive" (Workflows take Adaptive Cards only)';
    const card = attachment.content;
    if (!isObject(card) || card.type !== 'AdaptiveCard') return 'every attachment\'s "content" must be an AdaptiveCard';
    if (typeof card.version !== 'string') return 'the card needs a "version"';
    if (
      !Array.isArray(card.body) ||
      card.body.some((element: unknown) => !isObject(element) || typeof element.type !== 'string')
    )
      return 'the card\'s "body" must be an array of elements with a "type"';
  }
  return undefined;
}

/** The problem with a Slack incoming-webhook body, as Slack names it ("no_text", "invalid_blocks"), or undefined. */
export function slackProblem(body: unknown): string | undefined {
  if (!isObject(body)) return 'invalid_payload';
  const hasText = typeof body.text === 'string' && body.text.trim() !== '';
  if (body.blocks === undefined) return hasText ? undefined : 'no_text';
  if (!Array.isArray(body.blocks) || body.blocks.length === 0 || body.blocks.length > 50) return 'invalid_blocks';
  for (const block of body.blocks) {
    if (!isObject(block) || typeof block.type !== 'string') return 'invalid_blocks';
    if (
      block.type === 'header' &&
      (!isObject(block.text) ||
        block.text.type !== 'plain_text' ||
        typeof block.text.text !== 'string' ||
        block.text.text.length > 150)
    )
      return 'invalid_blocks';
    if (block.type === 'section' && !isObject(block.text) && !Array.isArray(block.fields)) return 'invalid_blocks';
    if (
      block.type === 'section' &&
      Array.isArray(block.fields) &&
      (block.fields.length === 0 || block.fields.length > 10)
    )
      return 'invalid_blocks';
  }
  // Slack takes blocks without text, but then has nothing to show in notifications: a sender should always give it.
  return hasText ? undefined : 'no_text';
}

/** The problem with a signed generic delivery, or undefined: signature over "<timestamp>.<raw body>", timestamp near now. */
export function signatureProblem(secret: string | undefined, req: EmuRequest, nowMs: number): string | undefined {
  if (!secret) return 'the hook has no secret configured';
  const timestamp = header(req, 'x-ociaccess-timestamp');
  const signature = header(req, 'x-ociaccess-signature');
  if (!timestamp || !/^\d+$/.test(timestamp)) return 'missing or malformed X-Ociaccess-Timestamp';
  if (!signature) return 'missing X-Ociaccess-Signature';
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > MAX_AGE_SECONDS)
    return 'X-Ociaccess-Timestamp is more than five minutes from now';
  const expected = Buffer.from(
    `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(req.body).digest('hex')}`,
  );
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return 'X-Ociaccess-Signature does not match the body';
  return undefined;
}

function header(req: EmuRequest, name: string): string | null {
  const value = req.headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

export function webhookRoutes(): Route[] {
  const hooks = new Map<string, HookConfig>();
  const received: ReceivedHook[] = [];
  let seq = 0;

  const receive = (req: EmuRequest, nowMs: number) => {
    const name = req.params.name!;
    const hook = hooks.get(name);
    const text = req.body.toString('utf8');
    let body: unknown = text;
    let parsed = false;
    try {
      body = JSON.parse(text);
      parsed = true;
    } catch {
      // Kept as text: a receiver refuses it below.
    }
    const contentType = header(req, 'content-type');
    let status: number;
    let problem: string | undefined;
    let answer: unknown;
    if (!hook) {
      [status, problem, answer] = [
        404,
        'no hook of that name is configured',
        { error: 'not_found', message: 'No such webhook (revoked or never created).' },
      ];
    } else if (!parsed || !contentType?.startsWith('application/json')) {
      [status, problem, answer] = [
        400,
        'the body is not JSON sent as application/json',
        hook.kind === 'slack' ? 'invalid_payload' : { error: 'bad_request', message: 'Expected a JSON body.' },
      ];
    } else if (hook.kind === 'teams') {
      problem = teamsProblem(body);
      [status, answer] = problem
        ? [400, { error: { code: 'InvalidRequestContent', message: problem } }]
        : [202, undefined];
    } else if (hook.kind === 'slack') {
      problem = slackProblem(body);
      [status, answer] = problem ? [400, problem] : [200, 'ok'];
    } else {
      problem = signatureProblem(hook.secret, req, nowMs);
      [status, answer] = problem ? [401, { error: 'bad_signature', message: problem }] : [200, { ok: true }];
    }
    seq += 1;
    received.push({
      seq,
      at: new Date(nowMs).toISOString(),
      name,
      kind: hook?.kind ?? null,
      status,
      valid: problem === undefined,
      problem: problem ?? null,
      headers: {
        contentType,
        timestamp: header(req, 'x-ociaccess-timestamp'),
        signature: header(req, 'x-ociaccess-signature'),
        delivery: header(req, 'x-ociaccess-delivery'),
      },
      body,
    });
    return typeof answer === 'string'
      ? { status, body: answer, headers: { 'content-type': 'text/plain; charset=utf-8' } }
      : { status, ...(answer === undefined ? {} : { body: answer }) };
  };

  return [
    route('webhooks', 'POST', /^\/_hooks\/(?<name>[^/]+)$/, (req, emu) => receive(req, emu.world.now())),
    route('control', 'POST', /^\/_emulator\/hooks$/, (req) => {
      const body = parseJsonBody<Partial<HookConfig>>(req);
      if (!body || typeof body.name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(body.name))
        return json(400, { error: 'bad_request', message: '"name" must be letters, digits, ".", "_" or "-"' });
      if (!body.kind || !KINDS.has(body.kind))
        return json(400, { error: 'bad_request', message: '"kind" must be teams, slack or webhook' });
      if (body.kind === 'webhook' && (typeof body.secret !== 'string' || body.secret === ''))
        return json(400, { error: 'bad_request', message: 'a "webhook" hook needs its "secret"' });
      hooks.set(body.name, {
        name: body.name,
        kind: body.kind,
        ...(body.kind === 'webhook' ? { secret: body.secret } : {}),
      });
      return json(201, { name: body.name, kind: body.kind, path: `/_hooks/${body.name}` });
    }),
    route('control', 'GET', /^\/_emulator\/hooks\/received$/, (req) => {
      const name = req.query.get('name');
      return json(200, { received: received.filter((entry) => !name || entry.name === name) });
    }),
    route('control', 'DELETE', /^\/_emulator\/hooks\/received$/, () => {
      received.length = 0;
      return { status: 204 };
    }),
    route('control', 'DELETE', /^\/_emulator\/hooks$/, () => {
      received.length = 0;
      hooks.clear();
      return { status: 204 };
    }),
  ];
}
