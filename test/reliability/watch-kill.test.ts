/**
 * `sweep --watch` killed with SIGKILL at random points, then started again:
 * the restarted watcher finishes every removal, and each removal is in the
 * audit log exactly once (none lost, none repeated). Real processes
 * (`node bin/ociaccess.js`), loopback only, a bounded number of rounds.
 *
 * Each round hand-adds people to the group (no grant: each is removed,
 * `no-grant`), starts a watcher on a fresh machine and kills it right after
 * the emulator handled its k-th request (k at random over the requests of
 * its first sweep), at once or a few milliseconds later; then starts a
 * watcher on the same machine, waits until the group is clean, and stops it
 * with SIGTERM (exit 0).
 *
 * A kill after Graph carried out the removal `$batch` and before the outcome
 * was appended used to lose the removals' entries (the restarted sweep finds
 * the members gone and has nothing to remove). The sweep now writes each
 * removal's intent ("pending") before the batch, so such a kill leaves the
 * intent: every removal has an entry, and never two outcomes. The rounds
 * print where each kill landed and which removals kept only their intent.
 */
import { jest } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SEED } from '../../src/emulator/seed.js';
import type { LoggedRequest } from '../../src/emulator/state.js';
import { startHarness, type Actor, type Harness } from '../support/harness.js';

jest.setTimeout(600_000);

const ROUNDS = Number(process.env.WATCH_KILL_ROUNDS ?? 6);
const HAND_ADDED = ['alice', 'bob', 'carol', 'dave', 'mallory'] as const;

let rig: Harness;
let onLog: ((entry: LoggedRequest) => void) | undefined;

beforeAll(async () => {
  rig = await startHarness({ cli: true });
  const world = rig.emu.world;
  const log = world.log.bind(world);
  world.log = (entry) => {
    const logged = log(entry);
    onLog?.(logged);
    return logged;
  };
});
afterAll(() => rig?.stop());

const realDelay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await realDelay(50);
  }
}

function handAdd(): void {
  rig.resetTenant();
  const group = rig.emu.world.groups.get(SEED.tempGroupId)!;
  for (const name of HAND_ADDED) group.members.add(SEED.users[name]);
}

const groupIsClean = () => rig.entraMembers().length === 1;

/** The removals in the machine's audit log, by user id: how many entries of the result asked for each has. */
async function removalsAudited(machine: Actor, result = 'ok'): Promise<Record<string, number>> {
  let text = '';
  try {
    text = await readFile(path.join(machine.home, 'audit.jsonl'), 'utf8');
  } catch {
    return {};
  }
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let entry: any;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (entry.action === 'remove' && entry.result === result)
      counts[entry.target.userId] = (counts[entry.target.userId] ?? 0) + 1;
  }
  return counts;
}

const WATCH = ['sweep', '--watch', '--interval', '5s', '--json'];

/** Starts a watcher and kills it after the emulator handled its k-th request (delayMs later). */
async function killAfter(machine: Actor, k: number, delayMs: number): Promise<string> {
  let seen = 0;
  const { child, exited } = rig.spawn(machine, WATCH);
  onLog = () => {
    seen += 1;
    if (seen === k) {
      if (delayMs === 0) child.kill('SIGKILL');
      else setTimeout(() => child.kill('SIGKILL'), delayMs);
    }
  };
  // The 30 s bound is cleared once the watcher has ended, so no timer outlives the test file.
  let bound: NodeJS.Timeout | undefined;
  const ended = await Promise.race([
    exited,
    new Promise<undefined>((resolve) => (bound = setTimeout(() => resolve(undefined), 30_000))),
  ]).finally(() => clearTimeout(bound));
  onLog = undefined;
  if (!ended) {
    child.kill('SIGKILL');
    await exited;
    return 'killed late';
  }
  return ended.signal === 'SIGKILL' ? `killed after request ${k}${delayMs ? ` +${delayMs}ms` : ''}` : 'ended';
}

/** A watcher that runs until the group is clean, then gets SIGTERM. */
async function finish(machine: Actor): Promise<{ code: number | null; stderr: string }> {
  const { child, exited } = rig.spawn(machine, WATCH);
  try {
    await until('the group to be clean', groupIsClean);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}: ${(await exited).stderr}`);
  }
  // One more wake-up after the removal, so that the sweep that made it has written everything down.
  await realDelay(500);
  child.kill('SIGTERM');
  const result = await exited;
  return { code: result.code, stderr: result.stderr };
}

test('killed at random points and restarted, the watcher finishes every removal: each audited, never twice', async () => {
  // An undisturbed first sweep: how many requests it makes.
  handAdd();
  const calibration = await rig.machine('cron', 'calibrate');
  let requests = 0;
  onLog = () => {
    requests += 1;
  };
  const probe = rig.spawn(calibration, WATCH);
  try {
    await until('the calibration sweep', groupIsClean);
  } catch (error) {
    probe.child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}: ${(await probe.exited).stderr}`);
  }
  probe.child.kill('SIGTERM');
  expect((await probe.exited).code).toBe(0);
  onLog = undefined;
  expect(Object.values(await removalsAudited(calibration))).toEqual(HAND_ADDED.map(() => 1));

  const where: string[] = [];
  const twice: string[] = [];
  const lost: string[] = [];
  const intentOnly: string[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    handAdd();
    const machine = await rig.machine('cron', `kill-${round}`);
    const k = 1 + Math.floor(Math.random() * requests);
    where.push(await killAfter(machine, k, Math.random() < 0.5 ? 0 : Math.floor(Math.random() * 20)));
    const finished = await finish(machine);
    expect(finished.code).toBe(0);
    expect(rig.entraMembers()).toEqual([`breakglass@${SEED.domain}`]);
    const audited = await removalsAudited(machine);
    const intended = await removalsAudited(machine, 'pending');
    for (const name of HAND_ADDED) {
      const count = audited[SEED.users[name]] ?? 0;
      const intents = intended[SEED.users[name]] ?? 0;
      if (count > 1) twice.push(`round ${round} (${where.at(-1)}): ${name} audited ${count} times`);
      if (count === 0 && intents === 0) lost.push(`round ${round} (${where.at(-1)}): ${name}`);
      if (count === 0 && intents > 0) intentOnly.push(`round ${round} (${where.at(-1)}): ${name}`);
    }
  }
  process.stderr.write(
    `watch-kill: ${where.join('; ')}\nremovals whose outcome the kill cut off (intent kept): ${intentOnly.length ? intentOnly.join('; ') : 'none'}\n`,
  );
  expect(twice).toEqual([]);
  expect(lost).toEqual([]);
});
