/**
 * `ociaccess sweep --watch` on virtual time (test/support/virtual-clock.ts):
 * it wakes at a grant's expiry although its interval is an hour, catches a
 * requester's revocation within the interval, stops on SIGTERM with exit 0,
 * reloads its config on SIGHUP, keeps its health file fresh (and `sweep
 * --health` says so, or WATCH_UNHEALTHY), rides out an outage with one
 * warning and one recovery note, and a standby takes over within a minute
 * of the active watcher dying.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { actorContext, CapturedStream } from '../../src/actor-context.js';
import { main } from '../../src/cli/main.js';
import { SEED } from '../../src/emulator/seed.js';
import { configWith, upnOf, useHarness, type Actor, type Harness } from '../support/harness.js';
import { VirtualClock, type ClockView } from '../support/virtual-clock.js';

const h = useHarness({ logins: ['alice', 'bob'] });
const ALICE = upnOf('alice');
const MIN = 60_000;

/** The emulator's config without its control URL: the test's virtual clock is then the watcher's only clock. */
async function watchConfig(H: Harness, change: (config: any) => void = () => undefined): Promise<string> {
  return configWith(H, `watch-${Math.random().toString(36).slice(2)}`, (config) => {
    delete config.emulator;
    change(config);
  });
}

interface Watcher {
  stdout: CapturedStream;
  stderr: CapturedStream;
  exited: Promise<number>;
  term(): void;
  hup(): void;
}

function startWatcher(actor: Actor, clock: ClockView, configFile: string, argv: string[] = []): Watcher {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const stop = new AbortController();
  const hangup = new EventTarget();
  const ctx = actorContext({
    env: { ...actor.env, OCIACCESS_CONFIG: configFile },
    stdout,
    stderr,
    clock,
    abortSignal: stop.signal,
    hangup,
  });
  return {
    stdout,
    stderr,
    exited: main(['sweep', '--watch', ...argv], ctx),
    term: () => stop.abort(),
    hup: () => hangup.dispatchEvent(new Event('hangup')),
  };
}

async function stopWatcher(watcher: Watcher): Promise<number> {
  watcher.term();
  return watcher.exited;
}

async function runHealth(actor: Actor, clock: ClockView, configFile: string, extra: string[] = []) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const ctx = actorContext({ env: { ...actor.env, OCIACCESS_CONFIG: configFile }, stdout, stderr, clock });
  const code = await main(['sweep', '--health', '--json', ...extra], ctx);
  return { code, json: stdout.text ? JSON.parse(stdout.text) : undefined, stderr: stderr.text };
}

async function requestAs(H: Harness, hours: string): Promise<string> {
  const result = await H.run('alice', ['request', '--hours', hours, '--justification', 'INC-4711: rotate', '--json']);
  expect(result.code).toBe(0);
  return result.json.id;
}

test('wakes at the expiry of a grant although its interval is an hour, and removes the member then', async () => {
  const H = h();
  const vc = new VirtualClock(H.emu);
  const config = await watchConfig(H);
  await requestAs(H, '0.5');
  const watcher = startWatcher(H.actor('cron'), vc.view(), config, ['--interval', '1h', '--json']);
  await vc.runFor(MIN, () => watcher.stdout.text.includes('\n'));
  expect(H.entraMembers()).toContain(ALICE);
  const approved = JSON.parse(watcher.stdout.text.trim().split('\n')[0]!);
  const expiresAt = Date.parse(approved.groups[0].autoApproved[0].expiresAt);
  // A second before the expiry the grant still keeps her; the watcher's next sweep is at the expiry itself.
  await vc.runFor(expiresAt - 1_000 - vc.now());
  expect(H.entraMembers()).toContain(ALICE);
  await vc.runFor(3_000, () => !H.entraMembers().includes(ALICE));
  expect(H.entraMembers()).not.toContain(ALICE);
  expect(vc.now() - expiresAt).toBeLessThanOrEqual(2_000);
  expect(await stopWatcher(watcher)).toBe(0);
  const removal = JSON.parse(watcher.stdout.text.trim().split('\n').at(-1)!);
  expect(removal.groups[0].removed).toEqual([expect.objectContaining({ upn: ALICE, reason: 'expired' })]);
});

test("catches a requester's own revocation within the interval; SIGTERM ends it with exit 0", async () => {
  const H = h();
  const vc = new VirtualClock(H.emu);
  const config = await watchConfig(H);
  await requestAs(H, '1');
  const watcher = startWatcher(H.actor('cron'), vc.view(), config, ['--interval', '30s', '--json']);
  await vc.runFor(MIN, () => H.entraMembers().includes(ALICE));
  const revoked = await H.run('alice', ['revoke', '--reason', 'done', '--json']);
  expect([0, 6, 7]).toContain(revoked.code);
  const revokedAt = H.emu.world.now();
  await vc.runFor(31_000, () => !H.entraMembers().includes(ALICE));
  expect(H.entraMembers()).not.toContain(ALICE);
  expect(H.emu.world.now() - revokedAt).toBeLessThanOrEqual(31_000);
  expect(await stopWatcher(watcher)).toBe(0);
  const lines = watcher.stdout.text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  expect(lines.at(-1).groups[0].removed).toEqual([expect.objectContaining({ upn: ALICE, reason: 'revoked' })]);
  expect(watcher.stderr.text.trim().split('\n').at(-1)).toMatch(/^Stopped after \d+ sweep\(s\)\.$/);
});

