// Start-up benchmark: wall time of `ociaccess --version` against `node -e 0`
// (median of several runs each, interleaved so machine noise hits both alike).
// Target: ratio <= 1.5. Prints figures; asserts nothing (timing lives here, not in tests).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const runs = Number(process.env.RUNS ?? 21);
const bin = path.join(root, 'bin', 'ociaccess.js');

function time(args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return ms;
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

time(['-e', '0']);
time([bin, '--version']); // warm the file cache
const baseline = [];
const version = [];
const help = [];
for (let i = 0; i < runs; i += 1) {
  baseline.push(time(['-e', '0']));
  version.push(time([bin, '--version']));
  help.push(time([bin, '--help']));
}
const b = median(baseline);
const v = median(version);
const h = median(help);
console.log(`runs per command:        ${runs}`);
console.log(`node -e 0 (median):      ${b.toFixed(1)} ms`);
console.log(`ociaccess --version:     ${v.toFixed(1)} ms`);
console.log(`ociaccess --help:        ${h.toFixed(1)} ms`);
console.log(`ratio --version/node:    ${(v / b).toFixed(2)} (target <= 1.5)`);
console.log(`ratio --help/node:       ${(h / b).toFixed(2)}`);
