/**
 * The one reader of a synchronizationJob's status as Graph returns it
 * (synchronizationStatus, synchronizationTaskExecution,
 * synchronizationQuarantine, synchronizationError), for doctor and the sweep.
 * Every string is Graph's text, printed by both: control characters and bidi
 * controls are removed; anything missing or of the wrong type becomes null.
 */
import type { SyncError, SyncJobStatus } from '../../core/provisioning-health.js';
import { stripControls } from '../../core/text.js';

const text = (value: unknown): string | null =>
  value === undefined || value === null || typeof value === 'object' ? null : stripControls(String(value));

const count = (value: unknown): number | null => {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) && number >= 0 ? Math.floor(number) : null;
};

const record = (value: unknown): Record<string, unknown> | null =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;

function syncError(value: unknown): SyncError | null {
  const error = record(value);
  if (!error) return null;
  const parsed = { code: text(error.code), message: text(error.message) };
  return parsed.code || parsed.message ? parsed : null;
}

export function parseSyncJob(body: unknown, fallbackId: string | null = null): SyncJobStatus {
  const job = record(body) ?? {};
  const status = record(job.status) ?? {};
  const last = record(status.lastExecution);
  const quarantine = record(status.quarantine);
  return {
    id: text(job.id) ?? fallbackId,
    code: text(status.code) ?? 'NotConfigured',
    lastExecution: last ? { ended: text(last.timeEnded), state: text(last.state), error: syncError(last.error) } : null,
    lastSuccessfulRun: text(record(status.lastSuccessfulExecution)?.timeEnded),
    successiveFailures: count(status.countSuccessiveCompleteFailures) ?? 0,
    quarantine: quarantine
      ? {
          reason: text(quarantine.reason),
          since: text(quarantine.currentBegan),
          seriesBegan: text(quarantine.seriesBegan),
          retriesFailed: count(quarantine.seriesCount),
          nextAttempt: text(quarantine.nextAttempt),
          error: syncError(quarantine.error),
        }
      : null,
    interval: text(record(job.schedule)?.interval),
    scheduleState: text(record(job.schedule)?.state),
  };
}
