/**
 * What every demo story needs: the embedded emulator, actors with a machine
 * of their own, real commands run in-process with their exit codes checked,
 * the person's part of a device-code sign-in, numbered steps, and the
 * emulator's control routes. A story is the list of steps; this is the stage.
 * The stage is set for Entra (the emulator's own config) or, with
 * `{ idp: 'okta' }`, for the emulator's Okta org (okta-setting.ts).
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { actorContext, CapturedStream } from '../actor-context.js';
import { startEmulator, type RunningEmulator } from '../emulator/index.js';
import { completeDeviceCode, configureEntra, pendingDeviceCodes } from '../emulator/entra/index.js';
import { approveOktaDevice } from '../emulator/okta/index.js';
import { SEED } from '../emulator/seed.js';
import { main } from '../cli/main.js';
import { writeOktaConfig } from './okta-setting.js';

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

/** How the stage is set: which identity provider the actors' config names (default entra). */
export interface StageSetting {
  idp?: 'entra' | 'okta';
}

/** A step whose outcome was not the one expected. */
export class StoryFailure extends Error {}

export interface Stage {
  emulator: RunningEmulator;
  actor(name: string): Actor;
  /** Runs `ociaccess args` as `who`, narrates it, and fails the step unless it exits with `expectExit`. */
  ociaccess(who: Actor, args: string[], expectExit: number, during?: () => Promise<void>): Promise<string>;
  /**
   * As `ociaccess`, for a command whose outcome depends on timing outside the story (Okta pushes to
   * OCI seconds after a change, in real time too): any exit in `expectExits` is as expected; returns which.
   */
  ociaccessEither(who: Actor, args: string[], expectExits: number[]): Promise<{ code: number; stdout: string }>;
  /** What the person does in the browser: enter the code shown, sign in as themselves (at Entra or Okta). */
  signInInBrowser(who: Actor): Promise<void>;
  step(title: string, body: () => Promise<string>): Promise<void>;
  /** POSTs to an emulator control route (clock/advance, jit/signin, provisioning/cycle, …). */
  control(pathName: string, body: unknown): Promise<unknown>;
  /** The user principal names of an Entra group's members. */
  entraMembers(groupId: string): (string | undefined)[];
  /** The logins of an Okta group's members. */
  oktaMembers(groupId: string): (string | undefined)[];
  /** The user names of an OCI group's members. */
  ociMembers(groupName: string): (string | undefined)[];
  write(text: string): void;
  style: StoryOptions['style'];
}

/** Sets the stage, plays the story on it, stops the emulator, and says whether every step went as expected. */
export async function playOnStage(
  options: StoryOptions,
  story: (stage: Stage) => Promise<void>,
  setting: StageSetting = {},
): Promise<StoryResult> {
  const { write, style } = options;
  const idp = setting.idp ?? 'entra';
  const steps: StoryStep[] = [];
  const root = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'ociaccess-demo-')));
  const emulator = await startEmulator({ dir: path.join(root, 'emulator') });
  // Polling every second instead of Entra's and Okta's 5 s keeps the sign-ins short.
  configureEntra(emulator.world, { deviceCodeIntervalSeconds: 1 });
  emulator.world.okta.settings.deviceCodeIntervalSeconds = 1;
  const configFile =
    idp === 'okta' ? await writeOktaConfig(emulator, path.join(root, 'okta-config.json')) : emulator.configFile;
  /** The user codes waiting for a person at Entra's or Okta's activation page. */
  const pendingUserCodes = (): string[] => {
    if (idp === 'entra') return pendingDeviceCodes(emulator.world).map((grant) => grant.userCode);
    const now = emulator.world.now();
    return [...emulator.world.okta.deviceGrants.values()]
      .filter((grant) => !grant.consumed && !grant.approvedByUserId && !grant.denied && grant.expiresAt > now)
      .map((grant) => grant.userCode);
  };
  const completeSignIn = (userCode: string, upn: string) => {
    if (idp === 'entra') return completeDeviceCode(emulator.world, userCode, upn);
    const done = approveOktaDevice(emulator.world, userCode, upn);
    if (typeof done === 'string') throw new StoryFailure(done);
  };

  const indent = (text: string) =>
    text
      .split('\n')
      .filter((line, i, all) => line !== '' || i < all.length - 1)
      .map((line) => `    ${line}`)
      .join('\n');

  async function runCommand(who: Actor, args: string[], during?: () => Promise<void>) {
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
    return { code, stdout: out };
  }

  const stage: Stage = {
    emulator,
    write,
    style,
    actor: (name) => ({
      name,
      upn: `${name}@${SEED.domain}`,
      env: {
        OCIACCESS_CONFIG: configFile,
        OCIACCESS_HOME: path.join(root, `${name}-machine`),
        OCIACCESS_TOKEN_STORE: 'file',
        NO_COLOR: '1',
        PATH: process.env.PATH,
      },
    }),
    async ociaccess(who, args, expectExit, during) {
      const { code, stdout } = await runCommand(who, args, during);
      if (code !== expectExit) throw new StoryFailure(`expected exit ${expectExit}, got ${code}`);
      return stdout;
    },
    async ociaccessEither(who, args, expectExits) {
      const ran = await runCommand(who, args);
      if (!expectExits.includes(ran.code))
        throw new StoryFailure(`expected exit ${expectExits.join(' or ')}, got ${ran.code}`);
      return ran;
    },
    async signInInBrowser(who) {
      // Bounded wait (60 s): a loaded machine can take seconds to start the login.
      for (let i = 0; i < 2400; i += 1) {
        const pending = pendingUserCodes();
        if (pending.length > 0) {
          completeSignIn(pending[0]!, who.upn);
          write(
            style.dim(
              `    [browser] ${who.upn} enters code ${pending[0]!} and signs in${idp === 'okta' ? ' to Okta' : ''}\n`,
            ),
          );
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
    oktaMembers: (groupId) =>
      [...(emulator.world.okta.groups.get(groupId)?.members ?? [])].map((id) => {
        const login = emulator.world.okta.users.get(id)?.profile.login;
        return login === undefined ? undefined : String(login);
      }),
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
