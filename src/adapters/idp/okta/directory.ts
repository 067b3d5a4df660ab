/**
 * DirectoryPort over an Okta org (docs/okta.md): people by id or login
 * (Users API), the group's members (Groups API, Link paging), adding and
 * removing members, and the access records kept in custom profile attributes
 * (ociaccessRequests and ociaccessDecisions on users, ociaccessDecisions on
 * the group) instead of Graph open extensions.
 *
 * A signed-in person writes records only through `POST /users/me` (U3): Okta
 * lets a user change only attributes whose SELF permission is READ_WRITE, on
 * their own profile. A write to anyone else's record goes to
 * `POST /users/{id}` (U4), which Okta refuses without a user-admin role.
 */
import type {
  AddResult,
  DirectoryMember,
  DirectoryPort,
  DirectoryUser,
  OnDemandOutcome,
  Progress,
  ProvisioningJobStatus,
  RecordOwner,
  RecordPayload,
  RemoveResult,
} from '../../../core/ports.js';
import { DECISIONS_EXTENSION, REQUESTS_EXTENSION } from '../../../core/records.js';
import { limiter, type Limiter } from '../../../core/concurrent.js';
import { OciAccessError, UpstreamError, ExitCode } from '../../../errors.js';
import { OKTA_PERMISSION, OktaApi, type OktaApiOptions } from './api.js';
import { displayNameOf } from './session.js';
import { stripControls } from '../../../core/text.js';

/** Record extension name → custom profile attribute (docs/okta.md, Records in Okta). */
export const RECORD_ATTRIBUTE: Readonly<Record<string, string>> = {
  [REQUESTS_EXTENSION]: 'ociaccessRequests',
  [DECISIONS_EXTENSION]: 'ociaccessDecisions',
};

/** The page size docs/okta.md G3 recommends. */
const MEMBERS_PAGE = 200;

interface OktaUser {
  id?: unknown;
  status?: unknown;
  profile?: Record<string, unknown>;
}

export interface OktaDirectoryOptions extends OktaApiOptions {
  /** Removals in flight at once (removeGroupMembers). */
  concurrency: number;
}

export class OktaDirectory implements DirectoryPort {
  private readonly api: OktaApi;
  private meCache: Promise<DirectoryUser> | undefined;
  /**
   * Shared by all bulk work of this directory (the requests' and the decisions'
   * records are read side by side): together they keep `concurrency` calls in
   * flight at most, as Graph's batches do, and stay within Okta's rate limits.
   */
  private readonly bulkSlots: Limiter;

  constructor(private readonly options: OktaDirectoryOptions) {
    this.api = new OktaApi(options);
    this.bulkSlots = limiter(options.concurrency);
  }

