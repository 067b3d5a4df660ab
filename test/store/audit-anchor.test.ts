/**
 * The audit log's anchors (security item 8), each attack reproduced:
 *
 * - the head record: deleting it together with a truncation, or with an
 *   emptied log, fails verification (head-missing) and appends refuse;
 * - `audit verify --expect-head HASH`: an off-machine copy of the head catches
 *   a rewrite of both files;
 * - the HMAC key: a log rewritten and re-chained (every hash recomputed) by
 *   someone without the key fails; sealing an old log is an explicit
 *   `audit seal`; the key file must be private.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  GENESIS_HASH,
  computeEntryHash,
  openAuditLog,
  type AuditEntry,
  type AuditInput,
} from '../../src/store/audit-log.js';
import { auditKeyFrom, auditKeySource, loadAuditKey, type AuditKey } from '../../src/store/audit-key.js';
import { main } from '../../src/cli/main.js';
import { CapturedStream, actorContext } from '../../src/actor-context.js';
import { caught, fakeClock, HOST, removeTree, tempRoot, type FakeClock } from './support/helpers.js';

let root: string;
let dir: string;
let file: string;
let headFile: string;
let keyFile: string;
let clock: FakeClock;

const KEY = 'k'.repeat(40);
const alice = { id: 'u-1', upn: 'alice@example.com', kind: 'user' as const };
const input = (i: number): AuditInput => ({
  actor: alice,
  action: 'approve',
  target: { upn: `user${i}@example.com`, requestId: `r-${i}` },
  reason: `reason ${i}`,
  result: 'ok',
});

function log(key?: AuditKey) {
  return openAuditLog(
    dir,
    { clock, pid: 4242, hostname: HOST },
    { isProcessAlive: (p) => p === 4242, ...(key ? { key: async () => key } : {}) },
  );
}

async function write(n: number, key?: AuditKey): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  for (let i = 1; i <= n; i += 1) {
    entries.push(await log(key).append(input(i)));
    clock.advance(1_000);
  }
  return entries;
}

const lines = async () => (await fs.readFile(file, 'utf8')).split('\n').slice(0, -1);

/** What someone without the key can do: change entries, recompute every hash and link, keep or drop the seals, and write a matching head. */
async function rewriteAndRechain(change: (entry: any) => void, seals: 'drop' | 'keep'): Promise<void> {
  let prev = GENESIS_HASH;
  const out: string[] = [];
  let last: AuditEntry | undefined;
  for (const line of await lines()) {
    const entry = JSON.parse(line);
    change(entry);
    if (seals === 'drop') delete entry.hmac;
    entry.prev = prev;
    entry.hash = computeEntryHash(entry);
    prev = entry.hash;
    last = entry;
    out.push(JSON.stringify(entry));
  }
  await fs.writeFile(file, out.map((l) => `${l}\n`).join(''), { mode: 0o600 });
  await fs.writeFile(headFile, JSON.stringify({ seq: last?.seq ?? 0, hash: prev }), { mode: 0o600 });
}

/** `ociaccess …` in-process, with this test's state directory, no config file, and the fake clock. */
async function cli(argv: string[], env: Record<string, string> = {}) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const ctx = actorContext({
    env: {
      OCIACCESS_HOME: dir,
      OCIACCESS_CONFIG: path.join(root, 'no-config.json'),
      NO_COLOR: '1',
      USER: 'op',
      ...env,
    },
    stdout,
    stderr,
    cwd: root,
  });
  ctx.clock = clock;
  const code = await main(argv, ctx);
  return {
    code,
    stdout: stdout.text,
    stderr: stderr.text,
    json: argv.includes('--json') ? JSON.parse(stdout.text) : undefined,
  };
}

beforeEach(async () => {
  root = await tempRoot();
  dir = path.join(root, 'state');
  file = path.join(dir, 'audit.jsonl');
  headFile = `${file}.head`;
  keyFile = path.join(root, 'audit.key');
  await fs.writeFile(keyFile, `${KEY}\n`, { mode: 0o600 });
  clock = fakeClock();
});
afterEach(async () => {
  await removeTree(root);
});

