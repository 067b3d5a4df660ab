/**
 * How a provisioning job fails and how it gets out of quarantine, as Entra
 * documents it ("Application provisioning in quarantine status"):
 *  - a cycle whose calls to the target fail is recorded as the job's
 *    lastExecution (state Failed, with the error) while
 *    lastSuccessfulExecution keeps the last good one, and
 *    countSuccessiveCompleteFailures counts the failures in a row;
 *  - a job that keeps failing goes into quarantine; the emulator puts it there
 *    after as many failures as the test asks (or at once, through the
 *    quarantine control route), since Entra's thresholds are not given for a
 *    credential error;
 *  - in quarantine the engine retries 6 h, 12 h and 24 h after the first
 *    failure of the series, then every 24 h; each failed retry counts in
 *    seriesCount and moves currentBegan and nextAttempt;
 *  - a retry that succeeds takes the job out of quarantine by itself and
 *    regular cycles resume;
 *  - retries go on for 28 days after the first failure; then the job is
 *    disabled (schedule state Disabled) until provisioning is restarted.
 * The cause is injected by the control routes below (/failure, /quarantine);
 * it lasts a number of cycles, or until "quarantine": off (the cause fixed
 * and provisioning restarted with the quarantine cleared).
 */
import { json, parseJsonBody, route, type Route } from './http.js';
import type { SynchronizationError, SynchronizationExecution, SynchronizationJob, World } from './state.js';

const HOUR_MS = 3_600_000;
/** Retries after the first failure of a quarantine series; then one every day. */
export const QUARANTINE_RETRY_OFFSETS_MS = [6 * HOUR_MS, 12 * HOUR_MS, 24 * HOUR_MS] as const;
export const QUARANTINE_DAILY_RETRY_MS = 24 * HOUR_MS;
/** How long retries go on after the first failure; then the job is disabled. */
export const QUARANTINE_GIVE_UP_MS = 28 * 24 * HOUR_MS;

const DEFAULT_ERROR: SynchronizationError = {
  code: 'SystemForCrossDomainIdentityManagementCredentialValidationUnavailable',
  message:
    'The OCI identity domain refused the admin credentials (HTTP 401 Unauthorized): the secret token is invalid or expired.',
  tenantActionable: true,
};
const DEFAULT_REASON = 'EncounteredQuarantineException';

/** The first scheduled retry later than `nowMs` of a series that began at `seriesBeganMs`. */
export function nextQuarantineAttempt(seriesBeganMs: number, nowMs: number): number {
  for (const offset of QUARANTINE_RETRY_OFFSETS_MS) if (seriesBeganMs + offset > nowMs) return seriesBeganMs + offset;
  const last = seriesBeganMs + QUARANTINE_RETRY_OFFSETS_MS[QUARANTINE_RETRY_OFFSETS_MS.length - 1];
  const days = Math.floor((nowMs - last) / QUARANTINE_DAILY_RETRY_MS) + 1;
  return last + days * QUARANTINE_DAILY_RETRY_MS;
}

/** When a quarantined job's next cycle is due (its nextAttempt). */
export function quarantineAttemptAt(job: SynchronizationJob): number | undefined {
  const quarantine = job.status.code === 'Quarantine' ? job.status.quarantine : null;
  return quarantine ? Date.parse(quarantine.nextAttempt) : undefined;
}

/** Whether a quarantined job's retry is due now: never once Entra disabled it. */
export function quarantineRetryDue(world: World, job: SynchronizationJob): boolean {
  const attemptAt = quarantineAttemptAt(job);
  return !job.disabled && attemptAt !== undefined && world.now() >= attemptAt;
}

function imposeQuarantine(world: World, job: SynchronizationJob, reason: string, error: SynchronizationError): void {
  // One reading of the clock: the series and its first quarantine begin at the same instant.
  const now = world.now();
  const nowIso = new Date(now).toISOString();
  job.status.code = 'Quarantine';
  job.status.quarantine = {
    reason,
    currentBegan: nowIso,
    seriesBegan: nowIso,
    seriesCount: 0,
    nextAttempt: new Date(nextQuarantineAttempt(now, now)).toISOString(),
    error,
  };
}

/**
 * Fails this cycle when a failure is injected: records it and, when due,
 * imposes or keeps the quarantine. Returns the error, or undefined when the
 * cycle may run.
 */
export function failCycleIfInjected(
  world: World,
  job: SynchronizationJob,
  timeBegan: string,
): SynchronizationError | undefined {
  const failure = job.failure;
  if (!failure || failure.remaining <= 0) return undefined;
  failure.remaining -= 1;
  if (failure.remaining <= 0) job.failure = undefined;
  const status = job.status;
  status.lastExecution = { timeBegan, timeEnded: world.nowIso(), state: 'Failed', error: failure.error };
  status.countSuccessiveCompleteFailures = (status.countSuccessiveCompleteFailures ?? 0) + 1;
  const quarantine = status.code === 'Quarantine' ? status.quarantine : null;
  if (quarantine) {
    const now = world.now();
    quarantine.seriesCount += 1;
    quarantine.currentBegan = new Date(now).toISOString();
    quarantine.error = failure.error;
    const seriesBegan = Date.parse(quarantine.seriesBegan);
    const next = nextQuarantineAttempt(seriesBegan, now);
    // Past four weeks Entra gives up: the job is disabled, and its quarantine says when it would have retried.
    if (next - seriesBegan > QUARANTINE_GIVE_UP_MS) job.disabled = true;
    quarantine.nextAttempt = new Date(next).toISOString();
  } else if (
    failure.quarantineAfter !== undefined &&
    status.countSuccessiveCompleteFailures >= failure.quarantineAfter
  ) {
    imposeQuarantine(world, job, failure.reason, failure.error);
  }
  return failure.error;
}

