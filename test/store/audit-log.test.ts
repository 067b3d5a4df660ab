import { jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import {
  GENESIS_HASH,
  canonicalJson,
  computeEntryHash,
  openAuditLog,
  verifyAuditContent,
  type AuditEntry,
  type AuditHead,
  type AuditInput,
} from '../../src/store/audit-log.js';
import { tryAcquire } from '../../src/store/lock.js';
import { systemClock } from '../../src/context.js';
import { caught, fakeClock, HOST, modeOf, removeTree, tempRoot, type FakeClock } from './support/helpers.js';

let root: string;
let dir: string;
let file: string;
let clock: FakeClock;

const alice = { id: 'u-1', upn: 'alice@example.com', kind: 'user' as const };

function log(options: { lockTimeoutMs?: number; isProcessAlive?: (pid: number) => boolean } = {}) {
  return openAuditLog(dir, { clock, pid: 4242, hostname: HOST }, { isProcessAlive: (p) => p === 4242, ...options });
}

function input(i: number, extra: Partial<AuditInput> = {}): AuditInput {
  return {
    actor: i % 5 === 0 ? { id: 'app-1', upn: 'sweeper', kind: 'app' } : alice,
    action: ['request', 'approve', 'revoke', 'sweep.remove'][i % 4]!,
    target: {
      groupId: 'g-1',
      groupName: 'OCI-Temp-Admins',
      userId: `u-${i}`,
      upn: `user${i}@example.com`,
      requestId: `r-${i}`,
    },
    ...(i % 3 === 0 ? {} : { reason: `reason ${i}` }),
    result: (['ok', 'failed', 'pending'] as const)[i % 3]!,
    ...(i % 2 === 0 ? { details: { hours: i, nested: { list: [i, 'x', null, true] } } } : {}),
    ...extra,
  };
}

async function appendMany(n: number): Promise<AuditEntry[]> {
  const l = log();
  const out: AuditEntry[] = [];
  for (let i = 1; i <= n; i += 1) {
    out.push(await l.append(input(i)));
    clock.advance(1_000);
  }
  return out;
}

async function content(): Promise<string> {
  return fs.readFile(file, 'utf8');
}

async function head(): Promise<AuditHead> {
  return JSON.parse(await fs.readFile(`${file}.head`, 'utf8')) as AuditHead;
}

function lines(text: string): string[] {
  return text.split('\n').slice(0, -1);
}

function join(ls: string[]): string {
  return ls.map((l) => `${l}\n`).join('');
}

beforeEach(async () => {
  root = await tempRoot();
  dir = path.join(root, 'state');
  file = path.join(dir, 'audit.jsonl');
  clock = fakeClock();
});
afterEach(async () => {
  jest.restoreAllMocks();
  await removeTree(root);
});

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys at every level and adds no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }] } })).toBe('{"a":{"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
    expect(canonicalJson(['a', null, true])).toBe('["a",null,true]');
  });

  it('orders keys by UTF-16 code units (RFC 8785, section 3.2.3)', () => {
    const keys = JSON.parse('{"\\u20ac":1,"\\r":2,"\\ufb33":3,"1":4,"\\ud83d\\ude00":5,"\\u0080":6,"\\u00f6":7}');
    // "1" would come first in Object.keys (an array index); the text must have "\r" (U+000D) before it.
    expect(canonicalJson(keys)).toBe('{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\ud83d\ude00":5,"\ufb33":3}');
  });

  it('writes numbers and strings as ECMAScript does (RFC 8785, section 3.2.2)', () => {
    expect(
      canonicalJson(
        JSON.parse('[1E30, 4.50, 2e-3, 0.000000000000000000000000001, -0, 1e21, 1e-7, 333333333.33333329]'),
      ),
    ).toBe('[1e+30,4.5,0.002,1e-27,0,1e+21,1e-7,333333333.3333333]');
    expect(canonicalJson('\u20ac$\u000F\u000aA\'\u0042\u0022\u005c\\"/')).toBe(
      '"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"',
    );
  });

  it('refuses what is not JSON data instead of guessing', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow();
    expect(() => canonicalJson(undefined as unknown as null)).toThrow(TypeError);
  });
});

