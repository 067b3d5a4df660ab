/**
 * Concurrency: several sweeps at once, on one host and on two hosts (separate
 * state directories) against one tenant, interleaved with approvals and with
 * grants that expire while a newer one is approved. What must hold:
 *
 * - after a sweep, the group's membership is exactly what the rule says
 *   (computed independently from the stored records, support/rule.ts);
 * - no member covered by a valid grant is ever removed: the emulator's group
 *   calls back on every removal, and a removal of someone whose grant was
 *   already live when every running sweep started is a violation outright;
 *   one whose grant was recorded while a sweep was between its read and its
 *   removal must be put back by that sweep (counted and reported);
 * - including a user whose grant was extended or re-approved (by a person or
 *   by the auto-approval rule) while an older grant expires.
 */
import { jest } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openAuditLog } from '../../src/store/audit-log.js';
import { validateLocalState } from '../../src/store/state-store.js';
import { systemClock } from '../../src/context.js';
import { SEED } from '../../src/emulator/seed.js';
import { expectedMembers, liveGrantExpiry, memberIds, watchRemovals } from './support/rule.js';
import { startHarness, upnOf, type Actor, type Harness } from '../support/harness.js';
import { reportTrials, tally, trials } from './support/trials.js';

jest.setTimeout(600_000);

let rig: Harness;
beforeAll(async () => {
  rig = await startHarness({ logins: ['alice', 'bob', 'carol'], cli: true });
});
afterAll(() => rig?.stop());
beforeEach(() => rig.resetTenant());

const U = SEED.users;
const machineFor = (name: 'alice' | 'bob' | 'carol' | 'cron') => rig.machine(name);
const nameOf = (id: string) => rig.emu.world.users.get(id)?.userPrincipalName ?? id;

async function requestAs(machine: Actor, hours: number, justification = 'reliability'): Promise<string | null> {
  const result = await rig.run(machine, ['request', '--hours', String(hours), '--justification', justification]);
  if (result.code === 3) return null; // already pending: fine in a random walk
  if (result.code !== 0) throw new Error(`request failed (exit ${result.code}): ${result.stderr}`);
  return result.stdout.trim();
}

async function approveAs(machine: Actor, id: string): Promise<number> {
  const result = await rig.run(machine, ['approve', id, '--yes']);
  if (![0, 3].includes(result.code)) throw new Error(`approve ${id} failed (exit ${result.code}): ${result.stderr}`);
  return result.code;
}

async function checkLocalFiles(machine: Actor): Promise<void> {
  const text = await readFile(path.join(machine.home, 'state.json'), 'utf8').catch(() => undefined);
  if (text !== undefined) expect(validateLocalState(JSON.parse(text)).ok).toBe(true);
  const verification = await openAuditLog(machine.home, {
    clock: systemClock,
    pid: process.pid,
    hostname: os.hostname(),
  }).verify();
  expect(verification).toMatchObject({ ok: true });
}

/** Removal bookkeeping for a stretch of time with sweeps running. */
function removalWatch() {
  const running = new Map<number, Set<string>>();
  let nextSweep = 0;
  const strict: string[] = [];
  const transient: string[] = [];
  const stop = watchRemovals(rig.emu.world, (userId) => {
    if (liveGrantExpiry(rig.emu.world, userId) === null) return;
    // Live now. Was it already live when every running sweep started?
    const starts = [...running.values()];
    if (starts.length > 0 && starts.every((liveAtStart) => liveAtStart.has(userId))) strict.push(nameOf(userId));
    else transient.push(nameOf(userId));
  });
  return {
    strict,
    transient,
    stop,
    /** Runs a sweep while noting who held a live grant when it started. */
    async sweep(machine: Actor, argv: string[] = ['sweep']) {
      const id = (nextSweep += 1);
      running.set(
        id,
        new Set([...rig.emu.world.users.keys()].filter((u) => liveGrantExpiry(rig.emu.world, u) !== null)),
      );
      try {
        return await rig.run(machine, argv);
      } finally {
        running.delete(id);
      }
    },
  };
}

