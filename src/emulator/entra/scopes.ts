/** Scope strings: OIDC scopes apart, Graph permissions by their canonical (consented) names. */
import type { EmulatorApi } from '../http.js';
import type { AppRegistration } from '../state.js';

const OIDC_SCOPES: ReadonlySet<string> = new Set(['openid', 'profile', 'email', 'offline_access']);
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

/** Resource identifiers that name Microsoft Graph: the public one, its app id, and the emulator itself. */
export function graphResourcePrefixes(emu: EmulatorApi): string[] {
  return ['https://graph.microsoft.com/', `${GRAPH_APP_ID}/`, `${emu.baseUrl}/`].map((prefix) => prefix.toLowerCase());
}

type ScopeResolution =
  | { ok: true; oidc: Set<string>; graph: string[] }
  | { ok: false; error: 'invalid_scope' | 'invalid_resource'; aadsts: number; description: string };

/** Splits a delegated scope string into OIDC scopes and Graph permissions (canonical names, as consented). */
export function resolveDelegatedScopes(
  raw: string,
  app: AppRegistration,
  emu: EmulatorApi,
): ScopeResolution & { unconsented?: string[] } {
  const oidc = new Set<string>();
  const graph = new Set<string>();
  const unconsented: string[] = [];
  const prefixes = graphResourcePrefixes(emu);
  const consented = new Map(app.delegatedPermissions.map((permission) => [permission.toLowerCase(), permission]));
  for (const scope of raw.split(/\s+/).filter(Boolean)) {
    const lower = scope.toLowerCase();
    if (OIDC_SCOPES.has(lower)) {
      oidc.add(lower);
      continue;
    }
    let name = scope;
    const prefix = prefixes.find((candidate) => lower.startsWith(candidate));
    if (prefix) name = scope.slice(prefix.length);
    else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(scope) || /^api:\/\//i.test(scope)) {
      const resource = scope.replace(/\/[^/]*$/, '');
      return {
        ok: false,
        error: 'invalid_resource',
        aadsts: 500011,
        description: `The resource principal named ${resource} was not found in the tenant named ${emu.world.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      };
    }
    if (name === '' || /\s/.test(name)) {
      return {
        ok: false,
        error: 'invalid_scope',
        aadsts: 70011,
        description: `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
      };
    }
    if (name.toLowerCase() === '.default') {
      for (const permission of app.delegatedPermissions)
        if (!OIDC_SCOPES.has(permission.toLowerCase())) graph.add(permission);
      continue;
    }
    const canonical = consented.get(name.toLowerCase());
    if (canonical) graph.add(canonical);
    else unconsented.push(name);
  }
  return { ok: true, oidc, graph: [...graph], unconsented };
}
