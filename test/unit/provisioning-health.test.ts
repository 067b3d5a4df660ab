/** The provisioning job's status: one parser of Graph's JSON, one pure classifier, one sentence for a problem. */
import { parseSyncJob } from '../../src/adapters/graph/sync-job.js';
import {
  describeSyncError,
  provisioningHealth,
  provisioningProblem,
  type ProvisioningState,
} from '../../src/core/provisioning-health.js';

const GOOD = { timeBegan: '2026-03-01T09:00:00Z', timeEnded: '2026-03-01T09:01:00Z', state: 'Succeeded', error: null };
const ERROR = {
  code: 'SystemForCrossDomainIdentityManagementCredentialValidationUnavailable',
  message: 'Token expired.',
};
const FAILED = { timeBegan: '2026-03-01T10:00:00Z', timeEnded: '2026-03-01T10:00:05Z', state: 'Failed', error: ERROR };

function job(status: Record<string, unknown>) {
  return { id: 'oracleOCI.1', schedule: { interval: 'PT40M' }, status };
}

const cases: [string, Record<string, unknown>, ProvisioningState][] = [
  [
    'Active, last cycle good',
    { code: 'Active', lastExecution: GOOD, lastSuccessfulExecution: GOOD, countSuccessiveCompleteFailures: 0 },
    'healthy',
  ],
  ['NotRun, no cycle yet', { code: 'NotRun', lastExecution: null, lastSuccessfulExecution: null }, 'healthy'],
  [
    'Active, last cycle failed',
    { code: 'Active', lastExecution: FAILED, lastSuccessfulExecution: GOOD, countSuccessiveCompleteFailures: 2 },
    'failing',
  ],
  [
    'Active, failures counted though lastExecution is missing',
    { code: 'Active', lastSuccessfulExecution: GOOD, countSuccessiveCompleteFailures: '3' },
    'failing',
  ],
  [
    'Quarantine',
    {
      code: 'Quarantine',
      lastExecution: FAILED,
      lastSuccessfulExecution: GOOD,
      countSuccessiveCompleteFailures: 4,
      quarantine: {
        reason: 'EncounteredQuarantineException',
        currentBegan: '2026-03-02T10:00:00Z',
        seriesBegan: '2026-03-01T10:00:05Z',
        seriesCount: 3,
        nextAttempt: '2026-03-03T10:00:05Z',
        error: ERROR,
      },
    },
    'quarantined',
  ],
  ['Paused', { code: 'Paused', lastSuccessfulExecution: GOOD }, 'stopped'],
  ['NotConfigured', { code: 'NotConfigured' }, 'stopped'],
  ['no status at all', {}, 'stopped'],
  ['a code this version does not know', { code: 'SomethingNew' }, 'stopped'],
];

test('a job Entra disabled after four weeks in quarantine is stopped, whatever its quarantine says', () => {
  const quarantined = job(cases[4]![1]);
  const health = provisioningHealth(parseSyncJob({ ...quarantined, schedule: { state: 'Disabled' } }));
  expect(health).toMatchObject({ state: 'stopped', disabled: true, reason: 'EncounteredQuarantineException' });
  expect(provisioningProblem(health)).toBe(
    'The provisioning job was disabled after four weeks in quarantine (EncounteredQuarantineException) since 2026-03-01T10:00:05Z: ' +
      'SystemForCrossDomainIdentityManagementCredentialValidationUnavailable: Token expired. ' +
      'Removals will not reach OCI until the cause is fixed and provisioning is restarted.',
  );
  expect(provisioningProblem(provisioningHealth(parseSyncJob(job({ code: 'Paused' }))))).toBe(
    'The provisioning job is stopped (Paused): removals will not reach OCI until provisioning is started.',
  );
});

test.each(cases)('%s → %s', (_name, status, state) => {
  expect(provisioningHealth(parseSyncJob(job(status))).state).toBe(state);
});

test('a quarantined job: the reason, the error, the next attempt and since when, in one problem sentence', () => {
  const health = provisioningHealth(parseSyncJob(job(cases[4]![1])));
  expect(health).toEqual({
    state: 'quarantined',
    code: 'Quarantine',
    reason: 'EncounteredQuarantineException',
    error: ERROR,
    nextAttempt: '2026-03-03T10:00:05Z',
    since: '2026-03-01T10:00:05Z',
    failures: 4,
    disabled: false,
    lastSuccessfulRun: '2026-03-01T09:01:00Z',
  });
  expect(provisioningProblem(health)).toBe(
    'The provisioning job is in quarantine (EncounteredQuarantineException) since 2026-03-01T10:00:05Z: ' +
      'SystemForCrossDomainIdentityManagementCredentialValidationUnavailable: Token expired; next attempt 2026-03-03T10:00:05Z. ' +
      'Removals will not reach OCI until a retry succeeds (Entra then leaves quarantine by itself) or provisioning is restarted.',
  );
});

test('a failing job: the failures in a row, the last success and the error; a healthy job is no problem', () => {
  const failing = provisioningHealth(parseSyncJob(job(cases[2]![1])));
  expect(provisioningProblem(failing)).toBe(
    'The provisioning job is failing (2 cycle(s) in a row, last success 2026-03-01T09:01:00Z): ' +
      'SystemForCrossDomainIdentityManagementCredentialValidationUnavailable: Token expired. ' +
      'Removals will not reach OCI until a cycle succeeds; Entra quarantines a job that keeps failing.',
  );
  expect(provisioningProblem(provisioningHealth(parseSyncJob(job(cases[0]![1]))))).toBeNull();
});

test("Graph's text is printed: control and bidi characters are removed, wrong types become null", () => {
  const parsed = parseSyncJob(
    job({
      code: 'Quarantine',
      countSuccessiveCompleteFailures: -1,
      quarantine: {
        reason: 'Encountered\u001b[31mQuarantine\u202eException',
        seriesCount: 'many',
        nextAttempt: { not: 'a time' },
        error: { code: 'X\u0007', message: 'line\nbreak' },
      },
    }),
  );
  expect(parsed.successiveFailures).toBe(0);
  expect(parsed.quarantine).toMatchObject({
    reason: 'EncounteredQuarantineException',
    retriesFailed: null,
    nextAttempt: null,
  });
  expect(describeSyncError(parsed.quarantine!.error)).toBe('X: line break');
  expect(describeSyncError(null)).toBeNull();
  expect(describeSyncError({ code: null, message: 'Only a message.' })).toBe('Only a message');
});
