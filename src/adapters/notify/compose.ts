/**
 * What each domain event says, and to whom: a new request to the approvers
 * (with the command that approves it), a decision to the requester, and a
 * sweep's removals, failures, drift and untrusted records to the operators,
 * gathered into one message per sweep and group.
 */
import type { DomainEvent } from '../../core/events.js';
import { shellQuote } from '../../file-safety.js';
import { MAX_NAME, capLines, clean, type Audience, type NotifyFact, type NotifyMessage, type Tone } from './message.js';
import { idpWordsOf, type IdpWords } from '../../core/idp-words.js';

type EventOf<T extends DomainEvent['type']> = Extract<DomainEvent, { type: T }>;

/** The events the operators hear of, gathered until the sweep (or the command) ends. */
export type OperatorEvent = EventOf<'member.removed' | 'oci.drift-seen' | 'removal.irrevocable' | 'record.untrusted'>;

/** Who hears of an event at once; operator events are gathered (see OperatorEvent) and sweep.finished sends them. */
export function audienceOf(event: DomainEvent): Audience | 'gathered' | 'flush' | undefined {
  switch (event.type) {
    case 'request.created':
      return 'approvers';
    case 'request.approved':
    case 'request.denied':
    case 'grant.revoked':
      return 'requester';
    case 'member.removed':
      // A member already gone needs nobody's attention.
      return event.outcome === 'not-member' ? undefined : 'gathered';
    case 'oci.drift-seen':
    case 'removal.irrevocable':
    case 'record.untrusted':
      return 'gathered';
    case 'sweep.finished':
      return 'flush';
    default:
      // member.added and oci.removal-confirmed: the decision message already told the requester.
      return undefined;
  }
}

const name = (text: string) => clean(text, MAX_NAME);
const hoursText = (hours: number) => `${hours} hour${hours === 1 ? '' : 's'}`;
const utc = (iso: string) => clean(iso, 40).replace(/\.\d{3}Z$/, 'Z');

function base(
  event: DomainEvent,
  audience: Audience,
  title: string,
  tone: Tone,
  facts: (NotifyFact | false | undefined)[],
  next: string,
  command?: string,
): NotifyMessage {
  return {
    title,
    tone,
    audience,
    group: { id: name(event.group.id), name: name(event.group.name) },
    facts: facts.filter((fact): fact is NotifyFact => Boolean(fact) && (fact as NotifyFact).value !== ''),
    lines: [],
    next,
    ...(command ? { command } : {}),
    events: [event],
  };
}

