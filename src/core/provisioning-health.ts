/**
 * How Entra's provisioning job to OCI is doing, told the same way by `doctor`
 * and the sweep. Pure: the job's status comes in as parsed from Graph
 * (adapters/graph/sync-job.ts), one of four states comes out:
 *
 *  - healthy: Active (or NotRun), and its last cycle did not fail;
 *  - failing: its cycles fail (lastExecution Failed, or
 *    countSuccessiveCompleteFailures > 0) but Entra has not quarantined it
 *    yet: changes do not reach OCI, and Entra keeps trying every cycle;
 *  - quarantined: Entra retries on a growing schedule (6 h, 12 h, 24 h after
 *    the first failure, then daily) and leaves quarantine by itself at the
 *    first retry that succeeds; nothing reaches OCI meanwhile;
 *  - stopped: Paused, NotConfigured, disabled (the schedule's state, as Entra
 *    leaves a job that stayed in quarantine for four weeks), or a code this
 *    version does not know: no cycle runs at all.
 * Every state but healthy keeps changes, removals included, from reaching OCI.
 */

/** synchronizationError, as Graph gives it (control characters removed). */
export interface SyncError {
  code: string | null;
  message: string | null;
}

/** A provisioning (synchronization) job's status, as doctor and the sweep need it. */
export interface SyncJobStatus {
  id: string | null;
  code: string;
  /** The last cycle, failed or not. */
  lastExecution: { ended: string | null; state: string | null; error: SyncError | null } | null;
  /** When the last cycle without errors ended. */
  lastSuccessfulRun: string | null;
  /** Cycles that failed one after the other. */
  successiveFailures: number;
  quarantine: {
    reason: string | null;
    /** When the quarantine was last evaluated and imposed (currentBegan). */
    since: string | null;
    /** When this series of quarantines began (seriesBegan). */
    seriesBegan: string | null;
    /** Retries in this series that failed and left the quarantine in effect (seriesCount). */
    retriesFailed: number | null;
    nextAttempt: string | null;
    error: SyncError | null;
  } | null;
  /** The schedule's interval, ISO 8601 (PT40M). */
  interval: string | null;
  /** The schedule's state: Active, Paused, or Disabled (Entra gave up after four weeks in quarantine). */
  scheduleState: string | null;
}

export type ProvisioningState = 'healthy' | 'failing' | 'quarantined' | 'stopped';

export interface ProvisioningHealth {
  state: ProvisioningState;
  /** The job's status code as Graph gives it. */
  code: string;
  /** What went wrong last (failing, quarantined), when Graph says. */
  error: SyncError | null;
  /** The quarantine's reason code. */
  reason: string | null;
  /** When Entra tries again (quarantined). */
  nextAttempt: string | null;
  /** Since when: the quarantine series' start, or for a failing job its last successful cycle. */
  since: string | null;
  /** Failed cycles in a row (failing, quarantined). */
  failures: number;
  /** Stopped because Entra disabled it after four weeks in quarantine. */
  disabled: boolean;
  lastSuccessfulRun: string | null;
}

const RUNNING = new Set(['Active', 'NotRun']);

export function provisioningHealth(job: SyncJobStatus): ProvisioningHealth {
  const base = {
    code: job.code,
    lastSuccessfulRun: job.lastSuccessfulRun,
    failures: job.successiveFailures,
    reason: null,
    nextAttempt: null,
    error: null,
    since: null,
    disabled: false,
  };
  const q = job.quarantine;
  if (job.scheduleState === 'Disabled') {
    // Its quarantine (when Graph still shows it) says why; no retry is coming, whatever nextAttempt says.
    return {
      ...base,
      state: 'stopped',
      disabled: true,
      reason: q?.reason ?? null,
      error: q?.error ?? job.lastExecution?.error ?? null,
      since: q?.seriesBegan ?? q?.since ?? null,
    };
  }
  if (job.code === 'Quarantine') {
    return {
      ...base,
      state: 'quarantined',
      reason: q?.reason ?? null,
      nextAttempt: q?.nextAttempt ?? null,
      error: q?.error ?? job.lastExecution?.error ?? null,
      since: q?.seriesBegan ?? q?.since ?? null,
    };
  }
  if (!RUNNING.has(job.code)) return { ...base, state: 'stopped' };
  const lastFailed = job.lastExecution?.state === 'Failed';
  if (job.successiveFailures > 0 || lastFailed) {
    return {
      ...base,
      state: 'failing',
      failures: Math.max(job.successiveFailures, 1),
      error: job.lastExecution?.error ?? null,
      since: job.lastSuccessfulRun,
    };
  }
  return { ...base, state: 'healthy' };
}

/** "CODE: message", or whichever of them Graph gave, or null. */
export function describeSyncError(error: SyncError | null): string | null {
  // Without its closing full stop, so that it reads inside a sentence.
  const message = error?.message?.replace(/[.\s]+$/, '') || null;
  if (!error?.code && !message) return null;
  if (error?.code && message) return `${error.code}: ${message}`;
  return error?.code ?? message;
}

/**
 * One sentence for a job that keeps changes from reaching OCI (failing,
 * quarantined or stopped), naming the error, the reason code and the next
 * attempt; null for a healthy job. `time` shows a timestamp (ISO by default).
 */
export function provisioningProblem(
  health: ProvisioningHealth,
  time: (iso: string) => string = (iso) => iso,
): string | null {
  const error = describeSyncError(health.error);
  if (health.state === 'quarantined') {
    return (
      `The provisioning job is in quarantine (${health.reason ?? 'no reason given'})` +
      `${health.since ? ` since ${time(health.since)}` : ''}` +
      `${error ? `: ${error}` : ''}` +
      `; next attempt ${health.nextAttempt ? time(health.nextAttempt) : 'not given'}. ` +
      'Removals will not reach OCI until a retry succeeds (Entra then leaves quarantine by itself) or provisioning is restarted.'
    );
  }
  if (health.state === 'failing') {
    return (
      `The provisioning job is failing (${health.failures} cycle(s) in a row${health.since ? `, last success ${time(health.since)}` : ''})` +
      `${error ? `: ${error}` : ''}. ` +
      'Removals will not reach OCI until a cycle succeeds; Entra quarantines a job that keeps failing.'
    );
  }
  if (health.state === 'stopped' && health.disabled) {
    return (
      `The provisioning job was disabled after four weeks in quarantine (${health.reason ?? 'no reason given'})` +
      `${health.since ? ` since ${time(health.since)}` : ''}${error ? `: ${error}` : ''}. ` +
      'Removals will not reach OCI until the cause is fixed and provisioning is restarted.'
    );
  }
  if (health.state === 'stopped') {
    return `The provisioning job is stopped (${health.code}): removals will not reach OCI until provisioning is started.`;
  }
  return null;
}
