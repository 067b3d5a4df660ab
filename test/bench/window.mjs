// Exposure-window benchmark (issue 4): how long does an expired grant stay
// in the OCI group? Simulated time on the embedded emulator: Entra's
// provisioning cycle every 40 minutes, `ociaccess sweep` from cron every 5
// minutes, and grants expiring at staggered moments (so every phase against
// the sweep and the cycle occurs). For each grant: expiry → the moment the
// OCI group no longer lists the user. Run twice, without and with
// --provision-now. Prints the worst (and median) window of each.
//
// Targets: with --provision-now ≤ one sweep interval + 1 minute (6 min);
// without, about 45 minutes (a sweep interval plus a provisioning cycle).
// Knobs (env): WINDOW_GRANTS (24), WINDOW_SWEEP_MIN (5), WINDOW_CYCLE_MIN (40), WINDOW_STEP_S (10).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmulator } from '../../dist/emulator/index.js';
import { seedScaleWorld } from '../../dist/demo/scale-world.js';
import { SEED } from '../../dist/emulator/seed.js';
import { actorContext, CapturedStream } from '../../dist/actor-context.js';
import { main } from '../../dist/cli/main.js';

const MIN = 60_000;
const GRANTS = Number(process.env.WINDOW_GRANTS ?? 24);
const SWEEP_MS = Number(process.env.WINDOW_SWEEP_MIN ?? 5) * MIN;
const CYCLE_MS = Number(process.env.WINDOW_CYCLE_MIN ?? 40) * MIN;
const STEP_MS = Number(process.env.WINDOW_STEP_S ?? 10) * 1000;
/** Expiries spread over a whole cycle, 97 s apart: no two share a phase against the 5-minute sweep or the 40-minute cycle. */
const SPACING_MS = 97_000;

const minutes = (ms) => `${(ms / MIN).toFixed(1)} min`;

async function simulate(provisionNow) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ociaccess-window-'));
  const emu = await startEmulator({ dir: path.join(root, 'emulator'), cycleMs: CYCLE_MS });
  try {
    const world = emu.world;
    const start = world.now();
    const seeded = seedScaleWorld(world, {
      members: GRANTS,
      grant: (i, now) => ({ decidedAt: now - 10 * MIN, expiresAt: now + 2 * MIN + i * SPACING_MS }),
    });
    const expiresAt = seeded.memberUpns.map((_, i) => start + 2 * MIN + i * SPACING_MS);
    const config = JSON.parse(await readFile(emu.configFile, 'utf8'));
    config.groups[0].approvers.push(...seeded.approverUpns);
    await writeFile(emu.configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
    const env = {
      OCIACCESS_CONFIG: emu.configFile,
      OCIACCESS_HOME: path.join(root, 'cron-host'),
      OCIACCESS_TOKEN_STORE: 'file',
      NO_COLOR: '1',
      PATH: process.env.PATH,
    };
    const ociGroup = world.ociGroupByName(SEED.tempGroupName);
    const ociIdOf = new Map([...world.ociUsers.values()].map((u) => [u.userName, u.id]));
    const goneAt = new Array(GRANTS).fill(undefined);
    const look = () => {
      seeded.memberUpns.forEach((upn, i) => {
        if (goneAt[i] === undefined && !ociGroup.members.has(ociIdOf.get(upn))) goneAt[i] = world.now();
      });
    };
    const exits = new Map();
    let nextSweep = start;
    const deadline = start + 2 * MIN + GRANTS * SPACING_MS + 3 * CYCLE_MS;
    while (goneAt.some((t) => t === undefined) && world.now() < deadline) {
      if (world.now() >= nextSweep) {
        const stdout = new CapturedStream();
        const stderr = new CapturedStream();
        const code = await main(
          ['sweep', '--json', ...(provisionNow ? ['--provision-now'] : [])],
          actorContext({ env, stdout, stderr }),
        );
        if (code !== 0 && code !== 6)
          throw new Error(`sweep exited ${code}: ${stderr.text}${stdout.text.slice(0, 2000)}`);
        exits.set(code, (exits.get(code) ?? 0) + 1);
        nextSweep += SWEEP_MS;
        look();
      }
      // Virtual time moves on; a provisioning cycle runs when it is due.
      world.clockOffsetMs += STEP_MS;
      emu.server.runDueCycles();
      look();
    }
    const windows = goneAt.map((t, i) => (t === undefined ? Infinity : t - expiresAt[i]));
    return { windows, exits };
  } finally {
    await emu.stop();
    await rm(root, { recursive: true, force: true });
  }
}

function summarize(label, { windows, exits }) {
  const sorted = [...windows].sort((a, b) => a - b);
  const worst = sorted.at(-1);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(
    `${label.padEnd(28)} worst ${minutes(worst).padStart(9)}   median ${minutes(median).padStart(9)}   best ${minutes(sorted[0]).padStart(9)}   (sweep exits: ${[...exits].map(([c, n]) => `${n}× ${c}`).join(', ')})`,
  );
  return worst;
}

console.log(
  `${GRANTS} grants expiring ${SPACING_MS / 1000} s apart; sweep every ${minutes(SWEEP_MS)}, provisioning cycle every ${minutes(CYCLE_MS)} (simulated time, ${STEP_MS / 1000} s resolution)`,
);
console.log("window = from a grant's expiry to its disappearance from the OCI group");
const without = summarize('sweep', await simulate(false));
const withPod = summarize('sweep --provision-now', await simulate(true));
const target = SWEEP_MS + MIN;
console.log('');
console.log(
  `with --provision-now: worst ${minutes(withPod)}   target ≤ ${minutes(target)} (one sweep interval + 1 minute)   ${withPod <= target ? 'met' : 'NOT met'}`,
);
console.log(
  `without:              worst ${minutes(without)}   expected about ${minutes(SWEEP_MS + CYCLE_MS)} (a sweep interval + a provisioning cycle)`,
);
