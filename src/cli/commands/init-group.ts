/**
 * `init`'s one network step: turning the temp group's name into its object
 * id. Signed in (to the tenant being configured), the name is looked up in
 * Graph; in a terminal, init offers to sign in first; otherwise the id must
 * be given (--group-id), since a name alone cannot be checked.
 */
import type { CommandEnv } from '../command-env.js';
import { Asker, parseGuid } from '../ask.js';
import { UsageError, quoteInput } from '../../errors.js';
import type { AuthAdapterConfig } from '../../adapters/auth/msal.js';

export async function resolveGroupId(
  env: CommandEnv,
  ask: Asker,
  base: Omit<AuthAdapterConfig, 'automation'>,
  name: string,
  groupIdFlag: string | undefined,
): Promise<string> {
  if (groupIdFlag !== undefined)
    return (await ask.ask(groupIdFlag, { flag: '--group-id', message: '', parse: parseGuid }))!;
  const { authSessionFromContext, INIT_SCOPES } = await import('../../adapters/auth/index.js');
  const session = authSessionFromContext(env.ctx, { ...base, automation: undefined } as AuthAdapterConfig);
  let account = await session.currentAccount().catch(() => null);
  if (account && account.tenantId !== base.tenantId) account = null;
  if (
    !account &&
    ask.interactive &&
    (await ask.yesNo(undefined, {
      message: `Sign in now to look up "${name}" in Entra? (No: type its object id)`,
      default: true,
    }))
  ) {
    account = await session.loginWithDeviceCode((message) => env.out.info(message));
  }
  if (!account) {
    if (ask.interactive)
      return (await ask.ask(undefined, {
        flag: '--group-id',
        message: `Object id of the Entra group "${name}":`,
        parse: parseGuid,
        required: true,
      }))!;
    throw new UsageError(
      `init needs --group-id: nobody is signed in to tenant ${base.tenantId}, so the group ${quoteInput(name)} cannot be looked up by name.`,
      {
        code: 'MISSING_FLAGS',
        hint: 'Pass --group-id (Entra admin center → Groups → the group → Object ID), or run init in a terminal to sign in and look it up.',
        details: { missing: ['--group-id'] },
      },
    );
  }
  const token = await session.getAccessToken(INIT_SCOPES);
  const { GraphInspector } = await import('../../adapters/graph/graph-inspect.js');
  const { connectionsForCaFile } = await import('../../adapters/http/tls.js');
  const { proxySettings } = await import('../../adapters/http/proxy.js');
  const graph = new GraphInspector({
    graphBaseUrl: base.cloud.graphBaseUrl,
    getToken: async () => token.token,
    connections: connectionsForCaFile(base.tls.caFile, { proxy: proxySettings(env.ctx.env) }),
  });
  const found = await graph.findGroupsByName(name).catch((error: Error & { status?: number }) => {
    throw new UsageError(
      `Could not look up the group ${quoteInput(name)} in Entra (${error.status ?? 'no answer'}: ${error.message}).`,
      {
        code: 'GROUP_LOOKUP_FAILED',
        hint: 'Pass --group-id instead.',
      },
    );
  });
  if (found.length === 1) {
    env.out.info(`Found the Entra group "${name}": ${found[0]!.id}.`);
    return found[0]!.id;
  }
  if (found.length > 1) {
    if (ask.interactive)
      return env.ctx.prompter.select(
        `Several groups are called "${name}"; which one?`,
        found.map((group) => ({ name: group.id, value: group.id })),
      );
    throw new UsageError(`${found.length} Entra groups are called ${quoteInput(name)}.`, {
      code: 'GROUP_AMBIGUOUS',
      hint: `Pass --group-id with one of: ${found.map((g) => g.id).join(', ')}.`,
    });
  }
  throw new UsageError(`No Entra group is called ${quoteInput(name)}.`, {
    code: 'GROUP_NOT_FOUND',
    hint: 'Create it first (docs/setup-entra.md), check the spelling, or pass --group-id.',
  });
}
