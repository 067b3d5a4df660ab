/**
 * What `doctor` reads from an Okta org (docs/okta.md O1, O2, U2, G2, S1, S2,
 * P1), behind the small port core/doctor-okta.ts defines: the published
 * metadata, whether the native app may start a device sign-in, the group, the
 * people, the profile schemas and the push mappings. Reads only, except the
 * device authorization, which Okta forgets when its code expires unused.
 */
import type { Clock } from '../../../context.js';
import { UpstreamError } from '../../../errors.js';
import type { HttpFetch } from '../../http/tls.js';
import { stripControls } from '../../../core/text.js';
import { OktaApi } from './api.js';
import { OktaOAuth, OktaOAuthRefusal } from './oauth.js';
import type {
  OktaDeviceCheck,
  OktaDoctorPort,
  OktaGroupInfo,
  OktaMetadata,
  OktaPushMappingInfo,
  OktaSchemaProperty,
} from '../../../core/doctor-okta.js';

export interface OktaInspectorOptions {
  orgUrl: string;
  fetch: HttpFetch;
  clock: Clock;
  identity: 'user' | 'app';
  /** A bearer token with the scopes of the call at hand (`scopes`), `force` after a 401. */
  getToken(scopes: readonly string[], force: boolean): Promise<string>;
  /** As OktaApiOptions.authorization: how a token is presented (DPoP-bound app tokens need a proof). */
  authorization(token: string, method: string, url: string): Record<string, string>;
}

const SCHEMAS_READ = 'okta.schemas.read';
const APPS_READ = ['okta.apps.read', 'okta.groups.read'];

export class OktaInspector implements OktaDoctorPort {
  private readonly org: string;

  constructor(private readonly options: OktaInspectorOptions) {
    this.org = options.orgUrl.replace(/\/+$/, '');
  }

  private api(scopes: readonly string[]): OktaApi {
    return new OktaApi({
      orgUrl: this.org,
      fetch: this.options.fetch,
      clock: this.options.clock,
      identity: this.options.identity,
      getToken: (force) => this.options.getToken(scopes, force),
      authorization: this.options.authorization,
    });
  }

  /** O1: the OpenID configuration, else the OAuth authorization server metadata (both published by the org AS). */
  async metadata(): Promise<OktaMetadata> {
    let firstStatus = 0;
    for (const name of ['openid-configuration', 'oauth-authorization-server']) {
      const url = `${this.org}/.well-known/${name}`;
      let response: Response;
      try {
        response = await this.options.fetch(url, { headers: { accept: 'application/json' } });
      } catch (error) {
        throw new UpstreamError(
          'OKTA_UNAVAILABLE',
          `The Okta org at ${new URL(url).host} did not answer: ${stripControls((error as Error)?.message ?? String(error))}.`,
          {
            hint: 'Check idp.orgUrl, the network and any proxy (and tls.caFile if a proxy inspects TLS).',
            cause: error,
          },
        );
      }
      const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
      firstStatus ||= response.status;
      if (!response.ok || !body || typeof body !== 'object') continue;
      const list = (value: unknown) =>
        Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
      return {
        issuer: typeof body.issuer === 'string' ? stripControls(body.issuer) : '',
        tokenEndpoint: typeof body.token_endpoint === 'string' ? stripControls(body.token_endpoint) : '',
        deviceEndpoint:
          typeof body.device_authorization_endpoint === 'string'
            ? stripControls(body.device_authorization_endpoint)
            : '',
        grantTypes: list(body.grant_types_supported),
        authMethods: list(body.token_endpoint_auth_methods_supported),
      };
    }
    throw new UpstreamError(
      'OKTA_ERROR',
      `${this.org} publishes no authorization server metadata (/.well-known/openid-configuration answered ${firstStatus}).`,
      { hint: 'idp.orgUrl is the org URL, e.g. https://example.okta.com, without /oauth2/… or a custom server id.' },
    );
  }