  private async eachBounded<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
    await Promise.all(items.map((item) => this.bulkSlots.run(() => fn(item))));
  }

  me(): Promise<DirectoryUser> {
    this.meCache ??= this.api
      .call('GET', '/api/v1/users/me', 'read your own profile', OKTA_PERMISSION.self)
      .then((answer) => {
        const user = answer.status === 200 ? toUser(answer.body as OktaUser) : null;
        if (!user) throw this.api.failure('read your own profile', OKTA_PERMISSION.self, answer);
        return user;
      });
    this.meCache.catch(() => (this.meCache = undefined));
    return this.meCache;
  }

  /** Okta's Date header on an answer about oneself: the service's clock, whole seconds. */
  async serviceTime(): Promise<Date> {
    const answer = await this.api.call('GET', '/api/v1/users/me', 'read the time of Okta', OKTA_PERMISSION.self);
    const date = Date.parse(answer.headers.get('date') ?? '');
    if (Number.isNaN(date))
      throw new UpstreamError('OKTA_ERROR', 'Okta answered without a Date header, so its time cannot be read.', {
        hint: 'Check idp.orgUrl and any proxy in between (one may strip the header).',
      });
    return new Date(date);
  }

  async getUser(idOrLogin: string): Promise<DirectoryUser | null> {
    const answer = await this.api.call(
      'GET',
      `/api/v1/users/${encodeURIComponent(idOrLogin)}`,
      `read the user ${idOrLogin}`,
      OKTA_PERMISSION.users,
    );
    return answer.status === 404 ? null : toUser(answer.body as OktaUser);
  }

  async getUsers(idsOrLogins: string[]): Promise<Map<string, DirectoryUser>> {
    const found = new Map<string, DirectoryUser>();
    await this.eachBounded(idsOrLogins, async (key) => {
      const user = await this.getUser(key);
      if (user) found.set(key, user);
    });
    return found;
  }

  /** Okta groups hold only users (G3). */
  async listGroupMembers(groupId: string): Promise<DirectoryMember[]> {
    const users = await this.api.list<OktaUser>(
      `/api/v1/groups/${encodeURIComponent(groupId)}/users?limit=${MEMBERS_PAGE}`,
      "list the group's members",
      OKTA_PERMISSION.groups,
    );
    return users.flatMap((user) => {
      const member = toUser(user);
      return member ? [{ ...member, kind: 'user' as const }] : [];
    });
  }

  /**
   * G4 answers 204 whether or not the user was a member: the members are read first, so the
   * answer says which (a member added between the two reads counts as added).
   */
  async addGroupMember(groupId: string, userId: string): Promise<AddResult> {
    const before = await this.isMember(groupId, userId);
    const answer = await this.api.call(
      'PUT',
      `/api/v1/groups/${encodeURIComponent(groupId)}/users/${encodeURIComponent(userId)}`,
      'add the member to the group',
      OKTA_PERMISSION.members,
    );
    if (answer.status === 404) throw groupOrUserNotFound(groupId, userId, 'added to');
    return before ? 'already-member' : 'added';
  }

  async removeGroupMember(groupId: string, userId: string): Promise<RemoveResult> {
    const before = await this.isMember(groupId, userId);
    return this.remove(groupId, userId, before);
  }

  async removeGroupMembers(
    groupId: string,
    userIds: string[],
    onProgress?: Progress,
  ): Promise<Map<string, RemoveResult | Error>> {
    const results = new Map<string, RemoveResult | Error>();
    if (userIds.length === 0) return results;
    // One read of the members for all of them (not one per user).
    let members: Set<string>;
    try {
      members = new Set((await this.listGroupMembers(groupId)).map((member) => member.id));
    } catch (error) {
      for (const userId of userIds) results.set(userId, error as Error);
      return results;
    }
    await this.eachBounded(userIds, async (userId) => {
      try {
        results.set(userId, await this.remove(groupId, userId, members.has(userId)));
      } catch (error) {
        results.set(userId, error as Error);
      }
      onProgress?.(results.size);
    });
    return results;
  }

  async readRecord(owner: RecordOwner, extensionName: string): Promise<RecordPayload | null> {
    const attribute = attributeFor(extensionName);
    const answer = await this.api.call(
      'GET',
      ownerPath(owner),
      'read an access record',
      owner.kind === 'group' ? OKTA_PERMISSION.groups : OKTA_PERMISSION.users,
    );
    if (answer.status === 404) return null;
    return decodeAttribute((answer.body as OktaUser)?.profile?.[attribute]);
  }

  async readRecords(
    owners: RecordOwner[],
    extensionName: string,
    onProgress?: Progress,
  ): Promise<Map<string, RecordPayload | null>> {
    const results = new Map<string, RecordPayload | null>();
    await this.eachBounded(owners, async (owner) => {
      results.set(owner.id, await this.readRecord(owner, extensionName));
      onProgress?.(results.size);
    });
    return results;
  }

  async writeRecord(owner: RecordOwner, extensionName: string, payload: RecordPayload): Promise<void> {
    const attribute = attributeFor(extensionName);
    const value = encodeAttribute(payload);
    if (owner.kind === 'group') {
      // G6 replaces the whole group profile: what is there is sent back with the record changed.
      const path = ownerPath(owner);
      const current = await this.api.call('GET', path, 'read the group', OKTA_PERMISSION.groups);
      if (current.status === 404) throw groupOrUserNotFound(owner.id, '', 'written');
      const profile = { ...((current.body as OktaUser)?.profile ?? {}), [attribute]: value };
      const answer = await this.api.call('PUT', path, "write the group's access record", OKTA_PERMISSION.groupWrite, {
        profile,
      });
      if (answer.status === 404) throw groupOrUserNotFound(owner.id, '', 'written');
      return;
    }
    // A person writes their own profile through /users/me (U3); anything else is an admin's write (U4).
    const self = this.options.identity === 'user' && (await this.isMe(owner.id));
    const path = self ? '/api/v1/users/me' : ownerPath(owner);
    const answer = await this.api.call(
      'POST',
      path,
      'write an access record',
      self ? OKTA_PERMISSION.selfWrite : OKTA_PERMISSION.usersWrite,
      { profile: { [attribute]: value } },
    );
    if (answer.status === 404)
      throw new UpstreamError('OKTA_ERROR', `Okta has no user ${owner.id} to write an access record on.`, {
        details: { status: 404 },
      });
  }

  /**
   * Okta's Push Groups carries a membership change to OCI by itself, within seconds, and Okta offers
   * no call to push now: nothing to ask, so every user is reported as done (docs/architecture.md).
   */
  async provisionOnDemand(_groupId: string, userIds: string[]): Promise<OnDemandOutcome[]> {
    return userIds.map((userId) => ({ userId, result: 'Success', errorCode: null, reason: null }));
  }

  /** Push Groups has no SCIM job to read: no provisioning health to report. */
  async provisioningJob(): Promise<ProvisioningJobStatus | null> {
    return null;
  }

  private async isMe(idOrLogin: string): Promise<boolean> {
    const me = await this.me();
    return idOrLogin === me.id || idOrLogin.toLowerCase() === me.userPrincipalName.toLowerCase();
  }

  private async isMember(groupId: string, userId: string): Promise<boolean> {
    return (await this.listGroupMembers(groupId)).some((member) => member.id === userId);
  }

  private async remove(groupId: string, userId: string, wasMember: boolean): Promise<RemoveResult> {
    const answer = await this.api.call(
      'DELETE',
      `/api/v1/groups/${encodeURIComponent(groupId)}/users/${encodeURIComponent(userId)}`,
      'remove the member from the group',
      OKTA_PERMISSION.members,
    );
    // G5: 404 is an unknown group or user; an unknown user is no member.
    if (answer.status === 404) {
      if (!wasMember && (await this.groupExists(groupId))) return 'not-member';
      throw groupOrUserNotFound(groupId, userId, 'removed from');
    }
    return wasMember ? 'removed' : 'not-member';
  }

  private async groupExists(groupId: string): Promise<boolean> {
    const answer = await this.api.call(
      'GET',
      `/api/v1/groups/${encodeURIComponent(groupId)}`,
      'read the group',
      OKTA_PERMISSION.groups,
    );
    return answer.status !== 404;
  }
}

