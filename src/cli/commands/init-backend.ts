/**
 * `init`'s choice of backend for the group: when someone is signed in to the
 * tenant, the group's PIM for Groups policy is read through the same adapter
 * the commands use, and a group PIM governs gets `"backend": "pim"`. A group
 * PIM governs must not run on records (the sweep would remove the members PIM
 * activates), and a group it does not govern cannot run on pim; both are said
 * before anything is written. Nobody signed in: the backend given, or records.
 */
import type { CommandEnv } from '../command-env.js';
import { PolicyError, quoteInput } from '../../errors.js';
import type { AuthAdapterConfig } from '../../adapters/auth/msal.js';
import type { PimPolicy } from '../../core/pim/port.js';
import { describePolicy } from '../../core/pim/policy.js';

export type Backend = 'records' | 'pim';

/** What reading the group's PIM policy found: a policy, none (not governed), or no answer (why). */
type Finding = { policy: PimPolicy | null } | { unknown: string };

async function readPolicy(
  env: CommandEnv,
  base: Omit<AuthAdapterConfig, 'automation'>,
  groupId: string,
): Promise<Finding | null> {
  const { authSessionFromContext, INIT_SCOPES, PIM_POLICY_SCOPE } = await import('../../adapters/auth/index.js');
  const session = authSessionFromContext(env.ctx, { ...base, automation: undefined } as AuthAdapterConfig);
  const account = await session.currentAccount().catch(() => null);
  if (!account || account.tenantId !== base.tenantId) return null;
  const { GraphDirectory } = await import('../../adapters/graph/graph-directory.js');
  const { GraphPim } = await import('../../adapters/graph/pim.js');
  const { connectionsForCaFile } = await import('../../adapters/http/tls.js');
  const { proxySettings } = await import('../../adapters/http/proxy.js');
  const scopes = [...INIT_SCOPES, PIM_POLICY_SCOPE];
  const directory = new GraphDirectory({
    graphBaseUrl: base.cloud.graphBaseUrl,
    getToken: async (forceRefresh) => (await session.getAccessToken(scopes, { forceRefresh })).token,
    connections: connectionsForCaFile(base.tls.caFile, { proxy: proxySettings(env.ctx.env) }),
    clock: env.ctx.clock,
    identity: 'user',
  });
  try {
    return { policy: await new GraphPim(directory, env.ctx.clock).policy(groupId) };
  } catch (error) {
    return { unknown: (error as Error).message };
  }
}

/** The backend to write for the group, after checking it against PIM when someone is signed in. */
export async function chooseBackend(
  env: CommandEnv,
  base: Omit<AuthAdapterConfig, 'automation'>,
  group: { id: string; name: string },
  given: Backend | undefined,
): Promise<Backend> {
  const finding = await readPolicy(env, base, group.id);
  const name = quoteInput(group.name);
  if (finding === null) {
    if (given === undefined)
      env.out.info(
        `Nobody is signed in, so whether PIM for Groups governs ${name} was not checked: writing the records backend (pass --backend pim if PIM governs it; \`ociaccess doctor\` checks it later).`,
      );
    return given ?? 'records';
  }
  if ('unknown' in finding) {
    env.out.warn(
      `Could not read the PIM for Groups policy of ${name} (${finding.unknown}); writing the ${given ?? 'records'} backend unchecked. \`ociaccess doctor\` checks it once the permission is granted.`,
    );
    return given ?? 'records';
  }
  const { policy } = finding;
  if (!policy) {
    if (given === 'pim')
      throw new PolicyError(
        'PIM_NOT_GOVERNED',
        `PIM for Groups does not govern ${name}, so it cannot use the pim backend.`,
        {
          hint: 'Bring the group under PIM (Entra admin center → Identity Governance → Privileged Identity Management → Groups → Discover groups) and run init again, or pass --backend records.',
        },
      );
    if (given === undefined) env.out.info(`PIM for Groups does not govern ${name}: writing the records backend.`);
    return 'records';
  }
  if (given === 'records')
    throw new PolicyError(
      'PIM_GOVERNS_GROUP',
      `PIM for Groups governs ${name} (${describePolicy(policy)}); it cannot use the records backend.`,
      {
        hint: 'With records, the sweep would remove every member PIM activates (no record covers them). Pass --backend pim (or leave --backend out), or take the group out of PIM first.',
      },
    );
  env.out.info(
    `PIM for Groups governs ${name} (${describePolicy(policy)}): writing the pim backend; PIM's eligibility and policy decide who may ask and who approves (docs/pim.md).`,
  );
  return 'pim';
}
