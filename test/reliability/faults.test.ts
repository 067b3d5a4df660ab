/**
 * Faults: Graph and OCI throttling half of all calls (429, Retry-After 1–3 s),
 * answering 500/503, never answering, and dropping connections. What must hold:
 *
 * - every command either succeeds or fails with a clear error (a typed code, a
 *   message naming the service, a hint) and the documented exit code;
 * - no request is sent again before the Retry-After it was given (the emulator
 *   flags early requests per client, $batch items included);
 * - nothing is recorded as done that was not (support/truth.ts);
 * - a removal that keeps failing is flagged "irrevocable" after 6 attempts,
 *   reported on every sweep with a failing exit code, and retried.
 */
import { jest } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SEED } from '../../src/emulator/seed.js';
import type { LoggedRequest } from '../../src/emulator/state.js';
import { expectedMembers, memberIds } from './support/rule.js';
import { startHarness, upnOf, type Actor, type Harness } from '../support/harness.js';
import { stressMode, tally } from './support/trials.js';
import { auditEntries, untrueAuditEntries } from './support/truth.js';
import { acceptable, earlyRequests, faultsMachine, newProcess, untilDone } from './support/faults.js';

jest.setTimeout(1_800_000);

let rig: Harness;
beforeAll(async () => {
  rig = await startHarness({ logins: ['alice', 'bob'] });
});
afterAll(() => rig?.stop());
beforeEach(() => rig.resetTenant());

describe('faults: 500, 503 (with and without Retry-After), timeouts and reset connections', () => {
  const kinds = [
    { label: 'Graph 500 on one call', fault: { service: 'graph', status: 500, count: 1 } },
    {
      label: 'Graph 503 with Retry-After on three calls',
      fault: { service: 'graph', status: 503, retryAfterSeconds: 1, count: 3 },
    },
    {
      label: 'Graph 503 (Retry-After 1 s) on every call',
      fault: { service: 'graph', status: 503, retryAfterSeconds: 1 },
    },
    ...(stressMode()
      ? [{ label: 'Graph 503 (no Retry-After: backoff) on every call', fault: { service: 'graph', status: 503 } }]
      : []),
    { label: 'Graph connection reset once', fault: { service: 'graph', status: 0, kind: 'reset', count: 1 } },
    { label: 'Graph never answers once', fault: { service: 'graph', status: 0, kind: 'timeout', count: 1 } },
    { label: 'OCI 500 twice', fault: { service: 'oci', status: 500, count: 2 } },
    { label: 'OCI 503 on every call', fault: { service: 'oci', status: 503 } },
    { label: 'OCI connection reset once', fault: { service: 'oci', status: 0, kind: 'reset', count: 1 } },
    { label: 'OCI never answers once', fault: { service: 'oci', status: 0, kind: 'timeout', count: 1 } },
  ];

  it.each(kinds)(
    '$label: approve, revoke and sweep succeed or fail clearly; a re-run completes; nothing untrue is recorded',
    async ({ fault }) => {
      const log = tally();
      const alice = await faultsMachine(rig, 'alice');
      const bob = await faultsMachine(rig, 'bob');
      const cron = await faultsMachine(rig, 'cron');
      const mark = rig.mark();
      const id = (await rig.run(alice, ['request', '--hours', '2', '--justification', 'faults'])).stdout.trim();
      const withFault = async (argv: string[], machine: Actor, okCodes: number[]) => {
        await rig.control('faults', fault);
        const before = (await auditEntries(machine.home)).length;
        newProcess(rig);
        const first = await rig.run(machine, argv);
        log.add(`${argv[0]}-exit-${first.code}`);
        expect(
          acceptable(first, okCodes)
            ? 'acceptable'
            : `${argv.join(' ')}: exit ${first.code}\n${first.stderr}\n${first.stdout}`,
        ).toBe('acceptable');
        expect(await untrueAuditEntries(rig.emu.world, machine.home, before)).toEqual([]);
        await rig.control('faults', undefined, { method: 'DELETE' });
        if (!okCodes.includes(first.code)) await untilDone(rig, machine, argv, okCodes, log, 2);
      };
      await withFault(['approve', id, '--yes'], bob, [0]);
      expect(rig.entraMembers()).toContain(upnOf('alice'));
      // Exit 7: revoked in Entra, and the OCI check after it failed (a warning with its code, not an error).
      await withFault(['revoke', '--user', upnOf('alice')], bob, [0, 6, 7]);
      expect(rig.entraMembers()).not.toContain(upnOf('alice'));
      await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf('dave') });
      await withFault(['sweep'], cron, [0, 6]);
      expect(memberIds(rig.emu.world)).toEqual(expectedMembers(rig.emu.world));
      expect(earlyRequests(rig.requestsSince(mark))).toEqual([]);
    },
  );
});