/** The message an approver, requester event makes; undefined for events that go to the operators or to nobody. */
export function messageFor(event: DomainEvent, idp: IdpWords = idpWordsOf(undefined)): NotifyMessage | undefined {
  switch (event.type) {
    case 'request.created': {
      const upn = name(event.requester.upn);
      const id = name(event.requestId);
      const facts = [
        { name: 'Requester', value: upn },
        { name: 'Group', value: name(event.group.name) },
        { name: 'For', value: hoursText(event.hours) },
        { name: 'Justification', value: clean(event.justification) },
        event.ticket !== undefined && { name: 'Ticket', value: clean(event.ticket, MAX_NAME) },
        { name: 'Request', value: id },
      ];
      if (event.autoApprovable) {
        return base(
          event,
          'approvers',
          `Access request ${id}: ${upn} asks for ${hoursText(event.hours)} in ${name(event.group.name)}`,
          'info',
          facts,
          "Within the group's auto-approval rule: the next sweep approves it. Nothing to do unless you want to deny it:",
          `ociaccess deny ${shellQuote(id)} --requester ${shellQuote(upn)} --reason "…"`,
        );
      }
      return base(
        event,
        'approvers',
        `Access request ${id}: ${upn} asks for ${hoursText(event.hours)} in ${name(event.group.name)}`,
        'warning',
        facts,
        `Approve it with the command below, or deny it: ociaccess deny ${shellQuote(id)} --requester ${shellQuote(upn)} --reason "…"`,
        `ociaccess approve ${shellQuote(id)} --requester ${shellQuote(upn)}`,
      );
    }
    case 'request.approved': {
      const id = name(event.requestId);
      const by = event.auto ? "the group's auto-approval rule" : name(event.actor.upn);
      return base(
        event,
        'requester',
        `Request ${id} approved: ${name(event.requester.upn)} is in ${name(event.group.name)} until ${utc(event.expiresAt)}`,
        'good',
        [
          { name: 'Requester', value: name(event.requester.upn) },
          { name: 'Group', value: name(event.group.name) },
          { name: 'For', value: hoursText(event.hours) },
          { name: 'Until', value: utc(event.expiresAt) },
          { name: 'Approved by', value: by },
          event.reason !== undefined && { name: 'Note', value: clean(event.reason) },
        ],
        'Sign in to the OCI console (a new sign-in picks the group up). The access ends by itself; `ociaccess status` shows whether OCI has caught up.',
        'ociaccess status',
      );
    }
    case 'request.denied': {
      const id = name(event.requestId);
      return base(
        event,
        'requester',
        `Request ${id} of ${name(event.requester.upn)} denied`,
        'attention',
        [
          { name: 'Requester', value: name(event.requester.upn) },
          { name: 'Group', value: name(event.group.name) },
          { name: 'Denied by', value: name(event.actor.upn) },
          event.reason !== undefined && { name: 'Reason', value: clean(event.reason) },
        ],
        'Nothing was granted. Talk to the approver, or ask again with what the reason asks for (`ociaccess request`).',
      );
    }
    case 'grant.revoked': {
      const upn = name(event.requester.upn);
      return base(
        event,
        'requester',
        event.own
          ? `${upn} ended their access to ${name(event.group.name)}`
          : `Access of ${upn} to ${name(event.group.name)} revoked`,
        event.own ? 'info' : 'attention',
        [
          { name: 'Member', value: upn },
          { name: 'Group', value: name(event.group.name) },
          { name: 'Requests', value: event.requestIds.map(name).join(', ') },
          { name: 'By', value: name(event.actor.upn) },
          event.reason !== undefined && { name: 'Reason', value: clean(event.reason) },
        ],
        `The membership is removed in ${idp.name}; OCI follows through ${idp.nextPush}. Request again if you still need access.`,
      );
    }
    default:
      return undefined;
  }
}

/** One line of the operators' report for a gathered event. */
function lineOf(event: OperatorEvent, idp: IdpWords): string {
  switch (event.type) {
    case 'member.removed':
      return event.outcome === 'failed'
        ? `FAILED to remove ${name(event.member.upn)}: ${clean(event.error ?? 'unknown error', 200)}`
        : `removed ${name(event.member.upn)} (${clean(event.reason, 100)})`;
    case 'removal.irrevocable':
      return `IRREVOCABLE: ${name(event.member.upn)} still a member after ${event.attempts} attempt(s): ${clean(event.error, 200)}`;
    case 'oci.drift-seen':
      return `drift: ${name(event.userName)} is in the OCI group without an ${idp.name} membership (${event.state})`;
    case 'record.untrusted':
      return `untrusted record ${name(event.requestId)} of ${name(event.requester.upn)} (approver ${name(event.approver.upn)}): ${clean(event.problem, 200)}`;
  }
}

/**
 * The operators' one message for a group: what the sweep (or a command)
 * removed, failed to remove, found drifting and did not trust, with what to
 * do. Undefined when there is nothing to tell (a clean sweep that removed no one).
 */
