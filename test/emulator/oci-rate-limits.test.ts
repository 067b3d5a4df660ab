/**
 * The identity domain's documented rate limits by domain type ("Others"
 * group of Oracle's API Rate Limits table), on the virtual clock.
 */
import { World } from '../../src/emulator/state.js';
import { OCI_RATE_LIMITS, admitOciCall } from '../../src/emulator/oci/rate-limits.js';

test('the table: Free 20/s and 150/min, Oracle Apps 50/s and 1500/min, Premium 90/s and 5000/min', () => {
  expect(OCI_RATE_LIMITS.free).toEqual({ perSecond: 20, perMinute: 150 });
  expect(OCI_RATE_LIMITS.oracleApps).toEqual({ perSecond: 50, perMinute: 1500 });
  expect(OCI_RATE_LIMITS.premium).toEqual({ perSecond: 90, perMinute: 5000 });
});

test('a Free domain: the 21st call in a second and the 151st in a minute are refused; a refused call is not counted', () => {
  const world = new World();
  world.oci.domainType = 'free';
  const start = 1_000_000;
  const admitted = Array.from({ length: 21 }, () => admitOciCall(world, start));
  expect(admitted.filter(Boolean)).toHaveLength(20);
  expect(admitted[20]).toBe(false);
  // 20 a second for 7 more seconds: 150 in the minute, then refusals until the first calls leave the window.
  let count = 20;
  for (let second = 1; count < 150; second += 1) {
    for (let i = 0; i < 20 && count < 150; i += 1) if (admitOciCall(world, start + second * 1000)) count += 1;
  }
  expect(admitOciCall(world, start + 9_000)).toBe(false);
  expect(admitOciCall(world, start + 59_999)).toBe(false);
  expect(admitOciCall(world, start + 60_001)).toBe(true);
});

test('no domain type: no limits', () => {
  const world = new World();
  for (let i = 0; i < 1000; i += 1) expect(admitOciCall(world, 5)).toBe(true);
});
