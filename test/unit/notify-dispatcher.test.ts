/**
 * The notifications subscriber, driven with constructed domain events (the
 * core's emitting them is wired separately): each event reaches the targets
 * of its group that take its audience, with what the audience needs; a
 * sweep's findings make one operators' message per sweep and group; remote
 * text arrives without control characters and capped; a failure is reported
 * and never thrown. Also the three payload shapes and the signature.
 */
import type { GroupConfig, NotifyTargetConfig } from '../../src/config/schema.js';
import type { DomainEvent } from '../../src/core/events.js';
import { createNotifier, type DeliveryReport } from '../../src/adapters/notify/dispatcher.js';
import type { NotifyMessage } from '../../src/adapters/notify/message.js';
import type { ResolvedTarget } from '../../src/adapters/notify/targets.js';
import { TargetSourceError } from '../../src/adapters/notify/targets.js';
import { teamsPayload } from '../../src/adapters/notify/teams.js';
import { slackPayload } from '../../src/adapters/notify/slack.js';
import { signedHeaders, verifyWebhook, webhookPayload } from '../../src/adapters/notify/webhook.js';
import { slackProblem, teamsProblem } from '../../src/emulator/webhooks/index.js';

const GROUP_ID = '11111111-2222-3333-4444-555555555555';
const target = (
  name: string,
  kind: NotifyTargetConfig['kind'],
  ...audiences: NotifyTargetConfig['for']
): NotifyTargetConfig => ({
  name,
  kind,
  for: audiences,
  urlEnv: `URL_${name}`,
  ...(kind === 'webhook' ? { secretEnv: 'SECRET' } : {}),
});

const group: GroupConfig = {
  name: 'OCI-Temp-Admins',
  entraGroupId: GROUP_ID,
  ociGroupName: 'OCI-Temp-Admins',
  maxHours: 8,
  eligibleRequesters: ['alice@contoso.com'],
  approvers: ['bob@contoso.com'],
  standingMembers: [],
  autoApproval: null,
  pendingTimeoutHours: 24,
  notify: [
    target('approvers', 'teams', 'approvers'),
    target('people', 'slack', 'requester'),
    target('ops', 'webhook', 'operators'),
    target('all', 'slack', 'approvers', 'requester', 'operators'),
  ],
};
const quiet: GroupConfig = {
  ...group,
  name: 'Quiet',
  entraGroupId: '99999999-2222-3333-4444-555555555555',
  notify: [],
};

const base = {
  at: '2026-11-02T10:00:00.000Z',
  actor: { id: 'u-bob', upn: 'bob@contoso.com', kind: 'user' as const },
  group: { id: GROUP_ID, name: 'OCI-Temp-Admins' },
};
const alice = { id: 'u-alice', upn: 'alice@contoso.com' };

