/**
 * DirectoryPort over Microsoft Graph v1.0 with the official graph client.
 * Whole requests are retried by GraphRetryHandler (429/503/504, retry.ts);
 * batch items by runBatched; both with the one backoff helper (../http/retry.ts). Graph's quirks are absorbed here:
 * "already a member" (400) and "not a member" (404) are successes.
 */
import { GraphError, ResponseType, type Client } from '@microsoft/microsoft-graph-client';
import { createGraphClient } from './client.js';
import { checkedGraphLink, graphOriginOf } from './links.js';
import { typedErrorOf } from './transport.js';
import type { HttpConnections } from '../http/tls.js';
import type { Clock } from '../../context.js';
import { AuthError, DeadlineError, ExitCode, UpstreamError, OciAccessError } from '../../errors.js';
import type {
  AddResult,
  DirectoryMember,
  DirectoryPort,
  DirectoryUser,
  MemberKind,
  OnDemandOutcome,
  Progress,
  ProvisioningJobStatus,
  RecordOwner,
  RecordPayload,
  RemoveResult,
} from '../../core/ports.js';
import { runBatched, type BatchItemRequest, type BatchItemResponse } from './batch.js';
import { limiter, type Limiter } from '../../core/concurrent.js';
import { parseSyncJob } from './sync-job.js';
import { stripControls } from '../../core/text.js';

export interface GraphDirectoryOptions {
  graphBaseUrl: string;
  /** Returns a bearer token; forceRefresh after a 401 (e.g. a token revoked or expired early). */
  getToken: (forceRefresh: boolean) => Promise<string>;
  connections?: HttpConnections;
  clock: Clock;
  /** The identity the calls run as, for error hints: 'user' (delegated) or 'app'. */
  identity: 'user' | 'app';
  concurrency?: number;
  /** Use $batch for bulk reads and removals (off = one request at a time, for comparison). */
  batching?: boolean;
  provisioning?: { servicePrincipalId: string; jobId: string; ruleId?: string };
  /** Counts every HTTP call made (benchmarks and tests read it). */
  onRequest?: (method: string, url: string, status: number) => void;
  /** Redacted trace lines for --debug. */
  trace?: (line: string) => void;
  /** Aborted when the command is over: retries still waiting give up (see GraphRetryOptions.stop). */
  stop?: AbortSignal;
}

/** Maps an API's own error answer to a typed error; undefined when it is not one of its own. */
export type GraphErrorMapper = (status: number, code: string, message: string) => OciAccessError | undefined;

export interface GraphCallSpec {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  body?: unknown;
  /** What was being done, for messages ("submit the PIM request"). */
  what: string;
  /** The least permission that allows the call, named when Graph refuses it. */
  permission: string;
  mapOwnError?: GraphErrorMapper;
}

const USER_FIELDS = 'id,userPrincipalName,displayName';
/** provisionOnDemand: at most 5 members a call and 5 calls per 10 seconds. */
const POD_MEMBERS_PER_CALL = 5;
const POD_CALLS_PER_WINDOW = 5;
const POD_WINDOW_MS = 10_000;

const PERMISSION_FOR: Record<string, string> = {
  members: 'GroupMember.ReadWrite.All',
  membersRead: 'GroupMember.Read.All',
  users: 'User.Read.All',
  records: 'User.ReadWrite (own record) / User.Read.All (others)',
  groupRecords: 'Group.ReadWrite.All',
  sync: 'Synchronization.ReadWrite.All',
};

/**
 * What else changing a membership takes (group-post-members, group-delete-members): a signed-in
 * user must own the group or hold a role such as Groups Administrator; a role-assignable group
 * (isAssignableToRole) also needs RoleManagement.ReadWrite.Directory, and a signed-in user the
 * Privileged Role Administrator role.
 */
function membershipRights(identity: 'user' | 'app'): string {
  return identity === 'user'
    ? ' and must own the group (or be a Groups Administrator); a role-assignable group also needs RoleManagement.ReadWrite.Directory and the Privileged Role Administrator role'
    : '; a role-assignable group also needs RoleManagement.ReadWrite.Directory';
}

/** A missed deadline, naming Graph and what was being done (as every other "unavailable" error does). */
function graphDeadline(what: string, error: DeadlineError): DeadlineError {
  return new DeadlineError(`Microsoft Graph gave no complete answer while trying to ${what}: ${error.message}`, {
    cause: error,
  });
}

