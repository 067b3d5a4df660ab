/**
 * `ociaccess extend` (records backend) through the commands people type,
 * against the emulator through the real SDKs: an extension continues a live
 * grant, is approved like any request, and is shown by `approve` as the
 * extension it is. At the boundary (the old grant ends at T), time is stopped
 * at exact instants for the emulator and the command alike: approved at
 * T-1s, the sweeps at T and T+1s keep the member, and nothing removes them in
 * between; approved at T+1s it is refused (EXTENSION_LAPSED), so the member
 * the sweep removed stays out. A sweep that read the records before an
 * approval landed and removes after it puts the member back.
 */
import { systemClock, type Clock } from '../../src/context.js';
import { SEED } from '../../src/emulator/seed.js';
import type { EmuRequest, EmuResponse } from '../../src/emulator/http.js';
import { storedRecords, upnOf, useHarness, userIdOf, type Harness } from '../support/harness.js';
import { watchRemovals } from '../reliability/support/rule.js';
import type { Prompter } from '../../src/context.js';

const h = useHarness({ logins: ['alice', 'bob', 'carol'] });
const ALICE = upnOf('alice');
const HOUR = 3600_000;
const JUSTIFICATION = 'INC-4711: the restore is still running';

async function request(H: Harness, hours: string): Promise<string> {
  const result = await H.run('alice', ['request', '--hours', hours, '--justification', 'INC-4711: restore', '--json']);
  expect(result.code).toBe(0);
  return result.json.id;
}

async function approve(H: Harness, id: string, clock?: Clock) {
  return H.run('bob', ['approve', id, '--yes', '--json'], clock ? { clock } : {});
}

async function extend(H: Harness, hours: string, clock?: Clock) {
  return H.run(
    'alice',
    ['extend', '--hours', hours, '--justification', JUSTIFICATION, '--json'],
    clock ? { clock } : {},
  );
}

async function sweep(H: Harness, clock?: Clock): Promise<any> {
  const result = await H.run('cron', ['sweep', '--json'], clock ? { clock } : {});
  if (![0, 6].includes(result.code))
    throw new Error(`sweep exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result.json.groups[0];
}

/** When alice's grant `id` ends, by bob's record (whole Unix seconds, as records keep). */
function recordedEnd(H: Harness, id: string): number {
  const approval = storedRecords(H, 'bob', 'com.ociaccess.decisions').find((d) => d.r === id && d.d === 'a');
  return approval.e * 1000;
}

/**
 * Moves the virtual clock on to `instantMs` and holds it there, for the
 * emulator (Graph's Date, so a decision's time) and for commands run with
 * the returned clock (so a sweep's `now`): the boundary is hit to the second
 * whatever the machine's speed. Nests: an inner stop (even a second earlier)
 * gives the outer one back when released.
 */
function stopTimeAt(H: Harness, instantMs: number): { clock: Clock; release(): void } {
  const world = H.emu.world as { now: () => number; clockOffsetMs: number };
  const outer = Object.hasOwn(world, 'now') ? world.now : undefined;
  // Forward only, as the emulator's clock moves: the offset is what a client reads at its start.
  world.clockOffsetMs = Math.max(world.clockOffsetMs, instantMs - Date.now());
  const offset = world.clockOffsetMs;
  world.now = () => instantMs;
  return {
    // The CLI adds the emulator's offset to its own clock: taken off here.
    clock: { now: () => new Date(instantMs - offset), sleep: systemClock.sleep },
    release() {
      if (outer) world.now = outer;
      else delete (world as { now?: unknown }).now;
    },
  };
}

async function at<T>(H: Harness, instantMs: number, action: (clock: Clock) => Promise<T>): Promise<T> {
  const stopped = stopTimeAt(H, instantMs);
  try {
    return await action(stopped.clock);
  } finally {
    stopped.release();
  }
}

test('extend → approve: a request that continues the live grant; approve shows it as an extension with the new end', async () => {
  const H = h();
  const first = await request(H, '2');
  expect((await approve(H, first)).code).toBe(0);
  const firstEnd = recordedEnd(H, first);
  await H.advance({ minutes: 90 });

  const asked = await extend(H, '3');
  expect(asked.code).toBe(0);
  expect(asked.json).toMatchObject({
    id: expect.stringMatching(/^r-[0-9a-z]{8}$/),
    extends: first,
    group: SEED.tempGroupName,
    hours: 3,
    justification: JUSTIFICATION,
    state: 'pending',
    autoApprovable: false,
    activeGrant: { requestId: first, expiresAt: new Date(firstEnd).toISOString() },
    problems: [],
  });
  const id: string = asked.json.id;
  expect(asked.stderr).toContain(`Asked to extend ${first} in ${SEED.tempGroupName} by 3h`);
  expect(asked.stderr).toContain(`runs \`ociaccess approve ${id}\``);
  // The record names the grant it continues (key c), beside the request's usual keys.
  expect(storedRecords(H, 'alice', 'com.ociaccess.requests')).toContainEqual(
    expect.objectContaining({ i: id, c: first, h: 3, j: JUSTIFICATION }),
  );

  // list and status name the grant it continues.
  const listed = await H.run('bob', ['list', '--pending', '--json', '--no-oci']);
  expect(listed.json.requests).toEqual([expect.objectContaining({ id, extends: first, state: 'pending' })]);
  const status = await H.run('alice', ['status', '--json', '--no-oci']);
  expect(status.json.requests).toContainEqual(expect.objectContaining({ id, extends: first }));

  const approved = await H.run('bob', ['approve', id, '--yes', '--json']);
  expect(approved.code).toBe(0);
  expect(approved.json).toMatchObject({
    id,
    extends: first,
    previousExpiresAt: new Date(firstEnd).toISOString(),
    decision: 'approved',
    hours: 3,
    membership: 'already-member',
  });
  // The new grant counts from its own decision, like any grant.
  expect(Date.parse(approved.json.expiresAt) - Date.parse(approved.json.decidedAt)).toBe(3 * HOUR);
  expect(approved.stderr).toContain(
    `Approving ${id}: ${ALICE} asks for 3h in ${SEED.tempGroupName} (an extension of ${first}`,
  );
  expect(approved.stderr).toContain(`Approved ${id} (an extension of ${first}`);

  // The audit entry of the request names the grant it continues.
  const audit = await H.run('alice', ['audit', '--raw', '--json']);
  expect(audit.json.entries).toContainEqual(
    expect.objectContaining({ action: 'request', details: expect.objectContaining({ continues: first }) }),
  );
});

