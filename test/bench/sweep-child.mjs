// One `ociaccess sweep` in a process of its own, so that its peak memory is
// its own: runs main() as the cron host would (same code as bin/ociaccess.js)
// with stdout captured, and prints one JSON line of measurements.
// Usage: node sweep-child.mjs <sweep args…>   (env: OCIACCESS_CONFIG, OCIACCESS_HOME, NODE_EXTRA_CA_CERTS)
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const started = performance.now();
const [{ main }, { processContext }, { CapturedStream }] = await Promise.all([
  import('../../dist/cli/main.js'),
  import('../../dist/process-context.js'),
  import('../../dist/actor-context.js'),
  // What the sweep loads lazily (the SDKs): loaded before the clock starts, so
  // that "sweep" measures the sweep; the loading shows in "process".
  import('../../dist/cli/services.js'),
  import('../../dist/cli/commands/sweep.js'),
  import('../../dist/config/load.js'),
  import('../../dist/adapters/oci/oci-domain.js'),
]);
const stdout = new CapturedStream();
const stderr = new CapturedStream();
const ctx = { ...processContext(), stdout, stderr };
const mainStarted = performance.now();
const exitCode = await main(process.argv.slice(2), ctx);
const finished = performance.now();

const status = readFileSync('/proc/self/status', 'utf8');
const vmHwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
let report;
try {
  report = JSON.parse(stdout.text);
} catch {
  report = undefined;
}
const groups = report?.groups ?? [];
const count = (field) => groups.reduce((sum, g) => sum + (g[field]?.length ?? 0), 0);
process.stdout.write(`${JSON.stringify({
  exitCode,
  mainMs: finished - mainStarted,
  processMs: finished - started,
  peakRssMb: Math.max(vmHwmKb / 1024, process.resourceUsage().maxRSS / 1024),
  members: groups.reduce((sum, g) => sum + g.members, 0),
  removed: count('removed'),
  failed: count('failed'),
  pendingInOci: count('pendingInOci'),
  drift: count('drift'),
  outcome: report?.outcome,
  stats: report?.stats,
  stderr: exitCode > 1 && exitCode !== 6 ? stderr.text.slice(-2000) : undefined,
})}\n`);
