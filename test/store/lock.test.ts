import fsSync, { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  acquireLock,
  HEARTBEAT_DEFAULTS,
  heartbeatLockOptions,
  readLockOwner,
  readLockStatus,
  runWithHeartbeat,
  tryAcquire,
  type LockOptions,
} from '../../src/store/lock.js';
import { ensureStateDir } from '../../src/store/atomic-file.js';
import { caught, fakeClock, HOST, modeOf, removeTree, tempRoot, type FakeClock } from './support/helpers.js';

let root: string;
let lockFile: string;
let clock: FakeClock;
const alive = new Set<number>();
const isProcessAlive = (pid: number) => alive.has(pid);

function opts(pid: number, extra: Partial<LockOptions> = {}): LockOptions {
  return { clock, pid, hostname: HOST, isProcessAlive, staleAfterMs: 60_000, ...extra };
}

async function plantLock(owner: Record<string, unknown> | string): Promise<string> {
  const raw = typeof owner === 'string' ? owner : `${JSON.stringify({ nonce: 'planted', ...owner })}\n`;
  await fs.writeFile(lockFile, raw, { mode: 0o600 });
  return raw;
}

beforeEach(async () => {
  root = await tempRoot();
  await ensureStateDir(path.join(root, 'state'));
  lockFile = path.join(root, 'state', 'sweep.lock');
  clock = fakeClock();
  alive.clear();
  alive.add(100).add(200);
});
afterEach(() => removeTree(root));

describe('acquiring and releasing', () => {
  it('writes pid, hostname and time into a 0600 lock file and removes it on release', async () => {
    const lock = await tryAcquire(lockFile, opts(100, { purpose: 'a sweep' }));
    expect(lock).not.toBeNull();
    const owner = await readLockOwner(lockFile);
    expect(owner).toMatchObject({
      pid: 100,
      hostname: HOST,
      acquiredAt: '2025-03-01T10:00:00.000Z',
      purpose: 'a sweep',
    });
    expect(await modeOf(lockFile)).toBe(0o600);
    expect(await lock!.isHeld()).toBe(true);
    expect(await lock!.release()).toBe(true);
    expect(await readLockOwner(lockFile)).toBeNull();
    expect(await lock!.release()).toBe(false);
    expect(await fs.readdir(path.dirname(lockFile))).toEqual([]);
  });

  it('lets only one holder in; a second sees who holds it', async () => {
    const first = await tryAcquire(lockFile, opts(100, { purpose: 'a sweep' }));
    expect(first).not.toBeNull();
    expect(await tryAcquire(lockFile, opts(200))).toBeNull();
    const error = await caught(() => acquireLock(lockFile, opts(200, { wait: false })));
    expect(error.code).toBe('LOCK_HELD');
    expect(error.message).toBe(`A sweep is running (pid 100 on host ${HOST} since 2025-03-01T10:00:00.000Z).`);
    expect(error.details).toMatchObject({ pid: 100, hostname: HOST });
    expect(error.details.nonce).toBeUndefined();
    await first!.release();
    expect(await tryAcquire(lockFile, opts(200))).not.toBeNull();
  });

  it('waits for the holder to release', async () => {
    const holder = await tryAcquire(lockFile, opts(100));
    let sleeps = 0;
    clock.onSleep = async () => {
      sleeps += 1;
      if (sleeps === 3) await holder!.release();
    };
    const lock = await acquireLock(lockFile, opts(200, { wait: true, timeoutMs: 10_000, retryMs: 100 }));
    expect(lock.owner.pid).toBe(200);
    expect(sleeps).toBe(3);
  });

  it('gives up after timeoutMs with LOCK_TIMEOUT naming the holder', async () => {
    await tryAcquire(lockFile, opts(100));
    const started = clock.now().getTime();
    const error = await caught(() => acquireLock(lockFile, opts(200, { wait: true, timeoutMs: 2_000, retryMs: 100 })));
    expect(error.code).toBe('LOCK_TIMEOUT');
    expect(error.message).toContain('pid 100');
    expect(error.hint).toContain('kill 100');
    expect(clock.now().getTime() - started).toBeGreaterThanOrEqual(2_000);
    expect(clock.now().getTime() - started).toBeLessThan(2_200);
  });
});

