/** Proof in OCI: is the user (by user name = Entra UPN) a member of the group's OCI twin? */
import type { GroupConfig } from '../config/schema.js';
import type { CoreDeps } from './deps.js';
import type { OciPort } from './ports.js';
import { isOciAccessError, type OciAccessError } from '../errors.js';

export type OciMembership =
  | { state: 'member'; ociUserId: string; ociGroupId: string }
  | { state: 'not-member'; ociUserId: string; ociGroupId: string }
  /** Never provisioned to OCI (or deleted there): certainly not a member. */
  | { state: 'no-user'; ociGroupId: string }
  | { state: 'no-group' }
  /** This machine's config has no "oci" section (people's machines need no OCI key): OCI was not asked. */
  | { state: 'not-checked' }
  /** OCI was asked and failed (down, refused, misconfigured): what it holds is not known; an OciProblem says why. */
  | { state: 'unknown' };

export const NOT_CHECKED: OciMembership = { state: 'not-checked' };
export const UNKNOWN: OciMembership = { state: 'unknown' };

/** A group whose OCI twin could not be read, and the typed error that says why. */
export interface OciProblem {
  group: GroupConfig;
  error: OciAccessError;
}

/**
 * Runs one OCI read for `group`. A typed failure (OCI down, a refused key, a
 * missing key file) is added to `problems` and gives undefined, so that what
 * Entra said can still be shown; anything else is a bug and is thrown.
 */
export async function readOciOrProblem<T>(
  group: GroupConfig,
  problems: OciProblem[],
  read: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (!isOciAccessError(error)) throw error;
    problems.push({ group, error });
    return undefined;
  }
}

/** Whether this machine reads OCI at all (its config has an "oci" section). */
export const checksOci = (deps: Pick<CoreDeps, 'config'>): boolean => Boolean(deps.config.oci);

/** checkOciMembership through the deps' OCI port, or "not-checked" on a machine without an "oci" section. */
export async function ociMembershipFromHere(
  deps: Pick<CoreDeps, 'config' | 'oci'>,
  group: GroupConfig,
  userName: string,
): Promise<OciMembership> {
  if (!checksOci(deps)) return NOT_CHECKED;
  return checkOciMembership(await deps.oci(), group, userName);
}

export async function checkOciMembership(
  oci: OciPort,
  group: GroupConfig,
  userName: string,
  memberIds?: Set<string>,
): Promise<OciMembership> {
  const ociGroup = await oci.findGroup(group.ociGroupName);
  if (!ociGroup) return { state: 'no-group' };
  const user = await oci.findUser(userName);
  if (!user) return { state: 'no-user', ociGroupId: ociGroup.id };
  const members = memberIds ?? (await oci.groupMemberIds(ociGroup.id));
  return { state: members.has(user.id) ? 'member' : 'not-member', ociUserId: user.id, ociGroupId: ociGroup.id };
}

export const describeOci = (membership: OciMembership | undefined): string => {
  switch (membership?.state) {
    case 'member':
      return 'in OCI group';
    case 'not-member':
      return 'not in OCI group';
    case 'no-user':
      return 'no OCI user yet';
    case 'no-group':
      return 'OCI group missing';
    case 'not-checked':
      return 'not checked from this machine';
    case 'unknown':
      return 'unknown';
    default:
      return '-';
  }
};

/**
 * Many users' OCI membership from one read of the group (its members come
 * with their user names), instead of a user lookup per person: what `list`
 * needs for a whole group.
 */
export async function checkOciMemberships(
  oci: OciPort,
  group: GroupConfig,
  userNames: Iterable<string>,
): Promise<Map<string, OciMembership>> {
  const out = new Map<string, OciMembership>();
  const ociGroup = await oci.findGroup(group.ociGroupName);
  const byName = new Map(
    ociGroup ? (await oci.groupMembers(ociGroup.id)).map((m) => [m.userName.toLowerCase(), m.id]) : [],
  );
  for (const userName of userNames) {
    const id = byName.get(userName.toLowerCase());
    if (!ociGroup) out.set(userName, { state: 'no-group' });
    else if (id) out.set(userName, { state: 'member', ociUserId: id, ociGroupId: ociGroup.id });
    // Not in the group; whether the OCI user exists does not matter here (and would cost a lookup each).
    else out.set(userName, { state: 'not-member', ociUserId: '', ociGroupId: ociGroup.id });
  }
  return out;
}

/** Whether OCI agrees with the grant: the question `status` and `list` answer. */
export type OciSync = 'in-oci' | 'not-yet-in-oci' | 'pending-in-oci' | 'gone-from-oci' | 'oci-group-missing';

export function ociSyncOf(grantState: string, membership: OciMembership | undefined): OciSync | null {
  if (!membership || membership.state === 'not-checked' || membership.state === 'unknown') return null;
  if (membership.state === 'no-group') return 'oci-group-missing';
  const inOci = membership.state === 'member';
  if (grantState === 'approved') return inOci ? 'in-oci' : 'not-yet-in-oci';
  if (grantState === 'expired' || grantState === 'revoked') return inOci ? 'pending-in-oci' : 'gone-from-oci';
  return null;
}

/** Request states that never gave a grant: OCI says nothing about them (a membership there is another grant's). */
const GRANTLESS = new Set(['pending', 'denied', 'cancelled', 'timed-out', 'invalid']);

/** The OCI column of `status` and `list`: what OCI says, read against the grant ("-" for a request that gave none). */
export function describeOciFor(grantState: string, membership: OciMembership | undefined): string {
  if (GRANTLESS.has(grantState) && membership?.state !== 'no-group') return '-';
  switch (ociSyncOf(grantState, membership)) {
    // The grant is over: removed in Entra (or about to be, at the next sweep), and OCI has not caught up yet.
    case 'pending-in-oci':
      return 'ended, pending in OCI';
    case 'gone-from-oci':
      return 'gone from OCI';
    default:
      return describeOci(membership);
  }
}
