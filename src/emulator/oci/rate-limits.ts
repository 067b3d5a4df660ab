/**
 * The identity domain's API rate limits, per second and per minute by domain
 * type ("API Rate Limits", Oracle Cloud Infrastructure documentation,
 * https://docs.oracle.com/en-us/iaas/Content/Identity/sku/api-rate-limiting.htm).
 * The SCIM routes the emulator serves are in the table's "Others" group. Over
 * a limit the domain answers 429; no Retry-After is documented, so none is sent.
 */
import type { OciDomainType, World } from '../state.js';

/** "Others" row of the table: calls per second and per minute. */
export const OCI_RATE_LIMITS: Readonly<Record<OciDomainType, { perSecond: number; perMinute: number }>> = {
  free: { perSecond: 20, perMinute: 150 },
  oracleApps: { perSecond: 50, perMinute: 1500 },
  oracleAppsPremium: { perSecond: 55, perMinute: 1750 },
  premium: { perSecond: 90, perMinute: 5000 },
  externalUser: { perSecond: 80, perMinute: 4000 },
};

export function isOciDomainType(value: unknown): value is OciDomainType {
  return typeof value === 'string' && Object.hasOwn(OCI_RATE_LIMITS, value);
}

/**
 * Counts one call at virtual time `now`; false when it is over the domain's
 * per-second or per-minute limit (sliding windows; a refused call counts too,
 * as it does against a real front door, so hammering a throttled domain keeps it throttled).
 */
export function admitOciCall(world: World, now: number): boolean {
  const settings = world.oci;
  const limits = settings.limitsOverride ?? (settings.domainType ? OCI_RATE_LIMITS[settings.domainType] : undefined);
  if (!limits) return true;
  settings.rateWindows = settings.rateWindows.filter((at) => at > now - 60_000);
  const lastSecond = settings.rateWindows.filter((at) => at > now - 1_000).length;
  const lastMinute = settings.rateWindows.length;
  const admitted = lastSecond < limits.perSecond && lastMinute < limits.perMinute;
  if (admitted) settings.rateWindows.push(now);
  return admitted;
}