describe('appending', () => {
  it('writes every entry as its canonical JSON, which verifies, whatever the strings, targets and details', async () => {
    // Every line must be the canonical JSON of what it parses to, and parse to the entry append returned.
    const text = fc.string({ maxLength: 6, unit: 'binary' });
    const inputArb: fc.Arbitrary<AuditInput> = fc.record(
      {
        actor: fc.record({ id: text, upn: text, kind: fc.constantFrom('user' as const, 'app' as const) }),
        action: fc.string({ minLength: 1, maxLength: 6, unit: 'binary' }),
        target: fc.record(
          { groupId: text, groupName: text, userId: text, upn: text, requestId: text },
          { requiredKeys: [] },
        ),
        reason: text,
        result: fc.constantFrom('ok' as const, 'failed' as const, 'pending' as const),
        details: fc.oneof(
          fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
          fc.constant({ when: new Date(0), n: Number.NaN, '2': 'index-like', '10': 'keys' }),
        ),
      },
      { requiredKeys: ['actor', 'action', 'result'] },
    );
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(inputArb, { minLength: 1, maxLength: 4 }), async (inputs) => {
        const logDir = path.join(root, `property-${(round += 1)}`);
        const entries = await openAuditLog(
          logDir,
          { clock, pid: 4242, hostname: HOST },
          { isProcessAlive: (p) => p === 4242 },
        ).appendMany(inputs);
        const written = lines(await fs.readFile(path.join(logDir, 'audit.jsonl'), 'utf8'));
        for (const [index, line] of written.entries()) {
          expect(line).toBe(canonicalJson(JSON.parse(line)));
          expect(JSON.parse(line)).toEqual(entries[index]);
        }
        expect(verifyAuditContent(written.map((l) => `${l}\n`).join('')).ok).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('writes one hash-chained JSON line per entry, 0600, and a matching head', async () => {
    const entries = await appendMany(3);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(entries[0]!.prev).toBe(GENESIS_HASH);
    expect(entries[1]!.prev).toBe(entries[0]!.hash);
    expect(entries[2]!.prev).toBe(entries[1]!.hash);
    const text = await content();
    expect(text.endsWith('\n')).toBe(true);
    expect(lines(text).map((l) => JSON.parse(l))).toEqual(entries);
    expect(await modeOf(file)).toBe(0o600);
    expect(await modeOf(`${file}.head`)).toBe(0o600);
    expect(await head()).toEqual({ seq: 3, hash: entries[2]!.hash });
    expect((await fs.readdir(dir)).sort()).toEqual(['audit.jsonl', 'audit.jsonl.head']);
  });

  it('fills in seq, time, host and the exact documented hash', async () => {
    const [entry] = await appendMany(1);
    expect(entry).toEqual({
      seq: 1,
      at: '2025-03-01T10:00:00.000Z',
      actor: alice,
      host: HOST,
      action: 'approve',
      target: {
        groupId: 'g-1',
        groupName: 'OCI-Temp-Admins',
        userId: 'u-1',
        upn: 'user1@example.com',
        requestId: 'r-1',
      },
      reason: 'reason 1',
      result: 'failed',
      prev: GENESIS_HASH,
      hash: expect.any(String),
    });
    // Independent of the implementation: sha256(prev + JSON with sorted keys, without hash).
    const { hash, ...rest } = entry!;
    const sorted = JSON.stringify(
      rest,
      Object.keys(rest).sort().concat('groupId', 'groupName', 'userId', 'upn', 'requestId', 'id', 'kind').sort(),
    );
    expect(hash).toBe(
      createHash('sha256')
        .update(GENESIS_HASH + sorted)
        .digest('hex'),
    );
  });

  it('normalizes what JSON cannot keep, so the stored line still verifies', async () => {
    const entry = await log().append({
      actor: alice,
      action: 'request',
      result: 'ok',
      reason: undefined,
      details: { when: new Date(0) as unknown, nan: Number.NaN, skip: undefined },
    });
    expect(entry.details).toEqual({ when: '1970-01-01T00:00:00.000Z', nan: null });
    expect(entry).not.toHaveProperty('reason');
    expect(entry.target).toEqual({});
    expect((await log().verify()).ok).toBe(true);
  });

  it('serializes concurrent appends from several writers into one unbroken chain', async () => {
    const real = { clock: systemClock, pid: process.pid, hostname: HOST };
    const writers = [openAuditLog(dir, real), openAuditLog(dir, real), openAuditLog(dir, real)];
    await Promise.all(Array.from({ length: 60 }, (_, i) => writers[i % 3]!.append(input(i + 1))));
    const result = await log().verify();
    expect(result).toMatchObject({ ok: true, entries: 60, lastSeq: 60 });
    const all = await log().read();
    expect(new Set(all.map((e) => e.target.requestId)).size).toBe(60);
  });

  it('reads entries back, optionally since a time', async () => {
    await appendMany(5);
    expect((await log().read()).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect((await log().read({ since: '2025-03-01T10:00:03.000Z' })).map((e) => e.seq)).toEqual([4, 5]);
    expect((await log().read({ since: new Date('2025-03-01T10:00:03.500Z') })).map((e) => e.seq)).toEqual([5]);
  });

  it('reads nothing (and creates nothing) when there is no log', async () => {
    expect(await log().read()).toEqual([]);
    expect(await log().verify()).toMatchObject({ ok: true, entries: 0 });
    await expect(fs.access(dir)).rejects.toThrow();
  });

  it('refuses to read a log with a line that is not an entry', async () => {
    await appendMany(3);
    const ls = lines(await content());
    ls[1] = 'not json';
    await fs.writeFile(file, join(ls));
    const error = await caught(() => log().read());
    expect(error.code).toBe('AUDIT_CORRUPT');
    expect(error.message).toContain('Line 2');
  });
});

describe('verification catches every single-entry mutation of a 30-entry log', () => {
  let original: string[];
  let originalHead: AuditHead;

  // Built once: the mutations below work on copies of the text.
  beforeAll(async () => {
    const ownRoot = await tempRoot();
    dir = path.join(ownRoot, 'state');
    file = path.join(dir, 'audit.jsonl');
    clock = fakeClock();
    await appendMany(30);
    original = lines(await content());
    originalHead = await head();
    await removeTree(ownRoot);
  });

  it('starts from a log that verifies', () => {
    expect(original).toHaveLength(30);
    expect(verifyAuditContent(join(original), originalHead)).toMatchObject({
      ok: true,
      entries: 30,
      lastSeq: 30,
      lastHash: originalHead.hash,
    });
  });

  function leafPaths(value: unknown, prefix: string[] = []): string[][] {
    if (value !== null && typeof value === 'object') {
      return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
    }
    return [prefix];
  }

  function mutateLeaf(entry: any, p: string[]): void {
    let node = entry;
    for (const key of p.slice(0, -1)) node = node[key];
    const key = p[p.length - 1]!;
    const v = node[key];
    if (typeof v === 'number') node[key] = v + 1;
    else if (typeof v === 'boolean') node[key] = !v;
    else if (v === null) node[key] = 0;
    else if (/^[0-9a-f]{64}$/.test(v))
      node[key] = `${v.slice(0, -1)}${v.endsWith('0') ? '1' : '0'}`; // still valid hex
    else node[key] = `${v}x`;
  }

  it('every edit of one field (including seq, prev, hash) → edited at that seq', () => {
    let tried = 0;
    let caughtCount = 0;
    original.forEach((line, index) => {
      for (const p of leafPaths(JSON.parse(line))) {
        const entry = JSON.parse(line);
        mutateLeaf(entry, p);
        const ls = [...original];
        ls[index] = JSON.stringify(entry);
        const result = verifyAuditContent(join(ls), originalHead);
        tried += 1;
        if (!result.ok && result.problem === 'edited' && result.firstBadSeq === index + 1) caughtCount += 1;
      }
    });
    expect(tried).toBeGreaterThan(30 * 10);
    expect(caughtCount).toBe(tried);
  });

  it('every removed or added field → edited', () => {
    let tried = 0;
    let caughtCount = 0;
    original.forEach((line, index) => {
      const entry = JSON.parse(line);
      const variants = [
        ...Object.keys(entry).map((k) => {
          const copy = { ...entry };
          delete copy[k];
          return copy;
        }),
        { ...entry, extra: 'added' },
      ];
      for (const variant of variants) {
        const ls = [...original];
        ls[index] = JSON.stringify(variant);
        const result = verifyAuditContent(join(ls), originalHead);
        tried += 1;
        if (!result.ok && result.problem === 'edited' && result.firstBadSeq === index + 1) caughtCount += 1;
      }
    });
    expect(caughtCount).toBe(tried);
  });

  it("every edit that also recomputes that entry's hash → edited (the next link or the head breaks)", () => {
    let caughtCount = 0;
    original.forEach((line, index) => {
      const entry = JSON.parse(line) as AuditEntry;
      entry.result = entry.result === 'ok' ? 'failed' : 'ok';
      entry.hash = computeEntryHash(entry);
      const ls = [...original];
      ls[index] = JSON.stringify(entry);
      const result = verifyAuditContent(join(ls), originalHead);
      if (!result.ok && result.problem === 'edited' && result.firstBadSeq === index + 1) caughtCount += 1;
    });
    expect(caughtCount).toBe(30);
  });

  it('every deletion of one entry (first, middle, last) → deleted at that seq', () => {
    const results = original.map((_, index) =>
      verifyAuditContent(join(original.filter((__, i) => i !== index)), originalHead),
    );
    expect(results.filter((r) => !r.ok && r.problem === 'deleted')).toHaveLength(30);
    expect(results.map((r) => r.firstBadSeq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('every swap of two adjacent entries → reordered at the first of them', () => {
    const results = original.slice(0, -1).map((_, index) => {
      const ls = [...original];
      [ls[index], ls[index + 1]] = [ls[index + 1]!, ls[index]!];
      return verifyAuditContent(join(ls), originalHead);
    });
    expect(results).toHaveLength(29);
    expect(results.filter((r) => !r.ok && r.problem === 'reordered')).toHaveLength(29);
    expect(results.map((r) => r.firstBadSeq)).toEqual(Array.from({ length: 29 }, (_, i) => i + 1));
  });

  it('every insertion of a copy of an existing entry, at every position → detected', () => {
    let tried = 0;
    let detected = 0;
    for (let position = 0; position <= 30; position += 1) {
      for (const copied of [0, 14, 29]) {
        const ls = [...original];
        ls.splice(position, 0, original[copied]!);
        tried += 1;
        if (!verifyAuditContent(join(ls), originalHead).ok) detected += 1;
      }
    }
    expect(tried).toBe(93);
    expect(detected).toBe(tried);
  });

  it('every insertion of a forged, correctly hashed and chained entry before an existing one → inserted', () => {
    const results = original.map((_, position) => {
      const prev = position === 0 ? GENESIS_HASH : (JSON.parse(original[position - 1]!) as AuditEntry).hash;
      const forged: Omit<AuditEntry, 'hash'> = {
        seq: position + 1,
        at: '2025-03-01T10:00:00.500Z',
        actor: { id: 'u-evil', upn: 'mallory@example.com', kind: 'user' },
        host: HOST,
        action: 'approve',
        target: { groupId: 'g-1', userId: 'u-evil' },
        result: 'ok',
        prev,
      };
      const ls = [...original];
      ls.splice(position, 0, JSON.stringify({ ...forged, hash: computeEntryHash(forged) }));
      return verifyAuditContent(join(ls), originalHead);
    });
    expect(results.filter((r) => !r.ok && r.problem === 'inserted')).toHaveLength(30);
    expect(results.every((r, position) => r.firstBadSeq === position + 1)).toBe(true);
  });

  it('a log cut back to an earlier entry, or emptied, is deleted — not truncated-line', () => {
    expect(verifyAuditContent(join(original.slice(0, 25)), originalHead)).toMatchObject({
      ok: false,
      problem: 'deleted',
      firstBadSeq: 26,
      entries: 25,
    });
    expect(verifyAuditContent('', originalHead)).toMatchObject({
      ok: false,
      problem: 'deleted',
      firstBadSeq: 1,
      entries: 0,
    });
    const chopped = `${join(original.slice(0, 29))}${original[29]!.slice(0, 40)}`;
    expect(verifyAuditContent(chopped, originalHead)).toMatchObject({ ok: false, problem: 'deleted', firstBadSeq: 30 });
  });

  it('a line that is not JSON → not-json', () => {
    const ls = [...original];
    ls[7] = '{"seq":8,';
    expect(verifyAuditContent(join(ls), originalHead)).toMatchObject({
      ok: false,
      problem: 'not-json',
      firstBadSeq: 8,
      entries: 7,
    });
    ls[7] = '';
    expect(verifyAuditContent(join(ls), originalHead)).toMatchObject({
      ok: false,
      problem: 'not-json',
      firstBadSeq: 8,
    });
  });

  it('accepts a head that lags by the entry a crash interrupted, never one that leads', () => {
    const previous = JSON.parse(original[28]!) as AuditEntry;
    expect(verifyAuditContent(join(original), { seq: 29, hash: previous.hash })).toMatchObject({
      ok: true,
      entries: 30,
    });
    expect(verifyAuditContent(join(original), { seq: 31, hash: originalHead.hash }).problem).toBe('deleted');
    expect(verifyAuditContent(join(original), { seq: 30, hash: previous.hash }).problem).toBe('edited');
  });

  it('verify() on the file reports the same as the pure check', async () => {
    const ls = [...original];
    ls.splice(12, 1);
    await fs.mkdir(dir, { mode: 0o700 });
    await fs.writeFile(file, join(ls), { mode: 0o600 });
    await fs.writeFile(`${file}.head`, JSON.stringify(originalHead), { mode: 0o600 });
    expect(await log().verify()).toMatchObject({ ok: false, problem: 'deleted', firstBadSeq: 13, entries: 12 });
  });
});

describe('torn last line (an append interrupted by a crash)', () => {
  it('is reported as truncated-line, and the next append moves it aside, records the repair and continues the chain', async () => {
    await appendMany(5);
    const torn = '{"action":"approve","actor":{"id":"u-1","ki';
    await fs.appendFile(file, torn);
    const before = await log().verify();
    expect(before).toMatchObject({ ok: false, problem: 'truncated-line', entries: 5, firstBadSeq: 6 });
    expect(before.message).toMatch(/not tampering/);

    const entry = await log().append(input(6));
    expect(entry.seq).toBe(7);
    const all = await log().read();
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const repair = all[5]!;
    expect(repair).toMatchObject({
      action: 'audit.repair',
      result: 'ok',
      actor: input(6).actor,
      details: { tornBytes: torn.length, afterSeq: 5 },
    });
    const savedAs = path.join(dir, String(repair.details!.savedAs));
    expect(path.basename(savedAs)).toBe('audit.jsonl.torn-2025-03-01T10-00-05.000Z');
    expect(await fs.readFile(savedAs, 'utf8')).toBe(torn);
    expect(await modeOf(savedAs)).toBe(0o600);
    expect(await log().verify()).toMatchObject({ ok: true, entries: 7 });
  });

  it('is repaired even when no complete line precedes it', async () => {
    await fs.mkdir(dir, { mode: 0o700 });
    // A new log's head ({seq 0}) is written before its first entry, so a crash in that first append leaves both.
    await fs.writeFile(`${file}.head`, JSON.stringify({ seq: 0, hash: GENESIS_HASH }), { mode: 0o600 });
    await fs.writeFile(file, '{"seq":1,"at":"2025', { mode: 0o600 });
    expect(await log().verify()).toMatchObject({ ok: false, problem: 'truncated-line', entries: 0 });
    const entry = await log().append(input(1));
    expect(entry.seq).toBe(2);
    expect((await log().read())[0]!).toMatchObject({ seq: 1, action: 'audit.repair', prev: GENESIS_HASH });
    expect((await log().verify()).ok).toBe(true);
  });

  it('leaves a partial line (and a typed error) when the disk refuses part of a write; the next append repairs', async () => {
    await appendMany(2);
    const probe = await fs.open(path.join(root, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { write: (...args: any[]) => Promise<any> };
    await probe.close();
    const realWrite = proto.write;
    let calls = 0;
    jest.spyOn(proto, 'write').mockImplementation(async function (
      this: any,
      buffer: Buffer,
      offset: number,
      length: number,
    ) {
      calls += 1;
      if (calls === 1) {
        await realWrite.call(this, buffer, offset, 17); // part of the line reaches the disk…
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }); // …then it is full
      }
      return realWrite.call(this, buffer, offset, length);
    });
    const error = await caught(() => log().append(input(3)));
    expect(error.code).toBe('AUDIT_UNWRITABLE');
    expect(error.message).toContain('no space left');
    jest.restoreAllMocks();
    expect((await log().verify()).problem).toBe('truncated-line');
    await log().append(input(4));
    expect((await log().read()).map((e) => e.action)).toEqual(['approve', 'revoke', 'audit.repair', 'request']);
    expect(await log().verify()).toMatchObject({ ok: true, entries: 4 });
  });
});

describe('when the log cannot be written: AUDIT_UNWRITABLE', () => {
  it('the last entry was edited: refuses to chain onto it and changes nothing', async () => {
    await appendMany(3);
    const ls = lines(await content());
    ls[2] = ls[2]!.replace('"result":"ok"', '"result":"failed"');
    await fs.writeFile(file, join(ls));
    const error = await caught(() => log().append(input(4)));
    expect(error.code).toBe('AUDIT_UNWRITABLE');
    expect(error.message).toMatch(/damaged/);
    expect(await content()).toBe(join(ls));
  });

  it('entries were removed from the end: refuses, so the gap cannot be papered over', async () => {
    await appendMany(3);
    const ls = lines(await content());
    await fs.writeFile(file, join(ls.slice(0, 2)));
    const error = await caught(() => log().append(input(4)));
    expect(error.code).toBe('AUDIT_UNWRITABLE');
    expect(error.message).toMatch(/removed or rewritten/);
    expect(lines(await content())).toHaveLength(2);
  });

  it('the log file is a symlink', async () => {
    await appendMany(1);
    await fs.rename(file, path.join(root, 'moved.jsonl'));
    await fs.symlink(path.join(root, 'moved.jsonl'), file);
    const error = await caught(() => log().append(input(2)));
    expect(error.code).toBe('AUDIT_UNWRITABLE');
    expect(error.details.reason).toBe('STATE_SYMLINK');
    expect(lines(await fs.readFile(path.join(root, 'moved.jsonl'), 'utf8'))).toHaveLength(1);
  });

  it('the state directory is open to others (the hint keeps the exact chmod)', async () => {
    await appendMany(1);
    await fs.chmod(dir, 0o777);
    const error = await caught(() => log().append(input(2)));
    expect(error.code).toBe('AUDIT_UNWRITABLE');
    expect(error.details.reason).toBe('STATE_PERMISSIONS');
    expect(error.hint).toContain(`chmod 700 ${dir}`);
  });

  it('another live process holds the audit lock past the timeout', async () => {
    await fs.mkdir(dir, { mode: 0o700 });
    await tryAcquire(`${file}.lock`, { clock, pid: 777, hostname: HOST, isProcessAlive: () => true });
    const error = await caught(() => log({ lockTimeoutMs: 500, isProcessAlive: () => true }).append(input(1)));
    expect(error.code).toBe('AUDIT_UNWRITABLE');
    expect(error.details.reason).toBe('LOCK_TIMEOUT');
  });

  it('the lock was taken over while this process stalled: nothing is written (re-checked before the write)', async () => {
    await appendMany(2);
    const before = await content();
    const headBefore = await head();
    const lockFile = `${file}.lock`;
    // The append reads the clock once it holds the lock and has read the tail; "stall" there until another process takes over.
    const now = clock.now;
    clock.now = () => {
      if (existsSync(lockFile)) {
        writeFileSync(
          lockFile,
          JSON.stringify({
            pid: 777,
            hostname: 'other',
            acquiredAt: now().toISOString(),
            nonce: 'theirs',
            purpose: 'an audit log append',
          }),
        );
        clock.now = now;
      }
      return now();
    };
    const error = await caught(() => log().append(input(3)));
    expect(error.code).toBe('AUDIT_UNWRITABLE');
    expect(error.details.reason).toBe('AUDIT_LOCK_LOST');
    expect(error.hint).toBe('Run the command again.');
    expect(await content()).toBe(before);
    expect(await head()).toEqual(headBefore);
    expect(await fs.readFile(lockFile, 'utf8')).toContain('"theirs"'); // the new holder's lock is left alone
  });

  it('an invalid entry is refused before anything is written', async () => {
    const error = await caught(() => log().append({ actor: alice, action: '', result: 'ok' }));
    expect(error.code).toBe('AUDIT_UNWRITABLE');
    expect(error.details.reason).toBe('AUDIT_INVALID_ENTRY');
    await expect(fs.access(file)).rejects.toThrow();
  });
});
