import { promises as fs } from 'node:fs';
import path from 'node:path';
import { acquireLock, readLockOwner, tryAcquire, type LockOptions } from '../../src/store/lock.js';
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
    expect(owner).toMatchObject({ pid: 100, hostname: HOST, acquiredAt: '2025-03-01T10:00:00.000Z', purpose: 'a sweep' });
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

  it('does not judge a pid from another host by this host\'s processes', async () => {
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
    await fs.writeFile(`${lockFile}.takeover`, JSON.stringify({ pid: 998, hostname: HOST, acquiredAt: clock.now().toISOString(), nonce: 'g' }));
    const lock = await tryAcquire(lockFile, opts(200));
    expect(lock).not.toBeNull();
    expect(await fs.readdir(path.dirname(lockFile))).toEqual(['sweep.lock']);
  });

  it('a holder that was taken over neither thinks it holds the lock nor removes its successor\'s', async () => {
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
    for (const name of [deadAside, liveAside, otherHostAside, deadGuardAside]) await fs.writeFile(path.join(stateDir, name), '{}');
    await fs.writeFile(`${lockFile}.takeover`, JSON.stringify({ pid: 998, hostname: HOST, acquiredAt: clock.now().toISOString(), nonce: 'g' }));
    const lock = await tryAcquire(lockFile, opts(200));
    expect(lock).not.toBeNull();
    expect((await fs.readdir(stateDir)).sort()).toEqual([liveAside, otherHostAside, 'sweep.lock'].sort());
  });
});
