/**
 * Model check (fast-check): random sequences of requests, approvals, denials,
 * revocations, hand-made additions, clock moves and sweeps from two hosts —
 * each one possibly killed at a random port call (before or after its effect)
 * and then run once more — are played against the real use cases over an
 * in-memory tenant (support/fake-tenant.ts), and against a reference model of
 * who must be in the group, written here from the design alone.
 *
 * After every step:
 * - the Entra group holds exactly the members the model says (an approval
 *   adds, a revocation by an approver removes, a sweep keeps the standing
 *   members and live grants, auto-approves, and removes everyone else);
 * - a sweep never removed anyone holding a live grant;
 * - a sweep that ran to its end reports clean or pending (never failed);
 * - "killed, then run again" leaves the same state as "run once".
 *
 * CI runs a bounded number of sequences; `npm run test:stress` many more.
 */
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { configSchema, type Config } from '../../src/config/schema.js';
import { PolicyError } from '../../src/errors.js';
import { approveRequest, denyRequest, requestAccess, revokeGrant } from '../../src/core/lifecycle.js';
import { runSweep, type SweepReport } from '../../src/core/sweep.js';
import { REQUESTS_EXTENSION, decodeRequests } from '../../src/core/records.js';
import { Crash, FakeMachine, FakeTenant } from './support/fake-tenant.js';
import { reportTrials, stressMode, tally } from './support/trials.js';

jest.setTimeout(3_600_000);

const DOMAIN = 'contoso.example';
const PEOPLE = ['alice', 'bob', 'carol', 'dave', 'breakglass'] as const;
type Person = (typeof PEOPLE)[number];
const ID: Record<Person, string> = {
  alice: 'u-alice',
  bob: 'u-bob',
  carol: 'u-carol',
  dave: 'u-dave',
  breakglass: 'u-breakglass',
};
const upn = (p: Person) => `${p}@${DOMAIN}`;
const ELIGIBLE: Person[] = ['alice', 'bob', 'carol'];
const APPROVERS: Person[] = ['bob', 'carol'];
const GROUP_ID = '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b';
const HOUR = 3600_000;
const MINUTE = 60_000;
const START = Date.parse('2026-01-05T08:00:00.000Z');

const config: Config = configSchema.parse({
  version: 1,
  tenantId: '7f3c2a10-5b1e-4c8d-9a61-0e4b2d9c7a01',
  clientId: '0c1a5e7e-2b6d-4f3a-8c9e-1d2f3a4b5c6d',
  automation: { clientId: 'a9d8c7b6-5e4f-4a3b-9c2d-1e0f9a8b7c6d', clientSecretEnv: 'UNUSED' },
  groups: [
    {
      name: 'OCI-Temp-Admins',
      entraGroupId: GROUP_ID,
      ociGroupName: 'OCI-Temp-Admins',
      maxHours: 8,
      defaultHours: 2,
      eligibleRequesters: ELIGIBLE.map(upn),
      approvers: APPROVERS.map(upn),
      standingMembers: [upn('breakglass')],
      autoApproval: { maxHours: 1, requesters: [upn('alice')] },
      pendingTimeoutHours: 24,
    },
  ],
  oci: { domainUrl: 'https://idcs-model.identity.oraclecloud.com', configFile: '/dev/null', profile: 'DEFAULT' },
});
const group = config.groups[0]!;

// ---------------------------------------------------------------- the reference model

interface ModelGrant {
  who: Person;
  expiresAt: number;
  revoked: boolean;
  auto: boolean;
}
interface Model {
  now: number;
  pending: Map<Person, { hours: number; requestedAt: number }>;
  grants: ModelGrant[];
  members: Set<Person>;
}

const livePending = (m: Model, who: Person) => {
  const p = m.pending.get(who);
  return p && m.now - p.requestedAt < 24 * HOUR ? p : undefined;
};
const liveGrant = (m: Model, who: Person) => m.grants.some((g) => g.who === who && !g.revoked && m.now < g.expiresAt);

// ---------------------------------------------------------------- commands

type Command =
  | { kind: 'request'; who: Person; hours: number }
  | { kind: 'approve' | 'deny'; by: Person; who: Person }
  | { kind: 'revoke'; by: Person; who: Person }
  | { kind: 'revokeOwn'; who: Person }
  | { kind: 'handAdd'; who: Person }
  | { kind: 'advance'; minutes: number }
  | { kind: 'sweep'; host: 'A' | 'B' };
