// Sweep benchmark (issues 4 and 13). Against the embedded emulator with 100 ms added
// to every Graph and OCI request, a temp group of 2,000 members of which 1,000
// hold expired grants:
//   1. `ociaccess sweep`                                (batched, 4 in flight)
//   2. `ociaccess sweep --concurrency 1 --no-batch`     (one request at a time, like a shell script)
// each in a child process of its own on a freshly seeded world, then a
// 10,000-member sweep for the memory target. Prints wall time, HTTP requests
// and peak RSS of each, the speed-up, and the batched sweep against its own
// critical-path lower bound (sequential round trips × latency). Asserts
// nothing: timing claims live here, not in the tests.
//
// Targets (docs/performance.md): speed-up ≥ 20×; batched within 1.15× of its lower bound; peak RSS ≤ 200 MB at 10,000 members.
// Knobs (env): BENCH_MEMBERS (2000), BENCH_EXPIRED (1000), BENCH_LATENCY_MS (100), BENCH_BIG (10000, 0 to skip),
// BENCH_SEQUENTIAL (1; 0 to skip), BENCH_REPEAT (5: runs of the batched sweep, the median counts),
// BENCH_FLOOR (3: runs of the same sweep with no latency, to show what its own work takes; 0 to skip).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { startEmulator } from '../../dist/emulator/index.js';
import { seedScaleWorld } from '../../dist/demo/scale-world.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 2000);
const EXPIRED = Number(process.env.BENCH_EXPIRED ?? 1000);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 100);
const TARGET_RATIO = 1.15;
const BIG = Number(process.env.BENCH_BIG ?? 10_000);
const SEQUENTIAL = process.env.BENCH_SEQUENTIAL !== '0';
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 5));
const FLOOR = Math.max(0, Number(process.env.BENCH_FLOOR ?? 3));
const CONCURRENCY = 4;
const BATCH = 20;
const PAGE = 999;

const ceilDiv = (a, b) => Math.ceil(a / b);
const fmt = (n) => n.toLocaleString('en-US');
const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;

/** A fresh emulator holding the scale world, and the config the cron host reads. */
async function world(root, { members, expired, ociOnly = 0 }, latency = LATENCY) {
  const emu = await startEmulator({ dir: path.join(root, 'emulator') });
  const seeded = seedScaleWorld(emu.world, { members, expired, ociOnly });
  const config = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(emu.configFile, 'utf8')));
  config.groups[0].approvers = [...config.groups[0].approvers, ...seeded.approverUpns];
  // Only an eligible requester's approval keeps anyone (docs/records.md): the members are the group's requesters.
  config.groups[0].eligibleRequesters = [...config.groups[0].eligibleRequesters, ...seeded.memberUpns];
  await writeFile(emu.configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
  emu.world.latencyMs.graph = latency;
  emu.world.latencyMs.oci = latency;
  return { emu, seeded, config };
}

function runChild(emu, home, args) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(here, 'sweep-child.mjs'), ...args], {
      env: {
        PATH: process.env.PATH,
        HOME: home,
        NODE_EXTRA_CA_CERTS: emu.caFile,
        OCIACCESS_CONFIG: emu.configFile,
        OCIACCESS_HOME: home,
        OCIACCESS_TOKEN_STORE: 'file',
        NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`sweep child exited ${code}: ${out}`));
      resolve({ ...JSON.parse(out.trim().split('\n').pop()), spawnMs: performance.now() - started });
    });
  });
}

/** HTTP requests the emulator answered for Graph and OCI since `mark`, and the items inside $batch calls. */
function requestsSince(emu, mark) {
  const entries = emu.world.requestLog.filter((e) => e.seq > mark && (e.service === 'graph' || e.service === 'oci'));
  return {
    graph: entries.filter((e) => e.service === 'graph').length,
    oci: entries.filter((e) => e.service === 'oci').length,
    batchItems: entries.reduce((sum, e) => sum + (e.batchItems?.length ?? 0), 0),
    total: entries.length,
  };
}

