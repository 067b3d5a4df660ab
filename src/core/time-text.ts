/**
 * The one way a time is written for people: on a terminal relative and
 * absolute ("in 1h 12m (14:05 UTC)"), otherwise absolute UTC to the second
 * ("2026-11-03T14:05:00Z"); never milliseconds. The CLI's out.time and the
 * doctor's checks both write times through here.
 */

/** ISO 8601 UTC to the second: what piped output and messages show (no milliseconds). */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** "14:05 UTC" on the same UTC day as `now`, else "2026-11-03 14:05 UTC". */
export function clockTime(date: Date, now: Date): string {
  const iso = date.toISOString();
  const day = iso.slice(0, 10);
  return `${day === now.toISOString().slice(0, 10) ? '' : `${day} `}${iso.slice(11, 16)} UTC`;
}

/** "1h 12m", "3m", "45s", "2d 4h". */
export function formatDuration(ms: number): string {
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 60) return `${totalSeconds}s`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  if (totalMinutes < 60) return `${totalMinutes}m`;
  const hours = Math.floor(totalMinutes / 60);
  const minutes = totalMinutes % 60;
  if (hours < 48) return minutes ? `${hours}h ${minutes}m` : `${hours}h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days}d ${hours % 24}h` : `${days}d`;
}

/** A time for people: `relative` (a terminal) gives "in 1h 12m (14:05 UTC)" / "3m ago (…)", else isoSeconds; '-' for none. */
export function humanTime(when: Date | string | undefined, now: Date, relative: boolean): string {
  if (!when) return '-';
  const date = typeof when === 'string' ? new Date(when) : when;
  if (Number.isNaN(date.getTime())) return '-';
  if (!relative) return isoSeconds(date);
  const delta = date.getTime() - now.getTime();
  const ago = delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
  return `${ago} (${clockTime(date, now)})`;
}
