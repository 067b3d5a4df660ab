/**
 * What every command handler receives: the context, the output, the global
 * flags, and lazy access to the config and the services (so `--help` and
 * flag validation never load an SDK or touch the network).
 */
import path from 'node:path';
import type { Context } from '../context.js';
import type { Output, GlobalOptions } from './output.js';
import type { Config } from '../config/schema.js';
import type { Services } from './services.js';

export interface CommandEnv {
  ctx: Context;
  out: Output;
  globals: GlobalOptions & { config?: string };
  /** The config file this command reads (after --config and OCIACCESS_CONFIG), absolute. */
  configFile: string;
  config(): Promise<Config>;
  /**
   * The services, made on first call; `concurrency`: the $batch calls the command keeps in flight
   * (default sweep.concurrency); `unattended`: nobody waits for the command (sweep), so notifications
   * get the longer delivery budget; `readOnly`: the sign-in is read and never written (shell completion).
   */
  services(options?: { concurrency?: number; unattended?: boolean; readOnly?: boolean }): Promise<Services>;
  /** Waits for the event subscribers (notifications) to finish what the command told them; nothing when no services were made. */
  settle(): Promise<void>;
}

export function createCommandEnv(ctx: Context, out: Output, globals: CommandEnv['globals']): CommandEnv {
  let configPromise: Promise<Config> | undefined;
  let servicesPromise: Promise<Services> | undefined;
  let notifier: { close(): Promise<unknown> } | undefined;
  // Aborted once the command has settled: work it started and no longer waits for (a retry of a call
  // whose sibling failed) ends instead of keeping the process alive for the rest of a Retry-After.
  const finished = new AbortController();
  const configFile = globals.config ? path.resolve(ctx.cwd, globals.config) : ctx.paths.configFile;
  const env: CommandEnv = {
    ctx,
    out,
    globals,
    configFile,
    config() {
      // Imported here: the schema validator is not needed for --help or flag errors.
      configPromise ??= import('../config/load.js').then(({ loadConfig }) =>
        loadConfig(configFile, { platform: ctx.platform, uid: ctx.uid }),
      );
      return configPromise;
    },
    services(options = {}) {
      servicesPromise ??= (async () => {
        const config = await env.config();
        const { createServices } = await import('./services.js');
        const services = await createServices(ctx, out, config, {
          debug: globals.debug,
          concurrency: options.concurrency,
          stop: finished.signal,
          readOnly: options.readOnly,
        });
        // Notifications are the event port's first subscriber, where any group names a target.
        if (config.groups.some((group) => (group.notify?.length ?? 0) > 0)) {
          const { commandNotifier } = await import('./notifications.js');
          const { stripControlsDeep } = await import('../core/text.js');
          const created = commandNotifier({
            ctx,
            out,
            config,
            clock: services.clock,
            unattended: options.unattended,
            audit: (entry) => services.auditLog.append(stripControlsDeep(entry)),
          });
          services.events.subscribe(created.subscriber);
          notifier = created;
        }
        return services;
      })();
      return servicesPromise;
    },
    async settle() {
      const services = await servicesPromise?.catch(() => undefined);
      await services?.events.settled();
      // What was gathered for the operators goes out now; every delivery is bounded by its budget.
      await notifier?.close();
      finished.abort();
    },
  };
  return env;
}