describe('the head record is required once the log exists', () => {
  it('attack: delete the head and cut the log back → verify fails with head-missing (exit 1, with the fix), and appends refuse', async () => {
    await write(5);
    await fs.writeFile(
      file,
      (await lines())
        .slice(0, 3)
        .map((l) => `${l}\n`)
        .join(''),
      { mode: 0o600 },
    );
    await fs.rm(headFile);
    expect(await log().verify()).toMatchObject({ ok: false, problem: 'head-missing', entries: 3, firstBadSeq: 4 });
    const result = await cli(['audit', 'verify']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^BROKEN at seq 4: head-missing — The head record audit\.jsonl\.head is missing/);
    expect(result.stderr).toMatch(/hint: .*--expect-head HASH.*move audit\.jsonl aside/);
    const refused = await caught(() => log().append(input(9)));
    expect(refused).toMatchObject({ code: 'AUDIT_UNWRITABLE', details: { reason: 'AUDIT_HEAD_MISSING' } });
    expect(await lines()).toHaveLength(3);
    expect(await fs.stat(headFile).catch(() => undefined)).toBeUndefined();
  });

  it('attack: delete the head and empty the log → head-missing', async () => {
    await write(4);
    await fs.writeFile(file, '', { mode: 0o600 });
    await fs.rm(headFile);
    expect(await log().verify()).toMatchObject({ ok: false, problem: 'head-missing', entries: 0 });
    expect((await cli(['audit', 'verify', '--json'])).json).toMatchObject({ ok: false, problem: 'head-missing' });
  });

  it('a brand-new log: nothing on disk verifies (0 entries); the first append writes the head before the entry', async () => {
    expect(await log().verify()).toMatchObject({ ok: true, entries: 0 });
    const order: string[] = [];
    const rename = fs.rename;
    (fs as any).rename = async (from: string, to: string) => {
      order.push(
        `${path.basename(to)}: ${await fs.stat(file).then(
          (s) => `log of ${s.size} bytes`,
          () => 'no log',
        )}`,
      );
      return rename(from, to);
    };
    try {
      await log().append(input(1));
    } finally {
      (fs as any).rename = rename;
    }
    expect(order[0]).toBe('audit.jsonl.head: no log');
    expect(JSON.parse(await fs.readFile(headFile, 'utf8'))).toMatchObject({ seq: 1 });
    expect(await log().verify()).toMatchObject({ ok: true, entries: 1 });
  });
});

describe('audit verify --expect-head', () => {
  it('passes when the chain ends at the hash, given bare or as printed (sha256:…, any case)', async () => {
    const entries = await write(3);
    const printed = await cli(['audit', 'verify']);
    expect(printed.stdout).toBe(`ok: 3 entries verified, head sha256:${entries[2]!.hash} (seq 3)\n`);
    expect((await cli(['audit', 'verify', '--expect-head', entries[2]!.hash])).code).toBe(0);
    expect((await cli(['audit', 'verify', '--expect-head', `sha256:${entries[2]!.hash.toUpperCase()}`])).code).toBe(0);
  });

  it('attack: both files rewritten consistently (an entry changed, re-chained, new head) → head-mismatch against the off-machine copy', async () => {
    const entries = await write(3);
    const shipped = entries[2]!.hash;
    await rewriteAndRechain((entry) => {
      if (entry.seq === 2) entry.reason = 'nothing to see';
    }, 'drop');
    expect((await cli(['audit', 'verify'])).code).toBe(0); // the chain and head alone cannot tell
    const result = await cli(['audit', 'verify', '--json', '--expect-head', shipped]);
    expect(result.code).toBe(1);
    expect(result.json).toMatchObject({ ok: false, problem: 'head-mismatch', firstBadSeq: 1 });
    expect(result.json.message).toMatch(/nowhere in it/);
  });

  it('a log that grew past the anchor fails too, naming the entry the anchor matches', async () => {
    const entries = await write(4);
    const result = await log().verify({ expectHead: entries[1]!.hash });
    expect(result).toMatchObject({ ok: false, problem: 'head-mismatch', firstBadSeq: 3, entries: 2 });
    expect(result.message).toMatch(/expected head is entry 2, but the log goes on to entry 4/);
  });

  it('deleting both files is caught only by the anchor', async () => {
    const entries = await write(2);
    await fs.rm(file);
    await fs.rm(headFile);
    expect((await cli(['audit', 'verify'])).code).toBe(0);
    expect((await cli(['audit', 'verify', '--json', '--expect-head', entries[1]!.hash])).json).toMatchObject({
      ok: false,
      problem: 'head-mismatch',
    });
  });

  it.each(['abc', `sha1:${'a'.repeat(64)}`, 'g'.repeat(64), `${'a'.repeat(63)}`])(
    'a bad hash (%s) is a usage error, exit 2',
    async (bad) => {
      const result = await cli(['audit', 'verify', '--expect-head', bad]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/\[INVALID_EXPECT_HEAD\]/);
    },
  );
});