/**
 * Names are cleaned of control characters and bidi controls here, where they
 * enter (they are printed, logged and compared); the id is not: it is what
 * every later call and record names, and Graph's ids are GUIDs.
 */
function toUser(raw: any): DirectoryUser {
  return {
    id: String(raw.id),
    userPrincipalName: stripControls(String(raw.userPrincipalName ?? '')),
    displayName: stripControls(String(raw.displayName ?? '')),
  };
}

/**
 * The result of a provisionOnDemand answer: a 200 whose `key` (and `value`)
 * are JSON strings, `key` holding {result, details:{errorCode, errorMessage}}
 * and `value` a statusInfo. A result that cannot be read is Unknown: not done.
 */
export function onDemandResultOf(answer: unknown): Omit<OnDemandOutcome, 'userId'> {
  const parse = (text: unknown): any => {
    if (typeof text !== 'string') return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  const key = parse((answer as { key?: unknown } | null)?.key);
  const value = parse((answer as { value?: unknown } | null)?.value);
  const raw = key?.result ?? value?.statusInfo?.status;
  const result = raw === 'Success' || raw === 'Skipped' || raw === 'Failure' ? raw : 'Unknown';
  const text = (v: unknown) => (typeof v === 'string' && v ? stripControls(v) : null);
  return {
    result,
    errorCode: text(key?.details?.errorCode ?? value?.statusInfo?.errorCode),
    reason:
      text(key?.details?.errorMessage ?? value?.statusInfo?.reason) ??
      (result === 'Unknown' ? 'the answer held no readable result' : null),
  };
}

/** Graph's error code and message as we quote them in our own errors: one line, no control characters. */
function cleanGraphError(code: string, message: string): { code: string; message: string } {
  return { code: stripControls(code), message: stripControls(message) };
}

const KIND_OF_TYPE: Record<string, MemberKind> = {
  '#microsoft.graph.user': 'user',
  '#microsoft.graph.group': 'group',
  '#microsoft.graph.servicePrincipal': 'servicePrincipal',
  '#microsoft.graph.device': 'device',
};

/**
 * A member as `/members` returns it. Without the permission to read a kind (Application.Read.All
 * for service principals, Device.Read.All for devices, a user-read permission for users) Graph
 * returns its `@odata.type` and `id` only, other properties null. An answer without a type is
 * not taken for a user: it is 'other', which the sweep removes like any non-user.
 */
function toMember(raw: any): DirectoryMember {
  const type = typeof raw?.['@odata.type'] === 'string' ? raw['@odata.type'].replace(/^#?/, '#') : '';
  const kind = KIND_OF_TYPE[type] ?? 'other';
  const member = toUser(raw);
  return { ...member, userPrincipalName: kind === 'user' ? member.userPrincipalName : '', kind };
}

function ownerPath(owner: RecordOwner): string {
  return `/${owner.kind === 'user' ? 'users' : 'groups'}/${encodeURIComponent(owner.id)}`;
}

function graphCodeOf(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof GraphError) {
    // No HTTP answer at all (connection refused or reset, timed out): the SDK says -1 and
    // keeps only the network error's message or stack. That is "unavailable", not an answer.
    if (error.statusCode <= 0)
      return { status: 0, ...cleanGraphError('', error.message || error.stack?.split('\n')[0] || 'no answer') };
    return { status: error.statusCode, ...cleanGraphError(error.code ?? '', error.message) };
  }
  const anyError = error as { statusCode?: number; code?: string; message?: string };
  return {
    status: anyError?.statusCode ?? 0,
    ...cleanGraphError(String(anyError?.code ?? ''), String(anyError?.message ?? error)),
  };
}

export class GraphDirectory implements DirectoryPort {
  private readonly client: Client;
  private readonly options: GraphDirectoryOptions;
  private readonly podCalls: number[] = [];
  /** Shared by all bulk work of this directory ($batch calls, or single calls with --no-batch): bulk work running side by side still keeps `concurrency` calls in flight at most. */
  private readonly batchSlots: Limiter;
  private forceRefresh = false;
  /** The graph client wraps errors thrown by the token provider into a GraphError -1; the original is kept here. */
  private tokenError: unknown;

  constructor(options: GraphDirectoryOptions) {
    this.options = options;
    this.batchSlots = limiter(options.concurrency ?? 4);
    this.client = createGraphClient(
      options.graphBaseUrl,
      options.connections,
      async () => {
        const force = this.forceRefresh;
        this.forceRefresh = false;
        try {
          const token = await options.getToken(force);
          this.tokenError = undefined;
          return token;
        } catch (error) {
          this.tokenError = error;
          throw error;
        }
      },
      // Retries wait on the command's clock, as OCI's do (a watcher on virtual time waits virtually).
      { stop: options.stop, sleep: (ms) => options.clock.sleep(ms, options.stop) },
    );
  }

  /** Runs a call; after a 401 asks once for a fresh token, then maps errors to typed ones. */
  private async call<T>(
    what: string,
    permission: string,
    run: (client: Client) => Promise<T>,
    /** An API's own errors (PIM's policy refusals), mapped before the generic ones; undefined leaves them to mapError. */
    mapOwnError?: GraphErrorMapper,
  ): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await run(this.client);
      } catch (error) {
        // Ours, carried through the SDK: a refused link or redirect, an HTTP limit.
        const typed = typedErrorOf(error);
        // A missed deadline names the service and what was being done, as every other "unavailable" does.
        if (typed instanceof DeadlineError) throw graphDeadline(what, typed);
        if (typed) throw typed;
        if (this.tokenError !== undefined) {
          // Signing in failed (e.g. the session was revoked): that is the error, not Graph's wrapper of it.
          // Kept until a token is obtained again: calls running side by side all fail for this reason.
          throw this.tokenError;
        }
        const { status, code, message } = graphCodeOf(error);
        if (status === 401 && attempt === 1) {
          this.forceRefresh = true;
          continue;
        }
        throw mapOwnError?.(status, code, message) ?? this.mapError(what, permission, status, code, message, error);
      }
    }
  }

  private mapError(
    what: string,
    permission: string,
    status: number,
    code: string,
    message: string,
    cause: unknown,
  ): OciAccessError {
    if (status === 401) {
      return new AuthError(
        'SESSION_EXPIRED',
        `Microsoft Graph refused the sign-in while trying to ${what} (${code || 'HTTP 401'}).`,
        {
          hint:
            this.options.identity === 'user'
              ? 'Run `ociaccess login`.'
              : 'Check the automation credentials (client secret or certificate) in the config.',
          cause,
        },
      );
    }
    if (status === 403) {
      // Provisioning jobs and provision on demand also take an application-admin role from a signed-in user.
      const roles =
        /^Synchronization\./.test(permission) && this.options.identity === 'user'
          ? ' and the Application Administrator, Cloud Application Administrator or Hybrid Identity Administrator role'
          : '';
      return new AuthError(
        'PERMISSION_DENIED',
        `Microsoft Graph denied the permission to ${what}: ${message}${roles ? ` (a signed-in user needs ${permission}${roles})` : ''}`,
        {
          hint: `The ${this.options.identity === 'user' ? 'signed-in user' : 'automation app'} needs ${permission}${permission === PERMISSION_FOR.members ? membershipRights(this.options.identity) : ''}${roles}. Run \`ociaccess doctor\` to check every permission.`,
          cause,
        },
      );
    }
    const unreachable =
      status === 0 ? /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b/.exec(message)?.[1] : undefined;
    if (unreachable) {
      const host = new URL(this.options.graphBaseUrl).host;
      return new UpstreamError(
        'GRAPH_UNAVAILABLE',
        `Microsoft Graph at ${host} could not be reached while trying to ${what} (${unreachable === 'ECONNREFUSED' ? 'connection refused' : `${unreachable}: no such host or no route`}).`,
        {
          hint: 'Check the network and any proxy, and cloud.graphBaseUrl in the config.',
          cause,
        },
      );
    }
    if (status === 0 || status === 429 || status >= 500) {
      return new UpstreamError(
        'GRAPH_UNAVAILABLE',
        `Microsoft Graph did not answer successfully while trying to ${what} (${status || 'no answer'}: ${message}).`,
        {
          hint: 'Try again in a few minutes; Graph may be throttling or unavailable.',
          cause,
        },
      );
    }
    return new UpstreamError(
      'GRAPH_ERROR',
      `Microsoft Graph answered ${status} ${code} while trying to ${what}: ${message}`,
      {
        cause,
        details: { status, graphCode: code },
      },
    );
  }

  private note(method: string, url: string, status: number): void {
    this.options.onRequest?.(method, url, status);
    this.options.trace?.(`graph ${method} ${url} -> ${status}`);
  }

  private async get(url: string, what: string, permission: string): Promise<any> {
    return this.call(what, permission, async (client) => {
      try {
        const result = await client.api(url).get();
        this.note('GET', url, 200);
        return result;
      } catch (error) {
        this.note('GET', url, graphCodeOf(error).status);
        throw error;
      }
    });
  }

  /**
   * One Graph call for adapters of other Graph APIs (pim.ts) over this same
   * client: the same transport, retries, token refresh and error mapping, with
   * the API's own errors mapped first by `mapOwnError`. Resolves with the
   * answer's body (undefined for 204).
   */
  async send(spec: GraphCallSpec): Promise<any> {
    return this.call(
      spec.what,
      spec.permission,
      async (client) => {
        const request = client.api(spec.url);
        try {
          const body =
            spec.method === 'GET'
              ? await request.get()
              : spec.method === 'POST'
                ? await request.post(spec.body ?? {})
                : spec.method === 'PATCH'
                  ? await request.patch(spec.body ?? {})
                  : await request.delete();
          this.note(spec.method, spec.url, spec.method === 'GET' ? 200 : body === undefined ? 204 : 201);
          return body;
        } catch (error) {
          this.note(spec.method, spec.url, graphCodeOf(error).status);
          throw error;
        }
      },
      spec.mapOwnError,
    );
  }

  /** Every item of a paged Graph list (`value`, following @odata.nextLink to the Graph origin only). */
  async listAll(first: string, what: string, permission: string, mapOwnError?: GraphErrorMapper): Promise<any[]> {
    const items: any[] = [];
    const graphOrigin = graphOriginOf(this.options.graphBaseUrl);
    let url: string | undefined = first;
    for (let page = 0; url && page < 10_000; page += 1) {
      const body: any = await this.send({ method: 'GET', url, what, permission, mapOwnError });
      for (const raw of body?.value ?? []) items.push(raw);
      const next: unknown = body?.['@odata.nextLink'];
      url = next === undefined || next === null ? undefined : checkedGraphLink(next, graphOrigin);
    }
    return items;
  }

  async me(): Promise<DirectoryUser> {
    return toUser(await this.get(`/me?$select=${USER_FIELDS}`, 'read your user profile', 'User.Read'));
  }

  async serviceTime(): Promise<Date> {
    const url = '/me?$select=id';
    const response = await this.call('read the time of Microsoft Graph', 'User.Read', async (client) => {
      const raw = (await client.api(url).responseType(ResponseType.RAW).get()) as Response;
      this.note('GET', url, raw.status);
      if (!raw.ok) throw new GraphError(raw.status, `HTTP ${raw.status}`);
      return raw;
    });
    const date = Date.parse(response.headers.get('date') ?? '');
    if (!Number.isFinite(date)) {
      throw new UpstreamError(
        'GRAPH_ERROR',
        'Microsoft Graph answered without a valid Date header, so the time of a decision cannot be taken from it.',
        {
          hint: 'A proxy between this machine and Graph may strip the header; try from another network.',
        },
      );
    }
    return new Date(date);
  }

  async getUser(idOrUpn: string): Promise<DirectoryUser | null> {
    try {
      return toUser(
        await this.get(
          `/users/${encodeURIComponent(idOrUpn)}?$select=${USER_FIELDS}`,
          `read user ${idOrUpn}`,
          PERMISSION_FOR.users,
        ),
      );
    } catch (error) {
      if (error instanceof UpstreamError && error.details?.status === 404) return null;
      throw error;
    }
  }

  async getUsers(idsOrUpns: string[]): Promise<Map<string, DirectoryUser>> {
    const unique = [...new Set(idsOrUpns)];
    const found = new Map<string, DirectoryUser>();
    if (!this.batching) {
      const users = await this.oneByOne(unique, (key) => this.getUser(key));
      unique.forEach((key, index) => {
        const user = users[index];
        if (user) found.set(key, user);
      });
      return found;
    }
    const items: BatchItemRequest[] = unique.map((key, index) => ({
      id: String(index),
      method: 'GET',
      url: `/users/${encodeURIComponent(key)}?$select=${USER_FIELDS}`,
    }));
    const answers = await this.batch(items, 'read users', PERMISSION_FOR.users);
    unique.forEach((key, index) => {
      const answer = answers.get(String(index));
      if (answer && answer.status === 200) found.set(key, toUser(answer.body));
      else if (answer && answer.status !== 404) throw this.itemError(answer, `read user ${key}`, PERMISSION_FOR.users);
    });
    return found;
  }

  /**
   * Every direct member, of every kind: `/members` (not the `microsoft.graph.user` cast, which
   * hides nested groups, service principals and devices), each with its `@odata.type`. Graph v1.0
   * has a documented known issue: `/members` leaves service principals out. They are read from
   * the beta endpoint, as Microsoft's workaround says, side by side with the v1.0 list; a sweep
   * that could not read them fails rather than miss a member (deny by default).
   */
  async listGroupMembers(groupId: string): Promise<DirectoryMember[]> {
    const group = encodeURIComponent(groupId);
    const base = this.options.graphBaseUrl.replace(/\/+$/, '');
    const [members, servicePrincipals] = await Promise.all([
      this.listPaged(`/groups/${group}/members?$select=${USER_FIELDS}&$top=999`),
      this.listPaged(
        `${base}/beta/groups/${group}/members/microsoft.graph.servicePrincipal?$select=id,displayName&$top=999`,
      ),
    ]);
    const seen = new Set(members.map((member) => member.id));
    for (const sp of servicePrincipals) if (!seen.has(sp.id)) members.push({ ...sp, kind: 'servicePrincipal' });
    return members;
  }

  private async listPaged(first: string): Promise<DirectoryMember[]> {
    const members: DirectoryMember[] = [];
    let url: string | undefined = first;
    // Bounded: a group of 10 million members would need 10,000 pages.
    const graphOrigin = graphOriginOf(this.options.graphBaseUrl);
    for (let page = 0; url && page < 10_000; page += 1) {
      const body: any = await this.get(url, 'list the group members', PERMISSION_FOR.membersRead);
      for (const raw of body.value ?? []) members.push(toMember(raw));
      const next: unknown = body['@odata.nextLink'];
      // Followed only to the Graph origin (links.ts): the next call carries the bearer token.
      url = next === undefined || next === null ? undefined : checkedGraphLink(next, graphOrigin);
    }
    return members;
  }

  async addGroupMember(groupId: string, userId: string): Promise<AddResult> {
    const base = this.options.graphBaseUrl.replace(/\/+$/, '');
    const url = `/groups/${encodeURIComponent(groupId)}/members/$ref`;
    return this.call('add the member to the group', PERMISSION_FOR.members, async (client) => {
      try {
        await client.api(url).post({ '@odata.id': `${base}/v1.0/directoryObjects/${userId}` });
        this.note('POST', url, 204);
        return 'added';
      } catch (error) {
        const { status, message } = graphCodeOf(error);
        this.note('POST', url, status);
        if (status === 400 && /already exist/i.test(message)) return 'already-member';
        throw error;
      }
    });
  }

  async removeGroupMember(groupId: string, userId: string): Promise<RemoveResult> {
    const url = `/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(userId)}/$ref`;
    return this.call('remove the member from the group', PERMISSION_FOR.members, async (client) => {
      try {
        await client.api(url).delete();
        this.note('DELETE', url, 204);
        return 'removed';
      } catch (error) {
        const { status, message } = graphCodeOf(error);
        this.note('DELETE', url, status);
        if (status === 404) return removalNotFound(groupId, userId, message);
        throw error;
      }
    });
  }

  async removeGroupMembers(
    groupId: string,
    userIds: string[],
    onProgress?: Progress,
  ): Promise<Map<string, RemoveResult | Error>> {
    const results = new Map<string, RemoveResult | Error>();
    if (!this.batching) {
      await this.oneByOne(userIds, async (userId) => {
        try {
          results.set(userId, await this.removeGroupMember(groupId, userId));
        } catch (error) {
          results.set(userId, error as Error);
        }
        onProgress?.(results.size);
      });
      return results;
    }
    const items: BatchItemRequest[] = userIds.map((userId) => ({
      id: userId,
      method: 'DELETE',
      url: `/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(userId)}/$ref`,
    }));
    const answers = await this.batch(items, 'remove members', PERMISSION_FOR.members, onProgress);
    for (const userId of userIds) {
      const answer = answers.get(userId);
      if (!answer) results.set(userId, new UpstreamError('GRAPH_UNAVAILABLE', 'No answer for this removal.'));
      else if (answer.status === 204 || answer.status === 200) results.set(userId, 'removed');
      else if (answer.status === 404)
        results.set(userId, removalNotFoundOrError(groupId, userId, answer.body?.error?.message));
      else results.set(userId, this.itemError(answer, `remove member ${userId}`, PERMISSION_FOR.members));
    }
    return results;
  }

  async readRecord(owner: RecordOwner, extensionName: string): Promise<RecordPayload | null> {
    const url = `${ownerPath(owner)}/extensions/${encodeURIComponent(extensionName)}`;
    return this.call(
      'read an access record',
      owner.kind === 'group' ? 'Group.Read.All' : PERMISSION_FOR.records,
      async (client) => {
        try {
          const body = await client.api(url).get();
          this.note('GET', url, 200);
          return stripExtensionEnvelope(body);
        } catch (error) {
          const { status } = graphCodeOf(error);
          this.note('GET', url, status);
          if (status === 404) return null;
          throw error;
        }
      },
    );
  }

  async readRecords(
    owners: RecordOwner[],
    extensionName: string,
    onProgress?: Progress,
  ): Promise<Map<string, RecordPayload | null>> {
    const results = new Map<string, RecordPayload | null>();
    if (!this.batching) {
      await this.oneByOne(owners, async (owner) => {
        results.set(owner.id, await this.readRecord(owner, extensionName));
        onProgress?.(results.size);
      });
      return results;
    }
    const items: BatchItemRequest[] = owners.map((owner, index) => ({
      id: String(index),
      method: 'GET',
      url: `${ownerPath(owner)}/extensions/${encodeURIComponent(extensionName)}`,
    }));
    const answers = await this.batch(items, 'read access records', PERMISSION_FOR.users, onProgress);
    owners.forEach((owner, index) => {
      const answer = answers.get(String(index));
      if (answer?.status === 200) results.set(owner.id, stripExtensionEnvelope(answer.body));
      else if (answer?.status === 404) results.set(owner.id, null);
      else
        throw this.itemError(
          answer,
          `read the access record of ${owner.id}`,
          owner.kind === 'group' ? 'Group.Read.All' : PERMISSION_FOR.users,
        );
    });
    return results;
  }

  async writeRecord(owner: RecordOwner, extensionName: string, payload: RecordPayload): Promise<void> {
    const url = `${ownerPath(owner)}/extensions/${encodeURIComponent(extensionName)}`;
    const permission = owner.kind === 'group' ? PERMISSION_FOR.groupRecords : PERMISSION_FOR.records;
    await this.call('write an access record', permission, async (client) => {
      try {
        await client.api(url).patch({ '@odata.type': 'microsoft.graph.openTypeExtension', ...payload });
        this.note('PATCH', url, 204);
      } catch (error) {
        const { status } = graphCodeOf(error);
        this.note('PATCH', url, status);
        if (status !== 404) throw error;
        const createUrl = `${ownerPath(owner)}/extensions`;
        await client
          .api(createUrl)
          .post({ '@odata.type': 'microsoft.graph.openTypeExtension', extensionName, ...payload });
        this.note('POST', createUrl, 201);
      }
    });
  }

  async provisionOnDemand(groupId: string, userIds: string[]): Promise<OnDemandOutcome[]> {
    const provisioning = this.options.provisioning;
    if (!provisioning || userIds.length === 0) return [];
    const outcomes: OnDemandOutcome[] = [];
    for (let start = 0; start < userIds.length; start += POD_MEMBERS_PER_CALL) {
      await this.waitForProvisionOnDemandSlot();
      const chunk = userIds.slice(start, start + POD_MEMBERS_PER_CALL);
      const members = chunk.map((objectId) => ({ objectId, objectTypeName: 'User' }));
      const url = `/servicePrincipals/${provisioning.servicePrincipalId}/synchronization/jobs/${encodeURIComponent(provisioning.jobId)}/provisionOnDemand`;
      const body = {
        parameters: [
          {
            ruleId: provisioning.ruleId ?? '',
            subjects: [{ objectId: groupId, objectTypeName: 'Group', links: { members } }],
          },
        ],
      };
      const answer = await this.call('ask Entra to provision on demand', PERMISSION_FOR.sync, async (client) => {
        try {
          const response: unknown = await client.api(url).post(body);
          this.note('POST', url, 200);
          return response;
        } catch (error) {
          this.note('POST', url, graphCodeOf(error).status);
          throw error;
        }
      });
      const result = onDemandResultOf(answer);
      for (const userId of chunk) outcomes.push({ userId, ...result });
    }
    const notDone = outcomes.filter((outcome) => outcome.result !== 'Success');
    if (notDone.length > 0) {
      const said = [
        ...new Set(
          notDone.map(
            (o) =>
              `${o.result}${o.errorCode ? ` (${o.errorCode}${o.reason ? `: ${o.reason}` : ''})` : o.reason ? ` (${o.reason})` : ''}`,
          ),
        ),
      ].join('; ');
      throw new UpstreamError(
        'PROVISION_ON_DEMAND_INCOMPLETE',
        `Entra did not export ${notDone.length} of ${outcomes.length} user(s) on demand: ${said}.`,
        {
          hint: 'Their changes reach OCI at the next provisioning cycle (or not at all while the job fails): check the provisioning logs of the enterprise application; `ociaccess doctor` shows the job.',
          details: { outcomes },
        },
      );
    }
    return outcomes;
  }

  async provisioningJob(): Promise<ProvisioningJobStatus | null> {
    const provisioning = this.options.provisioning;
    if (!provisioning) return null;
    const body = await this.get(
      `/servicePrincipals/${provisioning.servicePrincipalId}/synchronization/jobs/${encodeURIComponent(provisioning.jobId)}`,
      'read the provisioning job',
      'Synchronization.Read.All',
    );
    // The job's status, reason and error are Graph's text, shown in sweep and doctor reports.
    return parseSyncJob(body, provisioning.jobId);
  }

  private get batching(): boolean {
    return this.options.batching !== false;
  }

  /** Client-side queue for provisionOnDemand's 5-calls-per-10-seconds limit. */
  private async waitForProvisionOnDemandSlot(): Promise<void> {
    for (;;) {
      const now = this.options.clock.now().getTime();
      while (this.podCalls.length && now - this.podCalls[0]! >= POD_WINDOW_MS) this.podCalls.shift();
      if (this.podCalls.length < POD_CALLS_PER_WINDOW) {
        this.podCalls.push(now);
        return;
      }
      await this.options.clock.sleep(POD_WINDOW_MS - (now - this.podCalls[0]!) + 10);
    }
  }

  /**
   * Bulk work without $batch (--no-batch): one call per item, in the same
   * slots $batch calls take, so `concurrency` bounds the calls in flight for
   * all bulk work together (--concurrency 1 --no-batch: one at a time). After
   * a failure the items not yet started are skipped, as a loop would stop.
   */
  private async oneByOne<T, R>(items: readonly T[], run: (item: T) => Promise<R>): Promise<(R | undefined)[]> {
    let failed = false;
    return Promise.all(
      items.map((item) =>
        this.batchSlots.run(async () => {
          if (failed) return undefined;
          try {
            return await run(item);
          } catch (error) {
            failed = true;
            throw error;
          }
        }),
      ),
    );
  }

  /** Items in $batch calls of 20, every call in the shared slots (which bound the calls in flight for all bulk work together). */
  private async batch(
    items: BatchItemRequest[],
    what: string,
    permission: string,
    onProgress?: Progress,
  ): Promise<Map<string, BatchItemResponse>> {
    let settled = 0;
    return runBatched(items, (chunk) => this.batchSlots.run(() => this.sendBatch(chunk, what, permission)), {
      concurrency: Number.POSITIVE_INFINITY,
      clock: this.options.clock,
      ...(onProgress ? { onResult: () => onProgress((settled += 1)) } : {}),
    });
  }

  /** One $batch call. Whole-call failures that are worth retrying come back as per-item 503s so runBatched retries them. */
  private async sendBatch(chunk: BatchItemRequest[], what: string, permission: string): Promise<BatchItemResponse[]> {
    const requests = chunk.map((item) => ({
      id: item.id,
      method: item.method,
      url: item.url,
      ...(item.body !== undefined
        ? { body: item.body, headers: { 'content-type': 'application/json', ...(item.headers ?? {}) } }
        : item.headers
          ? { headers: item.headers }
          : {}),
    }));
    try {
      const answer: any = await this.call(what, permission, async (client) => {
        try {
          const result = await client.api('/$batch').post({ requests });
          this.note('POST', '/$batch', 200);
          return result;
        } catch (error) {
          this.note('POST', '/$batch', graphCodeOf(error).status);
          throw error;
        }
      });
      const responses: BatchItemResponse[] = (answer?.responses ?? []).map((response: any) => ({
        id: String(response.id),
        status: Number(response.status),
        headers: lowerCaseKeys(response.headers ?? {}),
        body: response.body,
      }));
      for (const response of responses) {
        const item = chunk.find((candidate) => candidate.id === response.id);
        this.options.trace?.(
          `graph  batch item ${item?.method ?? '?'} ${item?.url ?? response.id} -> ${response.status}`,
        );
        // Items are HTTP requests too: count them with their status for the request tally.
      }
      return responses;
    } catch (error) {
      // Worth retrying as the items' own 503s: Graph unavailable, or a missed deadline (its code kept for the last word).
      if (error instanceof UpstreamError) {
        // A failed sign-in keeps its own code, so that the items' error is it, not "Graph did not answer".
        const code = error instanceof DeadlineError || error === this.tokenError ? error.code : 'BatchFailed';
        return chunk.map((item) => ({
          id: item.id,
          status: 503,
          headers: {},
          body: { error: { code, message: error.message } },
        }));
      }
      throw error;
    }
  }

  private itemError(answer: BatchItemResponse | undefined, what: string, permission: string): OciAccessError {
    const status = answer?.status ?? 0;
    const { code, message } = cleanGraphError(
      String(answer?.body?.error?.code ?? ''),
      String(answer?.body?.error?.message ?? 'no answer'),
    );
    if (code === 'HTTP_DEADLINE_EXCEEDED') return graphDeadline(what, new DeadlineError(message));
    if (this.tokenError instanceof OciAccessError && code === this.tokenError.code) return this.tokenError;
    return this.mapError(what, permission, status, code, message, undefined);
  }
}

