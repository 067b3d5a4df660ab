import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { UsageError, quoteInput } from '../../errors.js';

export function registerEmulator(program: Command, run: Runner): void {
  program
    .command('emulator')
    .description('start the local Entra + Graph + Okta + OCI emulator (for trying the tool and for tests)')
    .option('--port <n>', 'port on 127.0.0.1 (default: any free port)')
    .option('--dir <path>', 'where to write ca.pem, config.json and the OCI config (default: a new temp dir)')
    .option('--cycle <ms>', 'provisioning cycle length in virtual ms (default 2400000 = 40 min)')
    .addHelpText(
      'after',
      `
Prints one JSON line (URLs, CA file, config file, environment for clients), then
serves until SIGINT/SIGTERM. See docs/emulator.md.

Example:
  $ ociaccess emulator --port 8443 &
  $ curl --cacert <caFile> https://127.0.0.1:8443/_emulator/health`,
    )
    .action(async (options: { port?: string; dir?: string; cycle?: string }, command: Command) =>
      run(command, async (env) => {
        const port = options.port === undefined ? undefined : Number(options.port);
        if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
          throw new UsageError(`--port ${quoteInput(options.port)} is not a port number.`, {
            code: 'INVALID_PORT',
            hint: 'Use 0..65535 (0 = any free port).',
          });
        }
        const cycleMs = options.cycle === undefined ? undefined : Number(options.cycle);
        if (cycleMs !== undefined && (!Number.isFinite(cycleMs) || cycleMs < 1)) {
          throw new UsageError(`--cycle ${quoteInput(options.cycle)} is not a positive number of milliseconds.`, {
            code: 'INVALID_CYCLE',
          });
        }
        const { startEmulator } = await import('../../emulator/index.js');
        const emulator = await startEmulator({ port, dir: options.dir, cycleMs });
        env.ctx.stdout.write(
          `${JSON.stringify({
            baseUrl: emulator.baseUrl,
            authority: `${emulator.baseUrl}/${emulator.world.tenantId}`,
            graph: `${emulator.baseUrl}/v1.0`,
            ociDomain: `${emulator.baseUrl}/admin/v1`,
            oktaOrgUrl: emulator.oktaOrgUrl,
            control: `${emulator.baseUrl}/_emulator`,
            caFile: emulator.caFile,
            configFile: emulator.configFile,
            ociConfigFile: emulator.ociConfigFile,
            oktaServiceKeyFile: emulator.oktaServiceKeyFile,
            env: emulator.env,
          })}\n`,
        );
        env.out.info(`emulator listening on ${emulator.baseUrl} (Ctrl-C to stop)`);
        await new Promise<void>((resolve) => {
          if (env.ctx.abortSignal.aborted) resolve();
          env.ctx.abortSignal.addEventListener('abort', () => resolve(), { once: true });
        });
        await emulator.stop();
        env.out.info('emulator stopped');
      }),
    );
}