function ownerPath(owner: RecordOwner): string {
  return owner.kind === 'group'
    ? `/api/v1/groups/${encodeURIComponent(owner.id)}`
    : `/api/v1/users/${encodeURIComponent(owner.id)}`;
}

function attributeFor(extensionName: string): string {
  const attribute = RECORD_ATTRIBUTE[extensionName];
  if (!attribute) throw new Error(`No Okta profile attribute holds the record ${extensionName}.`);
  return attribute;
}

function toUser(user: OktaUser | undefined): DirectoryUser | null {
  const profile = user?.profile ?? {};
  if (typeof user?.id !== 'string' || typeof profile.login !== 'string') return null;
  return { id: user.id, userPrincipalName: profile.login, displayName: displayNameOf(profile) };
}

/**
 * The attribute's JSON text, `{"v":1,"records":[…]}` (docs/okta.md): the core's payload keeps its
 * records as a JSON string (Graph's extension property), turned into the array in the attribute.
 */
export function encodeAttribute(payload: RecordPayload): string {
  const records = payload.records;
  let array: unknown = records;
  if (typeof records === 'string') {
    try {
      array = JSON.parse(records);
    } catch {
      array = records;
    }
  }
  return JSON.stringify({ ...payload, records: array });
}

/** The payload the core's codec reads, or null for an absent or empty attribute; anything else is left to it to judge. */
export function decodeAttribute(value: unknown): RecordPayload | null {
  if (value === undefined || value === null || value === '') return null;
  // Not the string the schema declares: handed on as text, for the codec to judge (and refuse).
  if (typeof value !== 'string') return { v: 1, records: JSON.stringify(value) };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return { v: 1, records: value };
  const payload = { ...(parsed as RecordPayload) };
  if (Array.isArray(payload.records)) payload.records = JSON.stringify(payload.records);
  return payload;
}

function groupOrUserNotFound(groupId: string, userId: string, how: string): OciAccessError {
  return new OciAccessError(
    'OKTA_GROUP_NOT_FOUND',
    ExitCode.refused,
    `Okta has no group ${stripControls(groupId)}${userId ? ` or no user ${stripControls(userId)}` : ''}, so nothing was ${how} it.`,
    { hint: 'Check groups[].oktaGroupId in the config; the group may have been deleted.' },
  );
}
