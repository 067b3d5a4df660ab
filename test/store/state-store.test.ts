import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  emptyState,
  openStateStore,
  removalKey,
  validateLocalState,
  type LocalRequest,
  type LocalState,
} from '../../src/store/state-store.js';
import { tryAcquire } from '../../src/store/lock.js';
import { systemClock } from '../../src/context.js';
import { caught, fakeClock, HOST, modeOf, removeTree, tempRoot, type FakeClock } from './support/helpers.js';

let root: string;
let dir: string;
let file: string;
let clock: FakeClock;

function store(pid = 4242, isProcessAlive = (p: number) => p === 4242) {
  return openStateStore(dir, { clock, pid, hostname: HOST }, { isProcessAlive, lockTimeoutMs: 5_000 });
}

function request(id: string, extra: Partial<LocalRequest> = {}): LocalRequest {
  return {
    id,
    groupId: 'g-1',
    groupName: 'OCI-Temp-Admins',
    userId: 'u-1',
    upn: 'alice@example.com',
    hours: 2,
    justification: 'incident 42',
    requestedAt: '2025-03-01T09:00:00.000Z',
    status: 'pending',
    ...extra,
  };
}

function fullState(): LocalState {
  const s = emptyState();
  s.requests['r-1'] = request('r-1', { ticket: 'INC-1' });
  s.decisions['r-1'] = {
    requestId: 'r-1',
    requesterId: 'u-1',
    requesterUpn: 'alice@example.com',
    groupId: 'g-1',
    decision: 'approved',
    decidedAt: '2025-03-01T09:05:00.000Z',
    expiresAt: '2025-03-01T11:05:00.000Z',
    approverId: 'u-2',
  };
  s.sweep.firstSeen['g-1'] = { 'u-1': '2025-03-01T09:06:00.000Z' };
  s.sweep.pendingRemovals[removalKey('g-1', 'u-9')] = {
    groupId: 'g-1',
    userId: 'u-9',
    upn: 'mallory@example.com',
    removedInEntraAt: '2025-03-01T09:30:00.000Z',
    reason: 'not approved',
    attempts: 1,
    status: 'pending-oci',
  };
  s.sweep.failedRemovals[removalKey('g-1', 'u-8')] = {
    groupId: 'g-1',
    userId: 'u-8',
    upn: 'bob@example.com',
    attempts: 3,
    lastError: 'Graph 503',
    firstFailedAt: '2025-03-01T09:00:00.000Z',
  };
  return s;
}

async function writeRaw(content: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.writeFile(file, content, { mode: 0o600 });
}

async function copiesOf(): Promise<string[]> {
  return (await fs.readdir(dir)).filter((n) => n.startsWith('state.json.corrupt-')).sort();
}

beforeEach(async () => {
  root = await tempRoot();
  dir = path.join(root, 'state');
  file = path.join(dir, 'state.json');
  clock = fakeClock();
});
afterEach(() => removeTree(root));

