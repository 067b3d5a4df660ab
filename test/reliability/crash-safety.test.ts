/**
 * Crash safety: `approve`, `revoke` and `sweep` run as real processes
 * (`node bin/ociaccess.js …`) and are killed with SIGKILL at random points;
 * then the same command is run once more. After that one re-run:
 *
 * - the state file parses (and validates) — also right after the kill;
 * - the audit log verifies, and every complete entry written before the kill
 *   is still there, in order (right after the kill it is intact or ends in a
 *   torn line, never edited or short of an acknowledged entry);
 * - no grant record is lost: an approved request has its decision in Entra,
 *   in the approver's local state, and its membership;
 * - nobody is left in the group past expiry: the membership is exactly what
 *   the rule says (support/rule.ts).
 *
 * Where the kill lands: most trials kill right after the emulator has handled
 * the k-th request of the process (k uniform over the requests an undisturbed
 * run makes), either before the answer goes out (done remotely, never
 * acknowledged) or a few milliseconds later (while the process writes its
 * local files); the rest kill at a uniformly random time. The assertions hold
 * wherever the kill lands, so they do not depend on timing.
 *
 * CI runs a few trials per command; `npm run test:stress` runs at least 70
 * per command (210 in all) and prints the counts.
 */
import { jest } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../src/context.js';
import { SEED } from '../../src/emulator/seed.js';
import type { LoggedRequest } from '../../src/emulator/state.js';
import { openAuditLog } from '../../src/store/audit-log.js';
import { validateLocalState } from '../../src/store/state-store.js';
import { expectedMembers, memberIds } from './support/rule.js';
import { startHarness, upnOf, type Actor, type Harness } from '../support/harness.js';
import { reportTrials, tally, trials } from './support/trials.js';

jest.setTimeout(3_600_000);

let rig: Harness;
let onLog: ((entry: LoggedRequest) => void) | undefined;

beforeAll(async () => {
  rig = await startHarness({ logins: ['alice', 'bob', 'carol'], cli: true });
  const world = rig.emu.world;
  const log = world.log.bind(world);
  world.log = (entry) => {
    const logged = log(entry);
    onLog?.(logged);
    return logged;
  };
});
afterAll(() => rig?.stop());

const host = { clock: systemClock, pid: process.pid, hostname: os.hostname() };
const name = (id: string) => rig.emu.world.users.get(id)?.userPrincipalName ?? id;

async function requestAs(machine: Actor, hours: number): Promise<string> {
  const result = await rig.run(machine, ['request', '--hours', String(hours), '--justification', 'crash trial']);
  if (result.code !== 0) throw new Error(`request failed (exit ${result.code}): ${result.stderr}`);
  return result.stdout.trim();
}

async function approveAs(machine: Actor, id: string): Promise<void> {
  const result = await rig.run(machine, ['approve', id, '--yes']);
  if (result.code !== 0) throw new Error(`approve failed (exit ${result.code}): ${result.stderr}`);
}

/** Complete lines of the audit log (bytes after the last newline are a torn append). */
async function auditLines(machine: Actor): Promise<string[]> {
  const text = await readFile(path.join(machine.home, 'audit.jsonl'), 'utf8').catch(() => '');
  return text.split('\n').slice(0, -1);
}

