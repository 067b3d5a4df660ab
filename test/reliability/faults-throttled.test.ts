/**
 * Faults, throttling: Graph and OCI answer half of all calls with 429 and a
 * Retry-After of 1–3 s (in its own file so that it runs beside the other fault
 * kinds in faults.test.ts: both mostly wait out real Retry-Afters). What must
 * hold: every command succeeds or fails clearly with the documented exit code;
 * no request is sent again before its Retry-After ($batch items included);
 * nothing is recorded as done that was not (support/truth.ts).
 */
import { jest } from '@jest/globals';
import { SEED } from '../../src/emulator/seed.js';
import { expectedMembers, memberIds } from './support/rule.js';
import { startHarness, upnOf, type Harness } from '../support/harness.js';
import { reportTrials, stressMode, tally, trials } from './support/trials.js';
import { earlyRequests, faultsMachine, throttled, untilDone } from './support/faults.js';

jest.setTimeout(1_800_000);

let rig: Harness;
beforeAll(async () => {
  rig = await startHarness({ logins: ['alice', 'bob'] });
});
afterAll(() => rig?.stop());
beforeEach(() => rig.resetTenant());

describe('faults: Graph and OCI throttle half of all calls (429, Retry-After 1–3 s)', () => {
  it('every command succeeds or fails clearly, nothing is sent before its Retry-After, nothing is recorded that was not done', async () => {
    const rounds = trials(1, 5);
    const log = tally();
    const alice = await faultsMachine(rig, 'alice');
    const bob = await faultsMachine(rig, 'bob');
    const cron = await faultsMachine(rig, 'cron');
    const mark = rig.mark();
    for (let round = 0; round < rounds; round += 1) {
      rig.resetTenant();
      await rig.control('throttle', { service: 'graph', rate: 0.5, retryAfterSeconds: [1, 3] });
      await rig.control('throttle', { service: 'oci', rate: 0.5, retryAfterSeconds: [1, 3] });
      const id = (
        await untilDone(rig, alice, ['request', '--hours', '2', '--justification', 'throttled'], [0], log)
      ).result.stdout.trim();
      await untilDone(rig, bob, ['approve', id, '--yes'], [0], log);
      expect(rig.entraMembers()).toContain(upnOf('alice'));
      if (stressMode()) await untilDone(rig, alice, ['status'], [0], log);
      await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf('dave') });
      await rig.advance({ minutes: 121 });
      await untilDone(rig, cron, ['sweep'], [0, 6], log);
      expect(memberIds(rig.emu.world)).toEqual(expectedMembers(rig.emu.world));
      if (stressMode()) {
        await rig.control('provisioning/cycle', {});
        await untilDone(rig, cron, ['sweep'], [0], log);
      }
    }
    const entries = rig.requestsSince(mark);
    const served429 = throttled(entries);
    reportTrials('faults/throttled-half', rounds, { ...log.counts, '429-served': served429, requests: entries.length });
    expect(served429).toBeGreaterThan(5 * rounds);
    expect(earlyRequests(entries)).toEqual([]);
  });
});
