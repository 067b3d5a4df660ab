/**
 * What the fault-injection suites share (faults.test.ts, faults-throttled.test.ts):
 * an actor whose requests give up after 2 s, the "succeeded or failed clearly"
 * rule, running a command until it succeeds, and reading the emulator's request
 * log for early and throttled requests.
 */
import { expect } from '@jest/globals';
import type { LoggedRequest } from '../../../src/emulator/state.js';
import type { Actor, Harness, RunResult } from '../../support/harness.js';
import type { tally } from './trials.js';
import { untrueAuditEntries, auditEntries } from './truth.js';

/** A request that gets no answer fails after 2 s here (the default is 30 s). */
export async function faultsMachine(rig: Harness, name: 'alice' | 'bob' | 'cron'): Promise<Actor> {
  const m = await rig.machine(name);
  m.env.OCIACCESS_HTTP_TIMEOUT_SECONDS = '2';
  return m;
}

const CLEAR_UPSTREAM_ERROR = /^error: .*(Microsoft Graph|OCI|Entra|identity domain).* \[[A-Z_]+\]\nhint: \S/m;

/** A sweep's report line for what stayed unavailable, naming the service. */
const UNAVAILABLE_IN_REPORT = /^ {2}(UNAVAILABLE|FAILED) +.*(Microsoft Graph|OCI)/m;

/**
 * A result is acceptable when it succeeded, or failed as "upstream unavailable"
 * (exit 5) with a clear message: an error line naming the service, its code and
 * a hint, or — for a sweep, which reports instead of stopping — report lines
 * naming what could not be done and why.
 */
export function acceptable(result: RunResult, okCodes: number[]): boolean {
  if (okCodes.includes(result.code)) return true;
  return result.code === 5 && (CLEAR_UPSTREAM_ERROR.test(result.stderr) || UNAVAILABLE_IN_REPORT.test(result.stdout));
}

/**
 * Each command is a new process, hence a new client: a Retry-After given to an
 * earlier command does not bind the next one (the emulator keys clients by
 * credential, and a person's commands share one).
 */
export function newProcess(rig: Harness): void {
  rig.emu.world.retryNotBefore.clear();
}

export interface Attempted {
  result: RunResult;
  attempts: RunResult[];
}

/**
 * Runs a command until it succeeds (at most `max` times). Every attempt must be
 * acceptable, and after every attempt its "ok" audit entries must be true.
 */
export async function untilDone(
  rig: Harness,
  machine: Actor,
  argv: string[],
  okCodes: number[],
  log: ReturnType<typeof tally>,
  max = 6,
): Promise<Attempted> {
  const attempts: RunResult[] = [];
  for (let i = 0; i < max; i += 1) {
    const before = (await auditEntries(machine.home)).length;
    newProcess(rig);
    const result = await rig.run(machine, argv);
    attempts.push(result);
    log.add(`${argv[0]}-exit-${result.code}`);
    expect(
      acceptable(result, okCodes)
        ? 'acceptable'
        : `${argv.join(' ')}: exit ${result.code}\n${result.stderr}\n${result.stdout}`,
    ).toBe('acceptable');
    expect(await untrueAuditEntries(rig.emu.world, machine.home, before)).toEqual([]);
    if (okCodes.includes(result.code)) return { result, attempts };
  }
  throw new Error(
    `\`ociaccess ${argv.join(' ')}\` did not succeed in ${max} attempts:\n${attempts.map((a) => a.stderr).join('\n')}`,
  );
}

/** Requests (and $batch items) sent before their Retry-After. */
export function earlyRequests(entries: LoggedRequest[]): string[] {
  const out: string[] = [];
  for (const entry of entries) {
    if (entry.early !== undefined) out.push(`${entry.method} ${entry.path} ${entry.early} ms early`);
    for (const item of entry.batchItems ?? [])
      if (item.early !== undefined) out.push(`$batch ${item.method} ${item.url} ${item.early} ms early`);
  }
  return out;
}

/** Answers (and $batch items) that were 429. */
export function throttled(entries: LoggedRequest[]): number {
  return entries.reduce(
    (n, e) => n + (e.status === 429 ? 1 : 0) + (e.batchItems ?? []).filter((i) => i.status === 429).length,
    0,
  );
}