const created: DomainEvent = {
  ...base,
  actor: { ...alice, kind: 'user' },
  type: 'request.created',
  requester: alice,
  requestId: 'r-7k2m9q3a',
  hours: 2,
  justification: 'INC-123: restart the DB node',
  ticket: 'INC-123',
  autoApprovable: false,
  approvers: ['bob@contoso.com'],
};
const approved: DomainEvent = {
  ...base,
  type: 'request.approved',
  requester: alice,
  requestId: 'r-7k2m9q3a',
  hours: 2,
  expiresAt: '2026-11-02T12:00:00.000Z',
  auto: false,
};
const denied: DomainEvent = {
  ...base,
  type: 'request.denied',
  requester: alice,
  requestId: 'r-7k2m9q3a',
  reason: 'use the read-only group',
};
const revoked: DomainEvent = {
  ...base,
  type: 'grant.revoked',
  requester: alice,
  requestIds: ['r-7k2m9q3a'],
  reason: 'done early',
  own: false,
};
const app = { id: 'app', upn: 'automation', kind: 'app' as const };
const sweepEvents: DomainEvent[] = [
  { ...base, actor: app, type: 'member.removed', member: alice, reason: 'expired', outcome: 'removed' },
  {
    ...base,
    actor: app,
    type: 'member.removed',
    member: { id: 'u-dave', upn: 'dave@contoso.com' },
    reason: 'no grant',
    outcome: 'failed',
    error: 'Graph answered 503',
  },
  {
    ...base,
    actor: app,
    type: 'member.removed',
    member: { id: 'u-erin', upn: 'erin@contoso.com' },
    reason: 'expired',
    outcome: 'not-member',
  },
  {
    ...base,
    actor: app,
    type: 'removal.irrevocable',
    member: { id: 'u-frank', upn: 'frank@contoso.com' },
    attempts: 3,
    error: 'Insufficient privileges',
  },
  {
    ...base,
    actor: app,
    type: 'oci.drift-seen',
    userName: 'mallory@contoso.com',
    ociUserId: 'ocid1',
    state: 'reported',
  },
  {
    ...base,
    actor: app,
    type: 'record.untrusted',
    requester: alice,
    requestId: 'r-forged12',
    approver: alice,
    problem: 'self-approval',
  },
  { ...base, actor: app, type: 'member.added', member: alice, membership: 'added' },
  { ...base, actor: app, type: 'oci.removal-confirmed', member: alice, how: 'scim' },
];
const finished = (extra: Partial<Extract<DomainEvent, { type: 'sweep.finished' }>> = {}): DomainEvent => ({
  ...base,
  actor: app,
  type: 'sweep.finished',
  outcome: 'pending',
  removed: 1,
  failed: 1,
  stuck: 0,
  drift: 1,
  untrusted: 1,
  dryRun: false,
  ...extra,
});

interface Sent {
  target: string;
  message: NotifyMessage;
}

function rig(
  options: { fail?: (target: ResolvedTarget) => boolean; unreadable?: string; idp?: { type: 'okta' } } = {},
) {
  const sent: Sent[] = [];
  const failures: { report: DeliveryReport; cause?: DomainEvent }[] = [];
  const notifier = createNotifier({
    config: { groups: [group, quiet], ...(options.idp ? { idp: options.idp as any } : {}) },
    resolve: (t, index) => {
      if (t.name === options.unreadable)
        throw new TargetSourceError(`the environment variable URL_${t.name} … is not set`, 'Set it.');
      return {
        kind: t.kind,
        for: t.for,
        label: t.name ?? `#${index}`,
        url: `https://hooks.example/${t.name}/SECRETPATH`,
        masked: 'https://hooks.example/…',
        host: 'hooks.example',
        ...(t.kind === 'webhook' ? { secret: 's3cret' } : {}),
      };
    },
    send: async (resolved, message) => {
      sent.push({ target: resolved.label, message });
      return options.fail?.(resolved)
        ? { delivered: false, status: 503, attempts: 4, error: 'answered 503 (after 4 attempts)' }
        : { delivered: true, status: 200, attempts: 1 };
    },
    onFailure: async (report, cause) => {
      failures.push({ report, cause });
    },
  });
  return { notifier, sent, failures };
}

test("a new request reaches the approvers' targets only, with requester, hours, justification, ticket and the exact approve command", async () => {
  const { notifier, sent } = rig();
  await notifier.subscriber(created);
  await notifier.close();
  expect(sent.map((s) => s.target).sort()).toEqual(['all', 'approvers']);
  const message = sent[0]!.message;
  expect(message.audience).toBe('approvers');
  expect(message.facts).toEqual(
    expect.arrayContaining([
      { name: 'Requester', value: 'alice@contoso.com' },
      { name: 'For', value: '2 hours' },
      { name: 'Justification', value: 'INC-123: restart the DB node' },
      { name: 'Ticket', value: 'INC-123' },
      { name: 'Request', value: 'r-7k2m9q3a' },
    ]),
  );
  expect(message.command).toBe('ociaccess approve r-7k2m9q3a --requester alice@contoso.com');
  expect(message.next).toContain('ociaccess deny r-7k2m9q3a --requester alice@contoso.com');
});

test('an auto-approvable request tells the approvers that the sweep approves it', async () => {
  const { notifier, sent } = rig();
  await notifier.subscriber({ ...created, autoApprovable: true } as DomainEvent);
  await notifier.close();
  expect(sent[0]!.message.next).toMatch(/next sweep approves it/);
  expect(sent[0]!.message.command).toMatch(/^ociaccess deny /);
});

