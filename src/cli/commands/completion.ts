import { Argument, type Command } from 'commander';
import type { Runner } from '../main.js';

export function registerCompletion(program: Command, run: Runner): void {
  program
    .command('completion')
    .description('print a shell completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      `
Examples:
  $ ociaccess completion bash > ~/.local/share/bash-completion/completions/ociaccess
  $ ociaccess completion zsh > "\${fpath[1]}/_ociaccess"
  $ ociaccess completion fish > ~/.config/fish/completions/ociaccess.fish
  $ source <(ociaccess completion bash)      # this shell only`,
    )
    .action(async (shell: 'bash' | 'zsh' | 'fish', _options: unknown, command: Command) =>
      run(command, async (env) => {
        const { completionScript } = await import('../completion.js');
        const script = completionScript(command.parent!, shell);
        env.out.data({ shell, script }, () => script);
      }),
    );
}