describe('a grant extended or re-approved while an older grant expires is kept', () => {
  it('re-approved by a person: the older grant expiring does not remove the member', async () => {
    const alice = await rig.machine('alice');
    const bob = await rig.machine('bob');
    const cron = await rig.machine('cron');
    const first = (await requestAs(alice, 2))!;
    await approveAs(bob, first);
    await rig.advance({ minutes: 90 });
    const second = (await requestAs(alice, 3))!;
    expect(second).not.toBe(first);
    await approveAs(bob, second);
    await rig.advance({ minutes: 45 }); // the first grant has expired, the second has 2h15m left
    const watch = removalWatch();
    const result = await watch.sweep(cron, ['sweep', '--json']);
    watch.stop();
    expect([0, 6]).toContain(result.code);
    expect(watch.strict).toEqual([]);
    expect(watch.transient).toEqual([]);
    expect(rig.entraMembers()).toContain(upnOf('alice'));
    expect(memberIds(rig.emu.world)).toEqual(expectedMembers(rig.emu.world));
  });

  it('re-approved by the auto-approval rule in the same sweep that sees the older grant expired', async () => {
    const alice = await rig.machine('alice');
    const bob = await rig.machine('bob');
    const cron = await rig.machine('cron');
    await approveAs(bob, (await requestAs(alice, 2))!);
    await rig.advance({ minutes: 121 }); // expired, still a member
    const renewal = (await requestAs(alice, 1))!; // within the rule: alice, at most 1 hour
    const result = await rig.run(cron, ['sweep', '--json']);
    expect([0, 6]).toContain(result.code);
    expect(result.json.groups[0].autoApproved.map((a: any) => a.requestId)).toEqual([renewal]);
    // The auto-approval is live, so the membership must survive the expired grant.
    expect(liveGrantExpiry(rig.emu.world, U.alice)).not.toBeNull();
    expect(rig.entraMembers()).toContain(upnOf('alice'));
    expect(memberIds(rig.emu.world)).toEqual(expectedMembers(rig.emu.world));
  });
});

describe('a removal racing an approval', () => {
  it('an approval recorded (and its add answered "already a member") between the sweep\'s read and its removal: the sweep puts the member back', async () => {
    const alice = await machineFor('alice');
    const bob = await machineFor('bob');
    const cron = await machineFor('cron');
    await approveAs(bob, (await requestAs(alice, 2))!);
    await rig.advance({ minutes: 121 }); // expired, still a member
    const renewal = (await requestAs(alice, 3))!; // not auto-approvable: needs bob
    // Bob's approval lands after the sweep read the records and before its removal
    // (his add then answered "already a member"): written here, at the removal.
    let raced = false;
    const stop = watchRemovals(rig.emu.world, (userId) => {
      if (userId !== U.alice || raced) return;
      raced = true;
      const bobUser = rig.emu.world.users.get(U.bob)!;
      const nowS = rig.emu.world.now() / 1000;
      const extension = bobUser.extensions.get('com.ociaccess.decisions')!;
      const records = JSON.parse(String(extension.properties.records));
      records.push({
        r: renewal,
        u: U.alice,
        g: SEED.tempGroupId,
        d: 'a',
        a: nowS,
        e: Math.floor(nowS) + 3 * 3600,
        h: 3,
      });
      extension.properties = { ...extension.properties, records: JSON.stringify(records) };
    });
    const result = await rig.run(cron, ['sweep', '--json']);
    stop();
    expect(raced).toBe(true);
    expect([0, 6]).toContain(result.code);
    expect(liveGrantExpiry(rig.emu.world, U.alice)).not.toBeNull();
    expect(rig.entraMembers()).toContain(upnOf('alice'));
    expect(memberIds(rig.emu.world)).toEqual(expectedMembers(rig.emu.world));
  });
});