test.each([
  [
    'approved',
    approved,
    /Request r-7k2m9q3a approved: alice@contoso.com is in OCI-Temp-Admins until 2026-11-02T12:00:00Z/,
    'good',
  ],
  ['denied', denied, /Request r-7k2m9q3a of alice@contoso.com denied/, 'attention'],
  ['revoked', revoked, /Access of alice@contoso.com to OCI-Temp-Admins revoked/, 'attention'],
])("a decision (%s) reaches the requester's targets only", async (_name, event, title, tone) => {
  const { notifier, sent } = rig();
  await notifier.subscriber(event);
  await notifier.close();
  expect(sent.map((s) => s.target).sort()).toEqual(['all', 'people']);
  expect(sent[0]!.message).toMatchObject({ audience: 'requester', tone });
  expect(sent[0]!.message.title).toMatch(title);
});

test('a denial carries its reason, an approval its expiry and approver', async () => {
  const { notifier, sent } = rig();
  await notifier.subscriber(denied);
  await notifier.subscriber(approved);
  await notifier.close();
  const byTitle = (pattern: RegExp) => sent.find((s) => pattern.test(s.message.title))!.message;
  expect(byTitle(/denied/).facts).toContainEqual({ name: 'Reason', value: 'use the read-only group' });
  expect(byTitle(/approved/).facts).toEqual(
    expect.arrayContaining([
      { name: 'Until', value: '2026-11-02T12:00:00Z' },
      { name: 'Approved by', value: 'bob@contoso.com' },
    ]),
  );
});

test("a sweep's removals, failures, irrevocable removals, drift and untrusted records make ONE operators' message per group, sent at sweep.finished", async () => {
  const { notifier, sent } = rig();
  for (const event of sweepEvents) await notifier.subscriber(event);
  expect(sent).toHaveLength(0); // gathered, not sent one by one
  await notifier.subscriber(finished());
  await notifier.close();
  expect(sent.map((s) => s.target).sort()).toEqual(['all', 'ops']);
  const message = sent[0]!.message;
  expect(message).toMatchObject({ audience: 'operators', tone: 'attention' });
  expect(message.title).toBe('Sweep of OCI-Temp-Admins: 1 removed, 2 failed, 1 drift, 1 untrusted record(s)');
  expect(message.lines).toEqual([
    'IRREVOCABLE: frank@contoso.com still a member after 3 attempt(s): Insufficient privileges',
    'FAILED to remove dave@contoso.com: Graph answered 503',
    'untrusted record r-forged12 of alice@contoso.com (approver alice@contoso.com): self-approval',
    'drift: mallory@contoso.com is in the OCI group without an Entra membership (reported)',
    'removed alice@contoso.com (expired)',
  ]);
  expect(message.next).toMatch(/Remove what failed by hand/);
  expect(message.next).toMatch(/--fix-drift/);
  expect(message.events.map((e) => e.type)).toContain('sweep.finished');
});

test('on Okta the messages name Okta, its Admin Console and Push Groups, never Entra or a provisioning cycle', async () => {
  const { notifier, sent } = rig({ idp: { type: 'okta' } });
  await notifier.subscriber(revoked);
  for (const event of sweepEvents) await notifier.subscriber(event);
  await notifier.subscriber(finished({ stuck: 1 }));
  await notifier.close();
  const toRequester = sent.find((s) => s.message.audience === 'requester')!.message;
  expect(toRequester.next).toBe(
    "The membership is removed in Okta; OCI follows through Okta's Push Groups (within seconds). Request again if you still need access.",
  );
  const report = sent.find((s) => s.message.audience === 'operators')!.message;
  expect(report.lines).toContain(
    'drift: mallory@contoso.com is in the OCI group without an Okta membership (reported)',
  );
  expect(report.next).toMatch(/Okta Admin Console → Directory → Groups → the group → People/);
  expect(report.next).toMatch(/OCI lags Okta: `ociaccess doctor --as app` checks Push Groups/);
  for (const message of [toRequester, report]) expect(JSON.stringify(message)).not.toMatch(/Entra|provisioning cycle/);
});

