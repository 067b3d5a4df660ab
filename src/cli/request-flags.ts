/**
 * The flags `request` and `extend` share (group, hours, justification, ticket,
 * --wait and its timeout), declared and checked in one place: both refuse a
 * bad flag before anything is read or sent, with the same words.
 */
import type { Command } from 'commander';
import { checkJustification, checkTicket, parseDuration, parseHours } from './args.js';
import { findGroup } from '../config/groups.js';
import type { GroupConfig } from '../config/schema.js';
import { checkRequestHours } from '../core/lifecycle.js';
import type { CommandEnv } from './command-env.js';

export interface RequestFlags {
  group?: string;
  hours?: string;
  justification?: string;
  ticket?: string;
  wait?: boolean;
  timeout?: string;
}

export interface CheckedRequest {
  group: GroupConfig;
  hours: number;
  justification: string;
  ticket: string | undefined;
  /** How long --wait waits (0 without --wait). */
  timeoutMs: number;
}

/** Declares the shared flags; `help` words what differs (what the hours count from, what is waited for). */
export function addRequestOptions(
  command: Command,
  help: { hours: string; justification: string; wait: string },
): Command {
  return command
    .option('-g, --group <name>', 'managed group (default: defaultGroup from the config)')
    .option('-H, --hours <duration>', help.hours)
    .option('-j, --justification <text>', help.justification)
    .option('-t, --ticket <id>', 'a ticket or incident id')
    .option('--wait', help.wait)
    .option('--timeout <duration>', 'how long --wait waits (e.g. 30m, 1h)', '10m');
}

/** Flags first: nothing is read or sent when they are wrong; then the group and its limits from the config. */
export async function readRequestFlags(env: CommandEnv, options: RequestFlags): Promise<CheckedRequest> {
  const justification = checkJustification(options.justification);
  const ticket = checkTicket(options.ticket);
  const hoursFlag = options.hours === undefined ? undefined : parseHours(options.hours);
  const timeoutMs = options.wait ? parseDuration(options.timeout ?? '10m', '--timeout') : 0;
  const group = findGroup(await env.config(), options.group);
  const hours = hoursFlag ?? (group.defaultHours || parseHours(undefined));
  checkRequestHours(group, hours);
  return { group, hours, justification, ticket, timeoutMs };
}

/** Who can approve: never the requester, who cannot approve their own request. */
export function approversOtherThan(
  approvers: readonly string[],
  requesterUpn: string,
  id: string,
  groupName: string,
): string {
  const others = approvers.filter((upn) => upn.toLowerCase() !== requesterUpn.toLowerCase());
  if (others.length === 0) {
    return `Next: ${groupName} names no approver but you, and nobody approves their own request: ask an admin to add an approver to the config (groups[].approvers).`;
  }
  return `Next: an approver (${others.join(', ')}) runs \`ociaccess approve ${id}\`.`;
}