export function operatorReport(
  group: { id: string; name: string },
  gathered: OperatorEvent[],
  finished?: EventOf<'sweep.finished'>,
  idp: IdpWords = idpWordsOf(undefined),
): NotifyMessage | undefined {
  const of = <T extends OperatorEvent['type']>(type: T) =>
    gathered.filter((event): event is EventOf<T> => event.type === type);
  const removed = of('member.removed').filter((event) => event.outcome === 'removed');
  const failed = of('member.removed').filter((event) => event.outcome === 'failed');
  const irrevocable = of('removal.irrevocable');
  const drift = of('oci.drift-seen');
  const untrusted = of('record.untrusted');
  const outcome = finished?.outcome;
  const troubled = outcome === 'failed' || outcome === 'unavailable' || (finished?.stuck ?? 0) > 0;
  if (gathered.length === 0 && !troubled) return undefined;

  const count = (n: number | undefined, fallback: number) => n ?? fallback;
  const counts = {
    removed: count(finished?.removed, removed.length),
    failed: count(finished?.failed, failed.length) + irrevocable.length,
    drift: count(finished?.drift, drift.length),
    untrusted: count(finished?.untrusted, untrusted.length),
    stuck: finished?.stuck ?? 0,
  };
  const tone: Tone =
    counts.failed > 0 || counts.untrusted > 0 || outcome === 'failed' || outcome === 'unavailable'
      ? 'attention'
      : counts.drift > 0 || counts.stuck > 0 || outcome === 'pending'
        ? 'warning'
        : 'info';
  const summary = [
    counts.removed && `${counts.removed} removed`,
    counts.failed && `${counts.failed} failed`,
    counts.stuck && `${counts.stuck} stuck in OCI`,
    counts.drift && `${counts.drift} drift`,
    counts.untrusted && `${counts.untrusted} untrusted record(s)`,
  ]
    .filter(Boolean)
    .join(', ');
  const what = finished ? `Sweep of ${name(group.name)}` : `Changes in ${name(group.name)}`;
  const title = `${what}: ${summary || (outcome ? `outcome ${outcome}` : 'report')}`;

  const next: string[] = [];
  if (irrevocable.length || failed.length || outcome === 'failed')
    next.push(
      `Remove what failed by hand (${idp.membersConsole}) and find out why: the sweep host's \`ociaccess audit\` has each attempt.`,
    );
  if (outcome === 'unavailable')
    next.push(
      'Graph or OCI did not answer: the next sweep tries again; check `ociaccess doctor --as app` if it persists.',
    );
  if (untrusted.length)
    next.push(
      "A decision the sweep does not trust was written: check the approver's account and who could write their record.",
    );
  if (drift.length || counts.stuck)
    next.push(
      `OCI lags ${idp.name}: \`ociaccess doctor --as app\` checks ${idp.carrier}; \`ociaccess sweep --fix-drift\` on the sweep host removes drift.`,
    );
  if (next.length === 0) next.push('Nothing to do: this is the record of what the sweep changed.');

  const lines = capLines(
    [...irrevocable, ...failed, ...untrusted, ...drift, ...removed].map((event) => lineOf(event, idp)),
  );
  const facts: NotifyFact[] = [{ name: 'Group', value: name(group.name) }];
  if (outcome) facts.push({ name: 'Outcome', value: outcome });
  facts.push({ name: 'Removed', value: String(counts.removed) }, { name: 'Failed', value: String(counts.failed) });
  if (counts.stuck) facts.push({ name: 'Stuck in OCI', value: String(counts.stuck) });
  if (counts.drift) facts.push({ name: 'Drift', value: String(counts.drift) });
  if (counts.untrusted) facts.push({ name: 'Untrusted records', value: String(counts.untrusted) });
  return {
    title,
    tone,
    audience: 'operators',
    group: { id: name(group.id), name: name(group.name) },
    facts,
    lines,
    next: next.join(' '),
    events: finished ? [...gathered, finished] : [...gathered],
  };
}

/** The message `notify test` sends. */
export function testMessage(
  group: { id: string; name: string },
  target: { label: string; kind: string; for: Audience[] },
  sentBy: string,
): NotifyMessage {
  return {
    title: `ociaccess test notification for ${name(group.name)}`,
    tone: 'good',
    audience: target.for[0] ?? 'operators',
    group: { id: name(group.id), name: name(group.name) },
    facts: [
      { name: 'Group', value: name(group.name) },
      { name: 'Target', value: `${name(target.label)} (${target.kind})` },
      { name: 'Receives', value: target.for.join(', ') },
      { name: 'Sent by', value: name(sentBy) },
    ],
    lines: [],
    next: 'Nothing to do: this shows that ociaccess reaches this channel.',
    events: [],
  };
}