describe('reading and writing', () => {
  it('reads an empty state when nothing was written, without creating anything', async () => {
    expect(await store().read()).toEqual(emptyState());
    await expect(fs.access(dir)).rejects.toThrow();
  });

  it('round-trips every part of the document, 0600 in a 0700 directory', async () => {
    const written = await store().update((s) => {
      Object.assign(s, fullState());
    });
    expect(written).toEqual(fullState());
    expect(await store().read()).toEqual(fullState());
    expect(await modeOf(dir)).toBe(0o700);
    expect(await modeOf(file)).toBe(0o600);
    expect(JSON.parse(await fs.readFile(file, 'utf8'))).toEqual(fullState());
    expect((await fs.readdir(dir)).sort()).toEqual(['state.json']);
  });

  it('accepts an async mutator', async () => {
    await store().update(async (s) => {
      await Promise.resolve();
      s.requests['r-2'] = request('r-2');
    });
    expect(Object.keys((await store().read()).requests)).toEqual(['r-2']);
  });

  it('keeps fields it does not know (a newer minor release may have added them)', async () => {
    const doc = { ...fullState(), note: 'from the future', requests: { 'r-1': { ...request('r-1'), risk: 'low' } } };
    await writeRaw(JSON.stringify(doc));
    await store().update((s) => {
      s.requests['r-1']!.status = 'approved';
    });
    const onDisk = JSON.parse(await fs.readFile(file, 'utf8'));
    expect(onDisk.note).toBe('from the future');
    expect(onDisk.requests['r-1'].risk).toBe('low');
    expect(onDisk.requests['r-1'].status).toBe('approved');
  });

  it('leaves the file untouched and releases the lock when the mutator throws', async () => {
    await store().update((s) => {
      s.requests['r-1'] = request('r-1');
    });
    const before = await fs.readFile(file, 'utf8');
    await expect(
      store().update((s) => {
        s.requests['r-1']!.status = 'approved';
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await fs.readFile(file, 'utf8')).toBe(before);
    await store().update((s) => {
      s.requests['r-1']!.status = 'denied';
    });
    expect((await store().read()).requests['r-1']!.status).toBe('denied');
  });

  it('refuses to write a state the mutator made invalid', async () => {
    await store().update((s) => {
      s.requests['r-1'] = request('r-1');
    });
    const before = await fs.readFile(file, 'utf8');
    const error = await caught(() =>
      store().update((s) => {
        (s.requests['r-1'] as any).status = 'maybe';
      }),
    );
    expect(error.code).toBe('STATE_INVALID_UPDATE');
    expect(await fs.readFile(file, 'utf8')).toBe(before);
  });

  it('removes temp files a crashed writer left, and readers never look at them', async () => {
    await store().update((s) => {
      s.requests['r-1'] = request('r-1');
    });
    const orphan = path.join(dir, '.state.json.tmp-0123456789ab');
    await fs.writeFile(orphan, '{"version":1,"requ', { mode: 0o600 });
    expect(Object.keys((await store().read()).requests)).toEqual(['r-1']);
    await store().update((s) => {
      s.requests['r-2'] = request('r-2');
    });
    await expect(fs.access(orphan)).rejects.toThrow();
    expect(Object.keys((await store().read()).requests).sort()).toEqual(['r-1', 'r-2']);
  });
});

describe('concurrent updates', () => {
  it('loses no update among many concurrent ones from several store instances', async () => {
    // Real time here: instances poll the lock file with real sleeps, as separate processes would.
    const real = { clock: systemClock, pid: process.pid, hostname: HOST };
    const stores = [openStateStore(dir, real), openStateStore(dir, real), openStateStore(dir, real)];
    await Promise.all(
      Array.from({ length: 45 }, (_, i) =>
        stores[i % 3]!.update(async (s) => {
          await new Promise((r) => setImmediate(r)); // widen the read-modify-write window
          s.requests[`r-${i}`] = request(`r-${i}`);
        }),
      ),
    );
    expect(Object.keys((await store().read()).requests)).toHaveLength(45);
  });

  it('takes over the lock of an updater that died', async () => {
    await fs.mkdir(dir, { mode: 0o700 });
    await fs.writeFile(
      `${file}.lock`,
      JSON.stringify({ pid: 31337, hostname: HOST, acquiredAt: clock.now().toISOString(), nonce: 'x' }),
      { mode: 0o600 },
    );
    await store().update((s) => {
      s.requests['r-1'] = request('r-1');
    });
    expect(Object.keys((await store().read()).requests)).toEqual(['r-1']);
    await expect(fs.access(`${file}.lock`)).rejects.toThrow();
  });

  it('times out behind a live holder and names it', async () => {
    await fs.mkdir(dir, { mode: 0o700 });
    const holder = await tryAcquire(`${file}.lock`, { clock, pid: 777, hostname: HOST, isProcessAlive: () => true });
    expect(holder).not.toBeNull();
    const error = await caught(() =>
      openStateStore(
        dir,
        { clock, pid: 4242, hostname: HOST },
        { isProcessAlive: () => true, lockTimeoutMs: 1_000 },
      ).update(() => undefined),
    );
    expect(error.code).toBe('LOCK_TIMEOUT');
    expect(error.message).toContain('pid 777');
  });
});

describe('bad files are refused and kept', () => {
  const cases: { name: string; content: () => string; code: string; problem: RegExp }[] = [
    {
      name: 'truncated JSON',
      content: () => JSON.stringify(fullState(), null, 2).slice(0, 200),
      code: 'STATE_CORRUPT',
      problem: /not valid JSON/,
    },
    { name: 'an empty file', content: () => '', code: 'STATE_CORRUPT', problem: /empty/ },
    { name: 'binary garbage', content: () => '\u0000\u0000\u0000', code: 'STATE_CORRUPT', problem: /not valid JSON/ },
    { name: 'a JSON array', content: () => '[]', code: 'STATE_CORRUPT', problem: /not a JSON object/ },
    {
      name: 'no version',
      content: () => JSON.stringify({ requests: {} }),
      code: 'STATE_CORRUPT',
      problem: /no "version"/,
    },
    {
      name: 'a newer version',
      content: () => JSON.stringify({ ...fullState(), version: 2 }),
      code: 'STATE_VERSION',
      problem: /newer ociaccess/,
    },
    {
      name: 'a string version',
      content: () => JSON.stringify({ ...fullState(), version: '1' }),
      code: 'STATE_VERSION',
      problem: /format version "1"/,
    },
    {
      name: 'a missing section',
      content: () => JSON.stringify({ version: 1, requests: {}, decisions: {} }),
      code: 'STATE_CORRUPT',
      problem: /sweep/,
    },
    {
      name: 'a bad status',
      content: () => JSON.stringify({ ...fullState(), requests: { 'r-1': { ...request('r-1'), status: 'maybe' } } }),
      code: 'STATE_CORRUPT',
      problem: /requests\.r-1\.status/,
    },
    {
      name: 'a request filed under another id',
      content: () => JSON.stringify({ ...fullState(), requests: { 'r-2': request('r-1') } }),
      code: 'STATE_CORRUPT',
      problem: /does not match its key/,
    },
    {
      name: 'a removal under the wrong key',
      content: () => {
        const s = fullState();
        s.sweep.pendingRemovals['g-1:u-1'] = s.sweep.pendingRemovals['g-1:u-9']!;
        return JSON.stringify(s);
      },
      code: 'STATE_CORRUPT',
      problem: /key should be "g-1:u-9"/,
    },
    {
      name: 'a first-seen time that is not a time',
      content: () =>
        JSON.stringify({
          ...fullState(),
          sweep: { ...fullState().sweep, firstSeen: { 'g-1': { 'u-1': 'yesterday' } } },
        }),
      code: 'STATE_CORRUPT',
      problem: /ISO 8601/,
    },
  ];

  it.each(cases)(
    '$name → $code, file named, a byte-exact copy kept, original untouched',
    async ({ content, code, problem }) => {
      const bytes = content();
      await writeRaw(bytes);
      const error = await caught(() => store().read());
      expect(error.code).toBe(code);
      expect(error.message).toContain(file);
      expect(error.message).toMatch(problem);
      const copies = await copiesOf();
      expect(copies).toEqual(['state.json.corrupt-2025-03-01T10-00-00.000Z']);
      expect(error.details.copy).toBe(path.join(dir, copies[0]!));
      expect(error.hint).toContain(copies[0]);
      expect(await fs.readFile(path.join(dir, copies[0]!), 'utf8')).toBe(bytes);
      expect(await modeOf(path.join(dir, copies[0]!))).toBe(0o600);
      expect(await fs.readFile(file, 'utf8')).toBe(bytes);
    },
  );

  it('says what to do: restore or move aside, and what moving aside loses', async () => {
    await writeRaw('{"version":1,');
    const error = await caught(() => store().read());
    expect(error.hint).toContain(`mv ${file} ${file}.bad`);
    expect(error.hint).toMatch(/Restore/);
    expect(error.hint).toMatch(/live in the identity provider \(Entra or Okta\)/);
    expect(error.hint).toMatch(/first seen now/);
  });

  it('asks for an upgrade when the file comes from a newer release', async () => {
    await writeRaw(JSON.stringify({ ...fullState(), version: 3 }));
    expect((await caught(() => store().read())).hint).toMatch(/^Upgrade ociaccess/);
  });

  it('never overwrites the file in update(), and reuses the copy of the same bad bytes', async () => {
    await writeRaw('{"version":1,"requests":');
    const first = await caught(() => store().update((s) => void (s.requests['r-1'] = request('r-1'))));
    expect(first.code).toBe('STATE_CORRUPT');
    clock.advance(60_000);
    await caught(() => store().read());
    expect(await copiesOf()).toHaveLength(1);
    expect(await fs.readFile(file, 'utf8')).toBe('{"version":1,"requests":');
    await expect(fs.access(`${file}.lock`)).rejects.toThrow(); // the lock was released
  });

  it('never overwrites an older copy: different bad bytes at the same instant get a new name', async () => {
    await writeRaw('bad one');
    await caught(() => store().read());
    await writeRaw('bad two');
    await caught(() => store().read());
    const copies = await copiesOf();
    expect(copies).toEqual([
      'state.json.corrupt-2025-03-01T10-00-00.000Z',
      'state.json.corrupt-2025-03-01T10-00-00.000Z-1',
    ]);
    expect(await fs.readFile(path.join(dir, copies[0]!), 'utf8')).toBe('bad one');
    expect(await fs.readFile(path.join(dir, copies[1]!), 'utf8')).toBe('bad two');
  });

  it('refuses a symlinked state file and does not follow it', async () => {
    const target = path.join(root, 'planted.json');
    await fs.writeFile(target, JSON.stringify(fullState()), { mode: 0o600 });
    await fs.mkdir(dir, { mode: 0o700 });
    await fs.symlink(target, file);
    expect((await caught(() => store().read())).code).toBe('STATE_SYMLINK');
    expect((await caught(() => store().update(() => undefined))).code).toBe('STATE_SYMLINK');
    expect(JSON.parse(await fs.readFile(target, 'utf8'))).toEqual(fullState());
  });

  it('refuses a state directory or file others can read', async () => {
    await store().update(() => undefined);
    await fs.chmod(file, 0o640);
    const fileError = await caught(() => store().read());
    expect(fileError.code).toBe('STATE_PERMISSIONS');
    expect(fileError.hint).toContain(`chmod 600 ${file}`);
    await fs.chmod(file, 0o600);
    await fs.chmod(dir, 0o755);
    const dirError = await caught(() => store().update(() => undefined));
    expect(dirError.code).toBe('STATE_PERMISSIONS');
    expect(dirError.hint).toContain(`chmod 700 ${dir}`);
  });
});

describe('validateLocalState', () => {
  it('accepts the empty and the full state', () => {
    expect(validateLocalState(emptyState()).ok).toBe(true);
    expect(validateLocalState(fullState()).ok).toBe(true);
  });

  it('rejects a non-positive number of hours and a negative attempt count', () => {
    expect(validateLocalState({ ...fullState(), requests: { 'r-1': request('r-1', { hours: 0 }) } }).ok).toBe(false);
    const s = fullState();
    s.sweep.failedRemovals['g-1:u-8']!.attempts = -1;
    expect(validateLocalState(s).ok).toBe(false);
  });

  it('names the field in every table of the ledger', () => {
    const problem = (mutate: (s: LocalState) => void) => {
      const s = fullState();
      mutate(s);
      const checked = validateLocalState(s);
      return checked.ok ? 'accepted' : checked.problem;
    };
    expect(
      problem(
        (s) =>
          delete (s.sweep.pendingRemovals['g-1:u-9'] as Partial<LocalState['sweep']['pendingRemovals'][string]>).userId,
      ),
    ).toMatch(/sweep\.pendingRemovals\.g-1:u-9\.userId: expected a non-empty string, got undefined/);
    expect(
      problem(
        (s) =>
          ((s.decisions as Record<string, unknown>)['d-1'] = { ...Object.values(s.decisions)[0], decision: 'maybe' }),
      ),
    ).toMatch(/decisions\.d-1\.decision: expected one of approved, denied, revoked/);
    expect(problem((s) => (s.sweep.driftSeen = { 'g-1': { 'oci-1': 'soon' } }))).toMatch(
      /sweep\.driftSeen\.g-1\.oci-1: not an ISO 8601 time/,
    );
    expect(problem((s) => ((s.sweep as unknown as Record<string, unknown>).failedRemovals = []))).toMatch(
      /sweep\.failedRemovals: expected an object, got an array/,
    );
    expect(problem((s) => ((s.requests['r-1'] as unknown as Record<string, unknown>).hours = '2'))).toMatch(
      /requests\.r-1\.hours: expected a number of hours > 0, got string/,
    );
    expect(problem((s) => ((s.sweep as unknown as Record<string, unknown>).futureTable = { x: 1 }))).toBe('accepted');
  });
});
