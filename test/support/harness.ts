/**
 * The tests' harness: one emulator in the test process, people who sign in
 * once (device code, completed "in the browser" through the emulator), and
 * two ways to run the CLI as one of them on their own machine (own
 * OCIACCESS_HOME), through the real SDKs: `run` calls main() in-process,
 * `spawn` starts `node bin/ociaccess.js …` as a child process that a test may
 * kill -9 (startHarness({ cli: true }) builds the CLI for it).
 *
 * startHarness gives the harness to a file that manages it itself (the
 * reliability suites: beforeAll/afterAll, fresh homes with `machine`).
 * useHarness registers the jest hooks the command tests share: before each
 * test every actor gets a fresh home (holding only a copy of their sign-in)
 * and the tenant is put back as the seed describes it (see resetTenant); the
 * virtual clock only moves forward, so nothing depends on its absolute value.
 *
 * Like an unregistered HTTP stub, an emulator route the tool calls but the
 * emulator does not implement fails a useHarness test (checked after each).
 */
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { actorContext, CapturedStream } from '../../src/actor-context.js';
import { offsetClock, type Clock, type Prompter } from '../../src/context.js';
import { main } from '../../src/cli/main.js';
import { fetchWithCa } from '../../src/adapters/http/tls.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { completeDeviceCode, configureEntra } from '../../src/emulator/entra/index.js';
import { SEED, SEED_DIRECTORY_ROLES, seedPim } from '../../src/emulator/seed.js';
import { approveOktaDevice } from '../../src/emulator/okta/index.js';
import type { LoggedRequest } from '../../src/emulator/state.js';
import { compileCliInto } from './compile-cli.js';
import { writeOktaConfig } from '../../src/demo/okta-setting.js';

export const upnOf = (name: string) => `${name}@${SEED.domain}`;
export type Person = keyof typeof SEED.users;
export const userIdOf = (name: Person) => SEED.users[name];

/** Seeded people, plus `cron`: a host that runs `sweep` as the automation app (it never signs in). */
export type ActorName = Person | 'cron';

/** A person on one machine: their own home (state directory and sign-in cache) and environment. */
export interface Actor {
  name: ActorName;
  upn: string;
  home: string;
  env: Record<string, string | undefined>;
}

export interface Child {
  child: ChildProcess;
  /** Resolves when the process has ended (killed or not). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed when the command was run with --json (undefined otherwise or when empty). */
  json: any;
}

export interface RunOptions {
  /** Extra or replaced environment variables for this run. */
  env?: Record<string, string | undefined>;
  /** Pretend stdout is a terminal (tables aligned, relative times). */
  tty?: boolean;
  /** This machine's clock is off by this much (the emulator's virtual clock is added on top, as for any machine). */
  clockSkewMs?: number;
  /** This machine's own clock (the emulator's offset is still added on top); wins over clockSkewMs. */
  clock?: Clock;
  /** Answers the command's prompts (and makes it interactive). */
  prompter?: Prompter;
  /** Runs while the command is running (e.g. completes a device code sign-in). */
  during?: (stderr: CapturedStream) => Promise<void>;
  /** The user id the run acts as (file owner checks); the process's own by default. */
  uid?: number;
  /** This machine's browser (login --browser); none by default. */
  openUrl?: (url: string) => Promise<void>;
}

