/**
 * What every demo story needs: the embedded emulator, actors with a machine
 * of their own, real commands run in-process with their exit codes checked,
 * the person's part of a device-code sign-in, numbered steps, and the
 * emulator's control routes. A story is the list of steps; this is the stage.
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

export interface StoryResult {
  ok: boolean;
  steps: StoryStep[];
}

export interface Actor {
  name: string;
  upn: string;
  env: Record<string, string | undefined>;
}

/** A step whose outcome was not the one expected. */
export class StoryFailure extends Error {}

export interface Stage {
  emulator: RunningEmulator;
  actor(name: string): Actor;
  /** Runs `ociaccess args` as `who`, narrates it, and fails the step unless it exits with `expectExit`. */
  ociaccess(who: Actor, args: string[], expectExit: number, during?: () => Promise<void>): Promise<string>;
  /** What the person does in the browser: enter the code shown, sign in as themselves. */
  signInInBrowser(who: Actor): Promise<void>;
  step(title: string, body: () => Promise<string>): Promise<void>;
  /** POSTs to an emulator control route (clock/advance, jit/signin, provisioning/cycle, …). */
  control(pathName: string, body: unknown): Promise<unknown>;
  /** The user principal names of an Entra group's members. */
  entraMembers(groupId: string): (string | undefined)[];
  /** The user names of an OCI group's members. */
  ociMembers(groupName: string): (string | undefined)[];
  write(text: string): void;
  style: StoryOptions['style'];
}

/** Sets the stage, plays the story on it, stops the emulator, and says whether every step went as expected. */
export async function playOnStage(options: StoryOptions, story: (stage: Stage) => Promise<void>): Promise<StoryResult> {
  const { write, style } = options;
  const steps: StoryStep[] = [];
  const root = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'ociaccess-demo-')));
  const emulator = await startEmulator({ dir: path.join(root, 'emulator') });
  configureEntra(emulator.world, { deviceCodeIntervalSeconds: 1 });

  const indent = (text: string) =>
    text
      .split('\n')
      .filter((line, i, all) => line !== '' || i < all.length - 1)
      .map((line) => `    ${line}`)
      .join('\n');

  const stage: Stage = {
    emulator,
    write,
    style,
    actor: (name) => ({
      name,
      upn: `${name}@${SEED.domain}`,
      env: {
        OCIACCESS_CONFIG: emulator.configFile,
        OCIACCESS_HOME: path.join(root, `${name}-machine`),
        OCIACCESS_TOKEN_STORE: 'file',
        NO_COLOR: '1',
        PATH: process.env.PATH,
      },
    }),
    async ociaccess(who, args, expectExit, during) {
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
    },
    async signInInBrowser(who) {
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
    },
    async step(title, body) {
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
    },
    async control(pathName, body) {
      const { fetchWithCa } = await import('../adapters/http/tls.js');
      const response = await fetchWithCa(emulator.caFile)(`${emulator.baseUrl}/_emulator/${pathName}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new StoryFailure(`emulator control ${pathName} answered ${response.status}`);
      return response.json();
    },
    entraMembers: (groupId) =>
      [...(emulator.world.groups.get(groupId)?.members ?? [])].map(
        (id) => emulator.world.users.get(id)?.userPrincipalName,
      ),
    ociMembers: (groupName) => {
      const group = emulator.world.ociGroupByName(groupName);
      return [...(group?.members ?? [])].map((id) => emulator.world.ociUsers.get(id)?.userName);
    },
  };

  try {
    await story(stage);
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
