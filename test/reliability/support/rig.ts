/**
 * The reliability tests' rig: one emulator in the test process, people who
 * sign in once (device code completed "in the browser" through the emulator),
 * and two ways to run the CLI as one of them on their own machine (own
 * OCIACCESS_HOME): in-process with main(), or as a real child process
 * `node bin/ociaccess.js …` that a test may kill -9.
 *
 * It also knows the rule the sweep must enforce, computed independently from
 * what the emulator stores (see expectedMembers), so a test can compare the
 * group's membership with what it must be.
 */
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { actorContext, CapturedStream } from '../../../src/actor-context.js';
import { main } from '../../../src/cli/main.js';
import { fetchWithCa } from '../../../src/adapters/http/tls.js';
import { startEmulator, type RunningEmulator } from '../../../src/emulator/index.js';
import { completeDeviceCode, configureEntra } from '../../../src/emulator/entra/index.js';
import { SEED } from '../../../src/emulator/seed.js';
import type { LoggedRequest } from '../../../src/emulator/state.js';
import { compileCliInto } from './compile-cli.js';

export const upnOf = (name: string) => `${name}@${SEED.domain}`;
export type Person = keyof typeof SEED.users;
export const userIdOf = (name: Person) => SEED.users[name];

export interface Machine {
  /** Who uses it ('cron' for the automation host). */
  name: string;
  home: string;
  env: Record<string, string | undefined>;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

export interface Child {
  child: ChildProcess;
  /** Resolves when the process has ended (killed or not). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export interface Rig {
  emu: RunningEmulator;
  root: string;
  /** A fresh machine (home) for `name`, holding a copy of their sign-in when they signed in. */
  machine(name: Person | 'cron', label?: string): Promise<Machine>;
  /** `uid`: the user id the run acts as (file owner checks); the process's own by default. */
  run(machine: Machine, argv: string[], options?: { env?: Record<string, string | undefined>; uid?: number }): Promise<RunResult>;
  /** Signs `upn` in on this machine (device code completed through the emulator). */
  login(machine: Machine, upn: string): Promise<RunResult>;
  /** `node bin/ociaccess.js …` as a child process (the rig must have been made with `cli: true`). */
  spawn(machine: Machine, argv: string[], options?: { env?: Record<string, string | undefined> }): Child;
  control(pathName: string, body?: unknown, method?: string): Promise<any>;
  advance(by: { minutes?: number; hours?: number; seconds?: number }): Promise<void>;
  /** The request log position now. */
  mark(): number;
  requestsSince(mark: number): LoggedRequest[];
  /** UPNs in the Entra group now. */
  members(): string[];
  ociMembers(): string[];
  /** Puts the tenant back as seeded (only the break-glass member, no records, no faults). */
  resetTenant(): void;
  stop(): Promise<void>;
}

export interface RigOptions {
  /** Who signs in once for the whole file. */
  logins?: Person[];
  /** Build the CLI for child processes. */
  cli?: boolean;
  cycleMs?: number;
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ociaccess-rel-'));
  const emu = await startEmulator({ dir: path.join(root, 'emulator'), ...(options.cycleMs ? { cycleMs: options.cycleMs } : {}) });
  configureEntra(emu.world, { deviceCodeIntervalSeconds: 1 });
  const bin = options.cli ? await compileCliInto(path.join(root, 'cli')) : undefined;
  const control = fetchWithCa(emu.caFile);
  const templates = path.join(root, 'signed-in');
  const signedIn = new Set<string>();
  let machines = 0;

  const envFor = (home: string): Machine['env'] => ({
    OCIACCESS_CONFIG: emu.configFile,
    OCIACCESS_HOME: home,
    OCIACCESS_TOKEN_STORE: 'file',
    NO_COLOR: '1',
    PATH: process.env.PATH,
  });

  async function run(machine: Machine, argv: string[], runOptions: { env?: Record<string, string | undefined>; uid?: number; during?: (stderr: CapturedStream) => Promise<void> } = {}): Promise<RunResult> {
    const stdout = new CapturedStream();
    const stderr = new CapturedStream();
    const ctx = actorContext({ env: { ...machine.env, ...runOptions.env }, stdout, stderr, ...(runOptions.uid === undefined ? {} : { uid: runOptions.uid }) });
    const running = main(argv, ctx);
    if (runOptions.during) await Promise.all([running, runOptions.during(stderr)]);
    const code = await running;
    let json: any;
    if (argv.includes('--json') && stdout.text.trim()) {
      try {
        json = JSON.parse(stdout.text);
      } catch {
        json = undefined;
      }
    }
    return { code, stdout: stdout.text, stderr: stderr.text, json };
  }

