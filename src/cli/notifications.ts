/**
 * Notifications as a command uses them: targets read from this machine's
 * files and environment, sent through the project's HTTP connections within
 * a time budget, and every failure told on stderr and written to the audit
 * log (`notify`, result failed, target kind and host only). Nothing here can
 * fail or hold up the command beyond the budget.
 *
 * Plugging into the event port (cli/services.ts): make one notifier per
 * command, subscribe it, and close it before the command returns:
 *
 *   const notifier = commandNotifier({ ctx, out, config, clock, audit });
 *   events.subscribe(notifier.subscriber);
 *   …
 *   await notifier.close();
 */
import type { Clock, Context } from '../context.js';
import { proxySettings } from '../adapters/http/proxy.js';
import type { Config } from '../config/schema.js';
import type { AuditInput } from '../core/deps.js';
import type { DomainEvent } from '../core/events.js';
import type { Output } from './output.js';
import {
  createNotifier,
  httpPost,
  resolveTarget,
  sendWith,
  type DeliveryReport,
  type Notifier,
} from '../adapters/notify/index.js';
import type { NotifierOptions } from '../adapters/notify/dispatcher.js';

/** The time budget of one delivery (every attempt and wait) in a command a person waits for. */
export const INTERACTIVE_BUDGET_MS = 5_000;
/** … and in a sweep, which nobody watches. */
export const UNATTENDED_BUDGET_MS = 30_000;
/** Sets the budget in seconds, for every command. */
export const NOTIFY_BUDGET_ENV = 'OCIACCESS_NOTIFY_BUDGET_SECONDS';

export interface NotifyWiring {
  ctx: Context;
  out: Output;
  config: Config;
  /** The command's clock (the emulator-aware one, from the services); default ctx.clock. */
  clock?: Clock;
  /** Writes an audit entry (the services' audit log); failures are still warned about without it. */
  audit?: (entry: AuditInput) => Promise<unknown>;
  /** A sweep: the longer budget. */
  unattended?: boolean;
}

export function notifyBudgetMs(env: Readonly<Record<string, string | undefined>>, unattended = false): number {
  const seconds = Number(env[NOTIFY_BUDGET_ENV]);
  if (Number.isFinite(seconds) && seconds > 0) return seconds * 1000;
  return unattended ? UNATTENDED_BUDGET_MS : INTERACTIVE_BUDGET_MS;
}

/** How targets are read and sent to on this machine. */
export function notifyTransport(wiring: NotifyWiring): Pick<NotifierOptions, 'resolve' | 'send'> {
  const { ctx, config } = wiring;
  const clock = wiring.clock ?? ctx.clock;
  const now = () => clock.now().getTime();
  const budgetMs = notifyBudgetMs(ctx.env, wiring.unattended);
  return {
    resolve: (target, index) =>
      resolveTarget(target, index, { env: ctx.env, cwd: ctx.cwd, files: { platform: ctx.platform, uid: ctx.uid } }),
    send: sendWith({
      post: httpPost(config.tls.caFile, budgetMs, now, proxySettings(ctx.env, config.network)),
      budgetMs,
      now,
      sleep: (ms, signal) => clock.sleep(ms, signal),
      signal: ctx.abortSignal,
      uuid: () => ctx.ids.uuid(),
    }),
  };
}

/** The failure as one line on stderr: what failed, why, and that the action stands. */
export function failureWarning(report: DeliveryReport): string {
  return (
    `Notification to the ${report.kind} target "${report.target}" (${report.host}) of group ${report.group} failed` +
    `${report.attempts > 0 ? ` after ${report.attempts} attempt${report.attempts === 1 ? '' : 's'}` : ''}: ${report.error ?? 'unknown error'}.` +
    ` The action itself is done; check the target with \`ociaccess notify test --group ${report.group}\`.`
  );
}

function auditEntry(report: DeliveryReport, cause: DomainEvent | undefined): AuditInput {
  return {
    actor: cause?.actor ?? { id: 'unknown', upn: 'unknown', kind: 'user' },
    action: 'notify',
    target: {
      ...(cause ? { groupId: cause.group.id } : {}),
      groupName: report.group,
      ...(cause && 'requestId' in cause && cause.requestId ? { requestId: cause.requestId } : {}),
    },
    reason: report.error ?? undefined,
    result: 'failed',
    // Kind and host only: the URL's path and query are the secret.
    details: {
      targetKind: report.kind,
      host: report.host,
      about: report.about,
      attempts: report.attempts,
      status: report.status,
    },
  };
}

/** The notifications subscriber for one command; see the top of this file for how it plugs in. */
export function commandNotifier(wiring: NotifyWiring): Notifier {
  return createNotifier({
    config: wiring.config,
    ...notifyTransport(wiring),
    async onFailure(report, cause) {
      wiring.out.warn(failureWarning(report));
      if (!wiring.audit) return;
      try {
        await wiring.audit(auditEntry(report, cause));
      } catch (error) {
        wiring.out.warn(
          `The failed notification could not be written to the audit log either: ${(error as Error)?.message ?? 'unknown error'}.`,
        );
      }
    },
  });
}