test('a clean sweep that removed nobody sends nothing; one that found Graph unavailable does', async () => {
  const clean = rig();
  await clean.notifier.subscriber(finished({ outcome: 'clean', removed: 0, failed: 0, drift: 0, untrusted: 0 }));
  await clean.notifier.close();
  expect(clean.sent).toHaveLength(0);
  const unavailable = rig();
  await unavailable.notifier.subscriber(
    finished({ outcome: 'unavailable', removed: 0, failed: 0, drift: 0, untrusted: 0 }),
  );
  await unavailable.notifier.close();
  expect(unavailable.sent.map((s) => s.message.title)).toEqual([
    'Sweep of OCI-Temp-Admins: outcome unavailable',
    'Sweep of OCI-Temp-Admins: outcome unavailable',
  ]);
  expect(unavailable.sent[0]!.message.next).toMatch(/did not answer/);
});

test('a dry run tells nobody; what is gathered outside a sweep is sent when the command closes', async () => {
  const dry = rig();
  for (const event of sweepEvents) await dry.notifier.subscriber(event);
  await dry.notifier.subscriber(finished({ dryRun: true }));
  await dry.notifier.close();
  expect(dry.sent).toHaveLength(0);
  const revoke = rig();
  await revoke.notifier.subscriber(sweepEvents[1]!);
  expect(revoke.sent).toHaveLength(0);
  await revoke.notifier.close();
  expect(revoke.sent.map((s) => s.message.title)).toEqual([
    'Changes in OCI-Temp-Admins: 1 failed',
    'Changes in OCI-Temp-Admins: 1 failed',
  ]);
});

test('events of a group without targets, and of types nobody hears of, send nothing', async () => {
  const { notifier, sent } = rig();
  await notifier.subscriber({ ...created, group: { id: quiet.entraGroupId, name: 'Quiet' } } as DomainEvent);
  await notifier.subscriber(sweepEvents[6]!);
  await notifier.subscriber(sweepEvents[7]!);
  await notifier.close();
  expect(sent).toHaveLength(0);
});

test('a failed delivery and an unreadable target are reported with their cause, and neither throws', async () => {
  const { notifier, sent, failures } = rig({ fail: (t) => t.kind === 'teams', unreadable: 'all' });
  await expect(notifier.subscriber(created)).resolves.toBeUndefined();
  const reports = await notifier.close();
  expect(sent.map((s) => s.target)).toEqual(['approvers']);
  expect(reports.filter((r) => !r.delivered)).toHaveLength(2);
  expect(failures.map((f) => [f.report.target, f.report.attempts, f.report.error, f.cause?.type]).sort()).toEqual([
    ['all', 0, 'the environment variable URL_all … is not set', 'request.created'],
    ['approvers', 4, 'answered 503 (after 4 attempts)', 'request.created'],
  ]);
  expect(JSON.stringify(failures)).not.toContain('SECRETPATH');
});

test('the subscriber returns before the delivery completes (it never holds up the action)', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const notifier = createNotifier({
    config: { groups: [group] },
    resolve: (t) => ({
      kind: t.kind,
      for: t.for,
      label: t.name!,
      url: 'https://x/y',
      masked: 'https://x/…',
      host: 'x',
    }),
    send: async () => {
      await gate;
      return { delivered: true, status: 200, attempts: 1 };
    },
    onFailure: async () => undefined,
  });
  await notifier.subscriber(created); // resolves although no send has finished
  const closing = notifier.close();
  release();
  expect((await closing).every((r) => r.delivered)).toBe(true);
});

const HOSTILE = 'restart \u001b]0;pwned\u0007the node\u202e [the portal](https://evil.example) <!channel> & more';

