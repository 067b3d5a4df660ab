/**
 * The sweep lock on a state directory shared by hosts (security issue 7): a
 * Kubernetes CronJob gives every run a new pod, so a new host name, and one
 * OOM kill used to leave a lock that silenced every later sweep for 6 hours
 * ("already running", exit 0) while expired grants stayed. The lock is now
 * judged by its heartbeat: a dead one is taken over, a live one is named.
 */
import { utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { upnOf, useHarness, type Harness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob'] });
const ALICE = upnOf('alice');
const BREAKGLASS = upnOf('breakglass');

async function expiredGrant(H: Harness): Promise<void> {
  const asked = await H.run('alice', [
    'request',
    '--hours',
    '2',
    '--justification',
    'INC-4711: rotate the DB wallet',
    '--json',
  ]);
  expect(asked.code).toBe(0);
  expect((await H.run('bob', ['approve', asked.json.id, '--yes'])).code).toBe(0);
  await H.advance({ hours: 2, minutes: 1 });
}

/** The lock a sweep pod leaves in the shared state directory: taken `acquiredAgoMs` ago (virtual time), last beat `beatAgoMs` ago. */
async function plantPodLock(H: Harness, hostname: string, acquiredAgoMs: number, beatAgoMs: number): Promise<void> {
  const now = Date.parse(H.emu.world.nowIso());
  const file = path.join(H.actor('cron').home, 'sweep.lock');
  const owner = {
    pid: 1,
    hostname,
    acquiredAt: new Date(now - acquiredAgoMs).toISOString(),
    nonce: `pod-${hostname}`,
    purpose: 'a sweep',
    heartbeatMs: 10_000,
  };
  await writeFile(file, `${JSON.stringify(owner)}\n`, { mode: 0o600 });
  const beat = new Date(now - beatAgoMs);
  await utimes(file, beat, beat);
}

test('a lock left by a sweep pod killed on another host does not silence the next sweep: the expired grant is removed', async () => {
  const H = h();
  await expiredGrant(H);
  // The previous CronJob pod was OOM-killed 2 minutes into its sweep; its heartbeat stopped a minute ago.
  await plantPodLock(H, 'ociaccess-sweep-28977310-x7k2p', 2 * 60_000, 60_000);
  const mark = H.mark();
  const result = await H.run('cron', ['sweep', '--json']);
  expect(result.json.skipped).toBeUndefined();
  expect(result.code).toBe(6);
  expect(result.json.groups[0].removed).toEqual([expect.objectContaining({ upn: ALICE, reason: 'expired' })]);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);
  expect(H.writesSince(mark).length).toBeGreaterThan(0);
});

test('a live sweep on another host is not taken over: exit 0 naming its host, pid and last beat; one held over an hour is warned about', async () => {
  const H = h();
  await expiredGrant(H);
  await plantPodLock(H, 'ociaccess-sweep-28977320-b9q4m', 5 * 60_000, 2_000);
  const live = await H.expectNoChange(() => H.run('cron', ['sweep', '--json']));
  expect(live.code).toBe(0);
  expect(live.json).toEqual({
    startedAt: expect.any(String),
    finishedAt: expect.any(String),
    dryRun: false,
    outcome: 'skipped',
    groups: [],
    skipped: true,
    reason: 'another sweep is running',
    holder: expect.objectContaining({
      pid: 1,
      hostname: 'ociaccess-sweep-28977320-b9q4m',
      purpose: 'a sweep',
      lastBeatAt: expect.any(String),
    }),
  });
  expect(live.stderr).toMatch(
    /A sweep is already running \(pid 1 on host ociaccess-sweep-28977320-b9q4m since \S+, last heartbeat \S+ \(\d+s ago\)\); nothing to do\./,
  );
  expect(live.stderr).not.toMatch(/warning:/);
  expect(H.entraMembers()).toContain(ALICE);

  // Held for 2 hours with a fresh heartbeat: alive, so not taken over, but probably stuck.
  await plantPodLock(H, 'ociaccess-sweep-28977320-b9q4m', 2 * 3600_000, 2_000);
  const old = await H.run('cron', ['sweep', '--json']);
  expect(old.code).toBe(0);
  expect(old.json).toMatchObject({ skipped: true, holder: { hostname: 'ociaccess-sweep-28977320-b9q4m' } });
  expect(old.json.warnings).toEqual([
    expect.stringMatching(
      /^The sweep lock has been held for 2h( \d+m)? by pid 1 on host ociaccess-sweep-28977320-b9q4m but its heartbeat is fresh/,
    ),
  ]);
  expect(old.stderr).toMatch(/warning: The sweep lock has been held for 2h/);
  expect(H.entraMembers()).toContain(ALICE);
});
