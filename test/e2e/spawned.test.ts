/**
 * End to end, as people run it: `bin/ociaccess.js` spawned as separate
 * processes for the requester (alice), the approver (bob) and the sweeper (a
 * cron host), each with its own OCIACCESS_HOME, against one emulator started
 * by this test. The children trust the emulator's CA through the config's
 * tls.caFile and follow its virtual clock through the config's emulator
 * section; sign-in is the device code flow, completed through the emulator.
 *
 * bin/ociaccess.js loads dist/: `npm test` builds first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchWithCa } from '../../src/adapters/http/tls.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { configureEntra } from '../../src/emulator/entra/index.js';
import { SEED } from '../../src/emulator/seed.js';
import { isWrite, unimplementedRoutes, upnOf, userCodeIn } from '../support/harness.js';
import { postControl } from '../support/emulator-control.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(REPO, 'bin', 'ociaccess.js');
const ALICE = upnOf('alice');
const BREAKGLASS = upnOf('breakglass');
/** A child that has not finished by then is killed and the test fails (no test waits forever). */
const CHILD_TIMEOUT_MS = 60_000;

interface Actor {
  name: string;
  upn: string;
  home: string;
}
interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  json: any;
}

let emu: RunningEmulator;
let root: string;
let control: (pathName: string, body?: unknown) => Promise<any>;
const children = new Set<ChildProcess>();

function childEnv(actor: Actor, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // Only what a user's shell would have; not the test runner's NODE_OPTIONS.
  return {
    PATH: process.env.PATH,
    HOME: actor.home,
    OCIACCESS_CONFIG: emu.configFile,
    OCIACCESS_HOME: path.join(actor.home, 'state'),
    OCIACCESS_TOKEN_STORE: 'file',
    NO_COLOR: '1',
    ...extra,
  };
}

function start(
  actor: Actor,
  args: string[],
  extraEnv: Record<string, string> = {},
): { child: ChildProcess; exit: Promise<Exit>; stderrText: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: actor.home,
    env: childEnv(actor, extraEnv),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  const exit = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      let json: any;
      if (args.includes('--json') && stdout.trim()) {
        try {
          json = JSON.parse(stdout);
        } catch (error) {
          reject(
            new Error(
              `ociaccess ${args.join(' ')} (${actor.name}): --json output is not one JSON document: ${(error as Error).message}\n${stdout}`,
            ),
          );
          return;
        }
      }
      resolve({ code, signal, stdout, stderr, json });
    });
  });
  return { child, exit, stderrText: () => stderr };
}

