/**
 * The seed story, played with real commands against the embedded emulator:
 * a requester asks for 2 hours, an approver approves, the requester signs in
 * to OCI (JIT), time passes the expiry, the sweep removes the membership in
 * Entra, the provisioning cycle runs, and the sweep confirms the user is gone
 * from the OCI group. Every step's outcome is checked, not just printed.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { actorContext, CapturedStream } from '../actor-context.js';
import { startEmulator, type RunningEmulator } from '../emulator/index.js';
import { completeDeviceCode, configureEntra, pendingDeviceCodes } from '../emulator/entra/index.js';
import { SEED } from '../emulator/seed.js';
import { main } from '../cli/main.js';

export interface StoryOptions {
  /** Where the narration and each command's output go. */
  write: (text: string) => void;
  style: {
    bold(s: string): string;
    dim(s: string): string;
    green(s: string): string;
    red(s: string): string;
    cyan(s: string): string;
  };
  /** Keep the emulator's files here (default: a temp dir). */
  dir?: string;
}

export interface StoryStep {
  title: string;
  ok: boolean;
  detail: string;
}

interface Actor {
  name: string;
  upn: string;
  env: Record<string, string | undefined>;
}

class StoryFailure extends Error {}

export async function playStory(options: StoryOptions): Promise<{ ok: boolean; steps: StoryStep[] }> {
  const { write, style } = options;
  const steps: StoryStep[] = [];
  const root = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'ociaccess-demo-')));
  const emulator = await startEmulator({ dir: path.join(root, 'emulator') });
  configureEntra(emulator.world, { deviceCodeIntervalSeconds: 1 });
  const actor = (name: string): Actor => ({
    name,
    upn: `${name}@${SEED.domain}`,
    env: {
      OCIACCESS_CONFIG: emulator.configFile,
      OCIACCESS_HOME: path.join(root, `${name}-machine`),
      OCIACCESS_TOKEN_STORE: 'file',
      NO_COLOR: '1',
      PATH: process.env.PATH,
    },
  });
  const alice = actor('alice');
  const bob = actor('bob');
  const cron = actor('cron-host');

  const indent = (text: string) =>
    text
      .split('\n')
      .filter((line, i, all) => line !== '' || i < all.length - 1)
      .map((line) => `    ${line}`)
      .join('\n');

  async function ociaccess(
    who: Actor,
    args: string[],
    expectExit: number,
    during?: () => Promise<void>,
  ): Promise<string> {
    write(
      `\n${style.cyan(`${who.name}$`)} ociaccess ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`,
    );
    const stdout = new CapturedStream();
    const stderr = new CapturedStream();
    const ctx = actorContext({ env: who.env, stdout, stderr });
    const running = main(args, ctx);
    if (during) await during();
    const code = await running;
    const out = stdout.take();
    const err = stderr.take();
    if (err.trim()) write(`${style.dim(indent(err))}\n`);
    if (out.trim()) write(`${indent(out)}\n`);
    if (code !== expectExit) throw new StoryFailure(`expected exit ${expectExit}, got ${code}`);
    return out;
  }

  /** What the person does in the browser: enter the code shown, sign in as themselves. */
  async function signInInBrowser(who: Actor): Promise<void> {
    // Bounded wait (60 s): a loaded machine can take seconds to start the login.
    for (let i = 0; i < 2400; i += 1) {
      const pending = pendingDeviceCodes(emulator.world);
      if (pending.length > 0) {
        completeDeviceCode(emulator.world, pending[0]!.userCode, who.upn);
        write(style.dim(`    [browser] ${who.upn} enters code ${pending[0]!.userCode} and signs in\n`));
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new StoryFailure('no device code appeared');
  }

  async function step(title: string, body: () => Promise<string>): Promise<void> {
    write(`\n${style.bold(`▶ ${title}`)}\n`);
    try {
      const detail = await body();
      steps.push({ title, ok: true, detail });
      write(`${style.green(`  ✓ ${detail}`)}\n`);
    } catch (error) {
      steps.push({ title, ok: false, detail: (error as Error).message });
      write(`${style.red(`  ✗ ${(error as Error).message}`)}\n`);
      throw error;
    }
  }

  const entraMembers = () =>
    [...(emulator.world.groups.get(SEED.tempGroupId)?.members ?? [])].map(
      (id) => emulator.world.users.get(id)?.userPrincipalName,
    );
  const ociMembers = () => {
    const group = emulator.world.ociGroupByName(SEED.tempGroupName);
    return [...(group?.members ?? [])].map((id) => emulator.world.ociUsers.get(id)?.userName);
  };
  const control = async (pathName: string, body: unknown) => {
    const { fetchWithCa } = await import('../adapters/http/tls.js');
    const response = await fetchWithCa(emulator.caFile)(`${emulator.baseUrl}/_emulator/${pathName}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new StoryFailure(`emulator control ${pathName} answered ${response.status}`);
    return response.json();
  };

  write(`${style.bold('ociaccess demo')} — the whole story on the embedded emulator (${emulator.baseUrl})\n`);
  write(
    style.dim(
      `Entra tenant ${SEED.domain}: alice may request, bob and carol approve, breakglass is a standing member.\n`,
    ),
  );
  let requestId = '';
  try {
    await step('alice and bob sign in (device code)', async () => {
      await ociaccess(alice, ['login'], 0, () => signInInBrowser(alice));
      await ociaccess(bob, ['login'], 0, () => signInInBrowser(bob));
      return 'both signed in; tokens cached per machine';
    });
    await step('alice asks for 2 hours of admin access', async () => {
      requestId = (
        await ociaccess(
          alice,
          ['request', '--hours', '2', '--justification', 'INC-4711: rotate the DB wallet', '--ticket', 'INC-4711'],
          0,
        )
      ).trim();
      if (!/^r-[0-9a-z]+$/.test(requestId)) throw new StoryFailure(`no request id printed (got "${requestId}")`);
      return `request ${requestId} recorded in Entra (alice's own user object)`;
    });
    await step('alice cannot approve her own request', async () => {
      await ociaccess(alice, ['approve', requestId, '--yes'], 3);
      if (entraMembers().includes(alice.upn)) throw new StoryFailure('alice became a member');
      return 'refused with SELF_APPROVAL (exit 3); nothing changed';
    });
    await step('bob sees the request and approves it', async () => {
      const listed = await ociaccess(bob, ['list', '--pending'], 0);
      if (!listed.includes(requestId)) throw new StoryFailure("the request is not in bob's list");
      await ociaccess(bob, ['approve', requestId, '--reason', 'on call', '--yes'], 0);
      if (!entraMembers().includes(alice.upn)) throw new StoryFailure('alice is not in the Entra group');
      return "alice is a member of OCI-Temp-Admins in Entra; expiry recorded in bob's decision record";
    });
    await step('alice signs in to the OCI console (SAML JIT)', async () => {
      await control('jit/signin', { user: alice.upn });
      write(style.dim(`    [browser] ${alice.upn} signs in to OCI; JIT creates the user and maps the group\n`));
      if (!ociMembers().includes(alice.upn)) throw new StoryFailure('OCI does not show alice in the group');
      await ociaccess(alice, ['status'], 0);
      return 'OCI shows alice in OCI-Temp-Admins';
    });
    await step('two hours and one minute pass', async () => {
      await control('clock/advance', { minutes: 121 });
      return `virtual time is now ${emulator.world.nowIso()}`;
    });
    await step('the cron host sweeps: the expired membership is removed in Entra', async () => {
      await ociaccess(cron, ['sweep'], 6);
      if (entraMembers().includes(alice.upn)) throw new StoryFailure('alice is still in the Entra group');
      if (!ociMembers().includes(alice.upn)) throw new StoryFailure('expected OCI to lag behind Entra');
      if (!entraMembers().includes(`breakglass@${SEED.domain}`))
        throw new StoryFailure('the standing member was removed');
      return 'removed in Entra, still pending in OCI (exit 6); breakglass kept';
    });
    await step("Entra's provisioning cycle runs", async () => {
      await control('provisioning/cycle', {});
      if (ociMembers().includes(alice.upn)) throw new StoryFailure('OCI still lists alice');
      return 'SCIM removed alice from the OCI group';
    });
    await step('the next sweep confirms the removal reached OCI', async () => {
      await ociaccess(cron, ['sweep'], 0);
      return 'clean (exit 0): nobody holds access past expiry';
    });
    await step('the audit logs verify', async () => {
      await ociaccess(bob, ['audit'], 0);
      for (const who of [alice, bob, cron]) await ociaccess(who, ['audit', 'verify'], 0);
      return "every machine's hash chain is intact";
    });
  } catch (error) {
    if (!(error instanceof StoryFailure) && !steps.some((s) => !s.ok))
      steps.push({ title: 'unexpected', ok: false, detail: String(error) });
  } finally {
    await emulator.stop();
  }
  const ok = steps.length > 0 && steps.every((s) => s.ok);
  write(
    `\n${ok ? style.green(`demo complete: ${steps.length} steps, every outcome checked`) : style.red('demo FAILED')}\n`,
  );
  return { ok, steps };
}

export type { RunningEmulator };
