// State-file benchmark: parse + validate of a state.json whose sweep ledger has
// MEMBERS members (default 10,000) in firstSeen and PENDING (default: all of
// them) in pendingRemovals, plus a tenth as many failedRemovals, requests and
// decisions. A command parses
// and validates the file once per read and validates the draft again before an
// update writes it, so both figures are printed: the first call in a fresh
// process (what one CLI run pays) and the median of later calls. Compare them
// with a Graph or OCI call (~100 ms). Prints figures; asserts nothing.
// Needs a build: `npm run bench:state` builds first. Timings on a busy machine
// vary by 2x from run to run: compare medians of several runs.
// The parse and validate figures are CPU time, which suffers less from a busy machine than wall time.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// DIST=<another build's dist> compares two builds (e.g. before and after a change) on the same machine.
const dist = path.resolve(process.env.DIST ?? path.join(root, 'dist'));
const { validateLocalState, openStateStore } = await import(path.join(dist, 'store/state-store.js'));
const members = Number(process.env.MEMBERS ?? 10_000);
/** Removals awaiting OCI: by default every member (a whole group expired at once, the worst case); PENDING=100 is a typical day. */
const pending = Number(process.env.PENDING ?? members);
const runs = Number(process.env.RUNS ?? 30);

function ledgerState(count) {
  const at = (i) => new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  const groups = Array.from({ length: 10 }, (_, g) => `group-${g}-5e6f0000-0000-4000-8000-000000000000`);
  const state = {
    version: 1,
    requests: {},
    decisions: {},
    sweep: { firstSeen: {}, pendingRemovals: {}, failedRemovals: {}, driftSeen: {} },
  };
  for (let i = 0; i < count; i += 1) {
    const groupId = groups[i % groups.length];
    const userId = `user-${String(i).padStart(6, '0')}-1111-4000-8000-000000000000`;
    const upn = `user${i}@contoso.example`;
    (state.sweep.firstSeen[groupId] ??= {})[userId] = at(i);
    if (i < pending) {
      state.sweep.pendingRemovals[`${groupId}:${userId}`] = {
        groupId,
        userId,
        upn,
        removedInEntraAt: at(i),
        reason: 'expired',
        attempts: 1,
        lastCheckedAt: at(i + 60),
        status: 'pending-oci',
      };
    }
    if (i % 10 === 0) {
      state.sweep.failedRemovals[`${groupId}:${userId}`] = {
        groupId,
        userId,
        upn,
        attempts: 2,
        lastError: 'Graph answered 503',
        firstFailedAt: at(i),
      };
      const id = `r-${i.toString(36).padStart(8, '0')}`;
      state.requests[id] = {
        id,
        groupId,
        groupName: 'OCI-Temp-Admins',
        userId,
        upn,
        hours: 2,
        justification: 'INC-4711: rotate the DB wallet',
        requestedAt: at(i),
        status: 'approved',
      };
      state.decisions[id] = {
        requestId: id,
        requesterId: userId,
        requesterUpn: upn,
        groupId,
        decision: 'approved',
        decidedAt: at(i + 5),
        expiresAt: at(i + 7205),
        approverId: 'approver-2222',
      };
    }
  }
  return state;
}

// CPU time (user + system) of this process, not wall time: the work is synchronous, and on a shared machine
// wall time mostly measures the other processes. update() below is I/O too and is timed on the wall clock.
const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};
const cpuMs = (started) => (cpuNow() - started) / 1e3;
const ms = (started) => Number(process.hrtime.bigint() - started) / 1e6;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function parseAndValidate(text) {
  const result = validateLocalState(JSON.parse(text));
  if (!result.ok) throw new Error(`the benchmark's state does not validate: ${result.problem}`);
  return result.state;
}

const text = `${JSON.stringify(ledgerState(members), null, 2)}\n`;
const parseOnly = [];
const parseValidate = [];
const validateOnly = [];
let started = cpuNow();
const state = parseAndValidate(text);
const firstParseValidate = cpuMs(started);
started = cpuNow();
validateLocalState(state);
const firstValidate = cpuMs(started);
for (let i = 0; i < runs; i += 1) {
  started = cpuNow();
  JSON.parse(text);
  parseOnly.push(cpuMs(started));
  started = cpuNow();
  parseAndValidate(text);
  parseValidate.push(cpuMs(started));
  const draft = JSON.parse(text);
  started = cpuNow();
  validateLocalState(draft);
  validateOnly.push(cpuMs(started));
}

// One whole update() through the store (read, parse, validate, validate the draft, write atomically), on a temp directory.
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ociaccess-bench-state-'));
const stateDir = path.join(dir, 'state');
await fs.mkdir(stateDir, { mode: 0o700 });
await fs.writeFile(path.join(stateDir, 'state.json'), text, { mode: 0o600 });
const host = {
  clock: { now: () => new Date(), sleep: (t) => new Promise((resolve) => setTimeout(resolve, t)) },
  pid: process.pid,
  hostname: os.hostname(),
  platform: process.platform,
  uid: process.getuid?.(),
};
const store = openStateStore(stateDir, host);
const updates = [];
for (let i = 0; i < 5; i += 1) {
  const started = process.hrtime.bigint();
  await store.update(() => undefined);
  updates.push(ms(started));
}
await fs.rm(dir, { recursive: true, force: true });

const f = (value) => `${value.toFixed(1)} ms`.padStart(9);
console.log(
  `state.json: ${members} ledger members, ${pending} removals awaiting OCI, ${(Buffer.byteLength(text) / 1e6).toFixed(1)} MB; ${runs} runs`,
);
console.log('CPU time:');
console.log(`JSON.parse alone (median):            ${f(median(parseOnly))}`);
console.log(`parse + validate, first in process:   ${f(firstParseValidate)}`);
console.log(`parse + validate (median):            ${f(median(parseValidate))}`);
console.log(`validate alone, second in process:    ${f(firstValidate)}`);
console.log(`validate alone (median):              ${f(median(validateOnly))}`);
console.log('Wall time:');
console.log(`store.update(no-op), first / median:  ${f(updates[0])} / ${f(median(updates))}`);