describe('10 sweeps at once on one host', () => {
  it('one does the work, none removes a grant holder, the membership is what the rule says, the files stay whole', async () => {
    const alice = await rig.machine('alice');
    const carol = await rig.machine('carol');
    const bob = await rig.machine('bob');
    const cron = await rig.machine('cron');
    await approveAs(bob, (await requestAs(alice, 2))!);
    await approveAs(bob, (await requestAs(carol, 4))!);
    await rig.advance({ minutes: 150 }); // alice expired, carol live
    await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf('dave') }); // added by hand
    await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf('mallory') });
    const removed: string[] = [];
    const stop = watchRemovals(rig.emu.world, (userId) => removed.push(nameOf(userId)));
    const children = Array.from({ length: 10 }, () => rig.spawn(cron, ['sweep', '--json']));
    const results = await Promise.all(children.map((c) => c.exited));
    stop();
    for (const result of results)
      expect([0, 6].includes(result.code ?? -1) ? 'ok' : `exit ${result.code}: ${result.stderr}`).toBe('ok');
    // Exactly the three the rule removes, each once (the host's sweep lock serializes the sweeps).
    expect(removed.sort()).toEqual([upnOf('alice'), upnOf('dave'), upnOf('mallory')].sort());
    expect(rig.entraMembers()).toEqual([upnOf('breakglass'), upnOf('carol')]);
    expect(memberIds(rig.emu.world)).toEqual(expectedMembers(rig.emu.world));
    await checkLocalFiles(cron);
  });
});

describe('sweeps from two hosts interleaved with approvals', () => {
  it('never remove a live grant and leave the membership exactly as the rule says', async () => {
    const rounds = trials(4, 60);
    const alice = await rig.machine('alice');
    const carol = await rig.machine('carol');
    const bob = await rig.machine('bob');
    const carolApproving = carol;
    const hostA = await rig.machine('cron', 'host-a');
    const hostB = await rig.machine('cron', 'host-b');
    const outcomes = tally();
    const watch = removalWatch();
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const random = (n: number) => Math.floor(Math.random() * n);
    try {
      for (let round = 0; round < rounds; round += 1) {
        await rig.advance({ minutes: random(200) });
        // Alice asks for 1 hour (auto-approvable) or 2–3 (needs a person); carol for 1–4.
        const aliceRequest = await requestAs(alice, 1 + random(3), `round ${round}`);
        const carolRequest = await requestAs(carol, 1 + random(4), `round ${round}`);
        if (random(3) === 0) await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf('dave') });
        const sweeps = [hostA, hostB].map(async (host) => {
          await pause(random(300));
          return watch.sweep(host, ['sweep', '--json']);
        });
        const approvals = [
          aliceRequest
            ? (async () => {
                await pause(random(600));
                return approveAs(carolApproving, aliceRequest);
              })()
            : Promise.resolve(-1),
          carolRequest
            ? (async () => {
                await pause(random(600));
                return approveAs(bob, carolRequest);
              })()
            : Promise.resolve(-1),
        ];
        const [sweepResults] = await Promise.all([Promise.all(sweeps), Promise.all(approvals)]);
        for (const result of sweepResults) {
          expect(
            [0, 6].includes(result.code ?? -1) ? 'ok' : `exit ${result.code}: ${result.stderr}\n${result.stdout}`,
          ).toBe('ok');
          outcomes.add(`sweep-exit-${result.code}`);
        }
        // A quiet sweep on each host after the storm: the membership is exactly what the rule says.
        for (const host of [hostA, hostB]) {
          const settle = await watch.sweep(host, ['sweep', '--json']);
          expect([0, 6].includes(settle.code) ? 'ok' : `exit ${settle.code}: ${settle.stderr}\n${settle.stdout}`).toBe(
            'ok',
          );
        }
        expect(memberIds(rig.emu.world).map(nameOf)).toEqual(expectedMembers(rig.emu.world).map(nameOf));
        expect(watch.strict).toEqual([]);
      }
    } finally {
      watch.stop();
      outcomes.counts['transient-removals-healed'] = watch.transient.length;
      reportTrials('concurrency/two-hosts-with-approvals', rounds, outcomes.counts);
    }
    await checkLocalFiles(hostA);
    await checkLocalFiles(hostB);
  });
});
