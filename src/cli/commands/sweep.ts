import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { sweepCommand, type SweepFlags } from '../sweep-once.js';
import { checkHealth, watchSweep } from '../sweep-watch.js';

export function registerSweep(program: Command, run: Runner): void {
  program
    .command('sweep')
    .description(
      'remove expired and unapproved members, auto-approve, and confirm removals reached OCI (run from cron)',
    )
    .option('-g, --group <name>', 'only this group (default: all managed groups)')
    .option('--dry-run', 'print the plan, change nothing')
    .option(
      '--provision-now',
      'ask Entra to provision removals to OCI at once (default: provisioning.provisionOnDemand)',
    )
    .option(
      '--force-oci-after <duration>',
      'remove in OCI directly when still there this long after the Entra removal (e.g. 30m)',
    )
    .option(
      '--fix-drift',
      'remove OCI group members that have no Entra membership and no grant (otherwise only reported)',
    )
    .option('--concurrency <n>', 'Graph $batch calls in flight at once, 1-16 (default: sweep.concurrency, 4)')
    .option('--no-batch', 'one Graph request per item instead of $batch (slow; for comparison and troubleshooting)')
    .option('--watch', 'keep running: sweep at each due expiry and every --interval (one active watcher per lock)')
    .option('--interval <duration>', 'with --watch: how often records are re-read (default 30s)')
    .option('--health', "exit 0 when the watcher's health file is fresh, else 1 (a liveness probe)")
    .option(
      '--health-file <path>',
      'the health file --watch rewrites and --health reads (default: in the state directory)',
    )
    .addHelpText(
      'after',
      `
Runs as the automation app (automation.* in the config) and needs the "oci" section.
With oci.access "write" (the sweep host) a member removed in Entra is removed from
the OCI group in the same sweep (oci.removeDirectly, on by default there); SCIM
provisioning stays the backstop. --fix-drift and --force-oci-after need "write" too.
Non-interactive.
One sweep at a time per state directory, across hosts that share it: a second
one exits 0 saying which host and pid hold the lock and when it last beat. A
lock whose heartbeat stopped for 30s (the holder was killed) is taken over.

Examples:
  $ ociaccess sweep
  $ ociaccess sweep --dry-run
  $ ociaccess sweep --provision-now --force-oci-after 30m --fix-drift --json
  $ ociaccess sweep --watch --interval 30s --health-file /run/ociaccess/health
  $ ociaccess sweep --health --health-file /run/ociaccess/health

--watch runs until SIGTERM or SIGINT (it ends the sweep in progress, then exits
0) and reloads the config on SIGHUP; a second watcher stands by and takes over
within a minute of the first one dying. One line (--json: one JSON line) per
sweep that changed something.

Exit codes: 0 clean, 6 changes still pending in OCI, 5 Graph/OCI unavailable,
1 anything else (failures, stuck removals, quarantine, lasting drift; see the report).`,
    )
    .action(async (options: SweepFlags, command: Command) =>
      run(command, async (env) => {
        if (options.health) return checkHealth(env, options.healthFile);
        if (options.watch) return watchSweep(env, options);
        return sweepCommand(env, options);
      }),
    );
}