describe('the HMAC key seals entries and the head', () => {
  const key = auditKeyFrom(Buffer.from(KEY), 'test');

  it('with a key every entry and the head are sealed, and verify checks them', async () => {
    const entries = await write(3, key);
    expect(entries.every((e) => e.hmac === key.sealEntry(e.hash))).toBe(true);
    expect(JSON.parse(await fs.readFile(headFile, 'utf8')).hmac).toBe(key.sealHead(3, entries[2]!.hash));
    expect(await log(key).verify()).toMatchObject({
      ok: true,
      entries: 3,
      seals: { checked: true, sealed: 3, unsealed: 0 },
    });
    // The key is not in the chain: a sealed log still verifies as a chain without it (and says the seals were not checked).
    expect(await log().verify()).toMatchObject({ ok: true, entries: 3, seals: { checked: false, sealed: 3 } });
    const result = await cli(['audit', 'verify'], { OCIACCESS_AUDIT_KEY_FILE: keyFile });
    expect(result).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^ok: 3 entries verified, 3 sealed, head sha256:/),
    });
  });

  it('attack: the whole log rewritten and re-chained without the key, seals dropped → unsealed (exit 1)', async () => {
    await write(4, key);
    await rewriteAndRechain((entry) => {
      if (entry.seq === 2) entry.reason = 'rewritten';
    }, 'drop');
    expect(await log(key).verify()).toMatchObject({ ok: false, problem: 'unsealed', firstBadSeq: 1 });
    const result = await cli(['audit', 'verify', '--json'], { OCIACCESS_AUDIT_KEY: KEY });
    expect(result.code).toBe(1);
    expect(result.json).toMatchObject({ ok: false, problem: 'unsealed' });
    // …and the next append does not bless it by sealing on top.
    expect(await caught(() => log(key).append(input(9)))).toMatchObject({
      code: 'AUDIT_UNWRITABLE',
      details: { reason: 'AUDIT_NOT_SEALED' },
    });
  });

  it('attack: the whole log rewritten and re-chained without the key, old seals kept → bad-seal at the first changed entry', async () => {
    await write(4, key);
    await rewriteAndRechain((entry) => {
      if (entry.seq === 3) entry.reason = 'rewritten';
    }, 'keep');
    expect(await log(key).verify()).toMatchObject({ ok: false, problem: 'bad-seal', firstBadSeq: 3, entries: 2 });
    expect((await cli(['audit', 'verify'], { OCIACCESS_AUDIT_KEY_FILE: keyFile })).code).toBe(1);
  });

  it('attack: cut back with a forged (unsealed) head → bad-seal; with the head deleted → head-missing', async () => {
    const entries = await write(5, key);
    await fs.writeFile(
      file,
      (await lines())
        .slice(0, 3)
        .map((l) => `${l}\n`)
        .join(''),
      { mode: 0o600 },
    );
    await fs.writeFile(headFile, JSON.stringify({ seq: 3, hash: entries[2]!.hash }), { mode: 0o600 });
    expect(await log(key).verify()).toMatchObject({ ok: false, problem: 'bad-seal' });
    // The entry's own seal copied into the head does not pass for the head's seal.
    await fs.writeFile(headFile, JSON.stringify({ seq: 3, hash: entries[2]!.hash, hmac: entries[2]!.hmac }), {
      mode: 0o600,
    });
    expect(await log(key).verify()).toMatchObject({ ok: false, problem: 'bad-seal' });
    await fs.rm(headFile);
    expect(await log(key).verify()).toMatchObject({ ok: false, problem: 'head-missing' });
  });

  it('an unsealed entry after a sealed one fails; a seal from another key fails', async () => {
    await write(3, key);
    const ls = await lines();
    const second = JSON.parse(ls[1]!);
    delete second.hmac;
    ls[1] = JSON.stringify(second);
    await fs.writeFile(file, ls.map((l) => `${l}\n`).join(''), { mode: 0o600 });
    expect(await log(key).verify()).toMatchObject({ ok: false, problem: 'unsealed', firstBadSeq: 2 });
    expect(await log(auditKeyFrom(Buffer.from('x'.repeat(40)), 'other')).verify()).toMatchObject({
      ok: false,
      problem: 'bad-seal',
      firstBadSeq: 1,
    });
  });

  it('an old (unsealed) log: with a key it does not verify and appends refuse until `audit seal`; then the old entries are counted, later ones sealed', async () => {
    await write(3);
    expect(await log().verify()).toMatchObject({ ok: true, entries: 3 }); // existing chains still verify without a key
    const before = await log(key).verify();
    expect(before).toMatchObject({ ok: false, problem: 'unsealed' });
    expect(before.hint).toMatch(/ociaccess audit seal/);
    expect(await caught(() => log(key).append(input(4)))).toMatchObject({ details: { reason: 'AUDIT_NOT_SEALED' } });

    const sealed = await cli(['audit', 'seal'], { OCIACCESS_AUDIT_KEY_FILE: keyFile });
    expect(sealed).toMatchObject({
      code: 0,
      stdout: 'sealed: entries 1–3 accepted as written before the key; entry 4 and every later one are sealed\n',
    });
    await log(key).append(input(5));
    const after = await cli(['audit', 'verify'], { OCIACCESS_AUDIT_KEY_FILE: keyFile });
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(/^ok: 5 entries verified, 2 sealed, /);
    expect(after.stderr).toMatch(
      /3 entries were written before sealing started \(entries 1–3, accepted by `audit seal` at entry 4\)/,
    );
    expect((await log(key).read())[3]).toMatchObject({
      action: 'audit.seal',
      actor: { id: 'local:op', upn: expect.stringMatching(/^op@/) },
    });
    expect((await cli(['audit', 'seal'], { OCIACCESS_AUDIT_KEY_FILE: keyFile })).stdout).toMatch(/^nothing to do/);
  });

  it('`audit seal` refuses a log that does not verify (it would vouch for it)', async () => {
    await write(3);
    await fs.rm(headFile);
    const result = await cli(['audit', 'seal'], { OCIACCESS_AUDIT_KEY_FILE: keyFile });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\[AUDIT_UNWRITABLE\]/);
    expect(await lines()).toHaveLength(3);
  });

  it('unsealed entries put in front of a sealed log fail (only an audit.seal entry may follow unsealed ones)', async () => {
    await write(2, key);
    const forged = JSON.parse((await lines())[0]!);
    delete forged.hmac;
    // Entry 1 unsealed but re-chained: entry 2's seal covers its own hash, which covers prev, so this cannot keep entry 2's seal valid…
    await fs.writeFile(file, `${JSON.stringify(forged)}\n${(await lines())[1]}\n`, { mode: 0o600 });
    expect(await log(key).verify()).toMatchObject({ ok: false, problem: 'unsealed', firstBadSeq: 1 });
  });

  it('a sealed log and no key configured: appends refuse rather than write unsealed entries', async () => {
    await write(2, key);
    expect(await caught(() => log().append(input(3)))).toMatchObject({
      code: 'AUDIT_UNWRITABLE',
      details: { reason: 'AUDIT_KEY_MISSING' },
    });
  });
});