describe('stale locks', () => {
  it('takes over a lock whose pid is not alive on this host', async () => {
    await plantLock({ pid: 999, hostname: HOST, acquiredAt: clock.now().toISOString() });
    const lock = await tryAcquire(lockFile, opts(200));
    expect(lock).not.toBeNull();
    expect((await readLockOwner(lockFile))?.pid).toBe(200);
    expect(await fs.readdir(path.dirname(lockFile))).toEqual(['sweep.lock']); // no guard or aside file left
  });

  it("does not judge a pid from another host by this host's processes", async () => {
    await plantLock({ pid: 999, hostname: 'other-host', acquiredAt: clock.now().toISOString() });
    expect(await tryAcquire(lockFile, opts(200))).toBeNull();
    clock.advance(60_001);
    expect(await tryAcquire(lockFile, opts(200))).not.toBeNull();
  });

  it('takes over a lock older than staleAfterMs even if its pid is alive (pid reuse, hung owner)', async () => {
    await plantLock({ pid: 100, hostname: HOST, acquiredAt: clock.now().toISOString() });
    clock.advance(59_000);
    expect(await tryAcquire(lockFile, opts(200))).toBeNull();
    clock.advance(2_000);
    expect(await tryAcquire(lockFile, opts(200))).not.toBeNull();
  });

  it('gives an unreadable lock (owner died between create and write) a grace period', async () => {
    await plantLock('');
    const mtime = new Date(clock.now().getTime());
    await fs.utimes(lockFile, mtime, mtime);
    expect(await tryAcquire(lockFile, opts(200))).toBeNull();
    clock.advance(6_000);
    expect(await tryAcquire(lockFile, opts(200))).not.toBeNull();
  });

  it('lets exactly one of many simultaneous takers win a stale lock', async () => {
    for (let round = 0; round < 15; round += 1) {
      await plantLock({ pid: 999, hostname: HOST, acquiredAt: clock.now().toISOString(), nonce: `dead-${round}` });
      const takers = Array.from({ length: 12 }, (_, i) => 1000 + i);
      takers.forEach((pid) => alive.add(pid));
      const results = await Promise.all(takers.map((pid) => tryAcquire(lockFile, opts(pid))));
      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      expect((await readLockOwner(lockFile))?.pid).toBe(winners[0]!.owner.pid);
      expect(await winners[0]!.isHeld()).toBe(true);
      await winners[0]!.release();
      expect(await fs.readdir(path.dirname(lockFile))).toEqual([]);
    }
  });

  it('survives a taker that crashed while holding the takeover guard', async () => {
    await plantLock({ pid: 999, hostname: HOST, acquiredAt: clock.now().toISOString() });
    await fs.writeFile(
      `${lockFile}.takeover`,
      JSON.stringify({ pid: 998, hostname: HOST, acquiredAt: clock.now().toISOString(), nonce: 'g' }),
    );
    const lock = await tryAcquire(lockFile, opts(200));
    expect(lock).not.toBeNull();
    expect(await fs.readdir(path.dirname(lockFile))).toEqual(['sweep.lock']);
  });

  it("a holder that was taken over neither thinks it holds the lock nor removes its successor's", async () => {
    const slow = await tryAcquire(lockFile, opts(100));
    clock.advance(61_000); // the slow holder stalled past staleAfterMs
    const successor = await tryAcquire(lockFile, opts(200));
    expect(successor).not.toBeNull();
    expect(await slow!.isHeld()).toBe(false);
    expect(await slow!.release()).toBe(false);
    expect((await readLockOwner(lockFile))?.pid).toBe(200);
    expect(await successor!.isHeld()).toBe(true);
  });

  it('cleans up what a process killed mid-takeover or mid-release left, but only if that process is gone', async () => {
    const stateDir = path.dirname(lockFile);
    const deadAside = `sweep.lock.removing.${HOST}.999.aaaaaaaaaaaa`;
    const liveAside = `sweep.lock.removing.${HOST}.100.bbbbbbbbbbbb`;
    const otherHostAside = `sweep.lock.removing.other-host.999.cccccccccccc`;
    const deadGuardAside = `sweep.lock.takeover.removing.${HOST}.998.dddddddddddd`;
    for (const name of [deadAside, liveAside, otherHostAside, deadGuardAside])
      await fs.writeFile(path.join(stateDir, name), '{}');
    await fs.writeFile(
      `${lockFile}.takeover`,
      JSON.stringify({ pid: 998, hostname: HOST, acquiredAt: clock.now().toISOString(), nonce: 'g' }),
    );
    const lock = await tryAcquire(lockFile, opts(200));
    expect(lock).not.toBeNull();
    expect((await fs.readdir(stateDir)).sort()).toEqual([liveAside, otherHostAside, 'sweep.lock'].sort());
  });
});

