/** Builds the Context from the real process. The only module allowed to touch process.* and the TTY. */
import os from 'node:os';
import v8 from 'node:v8';
import { defaultPaths, randomIds, systemClock, type Context, type Prompter } from './context.js';
import { UsageError } from './errors.js';
import { setMaxListeners } from 'node:events';

function inquirerPrompter(interactive: boolean): Prompter {
  const refuse = (message: string): never => {
    throw new UsageError(`Cannot ask "${message}": no terminal to prompt on.`, {
      code: 'PROMPT_UNAVAILABLE',
      hint: 'Pass the value as a flag (see --help), or use --yes.',
    });
  };
  return {
    interactive,
    async select(message, choices) {
      if (!interactive) return refuse(message);
      const { select } = await import('@inquirer/prompts');
      return select({ message, choices });
    },
    async confirm(message, defaultValue = false) {
      if (!interactive) return refuse(message);
      const { confirm } = await import('@inquirer/prompts');
      return confirm({ message, default: defaultValue });
    },
    async input(message, options = {}) {
      if (!interactive) return refuse(message);
      const { input } = await import('@inquirer/prompts');
      return input({ message, default: options.default, validate: options.validate });
    },
  };
}

/**
 * Opens a URL with the desktop's default browser, through the `open` package
 * (loaded only when a browser sign-in asks for it). It hands the URL over as
 * one argument on every platform; `cmd /c start`, which it replaces on
 * Windows, treats `&` as a command separator and cut sign-in URLs there.
 */
export async function openInDefaultBrowser(url: string): Promise<void> {
  const { default: open } = await import('open');
  await open(url);
}

export function processContext(): Context {
  const env = { ...process.env };
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY) && !env.CI;
  // `ociaccess list | head` closes the pipe early: that is the reader's choice, not a failure.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
  const controller = new AbortController();
  // Every HTTP call in flight listens on this one signal until it settles: sweep.concurrency (up to 16)
  // plus the reads and OCI calls beside it pass Node's default warning mark of 10. A leak still warns.
  setMaxListeners(100, controller.signal);
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    clock: systemClock,
    ids: randomIds,
    paths: defaultPaths(env),
    prompter: inquirerPrompter(interactive),
    platform: process.platform,
    uid: process.geteuid?.(),
    pid: process.pid,
    hostname: os.hostname(),
    abortSignal: controller.signal,
    onHangup: (listener) => {
      process.on('SIGHUP', listener);
      return () => process.off('SIGHUP', listener);
    },
    openUrl: openInDefaultBrowser,
    // The sweep trades a little speed for a smaller peak (docs/performance.md has the figures).
    preferSmallMemory: () => v8.setFlagsFromString('--optimize-for-size'),
  };
}