export interface Harness {
  emu: RunningEmulator;
  /** Where this file's homes and scratch files live. */
  root: string;
  /** A fresh machine (home) for `name`, holding a copy of their sign-in when they signed in once for the file. */
  machine(name: ActorName, label?: string): Promise<Actor>;
  /** The actor's machine in this test (useHarness); startHarness has none until `machine` makes them. */
  actor(name: ActorName): Actor;
  run(actor: Actor | ActorName, argv: string[], options?: RunOptions): Promise<RunResult>;
  /** Signs `actor` in on their current home, completing the device code as `signInAs` (default: the actor). */
  login(actor: Actor | ActorName, signInAs?: string): Promise<RunResult>;
  /** `node bin/ociaccess.js …` as a child process (the harness must have been made with `cli: true`). */
  spawn(actor: Actor, argv: string[], options?: { env?: Record<string, string | undefined> }): Child;
  /** POST (or another method) to /_emulator/<pathName>; fails the test on a non-2xx answer unless `allowFailure`. */
  control(
    pathName: string,
    body?: unknown,
    options?: { method?: string; allowFailure?: boolean },
  ): Promise<{ status: number; body: any }>;
  advance(by: { minutes?: number; hours?: number; seconds?: number }): Promise<void>;
  /** The request log's position now; pass it to requestsSince / writesSince. */
  mark(): number;
  requestsSince(mark: number): LoggedRequest[];
  /** Requests since `mark` that change something in Graph (POST/PATCH/PUT/DELETE under /v1.0, write items in $batch) or in OCI (anything but reads and .search). */
  writesSince(mark: number): LoggedRequest[];
  entraMembers(): string[];
  ociMembers(): string[];
  /** Every file in the actor's home except the sign-in cache, with its content. */
  localFiles(actor: Actor | ActorName): Promise<Record<string, string>>;
  /** The records (open extensions) a user or the managed group holds, as stored in the emulator. */
  records(owner: keyof typeof SEED.users | 'group'): Record<string, unknown>;
  /** Puts the tenant back as seeded (see resetTenant). */
  resetTenant(): void;
  /** Everything a command could change: Entra and OCI membership, every record, every actor's local files. */
  snapshot(): Promise<TenantSnapshot>;
  /**
   * Runs `action` and asserts it changed nothing anywhere: no write request
   * reached Graph or OCI, and the snapshot (remote and local) is unchanged.
   */
  expectNoChange<T>(action: () => Promise<T>): Promise<T>;
  /** Returns the unimplemented-route requests logged so far in this test and accepts them (for tests of this guard only). */
  takeUnimplemented(): LoggedRequest[];
  /** Stops the emulator and removes the file's homes. */
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** Who signs in once for the whole file (their sign-in is copied into every fresh home). */
  logins?: Person[];
  /** Build the CLI for child processes (`spawn`). */
  cli?: boolean;
  /** Provisioning cycle length in virtual milliseconds. */
  cycleMs?: number;
  /**
   * "okta": everyone runs with oktaConfigOf's config (the emulator's Okta org, its temp group and
   * the OCI group Push Groups fills) and signs in to Okta; default "entra".
   */
  idp?: 'entra' | 'okta';
}

/** The emulator's config turned to Okta; the demo (`demo --idp okta`) writes the same one. */
export { oktaConfigOf } from '../../src/demo/okta-setting.js';

export interface TenantSnapshot {
  entraMembers: string[];
  ociMembers: string[];
  records: Record<string, Record<string, unknown>>;
  localFiles: Record<string, Record<string, string>>;
}

const ALL_PEOPLE = Object.keys(SEED.users) as (keyof typeof SEED.users)[];

/** True when a logged request changed something in Graph or OCI. */
export function isWrite(entry: LoggedRequest): boolean {
  const pathOnly = entry.path.split('?')[0]!;
  if (entry.service === 'graph') {
    if (pathOnly === '/v1.0/$batch')
      return (entry.batchItems ?? []).some((item) => item.method !== 'GET') || entry.batchItems === undefined;
    return entry.method !== 'GET' && entry.method !== 'HEAD';
  }
  if (entry.service === 'oci') {
    if (entry.method === 'GET' || entry.method === 'HEAD') return false;
    return !(entry.method === 'POST' && pathOnly.endsWith('/.search'));
  }
  return false;
}

/** A failure message naming every unimplemented route requested after `afterSeq`, or null when there is none. */
export function unimplementedRoutes(log: readonly LoggedRequest[], afterSeq: number): string | null {
  const unimplemented = log.filter((entry) => entry.seq > afterSeq && entry.unimplemented);
  if (unimplemented.length === 0) return null;
  return `the emulator was asked for routes it does not implement:\n${unimplemented.map((e) => `  ${e.method} ${e.path}`).join('\n')}`;
}

/**
 * Puts the tenant back as seeded: the temp group holds only the break-glass
 * member in Entra and in OCI (the PIM group none, its PIM state as seeded),
 * no access records anywhere, no faults,
 * throttling, latency or remembered Retry-After. A provisioning cycle runs in
 * between so that the provisioning engine's memory of what it exported agrees
 * with both sides again.
 */