/** `pick` chooses among the people the step makes sense for at the time it runs (e.g. someone with a pending request). */
type Step = Command & { crash?: { at: number; after: boolean }; pick?: number };

const requester = fc.constantFrom<Person>('alice', 'alice', 'bob', 'carol', 'dave');
const approver = fc.constantFrom<Person>(...APPROVERS);
const crash = fc.option(fc.record({ at: fc.integer({ min: 1, max: 24 }), after: fc.boolean() }), {
  nil: undefined,
  freq: 2,
});
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      who: requester,
      hours: fc.constantFrom(1, 1, 2, 3, 8),
      crash,
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('approve' as const),
      by: approver,
      who: requester,
      pick: fc.nat(),
      crash,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('deny' as const), by: approver, who: requester, pick: fc.nat(), crash }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('revoke' as const),
      by: approver,
      who: fc.constantFrom<Person>('alice', 'bob', 'carol', 'dave'),
      pick: fc.nat(),
      crash,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('revokeOwn' as const),
      who: fc.constantFrom<Person>('alice', 'bob', 'carol'),
      crash,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('handAdd' as const),
      who: fc.constantFrom<Person>('alice', 'carol', 'dave'),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      minutes: fc.constantFrom(5, 30, 45, 61, 90, 121, 300, 500, 1500),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('sweep' as const), host: fc.constantFrom<'A' | 'B'>('A', 'B'), crash }),
  },
);

// ---------------------------------------------------------------- the world under test

interface World {
  tenant: FakeTenant;
  machines: Map<string, FakeMachine>;
  model: Model;
  /** When each person was last in the group (per the model), and when each host last swept before its latest sweep. */
  lastMemberAt: Map<Person, number>;
  previousSweepAt: Map<string, number>;
  lastSweepAt: Map<string, number>;
  /** Sweeps that failed only through a stale ledger entry (see staleLedgerOnly). */
  staleAlarms: number;
  /** Removals a sweep made of someone holding a live grant (must stay empty). */
  violations: string[];
  lastReport?: SweepReport;
}

function newWorld(): World {
  const tenant = new FakeTenant(START);
  for (const p of PEOPLE) tenant.addUser(ID[p], upn(p), { owner: APPROVERS.includes(p) });
  tenant.members.add(ID.breakglass);
  tenant.provisioningCycle();
  const world: World = {
    tenant,
    machines: new Map(),
    model: { now: START, pending: new Map(), grants: [], members: new Set(['breakglass']) },
    lastMemberAt: new Map(),
    previousSweepAt: new Map(),
    lastSweepAt: new Map(),
    staleAlarms: 0,
    violations: [],
  };
  tenant.onRemove = (userId, by) => {
    const who = PEOPLE.find((p) => ID[p] === userId)!;
    if (by === 'app' && (liveGrant(world.model, who) || who === 'breakglass'))
      world.violations.push(`the sweep removed ${who}, who holds a live grant`);
  };
  return world;
}

function machine(world: World, name: string): FakeMachine {
  let m = world.machines.get(name);
  if (!m) world.machines.set(name, (m = new FakeMachine(world.tenant)));
  return m;
}

/** The id of `who`'s newest request, as stored in their record (ids grow). */
function newestRequestId(world: World, who: Person): string | undefined {
  const payload = world.tenant.records.get(`user:${ID[who]}:${REQUESTS_EXTENSION}`) ?? null;
  return decodeRequests(payload, ID[who])
    .map((r) => r.id)
    .sort()
    .at(-1);
}

const sweepOptions = {
  dryRun: false,
  provisionNow: false,
  forceOciAfterMs: 0,
  cycleMs: 40 * MINUTE,
  actor: { id: 'app', upn: 'automation', kind: 'app' as const },
};

/** Runs the real operation once (the caller arranges a crash before it, if any). */
async function operate(world: World, step: Step): Promise<unknown> {
  const { tenant } = world;
  switch (step.kind) {
    case 'request':
      return requestAccess(machine(world, step.who).deps(tenant, config, ID[step.who]), {
        group,
        hours: step.hours,
        justification: 'model',
      });
    case 'approve':
    case 'deny': {
      const id = newestRequestId(world, step.who);
      const deps = machine(world, step.by).deps(tenant, config, ID[step.by]);
      const input = { groups: [group], requestId: id ?? 'r-none', reason: 'model' };
      return step.kind === 'approve' ? approveRequest(deps, input) : denyRequest(deps, input);
    }
    case 'revoke':
      return revokeGrant(machine(world, step.by).deps(tenant, config, ID[step.by]), {
        group,
        userUpn: upn(step.who),
        reason: 'model',
      });
    case 'revokeOwn':
      return revokeGrant(machine(world, step.who).deps(tenant, config, ID[step.who]), { group });
    case 'sweep': {
      const report = await runSweep(
        machine(world, `host-${step.host}`).deps(tenant, config, 'app'),
        [group],
        sweepOptions,
      );
      world.lastReport = report;
      return report;
    }
    default:
      return undefined;
  }
}

