import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { ExitCode } from '../../errors.js';

export function registerDemo(program: Command, run: Runner): void {
  program
    .command('demo')
    .description('play the whole story on the embedded emulator (no tenant needed)')
    .option('--dir <path>', "keep the emulator files and each actor's state here")
    .addHelpText(
      'after',
      `
Starts the emulator, then runs real commands as alice (requester), bob
(approver) and a cron host (sweep), checking each outcome. Exit 0 only if
every step's outcome was as expected.

Examples:
  $ npx ociaccess demo
  $ ociaccess demo --dir ./demo-run    # keep the files to look at afterwards`,
    )
    .action(async (options: { dir?: string }, command: Command) =>
      run(command, async (env) => {
        const { playStory } = await import('../../demo/story.js');
        const style = env.out.style;
        // With --json the narration goes to stderr so stdout holds only the JSON document.
        const narrate = env.out.json ? env.ctx.stderr : env.ctx.stdout;
        const result = await playStory({ write: (text) => narrate.write(text), style, dir: options.dir });
        if (env.out.json) env.out.data(result, () => '');
        return result.ok ? ExitCode.ok : ExitCode.unexpected;
      }),
    );
}
