/**
 * Secrets: a canary client secret, the access and refresh tokens the emulator
 * issues (each one a canary: the emulator knows every one it handed out), the
 * device codes and the OCI API key never appear in stdout, stderr, the audit
 * log, the local state or the debug output, at any verbosity, on success or
 * on failure; `--debug` traces show the HTTP calls but no Authorization header
 * or token body; and secrets are accepted only from files or the environment
 * (no option takes one, the config refuses one written into it).
 */
import { jest } from '@jest/globals';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { actorContext } from '../../src/actor-context.js';
import { buildProgram } from '../../src/cli/main.js';
import { revokeUserTokens } from '../../src/emulator/entra/index.js';
import { SEED } from '../../src/emulator/seed.js';
import { startHarness, upnOf, type Actor, type Harness, type RunResult } from '../support/harness.js';

jest.setTimeout(300_000);

let rig: Harness;
const CANARY_SECRET = `canary-secret-${randomBytes(12).toString('hex')}`;
const WRONG_SECRET = `canary-wrong-${randomBytes(12).toString('hex')}`;

beforeAll(async () => {
  rig = await startHarness({ logins: ['alice', 'bob'] });
  rig.emu.world.apps.get(SEED.automationAppId)!.secrets = [CANARY_SECRET];
  await writeFile(rig.emu.automationSecretFile, `${CANARY_SECRET}\n`, { mode: 0o600 });
});
afterAll(() => rig?.stop());

const VERBOSITIES: string[][] = [[], ['--quiet'], ['--debug'], ['--json'], ['--debug', '--json']];

/** Everything a person, a log collector or a ticket could end up holding. */
const captured: { what: string; text: string }[] = [];

async function run(machine: Actor, argv: string[], env?: Record<string, string>): Promise<RunResult> {
  const result = await rig.run(machine, argv, env ? { env } : undefined);
  captured.push({ what: `${machine.name}$ ociaccess ${argv.join(' ')} (stdout)`, text: result.stdout });
  captured.push({ what: `${machine.name}$ ociaccess ${argv.join(' ')} (stderr)`, text: result.stderr });
  return result;
}

async function localFiles(machine: Actor): Promise<{ what: string; text: string }[]> {
  const out: { what: string; text: string }[] = [];
  for (const name of await readdir(machine.home)) {
    // auth/ is the token cache itself (0600): it must hold the tokens; everything else must not.
    if (name === 'auth' || (await stat(path.join(machine.home, name))).isDirectory()) continue;
    out.push({ what: `${machine.name}:${name}`, text: await readFile(path.join(machine.home, name), 'utf8') });
  }
  return out;
}

/** Every secret the emulator knows about: client secrets, tokens (and their signatures), device codes, the OCI key. */
function canaries(): string[] {
  const world = rig.emu.world;
  const out = [CANARY_SECRET, WRONG_SECRET];
  for (const token of world.tokens.keys()) {
    out.push(token);
    const signature = token.split('.')[2];
    if (signature) out.push(signature);
  }
  for (const grant of world.deviceCodes.values()) out.push(grant.deviceCode);
  const pem = rig.emu.secrets!.ociApiKey.privateKeyPem;
  out.push(...pem.split('\n').filter((line) => line.length > 40));
  return out;
}

function leaks(texts: { what: string; text: string }[]): string[] {
  const secrets = canaries();
  const found: string[] = [];
  for (const { what, text } of texts) {
    for (const secret of secrets) if (text.includes(secret)) found.push(`${what}: contains ${secret.slice(0, 12)}…`);
    if (/bearer\s+\S/i.test(text)) found.push(`${what}: an Authorization header`);
    if (/eyJ[A-Za-z0-9_-]{10,}\.eyJ/.test(text)) found.push(`${what}: a JWT`);
    if (/client_secret|client_assertion|refresh_token=|"refresh_token"|"access_token"/.test(text))
      found.push(`${what}: a token request or response body`);
  }
  return found;
}