test('remote text reaches every payload without control characters, capped, with links and mentions made inert', async () => {
  const { notifier, sent } = rig();
  await notifier.subscriber({ ...created, justification: `${HOSTILE} ${'x'.repeat(5000)}` } as DomainEvent);
  await notifier.close();
  const message = sent[0]!.message;
  const justification = message.facts.find((f) => f.name === 'Justification')!.value;
  expect(justification.length).toBeLessThanOrEqual(500);
  // eslint-disable-next-line no-control-regex
  expect(justification).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
  const teams = JSON.stringify(teamsPayload(message));
  expect(teams).not.toContain('](https://evil.example)');
  // Slack parses links and mentions only in mrkdwn (and the top-level text): remote text is escaped there, and sent as plain_text elsewhere.
  const slack = slackPayload({ ...message, title: HOSTILE, command: `ociaccess approve x ${HOSTILE}` }) as any;
  const mrkdwn = [slack.text, ...JSON.stringify(slack.blocks).match(/"type":"mrkdwn","text":"[^"]*"/g)!];
  expect(mrkdwn.join('\n')).toContain('&lt;!channel&gt; &amp; more');
  expect(mrkdwn.join('\n')).not.toMatch(/<!channel>/);
  expect(slack.blocks[1].fields.every((field: { type: string }) => field.type === 'plain_text')).toBe(true);
  const body = JSON.stringify(webhookPayload(message, 'd-1'));
  // eslint-disable-next-line no-control-regex
  expect(body).not.toMatch(/\\u001b|\\u0007|\u202e/);
  expect(body.length).toBeLessThan(20_000);
});

test('the Teams payload is the Workflows envelope around an Adaptive Card; the Slack payload has text and blocks (as the sink checks them)', () => {
  const message = {
    title: 'Access request r-1',
    tone: 'warning',
    audience: 'approvers',
    group: { id: GROUP_ID, name: 'G' },
    facts: [{ name: 'Requester', value: 'alice@contoso.com' }],
    lines: ['one'],
    next: 'Approve it:',
    command: 'ociaccess approve r-1 --requester alice@contoso.com',
    events: [],
  } as NotifyMessage;
  const teams = teamsPayload(message) as any;
  expect(teams).toMatchObject({
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: { type: 'AdaptiveCard', version: '1.4' },
      },
    ],
  });
  expect(JSON.stringify(teams)).toContain('ociaccess approve r-1 --requester alice@contoso.com');
  expect(teamsProblem(teams)).toBeUndefined();
  const slack = slackPayload(message) as any;
  expect(slack.text).toContain('Access request r-1');
  expect(slack.blocks[0]).toEqual({
    type: 'header',
    text: { type: 'plain_text', text: 'Access request r-1', emoji: false },
  });
  expect(JSON.stringify(slack.blocks)).toContain('ociaccess approve r-1 --requester alice@contoso.com');
  expect(slackProblem(slack)).toBeUndefined();
  expect(
    teamsProblem({
      type: 'message',
      attachments: [{ contentType: 'application/vnd.microsoft.teams.card.o365connector', content: {} }],
    }),
  ).toMatch(/Adaptive Cards only/);
  expect(slackProblem({ blocks: [{ type: 'section', text: { type: 'plain_text', text: 'x' } }] })).toBe('no_text');
});

test('the generic webhook signature verifies over timestamp and raw body, and fails when either changes or the timestamp is old', () => {
  const body = '{"type":"ociaccess.notification"}';
  const now = Date.UTC(2026, 10, 2, 10);
  const headers = signedHeaders('s3cret', body, now, 'd-1');
  const given = { timestamp: headers['x-ociaccess-timestamp'], signature: headers['x-ociaccess-signature'] };
  expect(given.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
  expect(headers['x-ociaccess-delivery']).toBe('d-1');
  expect(verifyWebhook('s3cret', given, body, now + 1000)).toBeUndefined();
  expect(verifyWebhook('s3cret', given, `${body} `, now)).toMatch(/does not match/);
  expect(verifyWebhook('other', given, body, now)).toMatch(/does not match/);
  expect(verifyWebhook('s3cret', { ...given, timestamp: String(Number(given.timestamp) + 1) }, body, now)).toMatch(
    /does not match/,
  );
  expect(verifyWebhook('s3cret', given, body, now + 6 * 60_000)).toMatch(/too far/);
});