/** Runs for every batch item (thousands in a sweep): a plain loop, as Object.fromEntries costs several times more. */
function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  const lowered: Record<string, string> = {};
  for (const key in headers) lowered[key.toLowerCase()] = String(headers[key]);
  return lowered;
}

/**
 * A 404 on DELETE /groups/{g}/members/{u}/$ref means "not a member" only when Graph's message
 * names the member (or names neither); "Resource '{g}' does not exist …" means the group is
 * not there, and that must never be reported as an already removed member.
 */
function removalNotFound(groupId: string, userId: string, message: string | undefined): RemoveResult {
  const result = removalNotFoundOrError(groupId, userId, message);
  if (result instanceof Error) throw result;
  return result;
}

function removalNotFoundOrError(
  groupId: string,
  userId: string,
  message: string | undefined,
): RemoveResult | OciAccessError {
  const text = (message ?? '').toLowerCase();
  const namesGroup = text.includes(groupId.toLowerCase());
  const namesMember = text.includes(userId.toLowerCase());
  if (!namesGroup || namesMember) return 'not-member';
  return new OciAccessError(
    'GRAPH_GROUP_NOT_FOUND',
    ExitCode.refused,
    `Microsoft Graph has no group ${groupId}, so member ${userId} was not removed from it.`,
    {
      hint: 'Check groups[].entraGroupId in the config (`ociaccess doctor` checks it); the group may have been deleted.',
    },
  );
}

/** An extension as Graph returns it carries @odata fields, id and extensionName beside the custom properties. */
function stripExtensionEnvelope(body: any): RecordPayload {
  const payload: RecordPayload = {};
  for (const [key, value] of Object.entries(body ?? {})) {
    if (key.startsWith('@odata') || key === 'id' || key === 'extensionName') continue;
    payload[key] = value;
  }
  return payload;
}
