/**
 * The probes of `doctor` for an Okta config: the Okta session and the
 * inspector adapter (adapters/idp/okta/inspect.ts), beside the checks shared
 * with Entra (files, notification targets, OCI), which come from Entra's probes.
 */
import type { CommandEnv } from './command-env.js';
import type { Config } from '../config/schema.js';
import type { DoctorProbes } from '../core/doctor.js';
import type { OktaDoctorProbes } from '../core/doctor-okta.js';
import type { OktaSession } from '../adapters/idp/okta/session.js';

export async function oktaProbesFor(
  env: CommandEnv,
  identity: 'user' | 'app',
  shared: DoctorProbes,
): Promise<OktaDoctorProbes> {
  const { oktaDelegatedScopes, OKTA_APP_SCOPES } = await import('../adapters/idp/okta/session.js');
  const { OktaInspector } = await import('../adapters/idp/okta/inspect.js');
  const { bearer } = await import('../adapters/idp/okta/api.js');
  const { connectionsForCaFile, httpFetch } = await import('../adapters/http/tls.js');
  const { proxySettings } = await import('../adapters/http/proxy.js');
  // Kept once known: a call's headers are made synchronously, after its token was asked for.
  let known: OktaSession | undefined;
  const session = async () => (known = (await env.services()).session as unknown as OktaSession);
  const requester = oktaDelegatedScopes('requester');
  // One token per scope set: the app's tokens are asked for by scope, a person's is the one sign-in.
  const appTokens = new Map<string, Promise<string>>();
  const appToken = (scopes: readonly string[], force: boolean) => {
    const key = [...scopes].sort().join(' ');
    if (force || !appTokens.has(key)) {
      const pending = session().then(async (s) => (await s.appTokenFor(scopes)).token);
      pending.catch(() => appTokens.delete(key));
      appTokens.set(key, pending);
    }
    return appTokens.get(key)!;
  };
  return {
    identity,
    now: shared.now,
    time: shared.time,
    config: shared.config,
    files: shared.files,
    notifyTargets: shared.notifyTargets,
    oci: shared.oci,
    scopes: {
      person: (role) => oktaDelegatedScopes(role),
      app: OKTA_APP_SCOPES,
    },
    async signIn(config: Config) {
      const okta = await session();
      if (identity === 'app') {
        const token = await okta.getAppToken();
        const automation = config.idp?.type === 'okta' ? config.idp.automation : undefined;
        return {
          who: `service app ${automation?.clientId ?? ''} with the key in ${automation?.privateKeyFile ?? ''}`,
          expiresOn: token.expiresOn,
          scopes: token.scopes ?? [],
        };
      }
      const token = await okta.getAccessToken(requester);
      const login = token.account?.username ?? '';
      const approver = config.groups.some((group) =>
        group.approvers.some((upn) => upn.toLowerCase() === login.toLowerCase()),
      );
      return {
        who: `signed in as ${login || 'unknown'}`,
        expiresOn: token.expiresOn,
        scopes: token.scopes ?? [],
        role: approver ? 'approver' : 'requester',
      };
    },
    async appScopeGranted(_config, scope) {
      try {
        await appToken([scope], false);
        return true;
      } catch (error) {
        if ((error as { details?: { oauthError?: string } }).details?.oauthError === 'invalid_scope') return false;
        throw error;
      }
    },
    okta(config: Config) {
      if (config.idp?.type !== 'okta') throw new Error('oktaProbesFor needs an Okta config');
      const connections = connectionsForCaFile(config.tls.caFile, {
        proxy: proxySettings(env.ctx.env, config.network),
      });
      return new OktaInspector({
        orgUrl: config.idp.orgUrl,
        fetch: httpFetch(connections),
        clock: env.ctx.clock,
        identity,
        getToken: async (scopes, force) =>
          identity === 'app'
            ? appToken(scopes, force)
            : (await (await session()).getAccessToken(requester, { forceRefresh: force })).token,
        authorization: (token, method, url) => known?.authorizationFor(token, method, url) ?? bearer(token),
      });
    },
  };
}