test('without a live grant: NO_ACTIVE_GRANT (exit 3) naming `ociaccess request`, and nothing is written', async () => {
  const H = h();
  const none = await H.expectNoChange(() => extend(H, '2'));
  expect(none.code).toBe(3);
  expect(none.json.error).toMatchObject({
    code: 'NO_ACTIVE_GRANT',
    hint: expect.stringContaining('ociaccess request'),
  });

  // An ended grant is no live grant either.
  const first = await request(H, '1');
  expect((await approve(H, first)).code).toBe(0);
  await H.advance({ hours: 1, seconds: 1 });
  const ended = await extend(H, '2');
  expect(ended.code).toBe(3);
  expect(ended.json.error.code).toBe('NO_ACTIVE_GRANT');
});

test('bounded like a request: over maxHours is refused before signing in; a pending request is refused', async () => {
  const H = h();
  const first = await request(H, '2');
  expect((await approve(H, first)).code).toBe(0);
  const long = await H.expectNoChange(() => extend(H, '9'));
  expect(long.code).toBe(3);
  expect(long.json.error).toMatchObject({ code: 'DURATION_TOO_LONG', hint: 'Use --hours 8 or less.' });
  expect((await extend(H, '2')).code).toBe(0);
  const again = await extend(H, '2');
  expect(again.code).toBe(3);
  expect(again.json.error.code).toBe('REQUEST_ALREADY_PENDING');
});

test('a PIM group: extend sends selfExtend to PIM; approved by bob, the membership ends later', async () => {
  const H = h();
  const PIM = SEED.pimGroupName;
  const asked = await H.run('alice', ['request', '-g', PIM, '-H', '2', '-j', 'INC-1: rotate', '--json']);
  expect(asked.code).toBe(0);
  expect((await H.run('bob', ['approve', asked.json.id, '--yes', '--json'])).code).toBe(0);
  await H.advance({ minutes: 90 });
  const mark = H.mark();
  const extended = await H.run('alice', ['extend', '-g', PIM, '-H', '3', '-j', 'INC-1: still running', '--json']);
  expect(extended.code).toBe(0);
  expect(extended.json).toMatchObject({ backend: 'pim', state: 'pending', pimStatus: 'PendingApproval' });
  expect(H.writesSince(mark).map((w) => `${w.method} ${w.path}`)).toEqual([
    'POST /v1.0/identityGovernance/privilegedAccess/group/assignmentScheduleRequests',
  ]);
  expect(H.emu.world.pim.requests.get(extended.json.id)).toMatchObject({
    action: 'selfExtend',
    status: 'PendingApproval',
  });
  const previousEnd = Date.parse(extended.json.previousExpiresAt);
  expect((await H.run('bob', ['approve', extended.json.id, '--yes', '--json'])).code).toBe(0);
  const active = H.emu.world.pim.activeAssignment(SEED.pimGroupId, userIdOf('alice'), H.emu.world.now());
  // The membership now runs 3 hours from the extension: 2.5 hours past the old end (it had 30 minutes left).
  expect(active?.endDateTime).toBeGreaterThanOrEqual(previousEnd + 149 * 60_000);
  expect(active?.endDateTime).toBeLessThanOrEqual(previousEnd + 151 * 60_000);
});