export function resetTenant(emu: RunningEmulator): void {
  const world = emu.world;
  world.faults.length = 0;
  world.throttles.length = 0;
  world.latencyMs = {};
  world.retryNotBefore.clear();
  const group = world.groups.get(SEED.tempGroupId)!;
  group.members.clear();
  group.members.add(SEED.users.breakglass);
  group.extensions.clear();
  // The PIM group: no active membership, its policy and eligibility as seeded.
  seedPim(world);
  world.groups.get(SEED.pimGroupId)?.members.clear();
  for (const user of world.users.values()) user.extensions.clear();
  // Directory roles and role-assignability as seeded; Graph behaviours as documented.
  const seedName = new Map(Object.entries(SEED.users).map(([name, id]) => [id as string, name]));
  for (const user of world.users.values())
    user.directoryRoles = new Set(SEED_DIRECTORY_ROLES[seedName.get(user.id) ?? ''] ?? []);
  for (const entraGroup of world.groups.values()) entraGroup.isAssignableToRole = false;
  world.graphSettings.extensionPatchAnswer = 204;
  for (const sp of world.servicePrincipals.values()) {
    for (const job of sp.synchronizationJobs) {
      job.status.code = 'Active';
      job.status.quarantine = null;
      job.status.lastExecution = undefined;
      job.status.countSuccessiveCompleteFailures = 0;
      job.failure = undefined;
      job.disabled = false;
      job.onDemandOutcome = undefined;
    }
  }
  emu.server.runCycleNow();
  const ociGroup = world.ociGroupByName(SEED.tempGroupName)!;
  const ociBreakglass = world.ociUserByUserName(upnOf('breakglass'))!;
  ociGroup.members.clear();
  ociGroup.members.add(ociBreakglass.id);
  world.ociGroupByName(SEED.pimGroupName)?.members.clear();
}

/** The user code in a device code prompt ("… enter the code ABCD1234 to authenticate."). */
export function userCodeIn(text: string): string | undefined {
  return /enter the code ([A-Z0-9-]+)/.exec(text)?.[1];
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

async function listFiles(dir: string, base = dir): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    const full = path.join(dir, name);
    if ((await stat(full)).isDirectory()) out.push(...(await listFiles(full, base)));
    else out.push(path.relative(base, full));
  }
  return out.sort();
}

