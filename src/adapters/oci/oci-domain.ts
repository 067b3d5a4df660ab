/**
 * OciPort over the identity domain's SCIM API with the official SDK
 * (oci-identitydomains). The SDK does not URI-encode query values and its
 * retrier prints to stderr by itself, so filters are built carefully here and
 * retries are configured explicitly.
 */
import * as identitydomains from 'oci-identitydomains';
import { OciAccessError, UpstreamError } from '../../errors.js';
import type { OciPort, OciRemovalOutcome, OciUserRef } from '../../core/ports.js';
import {
  OCI_FAILURE_BACKOFF,
  OCI_THROTTLE_BACKOFF,
  backoffDelayMs,
  watchRetryAfter,
  type RetryAfterWatch,
} from '../http/retry.js';
import { limitErrorOf } from '../http/request.js';
import { domainHostOf, ociErrorOf } from './errors.js';
import type { HttpConnections } from '../http/tls.js';
import { mapLimit } from '../../core/concurrent.js';
import { createOciClient, isOciReadOnlyRefusal, ociReadOnlyError, type OciAccess } from './client.js';
import { stripControls } from '../../core/text.js';
import type { FileHost } from '../../file-safety.js';

export interface OciDomainOptions {
  domainUrl: string;
  configFile: string;
  profile: string;
  /** oci.access: with "read" (the default) every change is refused before it is sent. */
  access?: OciAccess;
  connections?: HttpConnections;
  onRequest?: (operation: string) => void;
  sleep: (ms: number) => Promise<void>;
  /** Aborted when the command is over: a retry still waiting gives up with the error it has. */
  stop?: AbortSignal;
  trace?: (line: string) => void;
  /** The machine's platform and uid: the OCI config and API key must be private (see createOciClient). */
  files?: FileHost;
}

/**
 * oci-common's retrier calls console.warn on every failed call, even ones it
 * does not retry (a 404 included), which would garble our stderr and break
 * --json consumers. Those lines (and only those) go to the --debug trace.
 */
const SDK_RETRIER_NOISE =
  /^(Request cannot be retried|All retry attempts have exhausted|Request failed with Exception)/;
let sdkTrace: ((line: string) => void) | undefined;
let consoleFiltered = false;
function filterSdkConsoleNoise(trace: ((line: string) => void) | undefined): void {
  sdkTrace = trace;
  if (consoleFiltered) return;
  consoleFiltered = true;
  // eslint-disable-next-line no-console
  const original = console.warn.bind(console);
  // eslint-disable-next-line no-console
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && SDK_RETRIER_NOISE.test(args[0]))
      sdkTrace?.(`oci sdk: ${args[0].split('\n')[0]}`);
    else original(...args);
  };
}

/** getGroup with attributes=members fails above this many members: page the members (at most this many a page). */
const GROUP_MEMBERS_INLINE_LIMIT = 10_000;
const PAGE_SIZE = 1000;
/** Pages read side by side after the first (OCI allows tens of requests per second per domain). */
const PAGE_CONCURRENCY = 4;
/** Remove operations in one PATCH at most; more members take more PATCHes. */
export const REMOVALS_PER_PATCH = 50;
const REMOVE_MEMBERS = 'remove members from the OCI group';

/** A PatchOp that only removes: one operation per member, each naming the member by value. */
export function removalPatch(userIds: string[]): identitydomains.models.PatchOp {
  return {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    operations: userIds.map((id) => ({
      op: identitydomains.models.Operations.Op.Remove,
      path: `members[value eq ${scimString(id)}]`,
    })),
  };
}

const isBadRequest = (error: unknown) => error instanceof UpstreamError && error.details?.status === 400;