test('SIGHUP reloads the config: a standing member taken out of it is removed by the next sweep', async () => {
  const H = h();
  const vc = new VirtualClock(H.emu);
  const config = await watchConfig(H, (c) => c.groups[0].standingMembers.push(ALICE));
  H.emu.world.groups.get(SEED.tempGroupId)!.members.add(SEED.users.alice);
  const watcher = startWatcher(H.actor('cron'), vc.view(), config, ['--interval', '30s']);
  await vc.runFor(2 * MIN);
  expect(H.entraMembers()).toContain(ALICE);
  const changed = JSON.parse(await readFile(config, 'utf8'));
  changed.groups[0].standingMembers = changed.groups[0].standingMembers.filter((upn: string) => upn !== ALICE);
  await writeFile(config, JSON.stringify(changed), { mode: 0o600 });
  watcher.hup();
  await vc.runFor(5_000, () => !H.entraMembers().includes(ALICE));
  expect(H.entraMembers()).not.toContain(ALICE);
  expect(watcher.stderr.text).toContain(`Config reloaded from ${config}.`);
  // A config that no longer parses is not taken: the watcher goes on with the one it had.
  await writeFile(config, '{ not json', { mode: 0o600 });
  watcher.hup();
  await vc.runFor(5_000, () => watcher.stderr.text.includes('warning: The config was not reloaded'));
  expect(watcher.stderr.text).toMatch(/warning: The config was not reloaded \(/);
  expect(await stopWatcher(watcher)).toBe(0);
});

test('sweep --health: exit 0 while the watcher wakes, WATCH_UNHEALTHY (exit 1) once it stopped or with no file', async () => {
  const H = h();
  const vc = new VirtualClock(H.emu);
  const config = await watchConfig(H);
  const cron = H.actor('cron');
  const missing = await runHealth(cron, vc.view(), config);
  expect(missing.code).toBe(1);
  expect(missing.json.error.code).toBe('WATCH_UNHEALTHY');
  expect(missing.json.error.message).toMatch(/watch\.health is missing\.$/);
  const watcher = startWatcher(cron, vc.view(), config, ['--interval', '30s']);
  await vc.runFor(10 * MIN);
  const fresh = await runHealth(cron, vc.view(), config);
  expect(fresh.code).toBe(0);
  expect(fresh.json).toEqual({
    healthy: true,
    role: 'active',
    at: expect.any(String),
    ageMs: expect.any(Number),
    staleAfterMs: 120_000,
  });
  // Nothing in it names a person, a group, a host or a key.
  const raw = await readFile(`${cron.home}/watch.health`, 'utf8');
  expect(Object.keys(JSON.parse(raw)).sort()).toEqual(['at', 'intervalMs', 'role']);
  expect(await stopWatcher(watcher)).toBe(0);
  H.emu.world.clockOffsetMs += 3 * MIN;
  const stale = await runHealth(cron, vc.view(), config);
  expect(stale.code).toBe(1);
  expect(stale.json.error).toMatchObject({ code: 'WATCH_UNHEALTHY' });
  expect(stale.json.error.message).toMatch(/is stale \(last wake-up \d+s ago\)\.$/);
});

test('an outage of Graph: one warning when it starts, one note when it ends, and the work done after it', async () => {
  const H = h();
  const vc = new VirtualClock(H.emu);
  const config = await watchConfig(H);
  await requestAs(H, '0.5');
  H.emu.world.faults.push({ service: 'graph', status: 503, remaining: Infinity });
  // Time may move while a sweep waits out Graph's retries (only the heartbeat sleeps beside them).
  vc.sleepersWhenIdle = 1;
  const watcher = startWatcher(H.actor('cron'), vc.view(), config, ['--interval', '30s']);
  await vc.runFor(20 * MIN);
  expect(H.entraMembers()).not.toContain(ALICE);
  // The outage ends, and with it the Retry-After the emulator remembers (on its real-time clock).
  H.emu.world.faults.length = 0;
  H.emu.world.retryNotBefore.clear();
  // A sweep caught in the outage may still be waiting out retries (some on real time): bounded steps until it is done.
  for (let step = 0; step < 40 && !H.entraMembers().includes(ALICE); step += 1)
    await vc.runFor(30_000, () => H.entraMembers().includes(ALICE));
  expect(H.entraMembers()).toContain(ALICE);
  expect(await stopWatcher(watcher)).toBe(0);
  const warnings = watcher.stderr.text.split('\n').filter((line) => line.startsWith('warning:'));
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/The watcher keeps trying, less often, and says when it recovers\.$/);
  expect(watcher.stderr.text).toMatch(/Recovered after \d+s and \d+ failed sweep\(s\); watching again\./);
}, 180_000);

test('two watchers share one lock: the second stands by and takes over within a minute of the first dying', async () => {
  const H = h();
  const vc = new VirtualClock(H.emu);
  const config = await watchConfig(H);
  const cron = H.actor('cron');
  const first = vc.view();
  const a = startWatcher(cron, first, config, ['--interval', '30s']);
  await vc.runFor(MIN, () => a.stderr.text.includes('Active:'));
  const b = startWatcher(cron, vc.view(), config, ['--interval', '30s']);
  vc.sleepersWhenIdle = 3;
  await vc.runFor(2 * MIN);
  expect(b.stderr.text).toMatch(/Standing by: the sweep lock is held by pid \d+ on host \S+ since/);
  expect(b.stderr.text).not.toContain('Active:');
  first.freeze();
  vc.sleepersWhenIdle = 1;
  await vc.runFor(MIN, () => b.stderr.text.includes('Active:'));
  vc.sleepersWhenIdle = 2;
  expect(b.stderr.text).toContain('Active: this watcher holds the sweep lock.');
  // The new active watcher does the work.
  await requestAs(H, '0.5');
  await vc.runFor(MIN, () => H.entraMembers().includes(ALICE));
  expect(H.entraMembers()).toContain(ALICE);
  expect(await stopWatcher(b)).toBe(0);
});