/** Refusals the final run may give, and whether the step changes nothing then. */
function acceptableRefusal(step: Step, code: string, crashed: boolean): boolean {
  if (code === 'RECORD_FULL') return true; // a full record refuses before writing anything
  switch (step.kind) {
    case 'request':
      return code === 'NOT_ELIGIBLE' || code === 'REQUEST_ALREADY_PENDING';
    case 'approve':
    case 'deny':
      return (
        code === 'SELF_APPROVAL' ||
        code === 'REQUEST_NOT_FOUND' ||
        code === 'REQUEST_NOT_PENDING' ||
        (crashed && code === 'REQUEST_NOT_PENDING')
      );
    default:
      return false;
  }
}

/** Applies the step to the model (what running it once must do), given whether the real step was refused (by code). */
function applyToModel(world: World, step: Step, refusal: string | undefined): void {
  const m = world.model;
  if (refusal === 'RECORD_FULL') return;
  switch (step.kind) {
    case 'request':
      if (ELIGIBLE.includes(step.who) && !livePending(m, step.who))
        m.pending.set(step.who, { hours: step.hours, requestedAt: m.now });
      return;
    case 'approve': {
      const p = livePending(m, step.who);
      if (!p || step.by === step.who) return;
      m.pending.delete(step.who);
      m.grants.push({ who: step.who, expiresAt: m.now + p.hours * HOUR, revoked: false, auto: false });
      m.members.add(step.who);
      return;
    }
    case 'deny':
      if (livePending(m, step.who) && step.by !== step.who) m.pending.delete(step.who);
      return;
    case 'revoke':
      for (const g of m.grants) if (g.who === step.who) g.revoked = true;
      m.pending.delete(step.who);
      m.members.delete(step.who);
      return;
    case 'revokeOwn':
      for (const g of m.grants) if (g.who === step.who && m.now < g.expiresAt) g.revoked = true;
      m.pending.delete(step.who);
      // An owner (approver) removes themselves; anyone else is left for the sweep.
      if (APPROVERS.includes(step.who)) m.members.delete(step.who);
      return;
    case 'handAdd':
      m.members.add(step.who);
      return;
    case 'advance':
      m.now += step.minutes * MINUTE;
      return;
    case 'sweep': {
      const p = livePending(m, 'alice');
      if (p && p.hours <= 1) {
        m.pending.delete('alice');
        m.grants.push({ who: 'alice', expiresAt: m.now + p.hours * HOUR, revoked: false, auto: true });
      }
      // Live auto-approvals are members (the sweep adds them, or completes an earlier one).
      for (const g of m.grants) if (g.auto && !g.revoked && m.now < g.expiresAt) m.members.add(g.who);
      for (const who of [...m.members]) if (who !== 'breakglass' && !liveGrant(m, who)) m.members.delete(who);
      return;
    }
  }
}

/** Resolves `pick`: approvals and denials go to someone with a pending request, revocations to a member or grant holder (when there is one). */
function resolve(world: World, step: Step): Step {
  if (step.pick === undefined || !('who' in step)) return step;
  const m = world.model;
  const candidates =
    step.kind === 'revoke'
      ? PEOPLE.filter((p) => p !== 'breakglass' && (m.members.has(p) || liveGrant(m, p)))
      : PEOPLE.filter((p) => livePending(m, p));
  if (candidates.length === 0) return step;
  return { ...step, who: candidates[step.pick % candidates.length]! };
}