/** Starts the emulator and signs the `logins` in once, each on a template home, all at the same time. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ociaccess-test-'));
  const emu = await startEmulator({
    dir: path.join(root, 'emulator'),
    ...(options.cycleMs ? { cycleMs: options.cycleMs } : {}),
  });
  configureEntra(emu.world, { deviceCodeIntervalSeconds: 1 });
  emu.world.okta.settings.deviceCodeIntervalSeconds = 1;
  const okta = options.idp === 'okta';
  const configFile = okta ? path.join(root, 'okta-config.json') : emu.configFile;
  if (okta) await writeOktaConfig(emu, configFile);
  const bin = options.cli ? await compileCliInto(path.join(root, 'cli')) : undefined;
  const controlFetch = fetchWithCa(emu.caFile);
  const templates = path.join(root, 'signed-in');
  const signedIn = new Set<ActorName>();
  const actors = new Map<ActorName, Actor>();
  let machines = 0;
  let checkedUpTo = 0;

  const newActor = (name: ActorName, home: string): Actor => ({
    name,
    upn: name === 'cron' ? 'automation' : upnOf(name),
    home,
    env: {
      OCIACCESS_CONFIG: configFile,
      OCIACCESS_HOME: home,
      OCIACCESS_TOKEN_STORE: 'file',
      NO_COLOR: '1',
      PATH: process.env.PATH,
    },
  });
  const resolve = (actor: Actor | ActorName) => (typeof actor === 'string' ? harness.actor(actor) : actor);

  async function run(who: Actor | ActorName, argv: string[], runOptions: RunOptions = {}): Promise<RunResult> {
    const actor = resolve(who);
    const stdout = new CapturedStream({ isTTY: runOptions.tty });
    const stderr = new CapturedStream({ isTTY: runOptions.tty });
    const ctx = actorContext({
      env: { ...actor.env, ...runOptions.env },
      stdout,
      stderr,
      ...(runOptions.clock
        ? { clock: runOptions.clock }
        : runOptions.clockSkewMs
          ? { clock: offsetClock(runOptions.clockSkewMs) }
          : {}),
      ...(runOptions.prompter ? { prompter: runOptions.prompter } : {}),
      ...(runOptions.uid === undefined ? {} : { uid: runOptions.uid }),
      ...(runOptions.openUrl ? { openUrl: runOptions.openUrl } : {}),
    });
    const running = main(argv, ctx);
    if (runOptions.during) await Promise.all([running, runOptions.during(stderr)]);
    const code = await running;
    let json: any;
    if (argv.includes('--json') && stdout.text.trim() !== '') {
      try {
        json = JSON.parse(stdout.text);
      } catch (error) {
        throw new Error(
          `--json output of \`ociaccess ${argv.join(' ')}\` is not one JSON document: ${(error as Error).message}\n${stdout.text}`,
        );
      }
    }
    return { code, stdout: stdout.text, stderr: stderr.text, json };
  }

  async function login(who: Actor | ActorName, signInAs?: string): Promise<RunResult> {
    const actor = resolve(who);
    // Okta adds no scope to a sign-in afterwards: the approvers sign in for their role at once.
    const approver = okta && ['bob', 'carol'].includes(actor.name);
    return run(actor, approver ? ['login', '--role', 'approver'] : ['login'], {
      during: async (stderr) => {
        const code = await waitFor(`the device code prompt of ${actor.name}`, () => userCodeIn(stderr.text));
        if (!okta) completeDeviceCode(emu.world, code, signInAs ?? actor.upn);
        else {
          const done = approveOktaDevice(emu.world, code, signInAs ?? actor.upn);
          if (typeof done === 'string') throw new Error(done);
        }
      },
    });
  }

  const harness: Harness = {
    emu,
    root,
    async machine(name, label) {
      machines += 1;
      const home = path.join(root, 'machines', `${machines}-${label ?? name}`);
      await mkdir(home, { recursive: true, mode: 0o700 });
      if (signedIn.has(name))
        await cp(path.join(templates, name, 'auth'), path.join(home, 'auth'), { recursive: true });
      const actor = newActor(name, home);
      actors.set(name, actor);
      return actor;
    },
    actor(name) {
      const actor = actors.get(name);
      if (!actor) throw new Error(`no actor "${name}" in this test`);
      return actor;
    },
    run,
    login,
    spawn(actor, argv, spawnOptions = {}) {
      if (!bin) throw new Error('startHarness({ cli: true }) builds the CLI for child processes');
      const child = spawnChild(process.execPath, [bin, ...argv], {
        stdio: ['ignore', 'pipe', 'pipe'],
        // No NODE_EXTRA_CA_CERTS: the config's tls.caFile is what makes the emulator trusted.
        env: { ...actor.env, ...spawnOptions.env, NODE_OPTIONS: '' } as NodeJS.ProcessEnv,
      });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (chunk) => {
        stdout += chunk;
      });
      child.stderr!.on('data', (chunk) => {
        stderr += chunk;
      });
      const exited = new Promise<{
        code: number | null;
        signal: NodeJS.Signals | null;
        stdout: string;
        stderr: string;
      }>((done) => {
        child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
      });
      return { child, exited };
    },
    async control(pathName, body, controlOptions = {}) {
      const method = controlOptions.method ?? 'POST';
      const response = await controlFetch(`${emu.baseUrl}/_emulator/${pathName}`, {
        method,
        ...(method === 'GET' || method === 'DELETE'
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) }),
      });
      const text = await response.text();
      const parsed = text ? JSON.parse(text) : undefined;
      if (!response.ok && !controlOptions.allowFailure)
        throw new Error(`emulator control ${method} ${pathName} answered ${response.status}: ${text}`);
      return { status: response.status, body: parsed };
    },
    async advance(by) {
      await harness.control('clock/advance', by);
    },
    mark: () => emu.world.requestLog.at(-1)?.seq ?? 0,
    requestsSince: (mark) => emu.world.requestLog.filter((entry) => entry.seq > mark),
    writesSince: (mark) => emu.world.requestLog.filter((entry) => entry.seq > mark && isWrite(entry)),
    entraMembers: () =>
      [...emu.world.groups.get(SEED.tempGroupId)!.members]
        .map((id) => emu.world.users.get(id)?.userPrincipalName ?? id)
        .sort(),
    ociMembers: () =>
      [...emu.world.ociGroupByName(SEED.tempGroupName)!.members]
        .map((id) => emu.world.ociUsers.get(id)?.userName ?? id)
        .sort(),
    resetTenant: () => resetTenant(emu),
    async localFiles(who) {
      const home = resolve(who).home;
      const files: Record<string, string> = {};
      for (const name of await listFiles(home)) {
        if (name.startsWith(`auth${path.sep}`)) continue;
        files[name] = await readFile(path.join(home, name), 'utf8');
      }
      return files;
    },
    records(owner) {
      const holder =
        owner === 'group' ? emu.world.groups.get(SEED.tempGroupId)! : emu.world.users.get(SEED.users[owner])!;
      return Object.fromEntries(
        [...holder.extensions.values()].map((ext) => [ext.extensionName, structuredClone(ext.properties)]),
      );
    },
    async snapshot() {
      const owners = [...ALL_PEOPLE, 'group'] as const;
      const localFiles: TenantSnapshot['localFiles'] = {};
      for (const name of [...ALL_PEOPLE, 'cron'] as ActorName[]) localFiles[name] = await harness.localFiles(name);
      return {
        entraMembers: harness.entraMembers(),
        ociMembers: harness.ociMembers(),
        records: Object.fromEntries(owners.map((owner) => [owner, harness.records(owner)])),
        localFiles,
      };
    },
    takeUnimplemented() {
      const taken = emu.world.requestLog.filter((entry) => entry.seq > checkedUpTo && entry.unimplemented);
      checkedUpTo = emu.world.requestLog.at(-1)?.seq ?? checkedUpTo;
      return taken;
    },
    async expectNoChange(action) {
      const before = await harness.snapshot();
      const mark = harness.mark();
      const result = await action();
      expect(harness.writesSince(mark).map((e) => `${e.method} ${e.path}`)).toEqual([]);
      expect(await harness.snapshot()).toEqual(before);
      return result;
    },
    async stop() {
      await emu.stop();
      await rm(root, { recursive: true, force: true });
    },
  };

  try {
    const logins = options.logins ?? [];
    const results = await Promise.all(
      logins.map(async (name) => {
        const home = path.join(templates, name);
        await mkdir(home, { recursive: true, mode: 0o700 });
        return login(newActor(name, home));
      }),
    );
    results.forEach((result, i) => {
      if (result.code !== 0) throw new Error(`login of ${logins[i]} failed (exit ${result.code}): ${result.stderr}`);
      signedIn.add(logins[i]!);
    });
  } catch (error) {
    await harness.stop();
    throw error;
  }
  return harness;
}

/**
 * Registers beforeAll/afterAll/beforeEach/afterEach for one harness per test
 * file; returns a getter for it (valid inside tests and hooks). Before each
 * test the tenant is reset and every person and cron gets a fresh machine.
 * `logins`: who signs in once for the whole file (default alice and bob).
 */
