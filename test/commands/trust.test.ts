/**
 * The trust model under attack (issue 12, items 1–3): decisions dated ahead
 * by a skewed clock or a hand-edited record, a request id copied into another
 * requester's record, and a revocation pruned from a full record. Each test
 * writes what an attacker (or a broken machine) could write, then runs the
 * real commands against the emulator.
 */
import { SEED } from '../../src/emulator/seed.js';
import {
  AUTO_APPROVER,
  DECISIONS_EXTENSION,
  RECORD_BYTE_BUDGET,
  REQUESTS_EXTENSION,
  encodeDecisions,
  encodeRequests,
  type Decision,
} from '../../src/core/records.js';
import type { Prompter } from '../../src/context.js';
import { storedRecords, upnOf, useHarness, type Harness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob', 'carol'] });
const HOUR = 3600_000;
const ALICE = upnOf('alice');
const CAROL = upnOf('carol');
const BREAKGLASS = upnOf('breakglass');

type Owner = 'alice' | 'bob' | 'carol' | 'group';

/** Writes a record straight into the emulator, as its owner (or anyone able to write that object) could. */
function writeRecord(H: Harness, owner: Owner, extension: string, properties: Record<string, unknown>): void {
  const world = H.emu.world;
  const holder = owner === 'group' ? world.groups.get(SEED.tempGroupId)! : world.users.get(SEED.users[owner])!;
  holder.extensions.set(extension, {
    extensionName: extension,
    creatorAppId: owner === 'group' ? SEED.automationAppId : SEED.cliAppId,
    properties,
  });
}

function addByHand(H: Harness, name: keyof typeof SEED.users): void {
  H.emu.world.groups.get(SEED.tempGroupId)!.members.add(SEED.users[name]);
}

async function request(H: Harness, who: 'alice' | 'carol' = 'alice', hours = '2'): Promise<string> {
  const result = await H.run(who, [
    'request',
    '--hours',
    hours,
    '--justification',
    'INC-4711: rotate the DB wallet',
    '--json',
  ]);
  expect(result.code).toBe(0);
  return result.json.id as string;
}

async function sweep(H: Harness): Promise<{ code: number; group: any; stderr: string }> {
  const result = await H.run('cron', ['sweep', '--json']);
  return { code: result.code, group: result.json.groups[0], stderr: result.stderr };
}

async function cronAudit(H: Harness): Promise<any[]> {
  const text = (await H.localFiles('cron'))['audit.jsonl'] ?? '';
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

function approvalOf(requestId: string, approver: Owner, decidedAt: number, hours: number): Decision {
  return {
    requestId,
    requesterId: SEED.users.alice,
    groupId: SEED.tempGroupId,
    kind: 'approved',
    approverId: approver === 'group' ? AUTO_APPROVER : SEED.users[approver],
    decidedAt: new Date(decidedAt),
    expiresAt: new Date(decidedAt + hours * HOUR),
    hours,
  };
}

describe('item 1: a decision dated ahead keeps nobody', () => {
  test.each([
    ['a human approval', 'bob', 1],
    ['a human approval', 'bob', 20],
    ['a human approval', 'bob', 365 * 24],
    ['an auto-approval record', 'group', 1],
    ['an auto-approval record', 'group', 20],
    ['an auto-approval record', 'group', 365 * 24],
  ] as const)(
    'attack: %s (%s) dated %d h ahead: the member is removed, the record reported (exit 1) and audited',
    async (_what, approver, aheadHours) => {
      const H = h();
      const id = await request(H);
      const now = H.emu.world.now();
      // Auto-approvals are for at most the rule's hour; the human one for the 2 hours asked.
      writeRecord(
        H,
        approver,
        DECISIONS_EXTENSION,
        encodeDecisions(
          [approvalOf(id, approver, now + aheadHours * HOUR, approver === 'group' ? 1 : 2)],
          new Date(now),
        ),
      );
      addByHand(H, 'alice');

      const first = await sweep(H);
      expect(first.code).toBe(1);
      expect(first.group.removed).toEqual([expect.objectContaining({ upn: ALICE })]);
      expect(first.group.untrusted).toEqual([
        expect.objectContaining({
          upn: ALICE,
          requestId: id,
          problem: 'future-dated',
          approverUpn: approver === 'group' ? 'the auto-approval rule' : upnOf('bob'),
        }),
      ]);
      expect(H.entraMembers()).toEqual([BREAKGLASS]);
      expect(await cronAudit(H)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ action: 'untrusted-record', reason: 'future-dated', result: 'failed' }),
        ]),
      );

      if (aheadHours === 20) {
        // When the record's date comes, the grant it claims is over already: it is bounded from when a sweep first saw it.
        addByHand(H, 'alice');
        await H.advance({ hours: 20, minutes: 1 });
        const later = await sweep(H);
        expect(later.group.removed).toEqual([
          expect.objectContaining({ upn: ALICE, reason: 'max-duration', requestId: id }),
        ]);
        expect(later.group.untrusted).toEqual([]);
        expect(H.entraMembers()).toEqual([BREAKGLASS]);
      }
    },
  );

  test('attack: an approval dated just inside the allowed skew ends hours after a sweep first saw it, not after its own date (max-duration)', async () => {
    const H = h();
    const id = await request(H);
    const now = H.emu.world.now();
    writeRecord(
      H,
      'bob',
      DECISIONS_EXTENSION,
      encodeDecisions([approvalOf(id, 'bob', now + 4 * 60_000, 2)], new Date(now)),
    );
    addByHand(H, 'alice');
    const first = await sweep(H);
    expect(first.group.kept).toEqual(
      expect.arrayContaining([expect.objectContaining({ upn: ALICE, reason: 'grant' })]),
    );
    expect(first.group.untrusted).toEqual([]);

    await H.advance({ hours: 2, minutes: 1 });
    const later = await sweep(H);
    expect(later.group.removed).toEqual([
      expect.objectContaining({ upn: ALICE, reason: 'max-duration', requestId: id }),
    ]);
  });

  test('attack: approve on a machine whose clock is 20 h ahead is refused (CLOCK_SKEW, exit 3) and writes nothing', async () => {
    const H = h();
    const id = await request(H);
    const mark = H.mark();
    const refused = await H.run('bob', ['approve', id, '--yes', '--json'], { clockSkewMs: 20 * HOUR });
    expect(refused.code).toBe(3);
    expect(refused.json.error.code).toBe('CLOCK_SKEW');
    expect(refused.json.error.message).toMatch(/1200 min ahead of Microsoft Graph's/);
    expect(H.writesSince(mark)).toEqual([]);
    expect(H.entraMembers()).toEqual([BREAKGLASS]);
  });

  test("approve within the allowed skew dates the decision by Graph's clock, not the machine's", async () => {
    const H = h();
    const id = await request(H);
    const approved = await H.run('bob', ['approve', id, '--yes', '--json'], { clockSkewMs: 3 * 60_000 });
    expect(approved.code).toBe(0);
    const stored = storedRecords(H, 'bob', DECISIONS_EXTENSION);
    expect(stored).toHaveLength(1);
    const serviceNow = H.emu.world.now();
    // Whole seconds of the service's Date, a moment before now; three minutes behind the machine's clock.
    expect(serviceNow - stored[0].a * 1000).toBeGreaterThanOrEqual(0);
    expect(serviceNow - stored[0].a * 1000).toBeLessThan(60_000);
    expect(Date.parse(approved.json.decidedAt)).toBe(stored[0].a * 1000);
  });
});

