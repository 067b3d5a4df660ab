/**
 * Command tests' harness: one emulator per test file, people signed in once
 * (device code, completed "in the browser" through the emulator), and
 * `run(actor, argv)` that runs main() in-process as that person on their own
 * "machine" (own OCIACCESS_HOME), through the real SDKs.
 *
 * Isolation between the tests of a file: before each test every actor gets a
 * fresh home (holding only a copy of their sign-in), and the tenant is put
 * back as the seed describes it (see resetTenant). The virtual clock only
 * moves forward; nothing in a test depends on its absolute value.
 *
 * Like an unregistered HTTP stub, an emulator route the tool calls but the
 * emulator does not implement fails the test (checked after each test).
 */
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { actorContext, CapturedStream } from '../../src/actor-context.js';
import { offsetClock, type Prompter } from '../../src/context.js';
import { main } from '../../src/cli/main.js';
import { fetchWithCa } from '../../src/adapters/http/tls.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { completeDeviceCode, configureEntra } from '../../src/emulator/entra/index.js';
import { SEED } from '../../src/emulator/seed.js';
import type { LoggedRequest } from '../../src/emulator/state.js';

export const upnOf = (name: string) => `${name}@${SEED.domain}`;

/** Seeded people, plus `cron`: a host that runs `sweep` as the automation app (it never signs in). */
export type ActorName = keyof typeof SEED.users | 'cron';

export interface Actor {
  name: ActorName;
  upn: string;
  home: string;
  env: Record<string, string | undefined>;
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
  /** Answers the command's prompts (and makes it interactive). */
  prompter?: Prompter;
  /** Runs while the command is running (e.g. completes a device code sign-in). */
  during?: (stderr: CapturedStream) => Promise<void>;
}

export interface Harness {
  emu: RunningEmulator;
  /** Where this file's homes and scratch files live. */
  root: string;
  actor(name: ActorName): Actor;
  run(actor: Actor | ActorName, argv: string[], options?: RunOptions): Promise<RunResult>;
  /** Signs `actor` in on their current home, completing the device code as `signInAs` (default: the actor). */
  login(actor: Actor | ActorName, signInAs?: string): Promise<RunResult>;
  /** POST (or another method) to /_emulator/<pathName>; fails the test on a non-2xx answer unless `allowFailure`. */
  control(pathName: string, body?: unknown, options?: { method?: string; allowFailure?: boolean }): Promise<{ status: number; body: any }>;
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
  /** Everything a command could change: Entra and OCI membership, every record, every actor's local files. */
  snapshot(): Promise<TenantSnapshot>;
  /**
   * Runs `action` and asserts it changed nothing anywhere: no write request
   * reached Graph or OCI, and the snapshot (remote and local) is unchanged.
   */
  expectNoChange<T>(action: () => Promise<T>): Promise<T>;
  /** Returns the unimplemented-route requests logged so far in this test and accepts them (for tests of this guard only). */
  takeUnimplemented(): LoggedRequest[];
}

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
    if (pathOnly === '/v1.0/$batch') return (entry.batchItems ?? []).some((item) => item.method !== 'GET') || entry.batchItems === undefined;
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
 * member in Entra and in OCI, no access records anywhere, no faults. A
 * provisioning cycle runs in between so that the provisioning engine's memory
 * of what it exported agrees with both sides again.
 */
