/**
 * The watcher's health signal for supervisors (a Kubernetes liveness probe,
 * a monitoring check): a small JSON file rewritten on every wake-up. It says
 * only whether the watcher is active or standing by, when it last woke, and
 * how often it wakes: no names, ids or secrets.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../context.js';

export interface HealthNote {
  role: 'active' | 'standby';
  /** ISO 8601, the watcher's clock. */
  at: string;
  /** The watcher wakes at least this often: the file is stale after a few of them. */
  intervalMs: number;
}

export const HEALTH_FILE_NAME = 'watch.health';

/** Stale after three missed wake-ups and half a minute of slack (a slow sweep, a GC pause). */
export function staleAfterMs(intervalMs: number): number {
  return 3 * intervalMs + 30_000;
}

/** Replaces the file whole (write aside, then rename), so a reader never sees half of it. */
export async function writeHealth(file: string, clock: Clock, note: Omit<HealthNote, 'at'>): Promise<void> {
  const body: HealthNote = { role: note.role, at: clock.now().toISOString(), intervalMs: note.intervalMs };
  const aside = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}`);
  await fs.writeFile(aside, `${JSON.stringify(body)}\n`, { mode: 0o644 });
  await fs.rename(aside, file);
}

export type HealthVerdict =
  | { healthy: true; note: HealthNote; ageMs: number }
  | { healthy: false; why: 'missing' | 'unreadable' | 'stale'; note?: HealthNote; ageMs?: number };

function parseNote(raw: string): HealthNote | undefined {
  try {
    const value = JSON.parse(raw) as Partial<HealthNote>;
    const at = typeof value.at === 'string' ? Date.parse(value.at) : NaN;
    if ((value.role !== 'active' && value.role !== 'standby') || Number.isNaN(at)) return undefined;
    if (typeof value.intervalMs !== 'number' || !(value.intervalMs > 0)) return undefined;
    return { role: value.role, at: value.at!, intervalMs: value.intervalMs };
  } catch {
    return undefined;
  }
}

export async function readHealth(file: string, clock: Clock): Promise<HealthVerdict> {
  let raw: string;
  try {
    raw = await fs.readFile(file, 'utf8');
  } catch {
    return { healthy: false, why: 'missing' };
  }
  const note = parseNote(raw);
  if (!note) return { healthy: false, why: 'unreadable' };
  const ageMs = clock.now().getTime() - Date.parse(note.at);
  if (ageMs > staleAfterMs(note.intervalMs)) return { healthy: false, why: 'stale', note, ageMs };
  return { healthy: true, note, ageMs };
}
