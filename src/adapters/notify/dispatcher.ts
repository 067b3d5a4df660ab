/**
 * The notifications subscriber of the domain-event port: it routes each
 * event to the targets of its group that take that audience (a new request →
 * "approvers", a decision → "requester", a sweep's findings → "operators",
 * gathered into one message per sweep and group), and sends in the
 * background. The subscriber itself never waits for the network and never
 * throws, so the action that emitted the event goes on; `close()` waits for
 * what is still being sent (each delivery bounded by its time budget) and
 * sends what was gathered but not yet flushed.
 */
import type { Config, GroupConfig, NotifyTargetConfig } from '../../config/schema.js';
import type { DomainEvent } from '../../core/events.js';
import { audienceOf, messageFor, operatorReport, type OperatorEvent } from './compose.js';
import type { Audience, NotifyMessage } from './message.js';
import { TargetSourceError, targetLabel, type ResolvedTarget } from './targets.js';
import type { DeliveryResult } from './send.js';
import { idpWordsOf } from '../../core/idp-words.js';

/** What the event port calls: the notifications subscriber. */
export type EventSubscriber = (event: DomainEvent) => Promise<void>;

/** One delivery's outcome, as `notify test` and the failure report show it. */
export interface DeliveryReport {
  group: string;
  target: string;
  kind: NotifyTargetConfig['kind'];
  /** "https://host/…", or "(unknown)" when the URL could not be read. */
  host: string;
  for: Audience[];
  /** What was sent: the event type that caused it, "sweep.report" or "test". */
  about: string;
  delivered: boolean;
  status: number | null;
  attempts: number;
  error: string | null;
}

export interface NotifierOptions {
  config: Pick<Config, 'groups' | 'idp'>;
  /** Reads the target's URL and secret (targets.ts, resolveTarget); throws TargetSourceError when it cannot. */
  resolve(target: NotifyTargetConfig, index: number): ResolvedTarget;
  /** Shapes the message for the target's kind and delivers it (never throws). */
  send(target: ResolvedTarget, message: NotifyMessage): Promise<DeliveryResult>;
  /** Told of every delivery that failed: warns on stderr and writes the audit entry. Must not throw. */
  onFailure(report: DeliveryReport, cause: DomainEvent | undefined): Promise<void>;
}

export interface Notifier {
  /** Subscribe this to the event port (`events.subscribe(notifier.subscriber)`). */
  subscriber: EventSubscriber;
  /** Sends what was gathered for the operators and waits for every delivery; the reports of all of them. */
  close(): Promise<DeliveryReport[]>;
}

function groupOf(config: Pick<Config, 'groups'>, event: DomainEvent): GroupConfig | undefined {
  return (
    config.groups.find((group) => group.entraGroupId.toLowerCase() === event.group.id.toLowerCase()) ??
    config.groups.find((group) => group.name === event.group.name)
  );
}

export function createNotifier(options: NotifierOptions): Notifier {
  const inFlight = new Set<Promise<DeliveryReport>>();
  const reports: DeliveryReport[] = [];
  /** Operator events gathered per configured group (by Entra id), until sweep.finished or close(). */
  const gathered = new Map<string, { group: GroupConfig; event: DomainEvent; events: OperatorEvent[] }>();

  const sendTo = (group: GroupConfig, audience: Audience, message: NotifyMessage, cause: DomainEvent | undefined) => {
    (group.notify ?? []).forEach((target, index) => {
      if (!target.for.includes(audience)) return;
      const delivery = deliverOne(group, target, index, message, cause);
      inFlight.add(delivery);
      void delivery.then((report) => {
        inFlight.delete(delivery);
        reports.push(report);
      });
    });
  };

  const deliverOne = async (
    group: GroupConfig,
    target: NotifyTargetConfig,
    index: number,
    message: NotifyMessage,
    cause: DomainEvent | undefined,
  ): Promise<DeliveryReport> => {
    const about = cause ? (message.audience === 'operators' ? 'sweep.report' : cause.type) : 'report';
    const report = await deliverToTarget(options, group, target, index, message, about);
    if (!report.delivered) await options.onFailure(report, cause).catch(() => undefined);
    return report;
  };

  const flush = (key: string, finished?: Extract<DomainEvent, { type: 'sweep.finished' }>) => {
    const entry = gathered.get(key);
    gathered.delete(key);
    const group = entry?.group ?? (finished ? groupOf(options.config, finished) : undefined);
    if (!group) return;
    const report = operatorReport(
      { id: group.entraGroupId, name: group.name },
      entry?.events ?? [],
      finished,
      idpWordsOf(options.config),
    );
    if (report) sendTo(group, 'operators', report, finished ?? entry?.event);
  };

  const subscriber: EventSubscriber = async (event) => {
    try {
      const audience = audienceOf(event);
      if (!audience) return;
      const group = groupOf(options.config, event);
      if (!group || (group.notify ?? []).length === 0) return;
      const key = group.entraGroupId.toLowerCase();
      if (audience === 'gathered') {
        const entry = gathered.get(key) ?? { group, event, events: [] };
        entry.events.push(event as OperatorEvent);
        gathered.set(key, entry);
        return;
      }
      if (audience === 'flush') {
        const finished = event as Extract<DomainEvent, { type: 'sweep.finished' }>;
        // A dry run changed nothing: nobody is told of what it would have done.
        if (finished.dryRun) {
          gathered.delete(key);
          return;
        }
        flush(key, finished);
        return;
      }
      const message = messageFor(event, idpWordsOf(options.config));
      if (message) sendTo(group, audience, message, event);
    } catch {
      // A notification must never fail the action: a bug here loses a message, not the change.
    }
  };

  return {
    subscriber,
    async close() {
      // What was gathered outside a sweep (a revoke's removal, a failure): sent when the command ends.
      for (const key of [...gathered.keys()]) flush(key);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      return [...reports];
    },
  };
}

/** Reads the target's sources and delivers `message` to it; the outcome, never an exception. */
export async function deliverToTarget(
  options: Pick<NotifierOptions, 'resolve' | 'send'>,
  group: GroupConfig,
  target: NotifyTargetConfig,
  index: number,
  message: NotifyMessage,
  about: string,
): Promise<DeliveryReport> {
  const base = {
    group: group.name,
    target: targetLabel(target, index),
    kind: target.kind,
    for: [...target.for],
    about,
  };
  try {
    const resolved = options.resolve(target, index);
    const result = await options.send(resolved, message);
    return {
      ...base,
      host: resolved.masked,
      delivered: result.delivered,
      status: result.status ?? null,
      attempts: result.attempts,
      error: result.error ?? null,
    };
  } catch (error) {
    // A source that cannot be read (TargetSourceError) names the file or variable; anything else is ours, said without its text.
    const said =
      error instanceof TargetSourceError ? error.message : `could not be sent (${(error as Error)?.name ?? 'error'})`;
    return { ...base, host: '(unknown)', delivered: false, status: null, attempts: 0, error: said };
  }
}

/** The reports of one test message to every target of `groups`, sent side by side. */
export function sendTestMessages(
  options: Pick<NotifierOptions, 'resolve' | 'send'>,
  groups: GroupConfig[],
  message: (group: GroupConfig, target: NotifyTargetConfig, label: string) => NotifyMessage,
): Promise<DeliveryReport[]> {
  return Promise.all(
    groups.flatMap((group) =>
      (group.notify ?? []).map((target, index) =>
        deliverToTarget(options, group, target, index, message(group, target, targetLabel(target, index)), 'test'),
      ),
    ),
  );
}