async function stateProblem(machine: Actor): Promise<string | null> {
  const text = await readFile(path.join(machine.home, 'state.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return null;
  try {
    const checked = validateLocalState(JSON.parse(text));
    return checked.ok ? null : checked.problem;
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
}

async function localState(machine: Actor): Promise<any> {
  return JSON.parse(await readFile(path.join(machine.home, 'state.json'), 'utf8'));
}

interface KillPlan {
  kind: 'after-request' | 'at-time';
  request?: number;
  delayMs: number;
}

function planKill(requestCount: number, durationMs: number): KillPlan {
  if (Math.random() < 0.8) {
    const request = 1 + Math.floor(Math.random() * requestCount);
    const delayMs = Math.random() < 0.4 ? 0 : Math.floor(Math.random() * 25);
    return { kind: 'after-request', request, delayMs };
  }
  return { kind: 'at-time', delayMs: Math.floor(Math.random() * durationMs) };
}

/** Runs the command as a child and kills it as planned; says where the kill landed. */
async function runAndKill(
  machine: Actor,
  argv: string[],
  plan: KillPlan,
): Promise<{ outcome: string; requests: number }> {
  let seen = 0;
  let killedAt: number | undefined;
  const started = Date.now();
  const { child, exited } = rig.spawn(machine, argv);
  const kill = () => {
    if (killedAt === undefined) {
      killedAt = seen;
      child.kill('SIGKILL');
    }
  };
  onLog = () => {
    seen += 1;
    if (plan.kind === 'after-request' && seen === plan.request) {
      if (plan.delayMs === 0) kill();
      else setTimeout(kill, plan.delayMs);
    }
  };
  const timer = plan.kind === 'at-time' ? setTimeout(kill, plan.delayMs) : undefined;
  const result = await exited;
  clearTimeout(timer);
  onLog = undefined;
  if (result.signal !== 'SIGKILL') {
    // The command finished before the kill: it must have succeeded.
    expect(`exit ${result.code}: ${result.stderr}`).toMatch(/^exit (0|6):/);
    return { outcome: 'finished-before-kill', requests: seen };
  }
  const where = killedAt === 0 ? 'before-first-request' : `after-request-${killedAt}`;
  void started;
  return { outcome: `killed-${where}`, requests: seen };
}

/** What must hold right after a kill: files parse, the audit log is intact or ends in a torn line. */
async function checkAfterKill(machine: Actor): Promise<string[]> {
  expect(await stateProblem(machine)).toBeNull();
  const verification = await openAuditLog(machine.home, host).verify();
  if (!verification.ok) expect(verification.problem).toBe('truncated-line');
  return auditLines(machine);
}

/** What must hold after the re-run: files parse, the audit log verifies and still starts with what was there at the kill. */
async function checkAfterRerun(machine: Actor, linesAtKill: string[]): Promise<void> {
  expect(await stateProblem(machine)).toBeNull();
  expect(await openAuditLog(machine.home, host).verify()).toMatchObject({ ok: true });
  const lines = await auditLines(machine);
  expect(lines.slice(0, linesAtKill.length)).toEqual(linesAtKill);
}

/** Undisturbed run: how many requests the command makes and how long it takes. */
async function calibrate(machine: Actor, argv: string[]): Promise<{ requests: number; durationMs: number }> {
  let requests = 0;
  onLog = () => {
    requests += 1;
  };
  const started = Date.now();
  const result = await rig.spawn(machine, argv).exited;
  onLog = undefined;
  expect(`exit ${result.code}: ${result.stderr}`).toMatch(/^exit (0|6):/);
  return { requests, durationMs: Date.now() - started };
}

function decisionsOf(approver: keyof typeof SEED.users | 'group'): any[] {
  const holder =
    approver === 'group' ? rig.emu.world.groups.get(SEED.tempGroupId)! : rig.emu.world.users.get(SEED.users[approver])!;
  const records = holder.extensions.get('com.ociaccess.decisions')?.properties.records;
  return typeof records === 'string' ? JSON.parse(records) : [];
}

describe('crash safety: kill -9 at random points, then one re-run', () => {
  it('approve: the grant is recorded in Entra and locally, the member added, the files whole', async () => {
    const count = trials(3, 70);
    const outcomes = tally();
    const alice = await rig.machine('alice');
    const bob = await rig.machine('bob');
    rig.resetTenant();
    const calibration = await calibrate(bob, ['approve', await requestAs(alice, 2), '--yes']);
    for (let trial = 0; trial < count; trial += 1) {
      rig.resetTenant();
      const id = await requestAs(alice, 2);
      const { outcome } = await runAndKill(
        bob,
        ['approve', id, '--yes'],
        planKill(calibration.requests, calibration.durationMs),
      );
      const linesAtKill = await checkAfterKill(bob);
      const rerun = await rig.run(bob, ['approve', id, '--yes']);
      outcomes.add(`${outcome.replace(/-\d+$/, '')}/rerun-exit-${rerun.code}`);
      // 0: approved now or completed; 3: the first run had finished everything but the last audit line (REQUEST_NOT_PENDING, approved by you).
      expect({
        trial,
        outcome,
        ok: rerun.code === 0 || (rerun.code === 3 && /approved by you/.test(rerun.stderr)),
        stderr: rerun.stderr,
      }).toEqual({ trial, outcome, ok: true, stderr: rerun.stderr });
      await checkAfterRerun(bob, linesAtKill);
      // The grant: in bob's record in Entra, in bob's local state, and in effect.
      expect(decisionsOf('bob').filter((d) => d.r === id && d.d === 'a')).toHaveLength(1);
      expect((await localState(bob)).decisions[id]).toMatchObject({
        decision: 'approved',
        requesterId: SEED.users.alice,
      });
      expect(rig.entraMembers()).toEqual([upnOf('alice'), upnOf('breakglass')]);
    }
    reportTrials('crash-safety/approve', count, outcomes.counts);
  });

  it('revoke: the member is removed, the revocation recorded, the files whole', async () => {
    const count = trials(3, 70);
    const outcomes = tally();
    const alice = await rig.machine('alice');
    const bob = await rig.machine('bob');
    const argv = ['revoke', '--user', upnOf('alice'), '--reason', 'crash trial'];
    rig.resetTenant();
    await approveAs(bob, await requestAs(alice, 2));
    const calibration = await calibrate(bob, argv);
    for (let trial = 0; trial < count; trial += 1) {
      rig.resetTenant();
      const id = await requestAs(alice, 2);
      await approveAs(bob, id);
      const { outcome } = await runAndKill(bob, argv, planKill(calibration.requests, calibration.durationMs));
      const linesAtKill = await checkAfterKill(bob);
      const rerun = await rig.run(bob, argv);
      outcomes.add(`${outcome.replace(/-\d+$/, '')}/rerun-exit-${rerun.code}`);
      expect({ trial, outcome, ok: [0, 6].includes(rerun.code), stderr: rerun.stderr }).toEqual({
        trial,
        outcome,
        ok: true,
        stderr: expect.any(String),
      });
      await checkAfterRerun(bob, linesAtKill);
      expect(rig.entraMembers()).toEqual([upnOf('breakglass')]);
      expect(decisionsOf('bob').filter((d) => d.r === id && d.d === 'x')).toHaveLength(1);
    }
    reportTrials('crash-safety/revoke', count, outcomes.counts);
  });

  it('sweep: nobody past expiry or without a grant stays, every live grant keeps (or gets) its membership, the files whole', async () => {
    const count = trials(4, 70);
    const outcomes = tally();
    const alice = await rig.machine('alice');
    const bob = await rig.machine('bob');
    const carol = await rig.machine('carol');
    const cron = await rig.machine('cron');
    // alice: an expired grant, still a member, and every other trial a new 1-hour request the
    // rule auto-approves (every fourth: not a member any more, so the sweep must add her);
    // carol: a live grant; dave and mallory: added by hand; breakglass: standing.
    const setUp = async (trial: number) => {
      rig.resetTenant();
      await approveAs(bob, await requestAs(alice, 2));
      await approveAs(bob, await requestAs(carol, 4));
      await rig.advance({ minutes: 121 });
      for (const who of ['dave', 'mallory'])
        await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf(who) });
      if (trial % 4 === 1) rig.emu.world.groups.get(SEED.tempGroupId)!.members.delete(SEED.users.alice);
      if (trial % 2 === 1) await requestAs(alice, 1);
    };
    await setUp(0);
    const calibration = await calibrate(cron, ['sweep']);
    for (let trial = 0; trial < count; trial += 1) {
      await setUp(trial);
      // A fresh cron host per trial: resetTenant puts Entra and OCI back, and a host that
      // kept its ledger from the previous trial would be watching removals of a tenant
      // state that no longer exists (e.g. a removal 121 virtual minutes old: 'stuck').
      const host = await rig.machine('cron', `cron-trial-${trial}`);
      const { outcome } = await runAndKill(host, ['sweep'], planKill(calibration.requests, calibration.durationMs));
      const linesAtKill = await checkAfterKill(host);
      const rerun = await rig.run(host, ['sweep', '--json']);
      outcomes.add(`${outcome.replace(/-\d+$/, '')}/rerun-exit-${rerun.code}`);
      expect({
        trial,
        outcome,
        ok: [0, 6].includes(rerun.code),
        out: rerun.code === 0 || rerun.code === 6 ? '' : rerun.stdout + rerun.stderr,
      }).toEqual({ trial, outcome, ok: true, out: '' });
      await checkAfterRerun(host, linesAtKill);
      expect({ trial, outcome, members: memberIds(rig.emu.world).map(name) }).toEqual({
        trial,
        outcome,
        members: expectedMembers(rig.emu.world).map(name),
      });
    }
    reportTrials('crash-safety/sweep', count, outcomes.counts);
  });
});
