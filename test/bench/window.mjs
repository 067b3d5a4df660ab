// Exposure-window benchmark (issues 4 and 16): how long does access outlive
// its end? Virtual time on the embedded emulator, Entra's provisioning cycle
// every 40 minutes, 50 grants with random expiries over 24 h, 10 of them
// revoked early by their requester. For each grant, from its end (expiry or
// revocation) to the moment it is gone from the Entra group and from the OCI
// group; and the Graph and OCI calls per hour. Three ways to run the sweep:
//   (a) cron every 5 min, SCIM only
//   (b) cron every 5 min, direct OCI removal (oci.removeDirectly)
//   (c) sweep --watch (30 s interval), direct OCI removal
// Direct removal is set only when this build's config schema accepts it;
// without it (b) and (c) leave OCI to SCIM, and the output says so.
// Target for (c): worst ≤ 60 s to both.
// Knobs (env): WINDOW_GRANTS (50), WINDOW_REVOKES (10), WINDOW_HOURS (24), WINDOW_CRON_MIN (5),
// WINDOW_CYCLE_MIN (40), WINDOW_STEP_S (10), WINDOW_SEED (1), WINDOW_ONLY (e.g. "c").
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmulator } from '../../dist/emulator/index.js';
import { seedScaleWorld } from '../../dist/demo/scale-world.js';
import { SEED } from '../../dist/emulator/seed.js';
import { actorContext, CapturedStream } from '../../dist/actor-context.js';
import { main } from '../../dist/cli/main.js';
import { loadConfig } from '../../dist/config/load.js';
import { REQUESTS_EXTENSION, decodeRequests, encodeRequests } from '../../dist/core/records.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const GRANTS = Number(process.env.WINDOW_GRANTS ?? 50);
const REVOKES = Number(process.env.WINDOW_REVOKES ?? 10);
const SPAN_MS = Number(process.env.WINDOW_HOURS ?? 24) * HOUR;
const CRON_MS = Number(process.env.WINDOW_CRON_MIN ?? 5) * MIN;
const CYCLE_MS = Number(process.env.WINDOW_CYCLE_MIN ?? 40) * MIN;
const STEP_MS = Number(process.env.WINDOW_STEP_S ?? 10) * 1000;
const ONLY = process.env.WINDOW_ONLY ?? 'abc';