export function resetTenant(emu: RunningEmulator): void {
  const world = emu.world;
  world.faults.length = 0;
  world.throttles.length = 0;
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
  const ociGroup = world.ociGroupByName(SEED.tempGroupName)!;
  const ociBreakglass = world.ociUserByUserName(upnOf('breakglass'))!;
  ociGroup.members.clear();
  ociGroup.members.add(ociBreakglass.id);
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

/**
 * Registers beforeAll/afterAll/beforeEach/afterEach for one emulator per
 * test file; returns a getter for the harness (valid inside tests and hooks).
 * `logins`: who signs in once for the whole file (their sign-in is copied into
 * every test's fresh home).
 */
export function useHarness(options: { logins?: (keyof typeof SEED.users)[] } = {}): () => Harness {
  const logins = options.logins ?? ['alice', 'bob'];
  let harness: Harness | undefined;
  let emu: RunningEmulator;
  let root: string;
  let templates: string;
  let testNumber = 0;
  let checkedUpTo = 0;
  const actors = new Map<ActorName, Actor>();

  const newActor = (name: ActorName, home: string): Actor => ({
    name,
    upn: name === 'cron' ? 'automation' : upnOf(name),
    home,
    env: {
      OCIACCESS_CONFIG: emu.configFile,
      OCIACCESS_HOME: home,
      OCIACCESS_TOKEN_STORE: 'file',
      NO_COLOR: '1',
      PATH: process.env.PATH,
    },
  });
  const resolve = (actor: Actor | ActorName) => (typeof actor === 'string' ? harness!.actor(actor) : actor);

  async function run(who: Actor | ActorName, argv: string[], runOptions: RunOptions = {}): Promise<RunResult> {
    const actor = resolve(who);
    const stdout = new CapturedStream({ isTTY: runOptions.tty });
    const stderr = new CapturedStream({ isTTY: runOptions.tty });
    const ctx = actorContext({
      env: { ...actor.env, ...runOptions.env }, stdout, stderr,
      ...(runOptions.clockSkewMs ? { clock: offsetClock(runOptions.clockSkewMs) } : {}),
      ...(runOptions.prompter ? { prompter: runOptions.prompter } : {}),
    });
    const running = main(argv, ctx);
    if (runOptions.during) await Promise.all([running, runOptions.during(stderr)]);
    const code = await running;
    let json: any;
    if (argv.includes('--json') && stdout.text.trim() !== '') {
      try {
        json = JSON.parse(stdout.text);
      } catch (error) {
        throw new Error(`--json output of \`ociaccess ${argv.join(' ')}\` is not one JSON document: ${(error as Error).message}\n${stdout.text}`);
      }
    }
    return { code, stdout: stdout.text, stderr: stderr.text, json };
  }

  async function login(who: Actor | ActorName, signInAs?: string): Promise<RunResult> {
    const actor = resolve(who);
    return run(actor, ['login'], {
      during: async (stderr) => {
        const code = await waitFor(`the device code prompt of ${actor.name}`, () => userCodeIn(stderr.text));
        completeDeviceCode(emu.world, code, signInAs ?? actor.upn);
      },
    });
  }

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'ociaccess-cmd-'));
    templates = path.join(root, 'signed-in');
    emu = await startEmulator({ dir: path.join(root, 'emulator') });
    configureEntra(emu.world, { deviceCodeIntervalSeconds: 1 });
    const control = fetchWithCa(emu.caFile);
    harness = {
      emu,
      root,
      actor(name) {
        const actor = actors.get(name);
        if (!actor) throw new Error(`no actor "${name}" in this test`);
        return actor;
      },
      run,
      login,
      async control(pathName, body, controlOptions = {}) {
        const method = controlOptions.method ?? 'POST';
        const response = await control(`${emu.baseUrl}/_emulator/${pathName}`, {
          method,
          ...(method === 'GET' || method === 'DELETE' ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) }),
        });
        const text = await response.text();
        const parsed = text ? JSON.parse(text) : undefined;
        if (!response.ok && !controlOptions.allowFailure) throw new Error(`emulator control ${method} ${pathName} answered ${response.status}: ${text}`);
        return { status: response.status, body: parsed };
      },
      async advance(by) {
        await harness!.control('clock/advance', by);
      },
      mark: () => emu.world.requestLog.at(-1)?.seq ?? 0,
      requestsSince: (mark) => emu.world.requestLog.filter((entry) => entry.seq > mark),
      writesSince: (mark) => emu.world.requestLog.filter((entry) => entry.seq > mark && isWrite(entry)),
      entraMembers: () =>
        [...emu.world.groups.get(SEED.tempGroupId)!.members].map((id) => emu.world.users.get(id)?.userPrincipalName ?? id).sort(),
      ociMembers: () =>
        [...emu.world.ociGroupByName(SEED.tempGroupName)!.members].map((id) => emu.world.ociUsers.get(id)?.userName ?? id).sort(),
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
        const holder = owner === 'group' ? emu.world.groups.get(SEED.tempGroupId)! : emu.world.users.get(SEED.users[owner])!;
        return Object.fromEntries([...holder.extensions.values()].map((ext) => [ext.extensionName, structuredClone(ext.properties)]));
      },
      async snapshot() {
        const owners = [...ALL_PEOPLE, 'group'] as const;
        const localFiles: TenantSnapshot['localFiles'] = {};
        for (const name of [...ALL_PEOPLE, 'cron'] as ActorName[]) localFiles[name] = await harness!.localFiles(name);
        return {
          entraMembers: harness!.entraMembers(),
          ociMembers: harness!.ociMembers(),
          records: Object.fromEntries(owners.map((owner) => [owner, harness!.records(owner)])),
          localFiles,
        };
      },
      takeUnimplemented() {
        const taken = emu.world.requestLog.filter((entry) => entry.seq > checkedUpTo && entry.unimplemented);
        checkedUpTo = emu.world.requestLog.at(-1)?.seq ?? checkedUpTo;
        return taken;
      },
      async expectNoChange(action) {
        const before = await harness!.snapshot();
        const mark = harness!.mark();
        const result = await action();
        expect(harness!.writesSince(mark).map((e) => `${e.method} ${e.path}`)).toEqual([]);
        expect(await harness!.snapshot()).toEqual(before);
        return result;
      },
    };
    // Sign in once per file, each person on a template home, all at the same time.
    for (const name of ALL_PEOPLE) actors.set(name, newActor(name, path.join(templates, name)));
    const results = await Promise.all(logins.map((name) => login(name)));
    results.forEach((result, i) => {
      if (result.code !== 0) throw new Error(`login of ${logins[i]} failed (exit ${result.code}): ${result.stderr}`);
    });
  });

  afterAll(async () => {
    await emu?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  beforeEach(async () => {
    testNumber += 1;
    resetTenant(emu);
    for (const name of [...ALL_PEOPLE, 'cron'] as ActorName[]) {
      const home = path.join(root, `test-${testNumber}`, name);
      await mkdir(home, { recursive: true, mode: 0o700 });
      if (name !== 'cron' && logins.includes(name as keyof typeof SEED.users)) {
        await cp(path.join(templates, name, 'auth'), path.join(home, 'auth'), { recursive: true });
      }
      actors.set(name, newActor(name, home));
    }
  });

  // A route the tool needs but the emulator does not implement must not go unnoticed.
  afterEach(() => {
    const problem = unimplementedRoutes(emu.world.requestLog, checkedUpTo);
    checkedUpTo = emu.world.requestLog.at(-1)?.seq ?? checkedUpTo;
    if (problem) throw new Error(problem);
  });

  return () => {
    if (!harness) throw new Error('the harness is only available inside tests and hooks');
    return harness;
  };
}

/** The compact records stored in one open extension of `owner` (e.g. a decisions list), parsed. */
export function storedRecords(h: Harness, owner: keyof typeof SEED.users | 'group', extension: 'com.ociaccess.requests' | 'com.ociaccess.decisions'): any[] {
  const payload = h.records(owner)[extension] as { records?: string } | undefined;
  return payload?.records ? JSON.parse(payload.records) : [];
}
