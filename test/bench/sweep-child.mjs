// One `ociaccess sweep` in a process of its own, so that its peak memory is
// its own: runs main() as the cron host would (same code as bin/ociaccess.js)
// with stdout captured, and prints one JSON line of measurements.
// Usage: node sweep-child.mjs <sweep args…>   (env: OCIACCESS_CONFIG, OCIACCESS_HOME, NODE_EXTRA_CA_CERTS)
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
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
// The report goes to a file, as it would go to a pipe: not held in this process.
const reportFile = path.join(process.env.OCIACCESS_HOME, 'report.json');
mkdirSync(process.env.OCIACCESS_HOME, { recursive: true, mode: 0o700 });
const fd = openSync(reportFile, 'w', 0o600);
const stdout = { isTTY: false, write: (chunk) => writeSync(fd, chunk) };
const stderr = new CapturedStream();
const ctx = { ...processContext(), stdout, stderr };
const mainStarted = performance.now();
const exitCode = await main(process.argv.slice(2), ctx);
const finished = performance.now();
// The high-water mark before this script reads the report back.
const vmHwmKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
const maxRssKb = process.resourceUsage().maxRSS;
closeSync(fd);
let report;
try {
  report = JSON.parse(readFileSync(reportFile, 'utf8'));
} catch {
  report = undefined;
}
const groups = report?.groups ?? [];
const count = (field) => groups.reduce((sum, g) => sum + (g[field]?.length ?? 0), 0);
process.stdout.write(
  `${JSON.stringify({
    exitCode,
    mainMs: finished - mainStarted,
    processMs: finished - started,
    peakRssMb: Math.max(vmHwmKb, maxRssKb) / 1024,
    members: groups.reduce((sum, g) => sum + g.members, 0),
    removed: count('removed'),
    failed: count('failed'),
    pendingInOci: count('pendingInOci'),
    drift: count('drift'),
    outcome: report?.outcome,
    stats: report?.stats,
    stderr: exitCode > 1 && exitCode !== 6 ? stderr.text.slice(-2000) : undefined,
  })}\n`,
);