describe('faults: a removal that keeps failing', () => {
  it('is flagged irrevocable after 6 failed attempts, reported on every sweep with a failing exit code, and retried until it succeeds', async () => {
    const alice = await faultsMachine(rig, 'alice');
    const bob = await faultsMachine(rig, 'bob');
    const cron = await faultsMachine(rig, 'cron');
    const id = (await rig.run(alice, ['request', '--hours', '1', '--justification', 'irrevocable'])).stdout.trim();
    await rig.run(bob, ['approve', id, '--yes']);
    await rig.advance({ minutes: 61 });
    await rig.control('faults', {
      service: 'graph',
      method: 'DELETE',
      pathPattern: `/members/${SEED.users.alice}/`,
      status: 500,
    });
    const deletesOfAlice = (entries: LoggedRequest[]) =>
      entries
        .flatMap((e) => [{ method: e.method, url: e.path }, ...(e.batchItems ?? [])])
        .filter((e) => e.method === 'DELETE' && e.url.includes(`/members/${SEED.users.alice}/`)).length;
    const key = `${SEED.tempGroupId}:${SEED.users.alice}`;
    for (let sweep = 1; sweep <= 8; sweep += 1) {
      const mark = rig.mark();
      // Every sweep fails (exit 5: Graph keeps answering 500); the last one is read as a person reads it.
      const result = await rig.run(cron, sweep < 8 ? ['sweep', '--json'] : ['sweep']);
      expect({ sweep, failing: result.code !== 0 && result.code !== 6 }).toEqual({ sweep, failing: true });
      if (sweep < 8) {
        const failed = result.json.groups[0].failed as { upn: string; outcome: string }[];
        expect(failed.map((f) => f.upn)).toEqual([upnOf('alice')]);
        expect({ sweep, irrevocable: failed[0]!.outcome.includes('IRREVOCABLE') }).toEqual({
          sweep,
          irrevocable: sweep >= 6,
        });
      } else {
        expect(result.stdout).toMatch(
          new RegExp(`FAILED +${upnOf('alice').replace(/\./g, '\\.')} +IRREVOCABLE after 8 attempts`),
        );
      }
      expect(deletesOfAlice(rig.requestsSince(mark))).toBeGreaterThanOrEqual(1); // retried on every sweep
      const state = JSON.parse(await readFile(path.join(cron.home, 'state.json'), 'utf8'));
      expect(state.sweep.failedRemovals[key]).toMatchObject({ attempts: sweep });
      expect(rig.entraMembers()).toContain(upnOf('alice'));
    }
    await rig.control('faults', undefined, { method: 'DELETE' });
    const fixed = await rig.run(cron, ['sweep', '--json']);
    expect([0, 6]).toContain(fixed.code);
    expect(rig.entraMembers()).not.toContain(upnOf('alice'));
    const state = JSON.parse(await readFile(path.join(cron.home, 'state.json'), 'utf8'));
    expect(state.sweep.failedRemovals).toEqual({});
  });
});

describe('faults: an auto-approval whose membership could not be added', () => {
  it('is reported as failed, and the next sweep adds the member (the grant is not lost)', async () => {
    const alice = await faultsMachine(rig, 'alice');
    const cron = await faultsMachine(rig, 'cron');
    const id = (await rig.run(alice, ['request', '--hours', '1', '--justification', 'auto'])).stdout.trim();
    await rig.control('faults', {
      service: 'graph',
      method: 'POST',
      pathPattern: '/members/\\$ref$',
      status: 500,
      count: 1,
    });
    const first = await rig.run(cron, ['sweep', '--json']);
    expect(first.code).toBe(5); // Graph answered 500: unavailable
    expect(first.json.groups[0].failed.map((f: any) => [f.upn, f.requestId, f.code])).toEqual([
      [upnOf('alice'), id, 'GRAPH_UNAVAILABLE'],
    ]);
    expect(rig.entraMembers()).not.toContain(upnOf('alice'));
    const second = await rig.run(cron, ['sweep', '--json']);
    expect([0, 6]).toContain(second.code);
    expect(rig.entraMembers()).toContain(upnOf('alice'));
    expect(memberIds(rig.emu.world)).toEqual(expectedMembers(rig.emu.world));
  });
});
