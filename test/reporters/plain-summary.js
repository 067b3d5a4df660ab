/**
 * Prints one plain closing line, "N passed, N failed" (", N skipped" when any),
 * so that CI can read the outcome without knowing Jest's own summary format.
 */
export default class PlainSummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failedSuites = results.numRuntimeErrorTestSuites;
    const failed = results.numFailedTests + failedSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
    // After Jest's own summary (written later in the same tick), as the run's last line.
    process.once('exit', () => process.stdout.write(`\n${line}\n`));
  }
}