/**
 * The batched sweep's critical path, from its structure (src/core/sweep.ts).
 * Every $batch call of a sweep takes one of `c` slots, so B calls side by side
 * need ⌈B/c⌉ sequential rounds:
 *   read: the member list ($top=999 pages, one after the other) beside, in the
 *     slots, resolving the P configured people and reading, by UPN, the A
 *     approvers' records (with the group's decisions record, G = 1 with an
 *     auto-approval rule, as one more item) and the E eligible requesters'
 *     records: max(pages, ⌈(⌈P/20⌉+⌈(A+G)/20⌉+⌈E/20⌉)/c⌉) rounds;
 *   act: the K removals, ⌈⌈K/20⌉/c⌉ rounds, then the decisions read again for
 *     races with approvals, ⌈⌈(A+G)/20⌉/c⌉ rounds;
 *   check: the OCI group (find it, read its members; above 10,000 members one
 *     refused read, then pages of 10,000), the provisioning job beside it.
 * Each round costs at least one latency. The sign-in (Entra, no latency added)
 * and the local writes (state, audit log) are not round trips and not counted.
 */
function criticalPath({ people, eligible, approvers, groupRecord, members, ociMembers, removals }) {
  const calls = (items) => ceilDiv(items, BATCH);
  const decisionRecords = approvers + groupRecord;
  const read = Math.max(
    1,
    ceilDiv(members, PAGE),
    ceilDiv(calls(people) + calls(decisionRecords) + calls(eligible), CONCURRENCY),
  );
  const act = removals > 0 ? ceilDiv(calls(removals), CONCURRENCY) + ceilDiv(calls(decisionRecords), CONCURRENCY) : 0;
  const check = ociMembers > 10_000 ? 2 + ceilDiv(ociMembers + 1, 10_000) : 2;
  return { rounds: read + act + check, read, act, check };
}

function shapeOf(config, members, expired, ociOnly) {
  const group = config.groups[0];
  const people = new Set(
    [
      ...group.eligibleRequesters,
      ...group.approvers,
      ...group.standingMembers,
      ...(group.autoApproval?.requesters ?? []),
    ].map((u) => u.toLowerCase()),
  ).size;
  return {
    people,
    eligible: group.eligibleRequesters.length,
    approvers: group.approvers.length,
    groupRecord: group.autoApproval ? 1 : 0,
    members: members + 1 /* break-glass */,
    ociMembers: members + 1 + ociOnly,
    liveMembers: members - expired,
    removals: expired,
  };
}