/** SCIM string literal: quotes and backslashes escaped, so a user name cannot break out of the filter. */
export function scimString(value: string): string {
  const literal = `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  // The SDK puts query values into the URL as they are: characters that mean
  // something in a query string must be percent-encoded here.
  return literal.replace(/[%+&#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

export class OciDomain implements OciPort {
  private clientPromise: Promise<identitydomains.IdentityDomainsClient> | undefined;
  private readonly options: OciDomainOptions;
  /** Retry-After of 429/503 answers, which the SDK's errors do not carry. */
  private readonly retryAfter: RetryAfterWatch;

  constructor(options: OciDomainOptions) {
    this.options = options;
    this.retryAfter = watchRetryAfter(() => new Date().getTime());
    filterSdkConsoleNoise(options.trace);
  }

  private client(): Promise<identitydomains.IdentityDomainsClient> {
    this.clientPromise ??= (async () =>
      createOciClient({
        domainUrl: this.options.domainUrl,
        configFile: this.options.configFile,
        profile: this.options.profile,
        access: this.options.access,
        connections: this.options.connections,
        onAnswer: this.retryAfter.note,
        files: this.options.files,
      }))();
    return this.clientPromise;
  }

  /**
   * One SDK call, retried on throttling (429: long enough to outlast the
   * domain's one-minute window, OCI_THROTTLE_BACKOFF), server errors and lost
   * connections (a few quick attempts, OCI_FAILURE_BACKOFF); never before a
   * Retry-After the domain sent.
   */
  private async call<T>(
    operation: string,
    run: (client: identitydomains.IdentityDomainsClient) => Promise<T>,
  ): Promise<T> {
    const client = await this.client();
    for (let attempt = 1; ; attempt += 1) {
      this.options.onRequest?.(operation);
      try {
        return await run(client);
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode ?? 0;
        // An answer over the body cap would be as large the next time; a missed deadline is retried as a lost connection is.
        const retriable =
          (status === 429 || status === 0 || status >= 500) &&
          limitErrorOf(error)?.code !== 'HTTP_BODY_TOO_LARGE' &&
          !isOciReadOnlyRefusal(error);
        const delay =
          retriable && !(error instanceof OciAccessError)
            ? backoffDelayMs(
                status === 429 ? OCI_THROTTLE_BACKOFF : OCI_FAILURE_BACKOFF,
                attempt,
                this.retryAfter.waitMs(),
              )
            : undefined;
        if (delay === undefined) throw this.mapError(operation, error);
        await this.options.sleep(delay);
        if (this.options.stop?.aborted) throw this.mapError(operation, error);
      }
    }
  }

  private mapError(operation: string, error: unknown): Error {
    if (!(error instanceof OciAccessError) && isOciReadOnlyRefusal(error)) return ociReadOnlyError(operation);
    return ociErrorOf(
      operation,
      error,
      'Check the API key in the OCI config file and that its user may manage the identity domain (User Administrator or Identity Domain Administrator).',
      domainHostOf(this.options.domainUrl),
    );
  }

  async findUser(userName: string): Promise<OciUserRef | null> {
    const response = await this.call('find a user', (client) =>
      client.listUsers({ filter: `userName eq ${scimString(userName)}`, attributes: 'userName', count: 2 }),
    );
    const user = response.users?.resources?.[0];
    return user?.id ? { id: user.id, userName: stripControls(user.userName ?? userName) } : null;
  }

  async findGroup(displayName: string): Promise<{ id: string; displayName: string } | null> {
    const response = await this.call('find a group', (client) =>
      client.listGroups({ filter: `displayName eq ${scimString(displayName)}`, attributes: 'displayName', count: 2 }),
    );
    const group = response.groups?.resources?.[0];
    return group?.id ? { id: group.id, displayName: stripControls(group.displayName ?? displayName) } : null;
  }

  async groupMemberIds(groupId: string): Promise<Set<string>> {
    return new Set((await this.readMembers(groupId, false)).map((member) => member.id));
  }

  async groupMembers(groupId: string): Promise<OciUserRef[]> {
    return this.readMembers(groupId, true);
  }

  /**
   * One getGroup when the group is small enough to list its members inline
   * (their `name` is the user name). Above 10,000 members the domain refuses
   * (400) and documents paging the members themselves:
   * `attributes=members[startIndex=1%26count=10000]` (the SDK sends query
   * values as they are, hence the encoded "&"). Should a member come without
   * its name, the group's users are paged through Users instead.
   */
  private async readMembers(groupId: string, needNames: boolean): Promise<OciUserRef[]> {
    const named = (members: { value: string; name?: string }[]) =>
      !needNames || members.every((member) => typeof member.name === 'string' && member.name !== '');
    const refs = (members: { value: string; name?: string }[]) =>
      members.map((member) => ({ id: member.value, userName: stripControls(member.name ?? '') }));
    let members: identitydomains.models.GroupMembers[] | undefined;
    try {
      const response = await this.call('read the group members', (client) =>
        client.getGroup({ groupId, attributes: 'members' }),
      );
      members = response.group?.members ?? [];
    } catch (error) {
      if (!(error instanceof UpstreamError) || error.details?.status !== 400) throw error;
    }
    if (members === undefined) {
      members = [];
      // A domain may serve fewer members a page than asked: the next page starts after what came, and a
      // page shorter than the pages before it (or an empty one) is the last. Bounded: 10,000 pages.
      let served = 0;
      for (let startIndex = 1, page = 0; page < 10_000; page += 1) {
        const from = startIndex;
        const response = await this.call('page through the group members', (client) =>
          client.getGroup({ groupId, attributes: `members[startIndex=${from}%26count=${GROUP_MEMBERS_INLINE_LIMIT}]` }),
        );
        const chunk = response.group?.members ?? [];
        members.push(...chunk);
        if (chunk.length === 0 || chunk.length < served) break;
        served = Math.max(served, chunk.length);
        startIndex += chunk.length;
      }
    }
    if (named(members)) return refs(members);
    return this.membersThroughUsers(groupId);
  }

  /**
   * The group's users, by paging Users filtered on the group. The first page
   * says how many there are and how many a page the domain serves (it may be
   * fewer than asked); the rest are read a few at a time, and a page that
   * comes back short is continued from where it stopped.
   */
  private async membersThroughUsers(groupId: string): Promise<OciUserRef[]> {
    const page = async (startIndex: number) => {
      const response = await this.call('page through the group members', (client) =>
        client.listUsers({
          filter: `groups.value eq ${scimString(groupId)}`,
          attributes: 'userName',
          startIndex,
          count: PAGE_SIZE,
        }),
      );
      return { startIndex, users: response.users?.resources ?? [], total: response.users?.totalResults ?? 0 };
    };
    const first = await page(1);
    const step = first.users.length;
    const starts: number[] = [];
    for (let start = 1 + step; step > 0 && start <= first.total && starts.length < 10_000; start += step)
      starts.push(start);
    const planned = [first, ...(await mapLimit(starts, PAGE_CONCURRENCY, page))];
    const pages = [...planned];
    for (let index = 0; index < planned.length; index += 1) {
      const end = index + 1 < planned.length ? planned[index + 1]!.startIndex : first.total + 1;
      let reached = planned[index]!.startIndex + planned[index]!.users.length;
      // Bounded like the rest: at most 10,000 extra pages.
      for (let extra = 0; reached < end && extra < 10_000; extra += 1) {
        const more = await page(reached);
        if (more.users.length === 0) break;
        pages.push(more);
        reached += more.users.length;
      }
    }
    const byId = new Map<string, OciUserRef>();
    for (const { users } of pages) {
      for (const user of users)
        if (user.id) byId.set(user.id, { id: user.id, userName: stripControls(user.userName ?? '') });
    }
    return [...byId.values()];
  }

  async removeGroupMember(groupId: string, userId: string): Promise<void> {
    // Refused here, before any request (the client refuses too, below the SDK, should a write get past this).
    if ((this.options.access ?? 'read') !== 'write') throw ociReadOnlyError('remove the member from the OCI group');
    try {
      await this.call('remove the member from the OCI group', (client) =>
        client.patchGroup({
          groupId,
          patchOp: {
            schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
            operations: [
              { op: identitydomains.models.Operations.Op.Remove, path: `members[value eq ${scimString(userId)}]` },
            ],
          },
        }),
      );
    } catch (error) {
      // A remove whose filter matches no member is a 400 noTarget (RFC 7644 3.12); the SDK's error does not
      // keep the scimType, and a 400 can mean other things. Already removed only if the group, re-read, says so.
      if (!(error instanceof UpstreamError) || error.details?.status !== 400) throw error;
      if ((await this.groupMemberIds(groupId)).has(userId)) throw error;
    }
  }

  async removeGroupMembers(groupId: string, userIds: string[]): Promise<Map<string, OciRemovalOutcome>> {
    const ids = [...new Set(userIds)];
    const outcomes = new Map<string, OciRemovalOutcome>();
    if (ids.length === 0) return outcomes;
    if ((this.options.access ?? 'read') !== 'write') {
      const refusal = ociReadOnlyError(REMOVE_MEMBERS);
      for (const id of ids) outcomes.set(id, refusal);
      return outcomes;
    }
    const failures = new Map<string, Error>();
    for (let start = 0; start < ids.length; start += REMOVALS_PER_PATCH) {
      const chunk = ids.slice(start, start + REMOVALS_PER_PATCH);
      const error = await this.patchRemovals(groupId, chunk);
      if (error) for (const id of chunk) failures.set(id, error);
    }
    // Confirmed by what the group says now, not by the PATCH answers: a member SCIM removed meanwhile is gone too.
    let members: Set<string>;
    try {
      members = await this.groupMemberIds(groupId);
    } catch (error) {
      for (const id of ids) outcomes.set(id, failures.get(id) ?? (error as Error));
      return outcomes;
    }
    for (const id of ids) {
      if (!members.has(id)) outcomes.set(id, 'removed');
      else outcomes.set(id, failures.get(id) ?? stillListed());
    }
    return outcomes;
  }

  /**
   * One PATCH for these members. SCIM PATCH is atomic, so a 400 (noTarget: one
   * of them is no longer a member) removed nobody: the group is re-read and
   * the PATCH sent again for those it still lists. Returns the error that
   * stopped it, if any.
   */
  private async patchRemovals(groupId: string, chunk: string[]): Promise<Error | undefined> {
    let remaining = chunk;
    while (remaining.length > 0) {
      const members = remaining;
      try {
        await this.call(REMOVE_MEMBERS, (client) => client.patchGroup({ groupId, patchOp: removalPatch(members) }));
        return undefined;
      } catch (error) {
        if (!isBadRequest(error)) return error as Error;
        let listed: Set<string>;
        try {
          listed = await this.groupMemberIds(groupId);
        } catch (readError) {
          return readError as Error;
        }
        const still = members.filter((id) => listed.has(id));
        // Every one of them is still there: the 400 is about something else.
        if (still.length === members.length) return error as Error;
        remaining = still;
      }
    }
    return undefined;
  }
}

function stillListed(): UpstreamError {
  return new UpstreamError(
    'OCI_ERROR',
    'The OCI identity domain accepted the removal but still lists the member in the group.',
    { hint: 'The next sweep removes the member again; SCIM provisioning removes them too.' },
  );
}
