import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { ExitCode, UsageError } from '../../errors.js';

export function registerDemo(program: Command, run: Runner): void {
  program
    .command('demo')
    .description('play the whole story on the embedded emulator (no tenant needed)')
    .option('--dir <path>', "keep the emulator files and each actor's state here")
    .option('--backend <backend>', 'records (open extensions) or pim (PIM for Groups)', 'records')
    .option('--idp <idp>', 'the identity provider: entra or okta', 'entra')
    .addHelpText(
      'after',
      `
Starts the emulator, then runs real commands as alice (requester), bob
(approver) and a cron host (sweep), checking each outcome. Exit 0 only if
every step's outcome was as expected.

Examples:
  $ npx ociaccess demo
  $ ociaccess demo --dir ./demo-run    # keep the files to look at afterwards
  $ ociaccess demo --backend pim       # the same story with PIM for Groups
  $ ociaccess demo --idp okta          # Okta as the identity provider (Push Groups to OCI)`,
    )
    .action(async (options: { dir?: string; backend: string; idp: string }, command: Command) =>
      run(command, async (env) => {
        if (options.backend !== 'records' && options.backend !== 'pim')
          throw new UsageError(`--backend must be records or pim, not ${JSON.stringify(options.backend)}.`, {
            code: 'INVALID_BACKEND',
            hint:
              options.backend === 'okta'
                ? 'Okta is an identity provider, not a records backend: run `ociaccess demo --idp okta`.'
                : 'Run `ociaccess demo` or `ociaccess demo --backend pim`.',
          });
        if (options.idp !== 'entra' && options.idp !== 'okta')
          throw new UsageError(`--idp must be entra or okta, not ${JSON.stringify(options.idp)}.`, {
            code: 'INVALID_IDP',
            hint: 'Run `ociaccess demo` (Entra) or `ociaccess demo --idp okta`.',
          });
        if (options.idp === 'okta' && options.backend === 'pim')
          throw new UsageError(
            '--backend pim cannot be combined with --idp okta: PIM for Groups is an Entra feature.',
            {
              code: 'CONFLICTING_FLAGS',
              hint: 'Run `ociaccess demo --idp okta` (records in Okta profiles) or `ociaccess demo --backend pim` (Entra).',
            },
          );
        const playStory =
          options.idp === 'okta'
            ? (await import('../../demo/okta-story.js')).playOktaStory
            : options.backend === 'pim'
              ? (await import('../../demo/pim-story.js')).playPimStory
              : (await import('../../demo/story.js')).playStory;
        const style = env.out.style;
        // With --json the narration goes to stderr so stdout holds only the JSON document.
        const narrate = env.out.json ? env.ctx.stderr : env.ctx.stdout;
        const result = await playStory({ write: (text) => narrate.write(text), style, dir: options.dir });
        if (env.out.json) env.out.data(result, () => '');
        return result.ok ? ExitCode.ok : ExitCode.unexpected;
      }),
    );
}