describe('where the key comes from', () => {
  const settings = (env: Record<string, string>, configKeyFile?: string) => ({
    env,
    cwd: root,
    platform: 'linux' as const,
    ...(configKeyFile ? { configKeyFile } : {}),
  });

  it('no setting: no key; the environment wins over the config; the file may end in a newline', async () => {
    expect(await loadAuditKey(settings({}))).toBeUndefined();
    const fromFile = await loadAuditKey(settings({}, 'audit.key'));
    expect(fromFile!.source).toBe(`file ${keyFile}`);
    expect(fromFile!.sealEntry('a')).toBe(auditKeyFrom(Buffer.from(KEY), 'x').sealEntry('a'));
    const inline = await loadAuditKey(settings({ OCIACCESS_AUDIT_KEY: 'z'.repeat(32) }, 'audit.key'));
    expect(inline!.source).toBe('environment variable OCIACCESS_AUDIT_KEY');
    expect(JSON.stringify(inline)).not.toContain('z'.repeat(32));
  });

  it('a key file readable by group or others is refused, with the chmod to run', async () => {
    await fs.chmod(keyFile, 0o644);
    const error = await caught(() => loadAuditKey(settings({ OCIACCESS_AUDIT_KEY_FILE: keyFile })));
    expect(error).toMatchObject({ code: 'AUDIT_KEY_INSECURE', exitCode: 2 });
    expect(error.hint).toContain(`chmod 600 ${keyFile}`);
    const result = await cli(['audit', 'verify'], { OCIACCESS_AUDIT_KEY_FILE: keyFile });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/\[AUDIT_KEY_INSECURE\]/);
  });

  it('a short or empty key, both variables at once, a missing file: typed errors that never echo the key', async () => {
    await expect(loadAuditKey(settings({ OCIACCESS_AUDIT_KEY: 'short-secret' }))).rejects.toMatchObject({
      code: 'AUDIT_KEY_INVALID',
    });
    await expect(
      loadAuditKey(settings({ OCIACCESS_AUDIT_KEY: KEY, OCIACCESS_AUDIT_KEY_FILE: keyFile })),
    ).rejects.toMatchObject({ code: 'AUDIT_KEY_AMBIGUOUS' });
    await expect(loadAuditKey(settings({ OCIACCESS_AUDIT_KEY_FILE: path.join(root, 'nope') }))).rejects.toMatchObject({
      code: 'AUDIT_KEY_UNREADABLE',
    });
    const error = await caught(() => loadAuditKey(settings({ OCIACCESS_AUDIT_KEY: 'short-secret' })));
    expect(`${error.message} ${error.hint}`).not.toContain('short-secret');
  });

  it('an append with a bad key setting is refused before anything is written', async () => {
    await fs.chmod(keyFile, 0o640);
    const source = auditKeySource(settings({ OCIACCESS_AUDIT_KEY_FILE: keyFile }));
    const l = openAuditLog(dir, { clock, pid: 4242, hostname: HOST }, { key: source });
    expect(await caught(() => l.append(input(1)))).toMatchObject({
      code: 'AUDIT_UNWRITABLE',
      details: { reason: 'AUDIT_KEY_INSECURE' },
    });
    expect(await fs.stat(file).catch(() => undefined)).toBeUndefined();
  });
});