describe('item 2: a copied request id redirects no approval', () => {
  function copyInto(H: Harness, id: string): void {
    const now = H.emu.world.now();
    writeRecord(
      H,
      'carol',
      REQUESTS_EXTENSION,
      encodeRequests(
        [
          {
            id,
            groupId: SEED.tempGroupId,
            requesterId: SEED.users.carol,
            hours: 8,
            justification: 'copied',
            requestedAt: new Date(now),
          },
        ],
        () => true,
        new Date(now),
      ),
    );
  }

  test('attack: an id found under two requesters is refused with both names; --requester picks one; the decision keeps only the requester it names', async () => {
    const H = h();
    const id = await request(H);
    copyInto(H, id);
    const mark = H.mark();
    const refused = await H.run('bob', ['approve', id.toUpperCase(), '--yes', '--json']);
    expect(refused.code).toBe(3);
    expect(refused.json.error.code).toBe('AMBIGUOUS_REQUEST_ID');
    expect(refused.json.error.message).toContain(ALICE);
    expect(refused.json.error.message).toContain(CAROL);
    expect(H.writesSince(mark)).toEqual([]);

    const approved = await H.run('bob', ['approve', id, '--requester', ALICE, '--yes', '--json']);
    expect(approved.code).toBe(0);
    expect(approved.json.requester).toBe(ALICE);
    expect(H.entraMembers()).toEqual([ALICE, BREAKGLASS].sort());
    // Carol, added by hand with the copied id in her record, is not kept by alice's approval.
    addByHand(H, 'carol');
    const swept = await sweep(H);
    expect(swept.group.removed).toEqual([expect.objectContaining({ upn: CAROL })]);
    expect(H.entraMembers()).toEqual([ALICE, BREAKGLASS].sort());
  });

  test('attack: a copy in other letter case is an invalid record: listed as invalid, never approvable; the genuine one is approved', async () => {
    const H = h();
    const id = await request(H);
    copyInto(H, id.toUpperCase());
    const listed = await H.run('bob', ['list', '--pending', '--json']);
    expect(listed.code).toBe(0);
    const states = listed.json.requests.map((r: any) => `${r.requester}:${r.state}`).sort();
    expect(states).toEqual([`${ALICE}:pending`, `${CAROL}:invalid`]);
    const approved = await H.run('bob', ['approve', id, '--yes', '--json']);
    expect(approved.code).toBe(0);
    expect(approved.json.requester).toBe(ALICE);
  });

  test("the pick list carries the requester: picking alice's line approves alice's request, after showing requester, group and hours", async () => {
    const H = h();
    const id = await request(H);
    copyInto(H, id);
    const asked: string[] = [];
    const prompter: Prompter = {
      interactive: true,
      select: async (_message, choices) => choices.find((c) => c.name.includes(ALICE))!.value,
      confirm: async (message) => {
        asked.push(message);
        return true;
      },
      input: async () => {
        throw new Error('not asked');
      },
    };
    const approved = await H.run('bob', ['approve', '--json'], { prompter });
    expect(approved.code).toBe(0);
    expect(approved.json).toEqual(expect.objectContaining({ id, requester: ALICE }));
    expect(asked).toEqual(['Approve it?']);
    expect(approved.stderr).toContain(`Approving ${id}: ${ALICE} asks for 2h in ${SEED.tempGroupName}`);
    expect(H.entraMembers()).toEqual([ALICE, BREAKGLASS].sort());
  });

  test('saying no at the confirmation changes nothing (exit 130)', async () => {
    const H = h();
    const id = await request(H);
    const prompter: Prompter = {
      interactive: true,
      select: async () => {
        throw new Error('not asked');
      },
      confirm: async () => false,
      input: async () => {
        throw new Error('not asked');
      },
    };
    const mark = H.mark();
    const declined = await H.run('bob', ['approve', id], { prompter });
    expect(declined.code).toBe(130);
    expect(declined.stderr).toMatch(/Cancelled; nothing was changed/);
    expect(H.writesSince(mark)).toEqual([]);
  });
});