async function play(world: World, original: Step, log: ReturnType<typeof tally>): Promise<void> {
  const { tenant } = world;
  const step = resolve(world, original);
  if (step.kind === 'revoke' && step.who === step.by) return; // revoking oneself is revokeOwn
  if (step.kind === 'handAdd') tenant.members.add(ID[step.who]);
  if (step.kind === 'advance') {
    tenant.now += step.minutes * MINUTE;
    if (step.minutes >= 40) tenant.provisioningCycle();
  }
  let crashed = false;
  if (step.crash && step.kind !== 'handAdd' && step.kind !== 'advance') {
    tenant.crashAt(step.crash.at, step.crash.after);
    try {
      await operate(world, step);
    } catch (error) {
      if (!(error instanceof Crash) && !(error instanceof PolicyError)) throw error;
    }
    crashed = tenant.settle();
    log.add(crashed ? `${step.kind}-killed` : `${step.kind}-finished-before-kill`);
  }
  let refusal: string | undefined;
  if (step.kind !== 'handAdd' && step.kind !== 'advance') {
    try {
      await operate(world, step); // the run (or the re-run after the kill)
      log.add(`${step.kind}-ok`);
    } catch (error) {
      if (!(error instanceof PolicyError) || !acceptableRefusal(step, error.code, crashed)) throw error;
      refusal = error.code;
      log.add(`${step.kind}-refused-${error.code}`);
    }
  }
  applyToModel(world, step, refusal);
}

/**
 * A host that did not look while someone was back in the group cannot tell a
 * re-admission from a removal that never reached OCI: its old ledger entry may
 * then read as "stuck" (a false alarm, never a silent pass). Known limitation;
 * such reports are allowed here only for people who were in the group after
 * that host's previous sweep. Everything else that fails a sweep fails the check.
 */
function staleLedgerOnly(world: World, host: string, report: SweepReport): boolean {
  const g = report.groups[0]!;
  if (g.problems.length || g.failed.length || (g.unavailable?.length ?? 0) > 0) return false;
  const since = world.previousSweepAt.get(host) ?? -Infinity;
  const rejoined = (name: string) => {
    const who = PEOPLE.find((p) => upn(p) === name.toLowerCase());
    return who !== undefined && (world.lastMemberAt.get(who) ?? -Infinity) >= since;
  };
  return (
    g.stuck.every((s) => rejoined(s.upn)) &&
    g.drift.filter((d) => d.state === 'stuck' || d.state === 'failed').every((d) => rejoined(d.userName))
  );
}

function check(world: World, step: Step, index: number): void {
  const actual = [...world.tenant.members].map((id) => PEOPLE.find((p) => ID[p] === id)!).sort();
  const expected = [...world.model.members].sort();
  const where = `after step ${index} ${JSON.stringify(step)}`;
  if (actual.join() !== expected.join())
    throw new Error(`${where}: the group holds [${actual}], the model says [${expected}]`);
  if (world.violations.length) throw new Error(`${where}: ${world.violations.join('; ')}`);
  for (const who of world.model.members) world.lastMemberAt.set(who, world.model.now);
  if (step.kind === 'sweep') {
    const host = `host-${step.host}`;
    world.previousSweepAt.set(host, world.lastSweepAt.get(host) ?? -Infinity);
    world.lastSweepAt.set(host, world.model.now);
    const outcome = world.lastReport?.outcome;
    if (outcome === 'failed' && staleLedgerOnly(world, host, world.lastReport!)) {
      world.staleAlarms += 1;
      return;
    }
    if (outcome !== 'clean' && outcome !== 'pending')
      throw new Error(
        `${where}: the sweep reported ${outcome}: ${JSON.stringify(world.lastReport?.groups[0], null, 1)}`,
      );
  }
}

describe('model check: requests, decisions, clock moves, sweeps and crashes against the reference model', () => {
  it('the group always holds exactly who the model says; sweeps never remove a live grant; a kill and a re-run equal one run', async () => {
    const runs = stressMode() ? 3000 : 150;
    const log = tally();
    let steps = 0;
    let staleAlarms = 0;
    // OCIACCESS_MODEL_REPLAY='[…]' replays one counterexample step by step (as fast-check printed it).
    if (process.env.OCIACCESS_MODEL_REPLAY) {
      const world = newWorld();
      for (const [index, step] of (JSON.parse(process.env.OCIACCESS_MODEL_REPLAY) as Step[]).entries()) {
        await play(world, step, log);
        check(world, step, index);
      }
      return;
    }
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 5, maxLength: 40 }), async (script) => {
        const world = newWorld();
        for (const [index, step] of script.entries()) {
          await play(world, step, log);
          check(world, step, index);
          steps += 1;
        }
        staleAlarms += world.staleAlarms;
      }),
      {
        numRuns: runs,
        ...(process.env.OCIACCESS_MODEL_SEED ? { seed: Number(process.env.OCIACCESS_MODEL_SEED) } : {}),
      },
    );
    reportTrials('model-check', runs, {
      steps,
      'sweep-failed-on-stale-ledger (known limitation)': staleAlarms,
      ...log.counts,
    });
  });
});