export function useHarness(options: HarnessOptions = {}): () => Harness {
  let harness: Harness | undefined;
  let testNumber = 0;

  beforeAll(async () => {
    harness = await startHarness({ ...options, logins: options.logins ?? ['alice', 'bob'] });
  });

  afterAll(async () => {
    await harness?.stop();
  });

  beforeEach(async () => {
    testNumber += 1;
    harness!.resetTenant();
    for (const name of [...ALL_PEOPLE, 'cron'] as ActorName[])
      await harness!.machine(name, `test-${testNumber}-${name}`);
  });

  // A route the tool needs but the emulator does not implement must not go unnoticed.
  afterEach(() => {
    const unimplemented = harness!.takeUnimplemented();
    if (unimplemented.length > 0) throw new Error(unimplementedRoutes(unimplemented, 0)!);
  });

  return () => {
    if (!harness) throw new Error('the harness is only available inside tests and hooks');
    return harness;
  };
}

/** The compact records stored in one open extension of `owner` (e.g. a decisions list), parsed. */
export function storedRecords(
  h: Harness,
  owner: keyof typeof SEED.users | 'group',
  extension: 'com.ociaccess.requests' | 'com.ociaccess.decisions',
): any[] {
  const payload = h.records(owner)[extension] as { records?: string } | undefined;
  return payload?.records ? JSON.parse(payload.records) : [];
}

/** A copy of the emulator's config with `change` applied; returns its path. */
export async function configWith(H: Harness, name: string, change: (config: any) => void): Promise<string> {
  const config = JSON.parse(await readFile(H.emu.configFile, 'utf8'));
  change(config);
  const file = path.join(H.root, `${name}.json`);
  await writeFile(file, JSON.stringify(config), { mode: 0o600 });
  return file;
}
