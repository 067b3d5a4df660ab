/**
 * A big tenant for benchmarks and scale tests, written straight into the
 * emulator's world (seeding thousands of members through the CLI would take
 * longer than the sweep being measured): N members of the temp group, each
 * provisioned to the OCI group, each holding one request and one approval.
 *
 * The records are exactly what the tool writes, within Graph's limits: a
 * requester's open extension holds their request; approvals live in the
 * approvers' own extensions, which hold ~2 KB each, so the approvals are
 * spread over as many approvers as that takes (about 12 per approver), all
 * configured as approvers of the group. That is the honest shape of a
 * 2,000-grant group under this design: the approver records, not the
 * requester records, are what limits how many grants one person can sign.
 */
import type { World, EntraUser } from '../emulator/state.js';
import { SEED } from '../emulator/seed.js';
import { createOciUser } from '../emulator/oci/domain.js';
import {
  DECISIONS_EXTENSION,
  RECORD_BYTE_BUDGET,
  REQUESTS_EXTENSION,
  encodeDecisions,
  encodeRequests,
  type AccessRequest,
  type Decision,
} from '../core/records.js';

const HOUR = 3600_000;
const ID_ALPHABET = '23456789abcdefghjkmnpqrstuvwxyz';

export interface ScaleGrant {
  /** Virtual ms; the approval is recorded at this time. */
  decidedAt: number;
  expiresAt: number;
}

export interface ScaleWorldOptions {
  /** Members of the temp group (in Entra and in OCI). */
  members: number;
  /** The grant member i holds; by default the first `expired` members hold expired grants and the rest live ones. */
  grant?: (index: number, now: number) => ScaleGrant | null;
  expired?: number;
  /** Users in the OCI group only, added "by hand in the console" (drift). */
  ociOnly?: number;
  /** Prefix of the generated user names (several seedings in one world need different ones). */
  prefix?: string;
}

export interface ScaleWorld {
  memberIds: string[];
  memberUpns: string[];
  approverUpns: string[];
  ociOnlyUserNames: string[];
  decisionsPerApprover: number;
}

/** Deterministic ids that look like Entra object ids. */
function objectId(kind: number, index: number): string {
  return `${(0xa0000000 + kind).toString(16)}-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

function requestIdOf(index: number): string {
  let id = '';
  let n = index + 31 ** 6;
  for (let i = 0; i < 8; i += 1) {
    id = ID_ALPHABET[n % ID_ALPHABET.length] + id;
    n = Math.floor(n / ID_ALPHABET.length);
  }
  return `r-${id}`;
}

function entraUser(id: string, upn: string, displayName: string): EntraUser {
  return {
    id,
    userPrincipalName: upn,
    displayName,
    mail: upn,
    accountEnabled: true,
    directoryRoles: new Set(),
    extensions: new Map(),
  };
}

const byteSize = (payload: unknown) => Buffer.byteLength(JSON.stringify(payload), 'utf8');

export function seedScaleWorld(world: World, options: ScaleWorldOptions): ScaleWorld {
  const now = world.now();
  const prefix = options.prefix ?? 'm';
  const kind = [...prefix].reduce((sum, c) => sum + c.charCodeAt(0), 0);
  const expired = options.expired ?? 0;
  const grantOf =
    options.grant ??
    ((index: number) =>
      index < expired
        ? { decidedAt: now - 3 * HOUR, expiresAt: now - HOUR }
        : { decidedAt: now - 30 * 60_000, expiresAt: now + 90 * 60_000 });
  const group = world.groups.get(SEED.tempGroupId);
  const ociGroup = world.ociGroupByName(SEED.tempGroupName);
  if (!group || !ociGroup) throw new Error('seedScaleWorld needs the default seed (the temp group in Entra and OCI)');
  const groupId = SEED.tempGroupId;

  const result: ScaleWorld = {
    memberIds: [],
    memberUpns: [],
    approverUpns: [],
    ociOnlyUserNames: [],
    decisionsPerApprover: 0,
  };
  const decisions: { approvals: Omit<Decision, 'approverId'>[] } = { approvals: [] };
  const width = String(options.members).length;
  for (let i = 0; i < options.members; i += 1) {
    const id = objectId(kind, i);
    const upn = `${prefix}${String(i).padStart(width, '0')}@${SEED.domain}`;
    const user = entraUser(id, upn, `Member ${prefix}${i}`);
    world.users.set(id, user);
    group.members.add(id);
    const oci = createOciUser(world, {
      userName: upn,
      displayName: user.displayName,
      externalId: id,
      createdBy: 'scim',
    });
    ociGroup.members.add(oci.id);
    result.memberIds.push(id);
    result.memberUpns.push(upn);
    const grant = grantOf(i, now);
    if (!grant) continue;
    // Rounded up: the recorded expiry, not decidedAt + hours, must be the bound that ends the grant.
    const hours = Math.ceil(((grant.expiresAt - grant.decidedAt) / HOUR) * 100) / 100;
    const request: AccessRequest = {
      id: requestIdOf(i),
      groupId,
      requesterId: id,
      hours,
      justification: 'bench',
      requestedAt: new Date(grant.decidedAt - 60_000),
    };
    user.extensions.set(REQUESTS_EXTENSION, {
      extensionName: REQUESTS_EXTENSION,
      creatorAppId: SEED.cliAppId,
      properties: encodeRequests([request], () => true, new Date(now)),
    });
    decisions.approvals.push({
      requestId: request.id,
      requesterId: id,
      groupId,
      kind: 'approved',
      decidedAt: new Date(grant.decidedAt),
      expiresAt: new Date(grant.expiresAt),
      hours,
    });
  }

  // As many approvals per approver record as fit in 2 KB (none may be dropped to make room).
  const fits = (count: number) => {
    const sample = decisions.approvals.slice(0, count).map((d) => ({ ...d, approverId: 'x' }));
    try {
      const payload = encodeDecisions(sample, new Date(now));
      return byteSize(payload) <= RECORD_BYTE_BUDGET && JSON.parse(String(payload.records)).length === sample.length;
    } catch {
      return false; // live approvals alone do not fit (RECORD_FULL)
    }
  };
  let perApprover = 16;
  while (perApprover > 1 && decisions.approvals.length >= perApprover && !fits(perApprover)) perApprover -= 1;
  result.decisionsPerApprover = perApprover;
  for (let start = 0, a = 0; start < decisions.approvals.length; start += perApprover, a += 1) {
    const id = objectId(kind + 1, a);
    const upn = `${prefix}-approver${String(a).padStart(4, '0')}@${SEED.domain}`;
    const approver = entraUser(id, upn, `Approver ${a}`);
    const mine = decisions.approvals.slice(start, start + perApprover).map((d) => ({ ...d, approverId: id }));
    approver.extensions.set(DECISIONS_EXTENSION, {
      extensionName: DECISIONS_EXTENSION,
      creatorAppId: SEED.cliAppId,
      properties: encodeDecisions(mine, new Date(now)),
    });
    world.users.set(id, approver);
    result.approverUpns.push(upn);
  }

  for (let i = 0; i < (options.ociOnly ?? 0); i += 1) {
    const userName = `${prefix}-handmade${i}@${SEED.domain}`;
    const oci = createOciUser(world, { userName, createdBy: 'console' });
    ociGroup.members.add(oci.id);
    result.ociOnlyUserNames.push(userName);
  }
  return result;
}