  /** O2 for the native app: accepted, or Okta's refusal (the code it hands out expires unused). */
  async deviceAuthorization(clientId: string, scopes: readonly string[]): Promise<OktaDeviceCheck> {
    const oauth = new OktaOAuth({ orgUrl: this.org, fetch: this.options.fetch, clock: this.options.clock });
    try {
      await oauth.deviceAuthorize(clientId, scopes);
      return { ok: true };
    } catch (error) {
      if (error instanceof OktaOAuthRefusal) return { ok: false, error: error.error, description: error.description };
      throw error;
    }
  }

  /** G2: the group, or null when Okta has none with that id. */
  async group(id: string): Promise<OktaGroupInfo | null> {
    const answer = await this.api(['okta.groups.read']).call(
      'GET',
      `/api/v1/groups/${encodeURIComponent(id)}`,
      `read the group ${id}`,
      'okta.groups.read and an admin role that reads the group (the ociaccess-reader custom role)',
    );
    if (answer.status === 404) return null;
    const body = (answer.body ?? {}) as { id?: unknown; type?: unknown; profile?: { name?: unknown } };
    return {
      id: typeof body.id === 'string' ? body.id : id,
      name: typeof body.profile?.name === 'string' ? stripControls(body.profile.name) : '',
      type: typeof body.type === 'string' ? stripControls(body.type) : '',
    };
  }

  /** U2 by login. */
  async userExists(login: string): Promise<boolean> {
    const answer = await this.api(['okta.users.read']).call(
      'GET',
      `/api/v1/users/${encodeURIComponent(login)}`,
      `look up the user ${login}`,
      'okta.users.read and an admin role that reads users (the ociaccess-reader custom role)',
    );
    return answer.status !== 404;
  }

  /** S1, S2: the custom properties of the user or group profile schema. */
  async customProperties(kind: 'user' | 'group'): Promise<Record<string, OktaSchemaProperty>> {
    const answer = await this.api([SCHEMAS_READ]).call(
      'GET',
      `/api/v1/meta/schemas/${kind}/default`,
      `read the ${kind} profile schema`,
      `${SCHEMAS_READ} and an admin role that reads the schema`,
    );
    if (answer.status === 404)
      throw new UpstreamError('OKTA_ERROR', `Okta has no default ${kind} profile schema (404).`, {
        hint: 'Check idp.orgUrl.',
      });
    const body = (answer.body ?? {}) as {
      definitions?: { custom?: { properties?: Record<string, Record<string, unknown>> } };
    };
    const properties = body.definitions?.custom?.properties ?? {};
    return Object.fromEntries(
      Object.entries(properties).map(([name, property]) => {
        const permissions = Array.isArray(property.permissions) ? property.permissions : [];
        const self = permissions.find((permission: { principal?: unknown }) => permission?.principal === 'SELF') as
          { action?: unknown } | undefined;
        return [
          name,
          {
            type: typeof property.type === 'string' ? property.type : '',
            ...(typeof property.maxLength === 'number' ? { maxLength: property.maxLength } : {}),
            ...(typeof self?.action === 'string' ? { self: self.action } : {}),
          },
        ];
      }),
    );
  }

  /** P1: the push mappings of the OCI app for the group (null: Okta has no such app). */
  async pushMappings(appId: string, groupId: string): Promise<OktaPushMappingInfo[] | null> {
    const api = this.api(APPS_READ);
    const answer = await api.call(
      'GET',
      `/api/v1/apps/${encodeURIComponent(appId)}/group-push/mappings?sourceGroupId=${encodeURIComponent(groupId)}`,
      `read the Push Groups mappings of the app ${appId}`,
      `${APPS_READ.join(' and ')} and an admin role that reads apps`,
    );
    if (answer.status === 404) return null;
    if (!Array.isArray(answer.body))
      throw new UpstreamError('OKTA_ERROR', 'Okta answered the push mappings with something other than a list.', {});
    const text = (value: unknown) => (typeof value === 'string' ? stripControls(value) : null);
    return (answer.body as Record<string, unknown>[]).map((mapping) => ({
      id: text(mapping.id) ?? '',
      status: text(mapping.status) ?? '',
      targetGroupId: text(mapping.targetGroupId),
      lastPush: text(mapping.lastPush),
      errorSummary: text(mapping.errorSummary),
    }));
  }
}
