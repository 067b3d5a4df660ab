/**
 * Real processes against one state directory: concurrent updaters and appenders
 * on one host, and writers killed with SIGKILL at arbitrary instants. The
 * assertions hold whatever instant the kill lands at, so they do not depend on
 * timing; the random delays only spread the kills over the write path.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../src/context.js';
import { openAuditLog } from '../../src/store/audit-log.js';
import { openStateStore } from '../../src/store/state-store.js';
import { compileStoreInto } from './support/compile-store.js';
import { removeTree, tempRoot } from './support/helpers.js';

const WORKER = `
import os from 'node:os';
import { systemClock } from './src/context.js';
import { openStateStore } from './src/store/state-store.js';
import { openAuditLog } from './src/store/audit-log.js';

const [mode, dir, countArg, tag] = process.argv.slice(2);
const count = countArg === 'forever' ? Infinity : Number(countArg);
const host = { clock: systemClock, pid: process.pid, hostname: os.hostname() };
const request = (id, justification) => ({
  id, groupId: 'g-1', groupName: 'OCI-Temp-Admins', userId: 'u-1', upn: 'a@example.com', hours: 1,
  justification, requestedAt: new Date().toISOString(), status: 'pending',
});
if (mode === 'state') {
  const store = openStateStore(dir, host, { lockTimeoutMs: 60000 });
  for (let i = 0; i < count; i += 1) {
    await store.update((s) => {
      // A large record rewritten every time widens the window a kill can land in.
      s.requests.blob = request('blob', 'x'.repeat(50000 + Math.floor(Math.random() * 250000)));
      s.requests[tag + '-' + i] = request(tag + '-' + i, 'small');
    });
    process.stdout.write('committed ' + tag + '-' + i + '\\n');
  }
} else {
  const log = openAuditLog(dir, host, { lockTimeoutMs: 60000 });
  for (let i = 0; i < count; i += 1) {
    await log.append({
      actor: { id: 'u-1', upn: 'a@example.com', kind: 'user' }, action: 'request',
      target: { requestId: tag + '-' + i }, result: 'ok', details: { pad: 'y'.repeat(Math.floor(Math.random() * 20000)) },
    });
    process.stdout.write('committed ' + tag + '-' + i + '\\n');
  }
}
`;

let root: string;
let build: string;
let dir: string;
const host = { clock: systemClock, pid: process.pid, hostname: os.hostname() };

beforeAll(async () => {
  root = await tempRoot();
  build = await compileStoreInto(path.join(root, 'build'));
  await fs.writeFile(path.join(build, 'worker.mjs'), WORKER);
});
afterAll(() => removeTree(root));
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(root, 'state-'));
});

interface Worker {
  child: ChildProcess;
  committed: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Resolves once at least n writes were acknowledged. */
  waitFor(n: number): Promise<void>;
}

function startWorker(mode: 'state' | 'audit', count: number | 'forever', tag: string): Worker {
  const child = spawn(process.execPath, [path.join(build, 'worker.mjs'), mode, dir, String(count), tag], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const committed: string[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let buffered = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const line of parts) if (line.startsWith('committed ')) committed.push(line.slice('committed '.length));
    for (const w of waiters.filter((x) => committed.length >= x.n)) w.resolve();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    child,
    committed,
    exited,
    waitFor: (n) =>
      new Promise<void>((resolve, reject) => {
        if (committed.length >= n) return resolve();
        waiters.push({ n, resolve });
        void exited.then((e) =>
          reject(new Error(`worker exited (${e.code ?? e.signal}) before ${n} writes: ${e.stderr}`)),
        );
      }),
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('several processes on one host', () => {
  it('lose no state update', async () => {
    const workers = ['a', 'b', 'c', 'd'].map((tag) => startWorker('state', 15, tag));
    const exits = await Promise.all(workers.map((w) => w.exited));
    expect(exits.map((e) => [e.code, e.stderr.replace(/.*ExperimentalWarning.*\n?/g, '')])).toEqual(
      exits.map(() => [0, '']),
    );
    const state = await openStateStore(dir, host).read();
    const ids = Object.keys(state.requests).filter((id) => id !== 'blob');
    expect(ids).toHaveLength(60);
    for (const tag of ['a', 'b', 'c', 'd'])
      for (let i = 0; i < 15; i += 1) expect(state.requests[`${tag}-${i}`]).toBeDefined();
  });

  it('append to one unbroken audit chain', async () => {
    const workers = ['a', 'b', 'c', 'd'].map((tag) => startWorker('audit', 25, tag));
    const exits = await Promise.all(workers.map((w) => w.exited));
    expect(exits.map((e) => e.code)).toEqual([0, 0, 0, 0]);
    const log = openAuditLog(dir, host);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 100 });
    const ids = new Set((await log.read()).map((e) => e.target.requestId));
    expect(ids.size).toBe(100);
  });
});

describe('kill -9 at arbitrary instants', () => {
  const ROUNDS = 12;

  it('never leaves a state file that does not parse, and never loses an acknowledged update', async () => {
    const acknowledged: string[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const worker = startWorker('state', 'forever', `k${round}`);
      await worker.waitFor(1);
      await pause(Math.random() * 40);
      worker.child.kill('SIGKILL');
      const exit = await worker.exited;
      expect(exit.signal).toBe('SIGKILL');
      acknowledged.push(...worker.committed);
      // Whatever the instant: the file parses and validates, and holds every acknowledged update.
      const state = await openStateStore(dir, host).read();
      for (const id of acknowledged) expect(state.requests[id]).toBeDefined();
    }
    // The dead writer's lock is taken over at once and its temp files are cleaned up.
    const after = await openStateStore(dir, host, { lockTimeoutMs: 5_000 }).update((s) => {
      delete s.requests.blob;
    });
    expect(Object.keys(after.requests).length).toBeGreaterThanOrEqual(acknowledged.length);
    expect((await fs.readdir(dir)).sort()).toEqual(['state.json']);
  });

  it('never leaves an audit log that fails verification for anything but a torn last line, and the next append repairs it', async () => {
    const acknowledged: string[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const worker = startWorker('audit', 'forever', `k${round}`);
      await worker.waitFor(1);
      await pause(Math.random() * 40);
      worker.child.kill('SIGKILL');
      await worker.exited;
      acknowledged.push(...worker.committed);
      const result = await openAuditLog(dir, host).verify();
      if (!result.ok) expect(result.problem).toBe('truncated-line');
      const ids = new Set((await openAuditLog(dir, host).read()).map((e) => e.target.requestId));
      for (const id of acknowledged) expect(ids.has(id)).toBe(true);
    }
    const log = openAuditLog(dir, host, { lockTimeoutMs: 5_000 });
    await log.append({ actor: { id: 'u-1', upn: 'a@example.com', kind: 'user' }, action: 'check', result: 'ok' });
    expect((await log.verify()).ok).toBe(true);
    // Nothing left behind but the log, its head and any torn lines that were moved aside.
    const leftovers = (await fs.readdir(dir)).filter((n) => !/^audit\.jsonl(\.head|\.torn-.*)?$/.test(n));
    expect(leftovers).toEqual([]);
  });
});