/** A cycle that succeeded: the job is healthy again, out of quarantine if it was in it. */
export function recordSuccessfulCycle(job: SynchronizationJob, execution: SynchronizationExecution): void {
  const status = job.status;
  status.lastExecution = execution;
  status.lastSuccessfulExecution = execution;
  status.countSuccessiveCompleteFailures = 0;
  if (status.code === 'NotRun' || status.code === 'Quarantine') status.code = 'Active';
  status.quarantine = null;
}

/** Back to a healthy job (the harness's reset, and "quarantine": off): cause fixed, quarantine cleared. */
export function clearJobFailure(job: SynchronizationJob): void {
  job.failure = undefined;
  job.disabled = false;
  if (job.status.code === 'Quarantine') job.status.code = 'Active';
  job.status.quarantine = null;
  job.status.countSuccessiveCompleteFailures = 0;
}

// ---------------------------------------------------------------------------
// Control routes.

function badRequest(message: string) {
  return json(400, { error: 'bad_request', message });
}

const isPositiveInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value > 0;

interface CauseBody {
  jobId?: unknown;
  code?: unknown;
  message?: unknown;
  reason?: unknown;
  cycles?: unknown;
}

function errorOf(body: CauseBody): SynchronizationError {
  return {
    code: typeof body.code === 'string' && body.code ? body.code : DEFAULT_ERROR.code,
    message: typeof body.message === 'string' && body.message ? body.message : DEFAULT_ERROR.message,
    tenantActionable: true,
  };
}

function selectJobs(world: World, jobId: unknown): SynchronizationJob[] {
  const jobs = [...world.servicePrincipals.values()].flatMap((sp) => sp.synchronizationJobs);
  return jobs.filter((job) => !jobId || job.id === jobId);
}

function jobsAnswer(jobs: SynchronizationJob[]) {
  return json(200, {
    jobs: jobs.map((job) => ({
      id: job.id,
      status: job.status,
      failure: job.failure ? { ...job.failure, remaining: failureCount(job.failure.remaining) } : null,
    })),
  });
}

/** Infinity is not JSON: an open-ended cause is shown as null. */
const failureCount = (remaining: number): number | null => (Number.isFinite(remaining) ? remaining : null);

export function provisioningHealthControlRoutes(): Route[] {
  return [
    route('control', 'POST', /^\/_emulator\/provisioning\/failure$/, (req, emu) => {
      const body = parseJsonBody<CauseBody & { quarantineAfter?: unknown }>(req);
      if (!body || (body.cycles !== null && !isPositiveInteger(body.cycles)))
        return badRequest('"cycles" must be a positive integer (how many cycles fail), or null to stop failing');
      if (body.quarantineAfter !== undefined && !isPositiveInteger(body.quarantineAfter))
        return badRequest('"quarantineAfter" must be a positive integer');
      const jobs = selectJobs(emu.world, body.jobId);
      if (jobs.length === 0) return badRequest('no such synchronization job');
      for (const job of jobs) {
        job.failure =
          body.cycles === null
            ? undefined
            : {
                error: errorOf(body),
                remaining: body.cycles,
                reason: typeof body.reason === 'string' && body.reason ? body.reason : DEFAULT_REASON,
                ...(body.quarantineAfter !== undefined ? { quarantineAfter: body.quarantineAfter } : {}),
              };
      }
      return jobsAnswer(jobs);
    }),
    route('control', 'POST', /^\/_emulator\/provisioning\/quarantine$/, (req, emu) => {
      const body = parseJsonBody<CauseBody & { on?: unknown }>(req);
      if (!body || typeof body.on !== 'boolean') return badRequest('"on" must be true or false');
      if (body.cycles !== undefined && !isPositiveInteger(body.cycles))
        return badRequest('"cycles" must be a positive integer (how many attempts still fail)');
      const jobs = selectJobs(emu.world, body.jobId);
      if (jobs.length === 0) return badRequest('no such synchronization job');
      for (const job of jobs) {
        if (!body.on) {
          clearJobFailure(job);
          continue;
        }
        const error = errorOf(body);
        const reason = typeof body.reason === 'string' && body.reason ? body.reason : DEFAULT_REASON;
        job.failure = { error, reason, remaining: isPositiveInteger(body.cycles) ? body.cycles : Infinity };
        // As if the cycle that just ran had failed with it.
        const now = emu.world.nowIso();
        job.status.lastExecution = { timeBegan: now, timeEnded: now, state: 'Failed', error };
        job.status.countSuccessiveCompleteFailures = (job.status.countSuccessiveCompleteFailures ?? 0) + 1;
        imposeQuarantine(emu.world, job, reason, error);
      }
      return jobsAnswer(jobs);
    }),
  ];
}
