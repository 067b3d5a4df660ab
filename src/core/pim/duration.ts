/**
 * ISO 8601 durations as PIM uses them (`PT2H`, `PT1H30M`, `P1D`): hours in
 * the core, text on the wire. Only days, hours, minutes and seconds: PIM's
 * policies and schedules never use years or months.
 */

const PATTERN = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Hours in an ISO 8601 duration, or undefined when it is not one we read. */
export function hoursOfDuration(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const match = PATTERN.exec(text.trim().toUpperCase());
  if (!match || text.trim().toUpperCase() === 'P' || /T$/.test(text.trim())) return undefined;
  const [, d, h, m, s] = match.map((part) => (part === undefined ? 0 : Number(part)));
  return d! * 24 + h! + m! / 60 + s! / 3600;
}

/** `hours` as PT{H}H, or PT{H}H{M}M for a part hour (to the minute, as requests are asked). */
export function durationOfHours(hours: number): string {
  const minutes = Math.round(hours * 60);
  const whole = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (rest === 0) return `PT${whole}H`;
  return whole === 0 ? `PT${rest}M` : `PT${whole}H${rest}M`;
}
