/**
 * The audit log, through the CLI:
 *
 * - `ociaccess audit verify` detects every edit, deletion and reordering of a
 *   log that real commands wrote: a mutation test over every field of every
 *   entry, every single deletion and every swap of neighbours — 100 % detected;
 * - when the audit log cannot be written, grants fail closed (nothing in Entra,
 *   no membership, nothing local), while revocations and the sweep's removals
 *   still go ahead, and the command exits non-zero.
 */
import { jest } from '@jest/globals';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SEED } from '../../src/emulator/seed.js';
import { startHarness, upnOf, type Actor, type Harness } from '../support/harness.js';
import { reportTrials } from './support/trials.js';

jest.setTimeout(300_000);

let rig: Harness;
beforeAll(async () => {
  rig = await startHarness({ logins: ['alice', 'bob'] });
});
afterAll(() => rig?.stop());
beforeEach(() => rig.resetTenant());

const AUDIT = 'audit.jsonl';

async function request(alice: Actor, hours = 2): Promise<string> {
  const result = await rig.run(alice, ['request', '--hours', String(hours), '--justification', 'audit test']);
  expect(result.code).toBe(0);
  return result.stdout.trim();
}

/** Every way of changing one leaf value of a JSON entry (paths into the object). */
function leafEdits(entry: unknown, at: (string | number)[] = []): { path: (string | number)[]; value: unknown }[] {
  if (entry === null || typeof entry !== 'object') {
    const value =
      typeof entry === 'string'
        ? entry === ''
          ? 'x'
          : `${entry.slice(0, -1)}${entry.endsWith('0') ? '1' : '0'}`
        : typeof entry === 'number'
          ? entry + 1
          : typeof entry === 'boolean'
            ? !entry
            : 'x';
    return [{ path: at, value }];
  }
  return Object.entries(entry as Record<string, unknown>).flatMap(([key, value]) =>
    leafEdits(value, [...at, Array.isArray(entry) ? Number(key) : key]),
  );
}

function setAt(target: any, at: (string | number)[], value: unknown): void {
  let node = target;
  for (const key of at.slice(0, -1)) node = node[key];
  node[at.at(-1)!] = value;
}

describe('audit log: `ociaccess audit verify` detects every edit, deletion and reordering', () => {
  it('a log written by real commands: every mutation of it is detected (100 %)', async () => {
    const alice = await rig.machine('alice');
    const bob = await rig.machine('bob');
    // bob's machine: approvals, a denial, revocations — with reasons, details, request ids.
    await rig.run(bob, ['approve', await request(alice), '--yes', '--reason', 'on call']);
    await rig.run(bob, ['revoke', '--user', upnOf('alice'), '--reason', 'done early']);
    await rig.run(bob, ['deny', await request(alice, 3), '--reason', 'use the read-only group']);
    await rig.run(bob, ['approve', await request(alice, 1), '--yes']);
    await rig.run(bob, ['revoke', '--user', upnOf('alice')]);
    const file = path.join(bob.home, AUDIT);
    const original = await readFile(file, 'utf8');
    const lines = original.split('\n').slice(0, -1);
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect((await rig.run(bob, ['audit', 'verify'])).code).toBe(0);

    const mutants: { what: string; content: string }[] = [];
    lines.forEach((line, index) => {
      const entry = JSON.parse(line);
      for (const edit of leafEdits(entry)) {
        const copy = structuredClone(entry);
        setAt(copy, edit.path, edit.value);
        const changed = [...lines];
        changed[index] = JSON.stringify(copy);
        mutants.push({ what: `edit seq ${entry.seq} ${edit.path.join('.')}`, content: `${changed.join('\n')}\n` });
      }
      mutants.push({ what: `delete seq ${entry.seq}`, content: `${lines.filter((_, i) => i !== index).join('\n')}\n` });
      if (index + 1 < lines.length) {
        const swapped = [...lines];
        [swapped[index], swapped[index + 1]] = [swapped[index + 1]!, swapped[index]!];
        mutants.push({ what: `swap seq ${entry.seq} and ${entry.seq + 1}`, content: `${swapped.join('\n')}\n` });
      }
    });
    mutants.push({ what: 'delete every entry', content: '' });
    mutants.push({ what: 'move the first entry to the end', content: `${[...lines.slice(1), lines[0]].join('\n')}\n` });

    const missed: string[] = [];
    for (const mutant of mutants) {
      await writeFile(file, mutant.content, { mode: 0o600 });
      const result = await rig.run(bob, ['audit', 'verify', '--json']);
      if (result.code === 0 || result.json?.ok !== false) missed.push(mutant.what);
    }
    await writeFile(file, original, { mode: 0o600 });
    expect((await rig.run(bob, ['audit', 'verify'])).code).toBe(0);
    reportTrials('audit/mutations', mutants.length, {
      detected: mutants.length - missed.length,
      missed: missed.length,
    });
    expect(missed).toEqual([]);
  });
});