/** A small seeded generator: every scenario sees the same grants and revocations. */
function random(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function plan() {
  const next = random(Number(process.env.WINDOW_SEED ?? 1));
  const ends = Array.from({ length: GRANTS }, () => 5 * MIN + Math.floor(next() * (SPAN_MS - 10 * MIN)));
  const revoked = new Map();
  const order = [...ends.keys()].sort(() => next() - 0.5);
  for (const i of order.slice(0, REVOKES)) revoked.set(i, Math.floor(ends[i] * next()));
  return { ends, revoked };
}

const realDelay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Virtual time for the watcher (as test/support/virtual-clock.ts): time moves when the watcher sleeps. */
function virtualClock(emu, onMoved) {
  let timers = [];
  let begun = 0;
  const clock = {
    now: () => new Date(emu.world.now()),
    sleep: (ms, signal) =>
      new Promise((resolve) => {
        if (signal?.aborted) return resolve();
        const onAbort = () => {
          timers = timers.filter((t) => t !== timer);
          resolve();
        };
        const timer = {
          at: emu.world.now() + ms,
          wake: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        timers.push(timer);
        begun += 1;
      }),
  };
  async function quiet() {
    const log = emu.world.requestLog;
    for (let waited = 0; ; waited += 5) {
      const seen = log.length;
      const sleeps = begun;
      await realDelay(5);
      if (log.length === seen && sleeps === begun && (timers.length >= 2 || (timers.length > 0 && waited > 2000)))
        return;
    }
  }
  async function runUntil(end) {
    while (emu.world.now() < end) {
      await quiet();
      const next = timers.reduce((a, t) => (a && a.at <= t.at ? a : t), undefined);
      const at = Math.min(next?.at ?? end, end);
      if (at > emu.world.now()) emu.world.clockOffsetMs += at - emu.world.now();
      emu.server.runDueCycles();
      onMoved();
      const due = timers.filter((t) => t.at <= emu.world.now());
      timers = timers.filter((t) => t.at > emu.world.now());
      for (const t of due) t.wake();
    }
    await quiet();
  }
  return { clock, runUntil };
}

async function directRemovalAccepted(config, dir) {
  const file = path.join(dir, 'probe.json');
  // Direct removal needs the sweep host's write key (oci.access "write").
  const probe = { ...config, oci: { ...config.oci, access: 'write', removeDirectly: true } };
  await writeFile(file, JSON.stringify(probe), { mode: 0o600 });
  try {
    await loadConfig(file);
    return true;
  } catch {
    return false;
  }
}

async function simulate(scenario, { ends, revoked }) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ociaccess-window-'));
  const emu = await startEmulator({ dir: path.join(root, 'emulator'), cycleMs: CYCLE_MS });
  try {
    const world = emu.world;
    const start = world.now();
    const seeded = seedScaleWorld(world, {
      members: GRANTS,
      grant: (i, now) => ({ decidedAt: now - 10 * MIN, expiresAt: now + ends[i] }),
    });
    const config = JSON.parse(await readFile(emu.configFile, 'utf8'));
    config.groups[0].approvers.push(...seeded.approverUpns);
    // Only an eligible requester's approval keeps anyone (docs/records.md): the members are the group's requesters.
    config.groups[0].eligibleRequesters.push(...seeded.memberUpns);
    config.groups[0].maxHours = 24;
    const schemaHasDirect = await directRemovalAccepted(config, root);
    const direct = scenario !== 'a' && schemaHasDirect;
    // (a) is SCIM only: with a write key direct removal is on by default, so it is turned off there.
    if (schemaHasDirect) config.oci = { ...config.oci, access: 'write', removeDirectly: direct };
    if (scenario === 'c') delete config.emulator;
    const configFile = path.join(root, 'config.json');
    await writeFile(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
    const env = {
      OCIACCESS_CONFIG: configFile,
      OCIACCESS_HOME: path.join(root, 'cron-host'),
      OCIACCESS_TOKEN_STORE: 'file',
      NO_COLOR: '1',
      PATH: process.env.PATH,
    };
    const endAt = ends.map((ms, i) => start + Math.min(ms, revoked.get(i) ?? Infinity));
    const revokesDue = [...revoked].map(([i, ms]) => ({ i, at: start + ms, done: false }));
    const revokeDue = () => {
      for (const r of revokesDue) {
        if (r.done || world.now() < r.at) continue;
        r.done = true;
        const user = world.users.get(seeded.memberIds[r.i]);
        const ext = user.extensions.get(REQUESTS_EXTENSION);
        const [request] = decodeRequests(ext.properties, user.id);
        request.withdrawn = { kind: 'revoked', at: new Date(world.now()) };
        ext.properties = encodeRequests([request], () => true, new Date(world.now()));
      }
    };
    const entraGroup = world.groups.get(SEED.tempGroupId);
    const ociGroup = world.ociGroupByName(SEED.tempGroupName);
    const ociIdOf = new Map([...world.ociUsers.values()].map((u) => [u.userName, u.id]));
    const goneEntra = new Array(GRANTS).fill(undefined);
    const goneOci = new Array(GRANTS).fill(undefined);
    const look = () => {
      revokeDue();
      seeded.memberIds.forEach((id, i) => {
        if (goneEntra[i] === undefined && !entraGroup.members.has(id)) goneEntra[i] = world.now();
        if (goneOci[i] === undefined && !ociGroup.members.has(ociIdOf.get(seeded.memberUpns[i])))
          goneOci[i] = world.now();
      });
    };
    const firstRequest = world.requestLog.length;
    const deadline = start + SPAN_MS + 2 * CYCLE_MS;
    const finished = () => goneOci.every((t) => t !== undefined) || world.now() >= deadline;
    if (scenario === 'c') {
      const { clock, runUntil } = virtualClock(emu, look);
      const stop = new AbortController();
      const running = main(
        ['sweep', '--watch', '--json'],
        actorContext({
          env,
          clock,
          abortSignal: stop.signal,
          stdout: new CapturedStream(),
          stderr: new CapturedStream(),
        }),
      );
      while (!finished()) await runUntil(Math.min(deadline, world.now() + 10 * MIN));
      stop.abort();
      await running;
    } else {
      let nextSweep = start;
      while (!finished()) {
        if (world.now() >= nextSweep) {
          const stderr = new CapturedStream();
          const stdout = new CapturedStream();
          const code = await main(['sweep', '--json'], actorContext({ env, stdout, stderr }));
          if (![0, 5, 6].includes(code))
            throw new Error(`sweep exited ${code}: ${stderr.text}${stdout.text.slice(0, 3000)}`);
          nextSweep += CRON_MS;
          look();
        }
        world.clockOffsetMs += STEP_MS;
        emu.server.runDueCycles();
        look();
      }
    }
    const hours = (world.now() - start) / HOUR;
    const log = world.requestLog.slice(firstRequest);
    const calls = (service) => log.filter((e) => e.service === service).length / hours;
    return {
      direct,
      toEntra: goneEntra.map((t, i) => (t === undefined ? Infinity : Math.max(0, t - endAt[i]))),
      toOci: goneOci.map((t, i) => (t === undefined ? Infinity : Math.max(0, t - endAt[i]))),
      graphPerHour: calls('graph'),
      ociPerHour: calls('oci'),
    };
  } finally {
    await emu.stop();
    await rm(root, { recursive: true, force: true });
  }
}

const seconds = (ms) =>
  ms === Infinity ? 'never' : ms >= 10 * MIN ? `${(ms / MIN).toFixed(1)} min` : `${Math.round(ms / 1000)} s`;
function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { worst: sorted.at(-1), median: sorted[Math.floor(sorted.length / 2)] };
}

const LABELS = {
  a: '(a) cron 5 min, SCIM only',
  b: '(b) cron 5 min, direct OCI',
  c: '(c) --watch, direct OCI',
};
const grants = plan();
console.log(
  `${GRANTS} grants ending at random over ${SPAN_MS / HOUR} h, ${REVOKES} revoked early by their requester; provisioning cycle ${CYCLE_MS / MIN} min; virtual time`,
);
console.log(
  `${'scenario'.padEnd(30)} ${'to Entra: worst'.padStart(16)} ${'median'.padStart(8)} ${'to OCI: worst'.padStart(15)} ${'median'.padStart(8)} ${'Graph/h'.padStart(8)} ${'OCI/h'.padStart(7)}`,
);
let watch;
for (const scenario of ['a', 'b', 'c']) {
  if (!ONLY.includes(scenario)) continue;
  const result = await simulate(scenario, grants);
  const entra = stats(result.toEntra);
  const oci = stats(result.toOci);
  const note = scenario !== 'a' && !result.direct ? '  (oci.removeDirectly not in this build: OCI by SCIM)' : '';
  console.log(
    `${LABELS[scenario].padEnd(30)} ${seconds(entra.worst).padStart(16)} ${seconds(entra.median).padStart(8)} ${seconds(oci.worst).padStart(15)} ${seconds(oci.median).padStart(8)} ${result.graphPerHour.toFixed(0).padStart(8)} ${result.ociPerHour.toFixed(0).padStart(7)}${note}`,
  );
  if (scenario === 'c') watch = { entra, oci };
}
if (watch) {
  const met = watch.entra.worst <= MIN && watch.oci.worst <= MIN;
  console.log(`\ntarget for (c): worst ≤ 60 s to Entra and to OCI: ${met ? 'met' : 'NOT met'}`);
}
