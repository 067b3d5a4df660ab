#!/usr/bin/env node
// Tiny on purpose: start-up time matters for a command people type often.
// `--version` is answered before anything else loads.
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  const { VERSION } = await import('../dist/version.js');
  process.stdout.write(`${VERSION}\n`);
} else {
  const [{ main }, { processContext }] = await Promise.all([
    import('../dist/cli/main.js'),
    import('../dist/process-context.js'),
  ]);
  process.exitCode = await main(argv, processContext());
}