describe('audit log: when it cannot be written', () => {
  /** Two ways: the last entry was edited (appending would bless it), or something that is not a file is in its place. */
  const breakers: { label: string; apply: (home: string) => Promise<void> }[] = [
    {
      label: 'its last entry was tampered with',
      apply: async (home) => {
        const file = path.join(home, AUDIT);
        const lines = (await readFile(file, 'utf8')).split('\n').slice(0, -1);
        const last = JSON.parse(lines.at(-1)!);
        last.reason = 'edited';
        lines[lines.length - 1] = JSON.stringify(last);
        await writeFile(file, `${lines.join('\n')}\n`);
      },
    },
    {
      label: 'a directory stands where the file should be',
      apply: async (home) => {
        await rm(path.join(home, AUDIT), { force: true });
        await rm(path.join(home, `${AUDIT}.head`), { force: true });
        await mkdir(path.join(home, AUDIT), { mode: 0o700 });
      },
    },
  ];

  it.each(breakers)(
    '$label: approve fails closed — nothing recorded, nobody added, exit non-zero',
    async ({ apply }) => {
      const alice = await rig.machine('alice');
      const bob = await rig.machine('bob');
      await rig.run(bob, ['deny', await request(alice), '--reason', 'to have a log']);
      const id = await request(alice);
      await apply(bob.home);
      const decisionsBefore = JSON.stringify(
        rig.emu.world.users.get(SEED.users.bob)!.extensions.get('com.ociaccess.decisions')?.properties,
      );
      const stateBefore = await readFile(path.join(bob.home, 'state.json'), 'utf8');
      const mark = rig.mark();
      const result = await rig.run(bob, ['approve', id, '--yes']);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/^error: .*audit.*\[[A-Z_]+\]$/im);
      expect(rig.entraMembers()).not.toContain(upnOf('alice'));
      expect(
        JSON.stringify(rig.emu.world.users.get(SEED.users.bob)!.extensions.get('com.ociaccess.decisions')?.properties),
      ).toBe(decisionsBefore);
      // Asking Entra for an approver's token (approve's scopes) changes nothing; no call to Graph or OCI may.
      expect(
        rig
          .requestsSince(mark)
          .filter((e) => e.service !== 'entra' && e.method !== 'GET' && !e.path.includes('$batch')),
      ).toEqual([]);
      expect(await readFile(path.join(bob.home, 'state.json'), 'utf8')).toBe(stateBefore);
    },
  );

  it.each(breakers)(
    '$label: revoke still removes the member and records it, says so first, and exits 7 with [AUDIT_NOT_WRITTEN]',
    async ({ apply }) => {
      const alice = await rig.machine('alice');
      const bob = await rig.machine('bob');
      const id = await request(alice);
      expect((await rig.run(bob, ['approve', id, '--yes'])).code).toBe(0);
      await apply(bob.home);
      const result = await rig.run(bob, ['revoke', '--user', upnOf('alice')]);
      expect(result.code).toBe(7);
      expect(result.stderr.split('\n')[0]).toBe(`✓ ${upnOf('alice')} removed from ${SEED.tempGroupName} in Entra.`);
      expect(result.stderr).toMatch(
        /^warning: The audit entry of the change could not be written: .* \[AUDIT_NOT_WRITTEN\]$/m,
      );
      expect(result.stderr).not.toMatch(/^error:/m);
      expect(rig.entraMembers()).not.toContain(upnOf('alice'));
      const records = JSON.parse(
        String(rig.emu.world.users.get(SEED.users.bob)!.extensions.get('com.ociaccess.decisions')!.properties.records),
      );
      expect(records.filter((d: any) => d.r === id && d.d === 'x')).toHaveLength(1);
    },
  );

  it.each(breakers)(
    '$label: the sweep still removes expired and unapproved members, does not auto-approve, and exits non-zero',
    async ({ apply }) => {
      const alice = await rig.machine('alice');
      const bob = await rig.machine('bob');
      const cron = await rig.machine('cron');
      // A first sweep gives the cron host a log (it removes a hand-added member).
      await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf('mallory') });
      expect([0, 6]).toContain((await rig.run(cron, ['sweep'])).code);
      expect((await rig.run(bob, ['approve', await request(alice), '--yes'])).code).toBe(0);
      await rig.advance({ minutes: 121 });
      await request(alice, 1); // auto-approvable: that would be a grant, so it must fail closed
      await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf('dave') });
      await apply(cron.home);
      const result = await rig.run(cron, ['sweep']);
      expect(result.code).not.toBe(0);
      expect(result.code).not.toBe(6);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^ {2}PROBLEM +The audit log could not be written \([A-Z_]+\)/m);
      expect(result.stdout).toMatch(/^ {2}FAILED +alice@\S+ +not approved: /m);
      expect(rig.entraMembers()).toEqual([upnOf('breakglass')]);
      expect(rig.emu.world.groups.get(SEED.tempGroupId)!.extensions.get('com.ociaccess.decisions')).toBeUndefined();
    },
  );
});