describe('secrets: never in output, logs or debug traces', () => {
  it('at every verbosity, through a whole story (sign-in, request, approve, status, revoke, sweep, audit), no secret or token shows', async () => {
    const alice = await rig.machine('alice');
    const bob = await rig.machine('bob');
    const cron = await rig.machine('cron');
    for (const flags of VERBOSITIES) {
      rig.resetTenant();
      const request = await run(alice, [...flags, 'request', '--hours', '2', '--justification', 'secrets']);
      expect(request.code).toBe(0);
      const id = flags.includes('--json') ? (request.json.id ?? request.json.request?.id) : request.stdout.trim();
      expect(id).toMatch(/^r-/);
      expect((await run(bob, [...flags, 'list', '--pending'])).code).toBe(0);
      expect((await run(bob, [...flags, 'approve', id, '--yes'])).code).toBe(0);
      expect((await run(alice, [...flags, 'status'])).code).toBe(0);
      expect((await run(alice, [...flags, 'whoami'])).code).toBe(0);
      expect([0, 6]).toContain((await run(bob, [...flags, 'revoke', '--user', upnOf('alice')])).code);
      await rig.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf('dave') });
      expect([0, 6]).toContain((await run(cron, [...flags, 'sweep'])).code);
      expect((await run(bob, [...flags, 'audit'])).code).toBe(0);
    }
    // The debug runs did trace HTTP calls (so the check below is about real traces).
    const debugText = captured
      .filter((c) => c.what.includes('--debug'))
      .map((c) => c.text)
      .join('\n');
    expect(debugText).toMatch(/^debug: graph (GET|POST|PATCH|DELETE) /m);
    expect(debugText).toMatch(/^debug: oci /m);
    expect(debugText).toMatch(/^debug: entra POST /m);
    expect(rig.emu.world.tokens.size).toBeGreaterThan(3);
    const files = [...(await localFiles(alice)), ...(await localFiles(bob)), ...(await localFiles(cron))];
    expect(files.map((f) => f.what)).toEqual(
      expect.arrayContaining(['bob:audit.jsonl', 'cron:audit.jsonl', 'cron:state.json']),
    );
    expect(leaks([...captured, ...files])).toEqual([]);
  });

  it('on failure too: a rejected client secret, a revoked sign-in, an unreachable service — with --debug', async () => {
    const alice = await rig.machine('alice');
    const cron = await rig.machine('cron');
    const wrongFile = path.join(rig.root, 'wrong-secret');
    await writeFile(wrongFile, `${WRONG_SECRET}\n`, { mode: 0o600 });
    const config = JSON.parse(await readFile(rig.emu.configFile, 'utf8'));
    config.automation.clientSecretFile = wrongFile;
    const wrongConfig = path.join(rig.root, 'config-wrong-secret.json');
    await writeFile(wrongConfig, JSON.stringify(config), { mode: 0o600 });
    const rejected = await run(cron, ['--debug', 'sweep'], { OCIACCESS_CONFIG: wrongConfig });
    expect(`${rejected.code} ${rejected.stderr}`).toMatch(/^4 /);
    expect(rejected.stderr).toContain(wrongFile); // names where the secret came from, not what it is

    // The CLI declares no cp1 capability, so the revoked session shows once its access token expires.
    revokeUserTokens(rig.emu.world, upnOf('alice'), { accessTokens: true });
    rig.emu.world.clockOffsetMs += 61 * 60_000;
    const revoked = await run(alice, ['--debug', 'status']);
    expect(revoked.code).toBe(4);

    await rig.control('faults', { service: 'graph', status: 0, kind: 'reset', count: 20 });
    const unreachable = await run(cron, ['--debug', '--json', 'sweep']);
    await rig.control('faults', undefined, { method: 'DELETE' });
    expect(unreachable.code).not.toBe(0);
    expect(leaks(captured)).toEqual([]);
  });
});

describe('secrets: accepted only from files or the environment', () => {
  it('no option of any command takes a secret value (only files and variable names)', () => {
    const program = buildProgram(actorContext({ env: {} }), async () => undefined);
    const offending: string[] = [];
    const visit = (command: Command, prefix: string) => {
      for (const option of command.options) {
        const takesValue = option.required || option.optional;
        if (!takesValue || !/secret|token|password|passphrase|key|credential/i.test(option.long ?? '')) continue;
        // A value that names a file or an environment variable is fine; the secret itself is not.
        if (!/<(file|name|path|env)>|\[(file|name|path)\]/i.test(option.flags))
          offending.push(`${prefix} ${option.flags}`);
      }
      for (const sub of command.commands) visit(sub, `${prefix} ${sub.name()}`);
    };
    visit(program, 'ociaccess');
    expect(offending).toEqual([]);
  });

  it('a secret on the command line or in the config is refused without being echoed; from the environment it works', async () => {
    const cron = await rig.machine('cron');
    const onArgv = await run(cron, ['sweep', '--client-secret', CANARY_SECRET]);
    expect(onArgv.code).toBe(2);
    const config = JSON.parse(await readFile(rig.emu.configFile, 'utf8'));
    const inline = { ...config, automation: { clientId: config.automation.clientId, clientSecret: CANARY_SECRET } };
    const inlineFile = path.join(rig.root, 'config-inline-secret.json');
    await writeFile(inlineFile, JSON.stringify(inline), { mode: 0o600 });
    const inConfig = await run(cron, ['sweep'], { OCIACCESS_CONFIG: inlineFile });
    expect(inConfig.code).toBe(2);
    expect(inConfig.stderr).toContain('unknown key "clientSecret"');
    const fromEnv = {
      ...config,
      automation: { clientId: config.automation.clientId, clientSecretEnv: 'OCIACCESS_TEST_CLIENT_SECRET' },
    };
    const envFile = path.join(rig.root, 'config-env-secret.json');
    await writeFile(envFile, JSON.stringify(fromEnv), { mode: 0o600 });
    rig.resetTenant();
    const viaEnv = await run(cron, ['--debug', 'sweep'], {
      OCIACCESS_CONFIG: envFile,
      OCIACCESS_TEST_CLIENT_SECRET: CANARY_SECRET,
    });
    expect(viaEnv.code).toBe(0);
    expect(leaks(captured)).toEqual([]);
  });
});
