/**
 * Read-only Graph calls for setting up and checking a tenant (`init`,
 * `doctor`): find a group by name, its nested groups, the groups assigned to
 * the OCI enterprise application, and the provisioning job's full status.
 * Kept apart from GraphDirectory (what the core uses day to day) so that
 * neither grows the other's concerns.
 *
 * Failures come back as GraphReadError with the HTTP status, because doctor
 * turns each one into a check result (403 → "needs permission X") rather
 * than stopping at the first.
 */
import { GraphError, type Client } from '@microsoft/microsoft-graph-client';
import { createGraphClient } from './client.js';
import { checkedGraphLink, graphOriginOf } from './links.js';
import { typedErrorOf } from './transport.js';
import type { HttpConnections } from '../http/tls.js';
import type { AppAssignment, NamedObject, SyncJobInfo } from '../../core/doctor.js';
import { stripControls } from '../../core/text.js';
import { parseSyncJob } from './sync-job.js';

export type { AppAssignment, NamedObject, SyncJobInfo };

export interface GraphInspectOptions {
  graphBaseUrl: string;
  getToken: () => Promise<string>;
  connections?: HttpConnections;
}

export class GraphReadError extends Error {
  readonly status: number;
  readonly code: string;
  /** Graph's code and message, cleaned of control characters: doctor prints them. */
  constructor(status: number, code: string, message: string) {
    super(stripControls(message));
    this.name = 'GraphReadError';
    this.status = status;
    this.code = stripControls(code);
  }
}

/** Names and states from Graph are printed by init and doctor: no control characters or bidi controls. */
const cleanName = (value: unknown): string => stripControls(String(value ?? ''));
const nameOrNull = (value: unknown): string | null =>
  value === undefined || value === null ? null : stripControls(String(value));

/** A single-quoted OData string literal. */
function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export class GraphInspector {
  private readonly client: Client;
  private readonly graphOrigin: string;

  constructor(options: GraphInspectOptions) {
    this.client = createGraphClient(options.graphBaseUrl, options.connections, options.getToken);
    this.graphOrigin = graphOriginOf(options.graphBaseUrl);
  }

  private async get(url: string): Promise<any> {
    try {
      return await this.client.api(url).get();
    } catch (error) {
      // Ours, carried through the SDK: a refused link or redirect, an HTTP limit.
      const typed = typedErrorOf(error);
      if (typed) throw typed;
      if (error instanceof GraphError) throw new GraphReadError(error.statusCode, error.code ?? '', error.message);
      const anyError = error as { statusCode?: number; code?: string; message?: string };
      throw new GraphReadError(
        anyError?.statusCode ?? 0,
        String(anyError?.code ?? ''),
        String(anyError?.message ?? error),
      );
    }
  }

  /** Every page of a collection (bounded). */
  private async all(url: string): Promise<any[]> {
    const items: any[] = [];
    let next: string | undefined = url;
    for (let page = 0; next && page < 100; page += 1) {
      const body: any = await this.get(next);
      items.push(...(body?.value ?? []));
      const link: unknown = body?.['@odata.nextLink'];
      // Followed only to the Graph origin (links.ts): the next call carries the bearer token.
      next = link === undefined || link === null ? undefined : checkedGraphLink(link, this.graphOrigin);
    }
    return items;
  }

  async me(): Promise<NamedObject & { userPrincipalName: string }> {
    const body = await this.get('/me?$select=id,displayName,userPrincipalName');
    return {
      id: String(body.id),
      displayName: cleanName(body.displayName),
      userPrincipalName: cleanName(body.userPrincipalName),
    };
  }

  /** The group, or null when no group has that id. */
  async getGroup(id: string): Promise<NamedObject | null> {
    try {
      const body = await this.get(`/groups/${encodeURIComponent(id)}?$select=id,displayName,isAssignableToRole`);
      return {
        id: String(body.id),
        displayName: cleanName(body.displayName),
        isAssignableToRole: body.isAssignableToRole === true,
      };
    } catch (error) {
      if (error instanceof GraphReadError && error.status === 404) return null;
      throw error;
    }
  }

  /** Groups whose display name is exactly `name` (display names are not unique in Entra). */
  async findGroupsByName(name: string): Promise<NamedObject[]> {
    const filter = encodeURIComponent(`displayName eq ${odataString(name)}`);
    const items = await this.all(`/groups?$filter=${filter}&$select=id,displayName`);
    return items.map((item) => ({ id: String(item.id), displayName: cleanName(item.displayName) }));
  }

  /** Members of the group that are groups themselves (provisioning does not follow them). */
  async nestedGroups(groupId: string): Promise<NamedObject[]> {
    const items = await this.all(`/groups/${encodeURIComponent(groupId)}/members?$select=id,displayName&$top=999`);
    return items
      .filter((item) => String(item['@odata.type'] ?? '').toLowerCase() === '#microsoft.graph.group')
      .map((item) => ({ id: String(item.id), displayName: cleanName(item.displayName) }));
  }

  /** Whether a user exists (by UPN or id). */
  async userExists(idOrUpn: string): Promise<boolean> {
    try {
      await this.get(`/users/${encodeURIComponent(idOrUpn)}?$select=id`);
      return true;
    } catch (error) {
      if (error instanceof GraphReadError && error.status === 404) return false;
      throw error;
    }
  }

  /** Users and groups assigned to the enterprise application (its service principal). */
  async appAssignments(servicePrincipalId: string): Promise<AppAssignment[]> {
    const items = await this.all(
      `/servicePrincipals/${encodeURIComponent(servicePrincipalId)}/appRoleAssignedTo?$top=999`,
    );
    return items.map((item) => ({
      principalId: String(item.principalId),
      principalType: cleanName(item.principalType),
      principalDisplayName: nameOrNull(item.principalDisplayName),
    }));
  }

  async syncJob(servicePrincipalId: string, jobId: string): Promise<SyncJobInfo | null> {
    let body: any;
    try {
      body = await this.get(
        `/servicePrincipals/${encodeURIComponent(servicePrincipalId)}/synchronization/jobs/${encodeURIComponent(jobId)}`,
      );
    } catch (error) {
      if (error instanceof GraphReadError && error.status === 404) return null;
      throw error;
    }
    return parseSyncJob(body, cleanName(jobId));
  }
}
