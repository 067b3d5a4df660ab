/**
 * Trial counts of the randomized reliability tests: bounded in CI, large under
 * `npm run test:stress`, and the one-line reports the stress script reads.
 */
/**
 * How many trials a randomized test runs: the bounded number in CI, the large
 * one under `npm run test:stress` (OCIACCESS_STRESS=1); OCIACCESS_TRIALS=<n>
 * overrides both.
 */
export function trials(ci: number, stress: number): number {
  const override = Number(process.env.OCIACCESS_TRIALS);
  if (Number.isInteger(override) && override > 0) return override;
  return process.env.OCIACCESS_STRESS === '1' ? stress : ci;
}

export const stressMode = () => process.env.OCIACCESS_STRESS === '1';

/** Prints one line with a test's trial count and outcomes (the stress script's figures). */
export function reportTrials(name: string, total: number, outcomes: Record<string, number>): void {
  const parts = Object.entries(outcomes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  process.stderr.write(`[reliability] ${name}: ${total} trials; ${parts.join(', ')}\n`);
}

export const tally = () => {
  const counts: Record<string, number> = {};
  return {
    counts,
    add(outcome: string) {
      counts[outcome] = (counts[outcome] ?? 0) + 1;
    },
  };
};