/**
 * Heartbeat locks, as the sweep uses them on a state directory shared by
 * Kubernetes CronJob pods: every run is a new host name (and often pid 1), so
 * nobody can check the holder's pid; only its heartbeat says it is alive.
 */
describe('heartbeat locks across hosts (sweep.lock on a shared volume)', () => {
  const timings = { everyMs: 10_000, missedBeats: 3, oldAfterMs: 3_600_000 };
  const onHost = (hostname: string, pid = 1) =>
    heartbeatLockOptions({ clock, pid, hostname }, 'a sweep', { ...timings, isProcessAlive });

  /** A heartbeat lock as a pod that was then OOM-killed leaves it: acquired at `acquiredAgoMs`, last beat `beatAgoMs` ago. */
  async function plantHeartbeatLock(hostname: string, acquiredAgoMs: number, beatAgoMs: number): Promise<void> {
    const now = clock.now().getTime();
    await plantLock({
      pid: 1,
      hostname,
      acquiredAt: new Date(now - acquiredAgoMs).toISOString(),
      purpose: 'a sweep',
      heartbeatMs: 10_000,
    });
    const beat = new Date(now - beatAgoMs);
    await fs.utimes(lockFile, beat, beat);
  }

  it('uses the defaults from one place: a beat every 10 s, stale after 3 missed beats, old after an hour', () => {
    expect(HEARTBEAT_DEFAULTS).toEqual({ everyMs: 10_000, missedBeats: 3, oldAfterMs: 3_600_000 });
    expect(heartbeatLockOptions({ clock, pid: 1, hostname: 'pod-a' }, 'a sweep')).toMatchObject({
      heartbeatMs: 10_000,
      staleAfterMs: 30_000,
      oldAfterMs: 3_600_000,
    });
  });

  it('a lock left by a holder killed on another host is taken over once 3 beats are missed (not after 6 hours)', async () => {
    const killed = await tryAcquire(lockFile, onHost('sweep-28977310-aaaaa'));
    expect(killed).not.toBeNull();
    expect(await readLockOwner(lockFile)).toMatchObject({ hostname: 'sweep-28977310-aaaaa', heartbeatMs: 10_000 });
    expect(await killed!.beat()).toBe(true);
    // OOM-killed here: no more beats, no release. The next CronJob pod has a new host name (and also pid 1).
    clock.advance(29_000);
    const early = await runWithHeartbeat(lockFile, onHost('sweep-28977320-bbbbb'), async () => 'swept');
    expect(early).toMatchObject({
      ran: false,
      old: false,
      holder: { owner: { hostname: 'sweep-28977310-aaaaa', pid: 1 }, sinceBeatMs: 29_000 },
    });
    clock.advance(2_000);
    const next = await runWithHeartbeat(lockFile, onHost('sweep-28977320-bbbbb'), async () => 'swept');
    expect(next).toMatchObject({
      ran: true,
      value: 'swept',
      stillHeld: true,
      owner: { hostname: 'sweep-28977320-bbbbb' },
    });
    expect(await readLockOwner(lockFile)).toBeNull(); // released
    expect(await fs.readdir(path.dirname(lockFile))).toEqual([]);
  });

  it('a live holder on another host is never taken over, however long it runs; after an hour it is reported as old', async () => {
    const holder = await tryAcquire(lockFile, onHost('pod-a'));
    expect(holder).not.toBeNull();
    for (let minute = 1; minute <= 120; minute += 1) {
      for (let beat = 0; beat < 6; beat += 1) {
        clock.advance(10_000);
        expect(await holder!.beat()).toBe(true);
      }
      const other = await runWithHeartbeat(lockFile, onHost('pod-b'), async () => 'swept');
      expect(other.ran).toBe(false);
      if (other.ran) return;
      expect(other.holder).toMatchObject({
        owner: { hostname: 'pod-a' },
        heldForMs: minute * 60_000,
        sinceBeatMs: 0,
        lastBeatAt: clock.now().toISOString(),
      });
      expect(other.old).toBe(minute * 60_000 > 3_600_000);
    }
    expect(await holder!.isHeld()).toBe(true);
    const error = await caught(() => acquireLock(lockFile, { ...onHost('pod-b'), wait: false }));
    expect(error.code).toBe('LOCK_HELD');
    expect(error.details).toMatchObject({ hostname: 'pod-a', lastBeatAt: clock.now().toISOString() });
    expect(error.hint).toContain('heartbeat stops for 30s');
  });

  it('judges a planted lock by its mtime only when it declares a heartbeat', async () => {
    await plantHeartbeatLock('pod-a', 3 * 3600_000, 5_000);
    expect(await tryAcquire(lockFile, onHost('pod-b'))).toBeNull();
    expect(await readLockStatus(lockFile, clock)).toMatchObject({ heldForMs: 3 * 3600_000, sinceBeatMs: 5_000 });
    // Without `heartbeatMs` the mtime is ignored: only acquiredAt counts.
    await plantLock({ pid: 1, hostname: 'pod-a', acquiredAt: new Date(clock.now().getTime() - 31_000).toISOString() });
    const fresh = clock.now();
    await fs.utimes(lockFile, fresh, fresh);
    expect(await tryAcquire(lockFile, onHost('pod-b'))).not.toBeNull();
  });

  it('the takeover race between contenders on different hosts has exactly one winner', async () => {
    for (let round = 0; round < 10; round += 1) {
      await plantHeartbeatLock(`pod-dead-${round}`, 120_000, 31_000);
      const contenders = Array.from({ length: 8 }, (_, i) => `pod-${round}-${i}`);
      const ran: string[] = [];
      const results = await Promise.all(
        contenders.map((host) =>
          runWithHeartbeat(lockFile, onHost(host), async () => {
            ran.push(host);
            // Hold it while the others look, as a sweep would.
            await new Promise((resolve) => setImmediate(resolve));
            return host;
          }),
        ),
      );
      expect(ran).toHaveLength(1);
      expect(results.filter((r) => r.ran)).toEqual([expect.objectContaining({ value: ran[0], stillHeld: true })]);
      expect(await fs.readdir(path.dirname(lockFile))).toEqual([]);
    }
  });

  it("a beat that lands between a taker's judgement and its takeover keeps the lock with its holder", async () => {
    const holder = await tryAcquire(lockFile, { ...onHost(HOST, 100) });
    clock.advance(31_000); // the holder was slow to beat
    let beaten = false;
    // The taker asks whether pid 100 is alive after reading the lock; the holder beats right then.
    const beatsWhileJudged = (pid: number) => {
      if (!beaten) {
        beaten = true;
        fsSync.utimesSync(lockFile, clock.now(), clock.now());
      }
      return alive.has(pid);
    };
    const taker = await tryAcquire(
      lockFile,
      heartbeatLockOptions({ clock, pid: 200, hostname: HOST }, 'a sweep', {
        ...timings,
        isProcessAlive: beatsWhileJudged,
      }),
    );
    expect(beaten).toBe(true);
    expect(taker).toBeNull();
    expect(await holder!.isHeld()).toBe(true);
    expect(await holder!.beat()).toBe(true);
  });

  it("a holder that stalled past 3 beats learns it lost the lock (signal and final check) and leaves the successor's lock alone", async () => {
    const steps = steppingClock(clock);
    const options = heartbeatLockOptions({ clock: steps, pid: 1, hostname: 'pod-a' }, 'a sweep', {
      ...timings,
      isProcessAlive,
    });
    let successor: Awaited<ReturnType<typeof tryAcquire>> = null;
    let lostSeen = false;
    const run = await runWithHeartbeat(lockFile, options, async (lost) => {
      // Two regular beats keep it alive for pod-b.
      for (let i = 0; i < 2; i += 1) await steps.tick();
      expect(await tryAcquire(lockFile, onHost('pod-b'))).toBeNull();
      // Then pod-a stalls (no beat for 31 s) and pod-b takes over.
      clock.advance(31_000);
      successor = await tryAcquire(lockFile, onHost('pod-b'));
      expect(successor).not.toBeNull();
      await steps.tick(() => lost.aborted); // pod-a's next beat finds pod-b's lock
      lostSeen = lost.aborted;
      expect(steps.beatsWaiting()).toBe(0); // and it stopped beating
      return 'done';
    });
    expect(lostSeen).toBe(true);
    expect(run).toMatchObject({ ran: true, value: 'done', stillHeld: false });
    expect(await successor!.isHeld()).toBe(true);
    expect((await readLockOwner(lockFile))?.hostname).toBe('pod-b');
  });

  it('stops beating when the run ends: no timer is left behind', async () => {
    const steps = steppingClock(clock);
    const options = heartbeatLockOptions({ clock: steps, pid: 1, hostname: 'pod-a' }, 'a sweep', timings);
    const run = await runWithHeartbeat(lockFile, options, async () => {
      await steps.tick();
      await steps.tick();
      return steps.beatsWaiting();
    });
    expect(run).toMatchObject({ ran: true, value: 1, stillHeld: true });
    expect(steps.beatsWaiting()).toBe(0);
  });
});

/**
 * A clock for heartbeat loops: sleep() waits until the test calls tick(),
 * which moves the shared fake clock by the sleeper's ms and lets it (and the
 * beat that follows) run. An aborted sleep ends at once.
 */
function steppingClock(base: FakeClock) {
  const sleepers: { ms: number; wake: () => void }[] = [];
  return {
    now: () => base.now(),
    sleep(ms: number, signal?: AbortSignal) {
      return new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const sleeper = {
          ms,
          wake: () => {
            sleepers.splice(sleepers.indexOf(sleeper), 1);
            resolve();
          },
        };
        sleepers.push(sleeper);
        signal?.addEventListener('abort', () => sleeper.wake(), { once: true });
      });
    },
    beatsWaiting: () => sleepers.length,
    /** Wakes the next sleeper and waits (for its beat's file I/O) until `done`, by default until it sleeps again. */
    async tick(done: () => boolean = () => sleepers.length > 0) {
      const sleeper = sleepers[0];
      if (!sleeper) throw new Error('nobody is sleeping');
      base.advance(sleeper.ms);
      sleeper.wake();
      for (let i = 0; i < 400 && !done(); i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
      if (!done()) throw new Error('the beat did not finish');
    },
  };
}
