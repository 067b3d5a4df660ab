/**
 * Logs written before the canonical JSON became RFC 8785 (the `canonicalize`
 * package) still verify, and logs written now verify under the old rules too.
 *
 * The fixtures under fixtures/legacy-audit/ were written by the audit log of
 * commit aaef420 (fixtures/legacy-audit/make.mjs): an unsealed log with a
 * repaired torn line, a log sealed from its first entry, and one sealed later
 * by `audit seal`, each with its head file; the details hold the values where
 * two serializers could disagree (number forms, escapes, lone surrogates, key
 * order by UTF-16 code units, array-index and "__proto__" keys, and values JSON
 * changes: Date, NaN, undefined).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  canonicalJson,
  computeEntryHash,
  openAuditLog,
  verifyAuditContent,
  type AuditHead,
} from '../../src/store/audit-log.js';
import { auditKeyFrom } from '../../src/store/audit-key.js';
import { canonicalJson as legacyCanonicalJson } from './support/legacy-canonical-json.js';
import { fakeClock, HOST, removeTree, tempRoot } from './support/helpers.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'legacy-audit');
const key = auditKeyFrom(Buffer.from('legacy-fixture-key-'.repeat(3)), 'the fixture key');
const logs = [
  { name: 'unsealed', entries: 37, sealed: 0 },
  { name: 'sealed', entries: 15, sealed: 15 },
  { name: 'sealed-later', entries: 11, sealed: 6 },
] as const;

async function fixture(name: string): Promise<{ text: string; head: AuditHead }> {
  const text = await fs.readFile(path.join(fixtures, name, 'audit.jsonl'), 'utf8');
  const head = JSON.parse(await fs.readFile(path.join(fixtures, name, 'audit.jsonl.head'), 'utf8')) as AuditHead;
  return { text, head };
}

let root: string;
beforeEach(async () => {
  root = await tempRoot();
});
afterEach(async () => {
  await removeTree(root);
});

describe.each(logs)('a $name log written by the old code', ({ name, entries, sealed }) => {
  const withKey = sealed > 0;

  it('verifies, chain, head and seals', async () => {
    const { text, head } = await fixture(name);
    const result = verifyAuditContent(text, head, withKey ? { key } : {});
    expect(result).toMatchObject({ ok: true, entries, lastSeq: entries, lastHash: head.hash });
    if (withKey) expect(result.seals).toEqual({ checked: true, sealed, unsealed: entries - sealed });
    expect(head.seq).toBe(entries);
    expect(head.hmac === undefined).toBe(!withKey);
  });

  it('was written in RFC 8785 form: every line is the canonical JSON of what it parses to', async () => {
    const { text } = await fixture(name);
    for (const line of text.split('\n').slice(0, -1)) expect(canonicalJson(JSON.parse(line))).toBe(line);
  });

  it('still fails where it was changed (the check can fail)', async () => {
    const { text, head } = await fixture(name);
    const changed = text.replace(',9007199254740992,', ',9007199254740990,');
    expect(changed).not.toBe(text);
    expect(verifyAuditContent(changed, head, withKey ? { key } : {})).toMatchObject({ ok: false, problem: 'edited' });
  });

  it('takes new entries through openAuditLog, chained to its last one', async () => {
    const dir = path.join(root, 'state');
    await fs.mkdir(dir, { mode: 0o700 });
    for (const file of ['audit.jsonl', 'audit.jsonl.head']) {
      await fs.copyFile(path.join(fixtures, name, file), path.join(dir, file));
      await fs.chmod(path.join(dir, file), 0o600);
    }
    const { head } = await fixture(name);
    const log = openAuditLog(
      dir,
      { clock: fakeClock('2027-01-01T00:00:00.000Z'), pid: 4242, hostname: HOST },
      {
        isProcessAlive: (pid) => pid === 4242,
        ...(withKey ? { key: async () => key } : {}),
      },
    );
    expect(await log.verify({ expectHead: head.hash })).toMatchObject({ ok: true, entries });
    const entry = await log.append({
      actor: { id: 'u-1', upn: 'alice@contoso.example', kind: 'user' },
      action: 'approve',
      result: 'ok',
      details: { n: 1e21, s: '\u2028' },
    });
    expect(entry).toMatchObject({ seq: entries + 1, prev: head.hash });
    expect(await log.verify()).toMatchObject({ ok: true, entries: entries + 1 });
  });
});

describe('the old and the new canonical JSON', () => {
  // What an audit line can hold: anything JSON.parse returns, with keys and strings of any UTF-16 (lone surrogates too).
  const key = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 5 }),
    fc.constantFrom('0', '1', '2', '10', '01', '__proto__', 'toJSON', 'hash', '\uffff', '\ud83d\ude00'),
  );
  const json = fc
    .letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.string({ unit: 'binary', maxLength: 8 }),
        fc.double(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(key, tie('value'), { maxKeys: 5 }),
      ),
    }))
    .value.map((value) => JSON.parse(JSON.stringify(value)) as unknown);

  it('agree on every JSON value', () => {
    fc.assert(
      fc.property(json, (value) => canonicalJson(value as never) === legacyCanonicalJson(value)),
      { numRuns: 5000 },
    );
  });

  it('give an entry appended today the hash the old code computes for it, whatever its details', async () => {
    const awkward = {
      when: new Date(0),
      nan: Number.NaN,
      gone: undefined,
      list: [1, undefined],
      '10': 'index',
      '2': 'keys',
      big: 2 ** 64,
      tiny: 5e-324,
    };
    const dir = path.join(root, 'state');
    const log = openAuditLog(
      dir,
      { clock: fakeClock(), pid: 4242, hostname: HOST },
      { isProcessAlive: (pid) => pid === 4242 },
    );
    await log.append({
      actor: { id: 'u-1', upn: 'a@b', kind: 'user' },
      action: 'remove',
      result: 'ok',
      details: awkward,
    });
    const [line] = (await fs.readFile(path.join(dir, 'audit.jsonl'), 'utf8')).split('\n');
    const { hash, hmac: _hmac, ...body } = JSON.parse(line!);
    expect(computeEntryHash(JSON.parse(line!))).toBe(hash);
    const { createHash } = await import('node:crypto');
    expect(
      createHash('sha256')
        .update(body.prev + legacyCanonicalJson(body))
        .digest('hex'),
    ).toBe(hash);
  });
});