/** A 2-hour grant approved, 110 minutes gone (it ends at T), and an extension of 2 hours asked for. */
async function extensionNearTheEnd(H: Harness): Promise<{ first: string; T: number; id: string }> {
  const first = await request(H, '2');
  expect((await approve(H, first)).code).toBe(0);
  const T = recordedEnd(H, first);
  await H.advance({ minutes: 110 });
  return { first, T, id: (await extend(H, '2')).json.id };
}

describe('the boundary: the old grant ends at T', () => {
  test('approved at T-1s: the sweeps at T and T+1s keep the member, covered by the extension; nothing removes them', async () => {
    const H = h();
    const { T, id } = await extensionNearTheEnd(H);
    const removals: string[] = [];
    const stop = watchRemovals(H.emu.world, (userId) => removals.push(userId));
    try {
      const approved = await at(H, T - 1000, (clock) => approve(H, id, clock));
      expect(approved.code).toBe(0);
      expect(Date.parse(approved.json.decidedAt)).toBe(T - 1000);
      expect(approved.json.expiresAt).toBe(new Date(T - 1000 + 2 * HOUR).toISOString());
      for (const instant of [T, T + 1000]) {
        const report = await at(H, instant, (clock) => sweep(H, clock));
        expect(report.kept).toContainEqual(expect.objectContaining({ upn: ALICE, reason: 'grant', requestId: id }));
        expect(report.removed).toEqual([]);
      }
    } finally {
      stop();
    }
    expect(removals).toEqual([]);
    expect(H.entraMembers()).toContain(ALICE);
  });

  test('approved at T+1s: refused (EXTENSION_LAPSED); the member the sweep removed at T stays out', async () => {
    const H = h();
    const { first, T, id } = await extensionNearTheEnd(H);

    const atT = await at(H, T, (clock) => sweep(H, clock));
    expect(atT.removed).toEqual([expect.objectContaining({ upn: ALICE, reason: 'expired', requestId: first })]);

    const late = await at(H, T + 1000, (clock) => approve(H, id, clock));
    expect(late.code).toBe(3);
    expect(late.json.error).toMatchObject({
      code: 'EXTENSION_LAPSED',
      message: expect.stringContaining(`extends ${first}, which ended at ${new Date(T).toISOString()}`),
      hint: expect.stringContaining('ociaccess request'),
    });
    // Nothing was written for it: no decision, no membership.
    expect(storedRecords(H, 'bob', 'com.ociaccess.decisions').some((d) => d.r === id)).toBe(false);
    expect(H.entraMembers()).not.toContain(ALICE);
    const after = await at(H, T + 2000, (clock) => sweep(H, clock));
    expect(after.autoApproved).toEqual([]);
    expect(H.entraMembers()).not.toContain(ALICE);
  });

  test('list shows a lapsed extension as lapsed (only deny is left); the approve picker leaves it out, deny offers it', async () => {
    const H = h();
    const { T, id } = await extensionNearTheEnd(H);
    const before = await at(H, T - 1000, (clock) =>
      H.run('bob', ['list', '--pending', '--json', '--no-oci'], { clock }),
    );
    expect(before.json.requests).toEqual([expect.objectContaining({ id, state: 'pending' })]);
    expect(before.json.requests[0].lapsed).toBeUndefined();

    const listed = await at(H, T + 1000, (clock) =>
      H.run('bob', ['list', '--pending', '--json', '--no-oci'], { clock }),
    );
    expect(listed.json.requests).toEqual([expect.objectContaining({ id, state: 'pending', lapsed: true })]);
    const table = await at(H, T + 1000, (clock) => H.run('bob', ['list', '--pending', '--no-oci'], { clock }));
    expect(table.stdout.split('\n')[1]!.split('\t')[3]).toBe('lapsed');
    expect(table.stderr).toContain(
      `lapsed: ${id} extends a grant that has ended; it can no longer be approved, only denied`,
    );

    const offered: string[][] = [];
    const prompter = (verb: string): Prompter => ({
      interactive: true,
      select: async <T>(_message: string, choices: { name: string; value: T }[]) => {
        offered.push([verb, ...choices.map((c) => (c.value as { id: string }).id)]);
        return choices[0]!.value;
      },
      input: async () => 'the grant had ended',
      confirm: async () => true,
    });
    const approve = await at(H, T + 1000, (clock) =>
      H.run('bob', ['approve', '--json'], { clock, prompter: prompter('approve') }),
    );
    expect(approve.code).toBe(2);
    expect(approve.json.error).toMatchObject({
      code: 'NO_PENDING_REQUESTS',
      hint: expect.stringContaining('ociaccess deny'),
    });
    const deny = await at(H, T + 1000, (clock) =>
      H.run('bob', ['deny', '--json'], { clock, prompter: prompter('deny') }),
    );
    expect(deny.code).toBe(0);
    expect(offered).toEqual([['deny', id]]);
  });

  test('the auto-approval rule: approves an extension while the grant is live, never one that has lapsed', async () => {
    const H = h();
    const first = await request(H, '2');
    expect((await approve(H, first)).code).toBe(0);
    const T = recordedEnd(H, first);
    await H.advance({ minutes: 110 });
    // Within the rule (alice, at most 1 hour), asked before T; the first sweep to see it comes at T+1s.
    const id: string = (await extend(H, '1')).json.id;
    const late = await at(H, T + 1000, (clock) => sweep(H, clock));
    expect(late.autoApproved).toEqual([]);
    expect(late.removed).toEqual([expect.objectContaining({ upn: ALICE, reason: 'expired', requestId: first })]);
    expect(storedRecords(H, 'group', 'com.ociaccess.decisions').some((d) => d.r === id)).toBe(false);

    // The lapsed extension holds up nothing: a fresh grant, extended and swept while it is live, is
    // approved by the rule and kept past the old end.
    const second = await request(H, '2');
    expect((await approve(H, second)).code).toBe(0);
    const T3 = recordedEnd(H, second);
    const ext: string = (await extend(H, '1')).json.id;
    const inTime = await at(H, T3 - 1000, (clock) => sweep(H, clock));
    expect(inTime.autoApproved).toEqual([expect.objectContaining({ upn: ALICE, requestId: ext })]);
    const afterEnd = await at(H, T3 + 1000, (clock) => sweep(H, clock));
    expect(afterEnd.kept).toContainEqual(expect.objectContaining({ upn: ALICE, reason: 'grant', requestId: ext }));
    expect(H.entraMembers()).toContain(ALICE);
  });
});