describe('item 3: a revocation is never pruned while its grant could be live', () => {
  test('attack: a full record refuses a new decision (RECORD_FULL) instead of dropping a revocation; approve cannot bring the grant back', async () => {
    const H = h();
    const first = await request(H);
    expect((await H.run('bob', ['approve', first, '--yes'])).code).toBe(0);
    expect((await H.run('carol', ['revoke', '--user', ALICE, '--reason', 'done early'])).code).toBe(0);
    expect(H.entraMembers()).toEqual([BREAKGLASS]);

    // Carol's record fills up with fresh denials (she denied many requests today).
    const stored = storedRecords(H, 'carol', DECISIONS_EXTENSION);
    expect(stored).toEqual([expect.objectContaining({ r: first, d: 'x' })]);
    const size = (items: unknown[]) =>
      Buffer.byteLength(JSON.stringify({ v: 1, records: JSON.stringify(items) }), 'utf8');
    const denial = (n: number) => ({
      r: `r-${String(n).padStart(8, '0')}`,
      u: SEED.users.alice,
      g: SEED.tempGroupId,
      d: 'n',
      a: H.emu.world.now() / 1000,
      y: 'use the read-only group',
    });
    const items: unknown[] = [...stored];
    for (let n = 0; n < 40 && size([...items, denial(n)]) <= RECORD_BYTE_BUDGET; n += 1) items.push(denial(n));
    writeRecord(H, 'carol', DECISIONS_EXTENSION, { v: 1, records: JSON.stringify(items) });

    const second = await request(H);
    const mark = H.mark();
    const full = await H.run('carol', ['deny', second, '--reason', 'use the read-only group', '--yes', '--json']);
    expect(full.code).toBe(3);
    expect(full.json.error.code).toBe('RECORD_FULL');
    expect(H.writesSince(mark)).toEqual([]);
    expect(storedRecords(H, 'carol', DECISIONS_EXTENSION)).toEqual(
      expect.arrayContaining([expect.objectContaining({ r: first, d: 'x' })]),
    );

    // Bob re-runs his approval: the revocation stands, nobody is added.
    const again = await H.run('bob', ['approve', first, '--yes', '--json']);
    expect(again.code).toBe(3);
    expect(again.json.error.code).toBe('REQUEST_NOT_PENDING');
    expect(H.entraMembers()).toEqual([BREAKGLASS]);
  });
});