async function ociaccess(
  actor: Actor,
  args: string[],
  expectedExit: number,
  extraEnv: Record<string, string> = {},
): Promise<Exit> {
  const result = await start(actor, args, extraEnv).exit;
  if (result.code !== expectedExit) {
    throw new Error(
      `\`ociaccess ${args.join(' ')}\` as ${actor.name} exited ${result.code ?? result.signal}, expected ${expectedExit}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
    );
  }
  return result;
}

/** `ociaccess login` in its own process; the person enters the code it printed "in the browser". */
async function login(actor: Actor): Promise<Exit> {
  const running = start(actor, ['login']);
  const deadline = Date.now() + CHILD_TIMEOUT_MS;
  let userCode: string | undefined;
  while (!(userCode = userCodeIn(running.stderrText()))) {
    if (Date.now() > deadline || running.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (!userCode) {
    running.child.kill();
    throw new Error(`login of ${actor.name} printed no device code:\n${running.stderrText()}`);
  }
  await control('devicecode/complete', { userCode, user: actor.upn });
  const result = await running.exit;
  expect(result.code).toBe(0);
  return result;
}

async function newActor(name: string): Promise<Actor> {
  const home = path.join(root, name);
  await mkdir(home, { recursive: true, mode: 0o700 });
  return { name, upn: name === 'cron-host' ? 'automation' : upnOf(name), home };
}

beforeAll(async () => {
  for (const built of ['dist/cli/main.js', 'dist/process-context.js']) {
    if (!existsSync(path.join(REPO, built))) {
      throw new Error(
        `${built} is missing: the end-to-end tests run bin/ociaccess.js, which loads dist/. Run \`npm run build\` first (\`npm test\` does).`,
      );
    }
  }
  root = await mkdtemp(path.join(os.tmpdir(), 'ociaccess-e2e-'));
  emu = await startEmulator({ dir: path.join(root, 'emulator') });
  configureEntra(emu.world, { deviceCodeIntervalSeconds: 1 });
  const fetchCa = fetchWithCa(emu.caFile);
  control = async (pathName, body = {}) => {
    const response = await postControl(fetchCa, emu.baseUrl, pathName, body);
    const text = await response.text();
    if (!response.ok) throw new Error(`emulator control ${pathName} answered ${response.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await emu?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

afterEach(() => {
  const problem = emu && unimplementedRoutes(emu.world.requestLog, 0);
  if (problem) throw new Error(problem);
});

const entraMembers = () =>
  [...emu.world.groups.get(SEED.tempGroupId)!.members].map((id) => emu.world.users.get(id)!.userPrincipalName).sort();
const ociMembers = () =>
  [...emu.world.ociGroupByName(SEED.tempGroupName)!.members].map((id) => emu.world.ociUsers.get(id)!.userName).sort();
const mark = () => emu.world.requestLog.at(-1)?.seq ?? 0;

test('a bad flag is refused by the real process before anything else: exit 2, JSON error, nothing sent', async () => {
  const alice = await newActor('alice-no-config');
  const before = mark();
  const result = await ociaccess(alice, ['request', '--hours', '0', '--justification', 'x', '--json'], 2, {
    OCIACCESS_CONFIG: path.join(root, 'no-such-config.json'),
  });
  expect(result.json).toEqual({
    error: {
      code: 'INVALID_HOURS',
      message: '--hours must be more than 0 (got "0").',
      hint: 'Use a positive duration such as --hours 2 or --hours 30m.',
    },
  });
  expect(result.stderr).toBe('');
  expect(emu.world.requestLog.filter((e) => e.seq > before)).toEqual([]);
});

test('requester, approver and sweeper in separate processes: request → approve → status → expiry → sweep (6, then 0 after the cycle)', async () => {
  const [alice, bob, cron] = await Promise.all([newActor('alice'), newActor('bob'), newActor('cron-host')]);
  await Promise.all([login(alice), login(bob)]);

  const asked = await ociaccess(
    alice,
    ['request', '--hours', '2', '--justification', 'INC-4711: rotate the DB wallet', '--json'],
    0,
  );
  const id: string = asked.json.id;
  expect(id).toMatch(/^r-[0-9a-z]+$/);

  const listed = await ociaccess(bob, ['list', '--pending', '--json'], 0);
  expect(listed.json.requests).toEqual([expect.objectContaining({ id, requester: ALICE, state: 'pending' })]);

  const beforeApprove = mark();
  const approved = await ociaccess(bob, ['approve', id, '--reason', 'on call', '--yes', '--json'], 0);
  expect(approved.json).toMatchObject({ id, decision: 'approved', membership: 'added' });
  expect(entraMembers()).toEqual([ALICE, BREAKGLASS]);
  // bob's process made the changes, with bob's delegated token.
  const approveWrites = emu.world.requestLog.filter((e) => e.seq > beforeApprove && isWrite(e));
  expect(approveWrites.length).toBeGreaterThan(0);
  expect(approveWrites.every((e) => e.principal === SEED.users.bob)).toBe(true);

  await control('jit/signin', { user: ALICE });
  const status = await ociaccess(alice, ['status', '--json'], 0);
  expect(status.json.requests).toEqual([expect.objectContaining({ id, state: 'approved', oci: 'member' })]);

  // Two hours and a minute pass on the emulator's clock, which the children follow.
  await control('clock/advance', { minutes: 121 });
  const sweep = await ociaccess(cron, ['sweep', '--json'], 6);
  expect(sweep.json.groups[0].removed).toEqual([
    expect.objectContaining({ upn: ALICE, reason: 'expired', requestId: id }),
  ]);
  expect(sweep.json.groups[0].kept).toEqual([expect.objectContaining({ upn: BREAKGLASS, reason: 'standing' })]);
  expect(entraMembers()).toEqual([BREAKGLASS]);
  expect(ociMembers()).toEqual([ALICE, BREAKGLASS]);

  await control('provisioning/cycle');
  expect(ociMembers()).toEqual([BREAKGLASS]);
  const clean = await ociaccess(cron, ['sweep'], 0);
  expect(clean.stdout).toContain('outcome: clean');

  // Every machine kept its own audit log, and each one verifies.
  const verified = await Promise.all(
    [alice, bob, cron].map((actor) => ociaccess(actor, ['audit', 'verify', '--json'], 0)),
  );
  expect(verified.map((v) => v.json.ok)).toEqual([true, true, true]);
  const bobAudit = await ociaccess(bob, ['audit', '--raw', '--json'], 0);
  expect(bobAudit.json.entries.map((e: any) => `${e.action}:${e.result}`)).toEqual(['approve:pending', 'approve:ok']);
  const cronAudit = await ociaccess(cron, ['audit', '--raw', '--json'], 0);
  expect(cronAudit.json.entries).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ action: 'remove', result: 'ok', target: expect.objectContaining({ upn: ALICE }) }),
    ]),
  );
});

test('`ociaccess emulator` in its own process prints one JSON line a client can use, and stops on SIGTERM', async () => {
  const operator = await newActor('operator');
  const running = start(operator, ['emulator', '--dir', path.join(operator.home, 'emu')]);
  let stdout = '';
  running.child.stdout!.on('data', (chunk: string) => (stdout += chunk));
  const deadline = Date.now() + CHILD_TIMEOUT_MS;
  while (!stdout.includes('\n') && Date.now() < deadline && running.child.exitCode === null)
    await new Promise((resolve) => setTimeout(resolve, 25));
  const line = JSON.parse(stdout.split('\n')[0]!);
  expect(line).toMatchObject({
    baseUrl: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/),
    caFile: expect.any(String),
    configFile: expect.any(String),
    env: expect.any(Object),
  });
  const health = await fetchWithCa(line.caFile)(`${line.baseUrl}/_emulator/health`);
  expect(await health.json()).toEqual({ ok: true });
  running.child.kill('SIGTERM');
  const exit = await running.exit;
  expect(exit.code).toBe(0);
});