/**
 * Holds the sweep's removal of alice (a DELETE of her membership, in a
 * $batch or not) and runs `between` first or after it: the sweep has read
 * the records and planned before either.
 */
type RouteHandler = (request: EmuRequest, emu: unknown) => Promise<EmuResponse>;

function aroundAliceRemoval(H: Harness, when: 'before' | 'after', between: () => Promise<unknown>): () => boolean {
  const server = H.emu.server as unknown as { routes: Map<string, { pattern: RegExp; handler: RouteHandler }[]> };
  const routes = server.routes.get('DELETE')!;
  const index = routes.findIndex((r) =>
    r.pattern.test(`/v1.0/groups/${SEED.tempGroupId}/members/${SEED.users.alice}/$ref`),
  );
  const original = routes[index]!;
  let held = false;
  routes[index] = {
    ...original,
    handler: async (request: EmuRequest, emu: unknown): Promise<EmuResponse> => {
      if (held || !request.path.includes(`/members/${SEED.users.alice}/`)) return original.handler(request, emu);
      held = true;
      if (when === 'before') await between();
      const response = await original.handler(request, emu);
      if (when === 'after') await between();
      return response;
    },
  };
  return () => {
    routes[index] = original;
    return held;
  };
}

describe('a sweep that read the records before the extension was approved', () => {
  for (const when of ['before', 'after'] as const) {
    test(`approved at T-1s, landing ${when} the removal of a sweep at T: the member ends in the group`, async () => {
      const H = h();
      const { T, id } = await extensionNearTheEnd(H);
      let approved: any;
      const report = await at(H, T, async (clock) => {
        // The sweep at T has read the records (the extension pending) and planned alice's removal.
        const restore = aroundAliceRemoval(H, when, async () => {
          approved = await at(H, T - 1000, (approverClock) => approve(H, id, approverClock));
        });
        try {
          return await sweep(H, clock);
        } finally {
          expect(restore()).toBe(true);
        }
      });
      expect(approved.code).toBe(0);
      expect(Date.parse(approved.json.decidedAt)).toBe(T - 1000);
      // Before the removal the approval's add finds her still there; after it, the add puts her back.
      expect(approved.json.membership).toBe(when === 'before' ? 'already-member' : 'added');
      // The sweep read the decisions again after removing, and put her back (or found her back).
      expect(report.kept).toContainEqual(
        expect.objectContaining({ upn: ALICE, requestId: id, outcome: 'approved while this sweep ran: put back' }),
      );
      expect(report.removed).toEqual([]);
      expect(H.entraMembers()).toContain(ALICE);
      // And the next sweep keeps her by the extension.
      const next = await at(H, T + 1000, (clock) => sweep(H, clock));
      expect(next.kept).toContainEqual(expect.objectContaining({ upn: ALICE, reason: 'grant', requestId: id }));
      expect(H.entraMembers()).toContain(ALICE);
    });
  }
});