async function measure(label, sizes, args, latency = LATENCY) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ociaccess-bench-'));
  try {
    const { emu, config } = await world(root, sizes, latency);
    const mark = emu.world.requestLog.at(-1)?.seq ?? 0;
    const result = await runChild(emu, path.join(root, 'cron-home'), ['sweep', '--json', ...args]);
    const requests = requestsSince(emu, mark);
    await emu.stop();
    if (result.removed !== sizes.expired) {
      throw new Error(
        `${label}: expected ${sizes.expired} removals, the sweep reported ${result.removed} (exit ${result.exitCode}, failed ${result.failed})\n${result.stderr ?? ''}`,
      );
    }
    return { label, result, requests, shape: shapeOf(config, sizes.members, sizes.expired, sizes.ociOnly ?? 0) };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function row(m) {
  const r = m.result;
  return `${m.label.padEnd(34)} ${secs(r.mainMs).padStart(9)} ${secs(r.processMs).padStart(9)} ${fmt(m.requests.total).padStart(8)} ${fmt(m.requests.batchItems).padStart(8)} ${`${r.peakRssMb.toFixed(0)} MB`.padStart(9)}   exit ${r.exitCode} (${r.outcome})`;
}

console.log(
  `sweep of ${fmt(MEMBERS)} members (+ break-glass), ${fmt(EXPIRED)} with expired grants; ${LATENCY} ms added to every Graph and OCI request`,
);
console.log(
  `machine: ${os.cpus().length} CPU(s), load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} (the emulator runs in this process, each sweep in a child)`,
);
console.log(
  `${''.padEnd(34)} ${'wall'.padStart(9)} ${'process'.padStart(9)} ${'HTTP'.padStart(8)} ${'in batch'.padStart(8)} ${'peak RSS'.padStart(9)}`,
);
// The batched sweep takes seconds: it runs REPEAT times (each on a fresh world) and the median counts.
const runs = [];
for (let i = 0; i < REPEAT; i += 1)
  runs.push(await measure('ociaccess sweep', { members: MEMBERS, expired: EXPIRED }, []));
runs.sort((a, b) => a.result.mainMs - b.result.mainMs);
const batched = runs[Math.floor(runs.length / 2)];
batched.label = REPEAT > 1 ? `ociaccess sweep (median of ${REPEAT})` : batched.label;
console.log(row(batched));
if (REPEAT > 1) console.log(`  ${''.padEnd(32)} runs: ${runs.map((r) => secs(r.result.mainMs)).join(', ')}`);
let sequential;
if (SEQUENTIAL) {
  sequential = await measure('sweep --concurrency 1 --no-batch', { members: MEMBERS, expired: EXPIRED }, [
    '--concurrency',
    '1',
    '--no-batch',
  ]);
  console.log(row(sequential));
}
console.log(
  '  wall: main() of the sweep, sign-in included; process: plus loading the CLI in the child; HTTP: Graph + OCI requests answered (a $batch counts once; "in batch": the items inside)',
);
console.log('');
if (sequential) {
  const speedUp = sequential.result.mainMs / batched.result.mainMs;
  console.log(
    `speed-up (wall):           ${speedUp.toFixed(1)}×   target ≥ 20×   ${speedUp >= 20 ? 'met' : 'NOT met'}`,
  );
  const seqBound = sequential.requests.total * LATENCY;
  console.log(
    `sequential sweep bound:    ${fmt(sequential.requests.total)} round trips × ${LATENCY} ms = ${secs(seqBound)}; real/bound = ${(sequential.result.mainMs / seqBound).toFixed(2)}`,
  );
}
const path1 = criticalPath(batched.shape);
const bound = path1.rounds * LATENCY;
const ratio = batched.result.mainMs / bound;
console.log(
  `batched critical path:     ${path1.rounds} sequential rounds (read ${path1.read} + act ${path1.act} + check ${path1.check}) × ${LATENCY} ms = ${secs(bound)}`,
);
console.log(
  `batched real/bound:        ${ratio.toFixed(2)}   target ≤ ${TARGET_RATIO}   ${ratio <= TARGET_RATIO ? 'met' : 'NOT met'}`,
);
if (FLOOR > 0) {
  // The same sweep with no latency at all: what its own work (client and emulator sharing this machine's CPUs) takes.
  const floors = [];
  for (let i = 0; i < FLOOR; i += 1)
    floors.push((await measure('no latency', { members: MEMBERS, expired: EXPIRED }, [], 0)).result.mainMs);
  floors.sort((a, b) => a - b);
  const floor = floors[Math.floor(floors.length / 2)];
  console.log(
    `same sweep, no latency:    ${secs(floor)} (median of ${FLOOR}: the sweep's own work, client and emulator on ${os.cpus().length} CPU(s)); target real ≤ ${secs(TARGET_RATIO * bound)}`,
  );
}
console.log(
  `  (shape: ${batched.shape.people} configured people, ${batched.shape.approvers} approver records, ${fmt(batched.shape.members)} members of whom ${fmt(batched.shape.liveMembers)} hold a live approval, ${fmt(batched.shape.eligible)} eligible requesters (their records are read), ${fmt(batched.shape.removals)} removals)`,
);

if (BIG > 0) {
  console.log('');
  const expiredBig = Math.round(BIG / 2);
  const big = await measure(`sweep of ${fmt(BIG)} members`, { members: BIG, expired: expiredBig, ociOnly: 50 }, []);
  console.log(
    `${''.padEnd(34)} ${'wall'.padStart(9)} ${'process'.padStart(9)} ${'HTTP'.padStart(8)} ${'in batch'.padStart(8)} ${'peak RSS'.padStart(9)}`,
  );
  console.log(row(big));
  const bigPath = criticalPath(big.shape);
  console.log(
    `  ${fmt(expiredBig)} expired, OCI group of ${fmt(big.shape.ociMembers)} (paged; 50 drift members reported: ${big.result.drift}); critical path ${bigPath.rounds} rounds = ${secs(bigPath.rounds * LATENCY)}, real/bound ${(big.result.mainMs / (bigPath.rounds * LATENCY)).toFixed(2)}`,
  );
  console.log(
    `peak RSS at ${fmt(BIG)} members: ${big.result.peakRssMb.toFixed(0)} MB   target ≤ 200 MB   ${big.result.peakRssMb <= 200 ? 'met' : 'NOT met'}`,
  );
}
console.log(
  `load average at the end: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
