/**
 * A pim group's rules, as the CLI checks them before it sends anything: the
 * group's PIM policy (maximum duration, ticket, justification) and the
 * config's own maxHours, the stricter one winning. The service checks them
 * again; refusing here says the limit in the policy's own words, and
 * rewordRefusal says it the same way when only the service refused.
 */
import type { GroupConfig } from '../../config/schema.js';
import { ConfigError, OciAccessError, PolicyError } from '../../errors.js';
import type { CoreDeps } from '../deps.js';
import type { PimPolicy, PimPort } from './port.js';

export function requirePim(deps: CoreDeps, group: GroupConfig): PimPort {
  if (!deps.pim) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `${group.name} uses the "pim" backend, but this command has no PIM connection.`,
      { hint: 'Run it as a signed-in user (or the sweep as the automation app).' },
    );
  }
  return deps.pim;
}

/** The group's PIM policy; refused when PIM does not govern the group (a config that says "pim" for a group PIM does not know). */
export async function governingPolicy(pim: PimPort, group: GroupConfig): Promise<PimPolicy> {
  const policy = await pim.policy(group.entraGroupId);
  if (!policy) {
    throw new PolicyError(
      'PIM_NOT_GOVERNED',
      `${group.name} is configured with the "pim" backend, but PIM for Groups does not govern its membership.`,
      {
        hint: 'Bring the group under PIM in the Entra admin center (Identity Governance > Privileged Identity Management > Groups), or set "backend": "records" for it.',
      },
    );
  }
  return policy;
}

/** What a policy says, in one line (doctor and init print it): "at most 8 h, approval by 2 approver(s), justification required". */
export function describePolicy(policy: PimPolicy): string {
  const longest = policy.maxActivationHours === null ? 'no limit' : `at most ${policy.maxActivationHours} h`;
  const approval = policy.approvalRequired
    ? `approval by ${policy.approverIds.length + policy.approverGroupIds.length} approver(s)`
    : 'no approval';
  const needs = [policy.justificationRequired && 'justification', policy.ticketRequired && 'ticket'].filter(Boolean);
  return `${longest}, ${approval}${needs.length ? `, ${needs.join(' and ')} required` : ''}`;
}

/** The longest activation: the config's maxHours, or the policy's maximum when it is shorter. */
export function maxHoursOf(group: GroupConfig, policy: PimPolicy): number {
  return policy.maxActivationHours === null ? group.maxHours : Math.min(group.maxHours, policy.maxActivationHours);
}

const hoursText = (hours: number) =>
  Number.isInteger(hours) ? `${hours} hour${hours === 1 ? '' : 's'}` : `${Math.round(hours * 60)} minutes`;

function durationRefusal(group: GroupConfig, policy: PimPolicy, cause?: unknown): PolicyError {
  const max = maxHoursOf(group, policy);
  const byPolicy = policy.maxActivationHours !== null && policy.maxActivationHours <= group.maxHours;
  return new PolicyError(
    'DURATION_TOO_LONG',
    byPolicy
      ? `PIM allows at most ${hoursText(max)} for ${group.name}.`
      : `${group.name} allows at most ${hoursText(max)} (the config's maxHours).`,
    { hint: `Use --hours ${Number.isInteger(max) ? max : `${Math.round(max * 60)}m`} or less.`, cause },
  );
}

function ticketRefusal(group: GroupConfig, cause?: unknown): PolicyError {
  return new PolicyError('TICKET_REQUIRED', `${group.name}'s PIM policy requires a ticket: add --ticket.`, {
    hint: 'e.g. --ticket CHG-1234 (the ticket or incident the change belongs to).',
    cause,
  });
}

function justificationRefusal(group: GroupConfig, cause?: unknown): PolicyError {
  return new PolicyError('JUSTIFICATION_REQUIRED', `${group.name}'s PIM policy requires a justification.`, {
    hint: 'Add --justification "why you need it".',
    cause,
  });
}

/** Refuses, before anything is sent, what the policy (or the config) would refuse. */
export function checkAgainstPolicy(
  group: GroupConfig,
  policy: PimPolicy,
  input: { hours: number; justification?: string; ticket?: string },
): void {
  if (input.hours > maxHoursOf(group, policy)) throw durationRefusal(group, policy);
  if (policy.justificationRequired && !input.justification?.trim()) throw justificationRefusal(group);
  if (policy.ticketRequired && !input.ticket?.trim()) throw ticketRefusal(group);
}

/**
 * The service's refusal (pim-errors.ts' codes) in the policy's words: the
 * policy may have changed since it was read, or another rule was broken.
 */
export function rewordRefusal(error: unknown, group: GroupConfig, policy: PimPolicy | undefined): unknown {
  if (!(error instanceof OciAccessError) || !policy) return error;
  if (error.code === 'DURATION_TOO_LONG') return durationRefusal(group, policy, error);
  if (error.code === 'TICKET_REQUIRED') return ticketRefusal(group, error);
  if (error.code === 'JUSTIFICATION_REQUIRED') return justificationRefusal(group, error);
  return error;
}

/** PIM ends no activation within 5 minutes of its start (ActiveDurationTooShort): when one can try again. */
export const PIM_MIN_ACTIVE_MS = 5 * 60_000;

export function tooShortRefusal(startAt: Date | undefined, cause: unknown): PolicyError {
  const retryAt = startAt ? new Date(startAt.getTime() + PIM_MIN_ACTIVE_MS) : undefined;
  return new PolicyError(
    'PIM_ACTIVE_TOO_SHORT',
    `PIM does not end an activation within 5 minutes of its start${retryAt ? `: try again after ${retryAt.toISOString().slice(11, 16)} UTC` : ''}.`,
    {
      hint: retryAt
        ? `Run the same command again at ${retryAt.toISOString()} or later.`
        : 'Run the same command again in a few minutes.',
      cause,
      ...(retryAt ? { details: { retryAt: retryAt.toISOString() } } : {}),
    },
  );
}