  const rig: Rig = {
    emu,
    root,
    async machine(name, label) {
      machines += 1;
      const home = path.join(root, 'machines', `${machines}-${label ?? name}`);
      await mkdir(home, { recursive: true, mode: 0o700 });
      if (signedIn.has(name)) await cp(path.join(templates, name, 'auth'), path.join(home, 'auth'), { recursive: true });
      return { name, home, env: envFor(home) };
    },
    run: (machine, argv, runOptions) => run(machine, argv, runOptions),
    login: (machine, upn) =>
      run(machine, ['login'], {
        during: async (stderr) => {
          const code = await waitFor(`the device code prompt for ${upn}`, () => /enter the code ([A-Z0-9-]+)/.exec(stderr.text)?.[1]);
          completeDeviceCode(emu.world, code, upn);
        },
      }),
    spawn(machine, argv, spawnOptions = {}) {
      if (!bin) throw new Error('startRig({ cli: true }) builds the CLI for child processes');
      const child = spawnChild(process.execPath, [bin, ...argv], {
        stdio: ['ignore', 'pipe', 'pipe'],
        // No NODE_EXTRA_CA_CERTS: the config's tls.caFile is what makes the emulator trusted.
        env: { ...machine.env, ...spawnOptions.env, NODE_OPTIONS: '' } as NodeJS.ProcessEnv,
      });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (chunk) => { stdout += chunk; });
      child.stderr!.on('data', (chunk) => { stderr += chunk; });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
        child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
      });
      return { child, exited };
    },
    async control(pathName, body, method = 'POST') {
      const response = await control(`${emu.baseUrl}/_emulator/${pathName}`, {
        method,
        ...(method === 'GET' || method === 'DELETE' ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`emulator control ${method} ${pathName} answered ${response.status}: ${text}`);
      return text ? JSON.parse(text) : undefined;
    },
    async advance(by) {
      await rig.control('clock/advance', by);
    },
    mark: () => emu.world.requestLog.at(-1)?.seq ?? 0,
    requestsSince: (mark) => emu.world.requestLog.filter((entry) => entry.seq > mark),
    members: () => [...emu.world.groups.get(SEED.tempGroupId)!.members].map((id) => emu.world.users.get(id)?.userPrincipalName ?? id).sort(),
    ociMembers: () => [...emu.world.ociGroupByName(SEED.tempGroupName)!.members].map((id) => emu.world.ociUsers.get(id)?.userName ?? id).sort(),
    resetTenant() {
      const world = emu.world;
      world.faults.length = 0;
      world.throttles.length = 0;
      world.latencyMs = {};
      world.retryNotBefore.clear();
      const group = world.groups.get(SEED.tempGroupId)!;
      group.members.clear();
      group.members.add(SEED.users.breakglass);
      group.extensions.clear();
      for (const user of world.users.values()) user.extensions.clear();
      for (const sp of world.servicePrincipals.values()) {
        for (const job of sp.synchronizationJobs) {
          job.status.code = 'Active';
          job.status.quarantine = null;
        }
      }
      emu.server.runCycleNow();
    },
    async stop() {
      await emu.stop();
      await rm(root, { recursive: true, force: true });
    },
  };

  // Sign in once, each person on a template home, all at the same time.
  await Promise.all((options.logins ?? []).map(async (name) => {
    const home = path.join(templates, name);
    await mkdir(home, { recursive: true, mode: 0o700 });
    const result = await run({ name, home, env: envFor(home) }, ['login'], {
      during: async (stderr) => {
        const code = await waitFor(`the device code prompt of ${name}`, () => /enter the code ([A-Z0-9-]+)/.exec(stderr.text)?.[1]);
        completeDeviceCode(emu.world, code, upnOf(name));
      },
    });
    if (result.code !== 0) throw new Error(`login of ${name} failed (exit ${result.code}): ${result.stderr}`);
    signedIn.add(name);
  }));
  return rig;
}

// ------------------------------------------------------------------ trial counts

/**
 * How many trials a randomized test runs: the bounded number in CI, the large
 * one under `npm run test:stress` (OCIACCESS_STRESS=1); OCIACCESS_TRIALS=<n>
 * overrides both.
 */
export function trials(ci: number, stress: number): number {
  const override = Number(process.env.OCIACCESS_TRIALS);
  if (Number.isInteger(override) && override > 0) return override;
  return process.env.OCIACCESS_STRESS === '1' ? stress : ci;
}

export const stressMode = () => process.env.OCIACCESS_STRESS === '1';

/** Prints one line with a test's trial count and outcomes (the stress script's figures). */
export function reportTrials(name: string, total: number, outcomes: Record<string, number>): void {
  const parts = Object.entries(outcomes).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`);
  process.stderr.write(`[reliability] ${name}: ${total} trials; ${parts.join(', ')}\n`);
}

export const tally = () => {
  const counts: Record<string, number> = {};
  return {
    counts,
    add(outcome: string) {
      counts[outcome] = (counts[outcome] ?? 0) + 1;
    },
  };
};
