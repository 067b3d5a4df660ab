/**
 * Okta's rate limits: every answer carries X-Rate-Limit-Limit, -Remaining and
 * -Reset (UTC epoch seconds when the window resets), and a call over the
 * budget gets 429 with E0000047 (docs/okta.md, "Rate limits"). Windows are one
 * minute on the virtual clock, one per endpoint group; Okta's numbers vary per
 * org and plan, these are the emulator's (a control route lowers them).
 */
import type { EmuRequest, EmuResponse, EmulatorApi, Handler, Route } from '../http.js';
import { route } from '../http.js';
import { tooManyRequests } from './errors.js';

/** Endpoint groups and their per-minute budgets (the emulator's choice of numbers). */
export const RATE_LIMIT_BUCKETS: Readonly<Record<string, number>> = {
  'oauth2/v1/token': 600,
  'oauth2/v1/device/authorize': 600,
  'oauth2/v1/other': 600,
  'api/v1/users': 600,
  'api/v1/users/me': 600,
  'api/v1/users/{id}': 600,
  'api/v1/groups': 500,
  'api/v1/groups/{id}': 1000,
  'api/v1/meta/schemas': 300,
  'api/v1/apps': 500,
};

const WINDOW_MS = 60_000;

function limitOf(emu: EmulatorApi, bucket: string): number {
  return emu.world.okta.rateLimitOverrides.get(bucket) ?? RATE_LIMIT_BUCKETS[bucket] ?? 600;
}

/** Counts one call against the bucket; the headers to send, and whether the budget was already spent. */
function take(emu: EmulatorApi, bucket: string): { headers: Record<string, string>; refused: boolean } {
  const now = emu.world.now();
  const windowStart = Math.floor(now / WINDOW_MS) * WINDOW_MS;
  const windows = emu.world.okta.rateWindows;
  let window = windows.get(bucket);
  if (!window || window.windowStart !== windowStart) {
    window = { windowStart, used: 0 };
    windows.set(bucket, window);
  }
  const limit = limitOf(emu, bucket);
  const refused = window.used >= limit;
  if (!refused) window.used += 1;
  return {
    refused,
    headers: {
      'x-rate-limit-limit': String(limit),
      'x-rate-limit-remaining': String(Math.max(0, limit - window.used)),
      'x-rate-limit-reset': String(Math.floor((windowStart + WINDOW_MS) / 1000)),
    },
  };
}

/** An Okta route whose answers, whatever they are, count against `bucket` and carry its headers. */
export function oktaRoute(method: string, pattern: RegExp, bucket: string, handler: Handler): Route {
  return route('okta', method, pattern, async (req: EmuRequest, emu: EmulatorApi): Promise<EmuResponse> => {
    const { headers, refused } = take(emu, bucket);
    if (refused) return tooManyRequests(headers);
    const response = await handler(req, emu);
    return { ...response, headers: { ...(response.headers ?? {}), ...headers } };
  });
}

/** Sets a bucket's budget (or every bucket's, without one); null puts the defaults back. */
export function setRateLimit(emu: EmulatorApi, limit: number | null, bucket?: string): void {
  const overrides = emu.world.okta.rateLimitOverrides;
  const buckets = bucket ? [bucket] : Object.keys(RATE_LIMIT_BUCKETS);
  for (const name of buckets) {
    if (limit === null) overrides.delete(name);
    else overrides.set(name, limit);
  }
  if (limit === null && !bucket) emu.world.okta.rateWindows.clear();
}
