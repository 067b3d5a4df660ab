/**
 * `init` for an Okta org (`--idp okta`): the org URL, the people's native
 * app, the group by its Okta id, the automation's service app and key, and
 * the OCI app whose push doctor reads — written as the `idp` section the
 * config loader accepts (docs/configuration.md#idp-okta). Flags of the other
 * identity provider are refused by name, as is `--backend pim` (PIM is Entra's).
 */
import type { CommandEnv } from '../command-env.js';
import { Asker, parseHttpsUrl, parseText, type Parse } from '../ask.js';
import { UsageError } from '../../errors.js';
import type { ConfigInput } from '../../config/schema.js';
import type { InitOptions } from './init.js';
import { askCaFile, askGroupRules, askOci, parsePath } from './init-questions.js';

export type Idp = 'entra' | 'okta';

/** Flags that only one identity provider has, by option key. */
const ENTRA_ONLY: [keyof InitOptions, string][] = [
  ['tenant', '--tenant'],
  ['cloud', '--cloud'],
  ['authorityHost', '--authority-host'],
  ['graphUrl', '--graph-url'],
  ['servicePrincipal', '--service-principal'],
  ['job', '--job'],
  ['ruleId', '--rule-id'],
  ['provisionOnDemand', '--provision-on-demand'],
  ['automationCertificate', '--automation-certificate'],
  ['automationSecretFile', '--automation-secret-file'],
  ['automationSecretEnv', '--automation-secret-env'],
];
const OKTA_ONLY: [keyof InitOptions, string][] = [
  ['orgUrl', '--org-url'],
  ['automationKid', '--automation-kid'],
  ['ociAppId', '--oci-app-id'],
];

const given = (options: InitOptions, flags: [keyof InitOptions, string][]) =>
  flags.filter(([key]) => options[key] !== undefined).map(([, flag]) => flag);

/**
 * The identity provider: --idp; else the one whose own flags were given; else asked first in the
 * wizard; else Entra (as every config before Okta). Flags of the other one are refused by name.
 */
export async function chooseIdp(ask: Asker, options: InitOptions): Promise<Idp> {
  const entraFlags = given(options, ENTRA_ONLY);
  const oktaFlags = given(options, OKTA_ONLY);
  const implied =
    oktaFlags.length > 0 && entraFlags.length === 0 ? 'okta' : entraFlags.length > 0 ? 'entra' : undefined;
  const idp = await ask.choose(options.idp ?? implied, {
    flag: '--idp',
    message: 'Which identity provider holds the people and the group?',
    choices: [
      { name: 'Microsoft Entra ID', value: 'entra' as const },
      { name: 'Okta', value: 'okta' as const },
    ],
    default: 'entra',
  });
  const foreign = idp === 'okta' ? entraFlags : oktaFlags;
  if (foreign.length)
    throw new UsageError(
      `${foreign.join(', ')} ${foreign.length > 1 ? 'are' : 'is'} for ${idp === 'okta' ? 'Entra ID' : 'Okta'}, not --idp ${idp}.`,
      {
        code: 'FLAG_NOT_FOR_IDP',
        hint:
          idp === 'okta'
            ? 'With Okta: --org-url, --client-id (the native app), --group-id (00g…), --automation-client-id with --automation-key (and --automation-kid), --oci-app-id. Okta has no tenant, cloud or provisioning job (see `ociaccess init --help`).'
            : 'Remove them, or pass --idp okta.',
        details: { flags: foreign },
      },
    );
  if (idp === 'okta' && options.backend === 'pim')
    throw new UsageError('--backend pim is Entra PIM for Groups, which Okta does not have.', {
      code: 'FLAG_NOT_FOR_IDP',
      hint: 'With --idp okta leave --backend out (or pass --backend records).',
      details: { flags: ['--backend'] },
    });
  return idp;
}

const oktaId =
  (prefix: string, what: string): Parse<string> =>
  (raw) =>
    new RegExp(`^${prefix}[0-9A-Za-z]{17}$`).test(raw.trim())
      ? { value: raw.trim() }
      : { error: `must be ${what} (${prefix} and 17 letters or digits)` };
const optional =
  (parse: Parse<string>): Parse<string> =>
  (raw) =>
    raw.trim() === '' ? { value: '' } : parse(raw);

export async function gatherOkta(env: CommandEnv, ask: Asker, options: InitOptions): Promise<ConfigInput> {
  const { ctx } = env;
  const orgUrl = await ask.ask(options.orgUrl, {
    flag: '--org-url',
    message: 'Okta org URL (https://example.okta.com):',
    parse: parseHttpsUrl,
    required: true,
  });
  const clientId = await ask.ask(options.clientId, {
    flag: '--client-id',
    message: 'Client id of the OIDC native app people sign in with (0oa…, Device Authorization grant):',
    parse: oktaId('0oa', 'an Okta client id'),
    required: true,
  });
  const caFile = await askCaFile(ask, options, ctx.cwd);
  const groupName = (await ask.ask(options.group, {
    flag: '--group',
    message: 'Okta group that grants OCI admin access (its name):',
    parse: (raw) =>
      /^00g[0-9A-Za-z]{17}$/.test(raw.trim())
        ? { error: "is an Okta group id: give the group's name here and its id as --group-id" }
        : parseText(raw),
    default: 'OCI-Temp-Admins',
  }))!;
  const groupId = await ask.ask(options.groupId, {
    flag: '--group-id',
    message: `Id of the Okta group "${groupName}" (00g…, the end of its Admin Console URL):`,
    parse: oktaId('00g', 'an Okta group id'),
    required: true,
  });
  const ociGroupName = (await ask.ask(options.ociGroup, {
    flag: '--oci-group',
    message: 'OCI group Push Groups fills (Okta pushes it under the same name):',
    parse: parseText,
    default: groupName,
  }))!;
  const rules = await askGroupRules(ask, options, 'Okta logins');
  const { domainUrl, ociConfigFile, ociProfile } = await askOci(env, ask, options);
  const automationClientId = await ask.ask(options.automationClientId, {
    flag: '--automation-client-id',
    message: 'Client id of the API service app that runs sweep (0oa…, empty to skip):',
    parse: optional(oktaId('0oa', 'an Okta client id')),
    default: '',
  });
  let automation: { clientId: string; privateKeyFile: string; keyId?: string } | undefined;
  if (automationClientId) {
    const privateKeyFile = await ask.ask(options.automationKey, {
      flag: '--automation-key',
      message: "The service app's private key (PEM, mode 0600; its public key registered on the app):",
      parse: parsePath(ctx.cwd),
      required: true,
    });
    const keyId = await ask.ask(options.automationKid, {
      flag: '--automation-kid',
      message: "The key's id (kid) as Okta shows it (empty when the app has one key):",
      parse: parseText,
      default: '',
    });
    if (privateKeyFile) automation = { clientId: automationClientId, privateKeyFile, ...(keyId ? { keyId } : {}) };
  } else if (options.automationKey !== undefined || options.automationKid !== undefined) {
    throw new UsageError('--automation-key and --automation-kid need --automation-client-id.', {
      code: 'INVALID_VALUE',
    });
  }
  const ociAppId = await ask.ask(options.ociAppId, {
    flag: '--oci-app-id',
    message: 'Id of the OCI IAM app in Okta whose Push Groups send the group to OCI (0oa…, empty to skip):',
    parse: optional(oktaId('0oa', 'an Okta app id')),
    default: '',
  });
  ask.assertComplete('init');
  return {
    version: 1,
    idp: {
      type: 'okta',
      orgUrl: orgUrl!,
      clientId: clientId!,
      ...(automation ? { automation } : {}),
      ...(ociAppId ? { ociAppId } : {}),
    },
    ...(caFile ? { tls: { caFile } } : {}),
    defaultGroup: groupName,
    groups: [
      {
        name: groupName,
        oktaGroupId: groupId!,
        ociGroupName,
        maxHours: rules.maxHours,
        defaultHours: rules.defaultHours,
        eligibleRequesters: rules.requesters ?? [],
        approvers: rules.approvers ?? [],
        standingMembers: rules.standing ?? [],
        autoApproval: rules.autoHours ? { maxHours: rules.autoHours, requesters: rules.autoRequesters ?? [] } : null,
      },
    ],
    oci: { domainUrl: domainUrl!, configFile: ociConfigFile!, profile: ociProfile },
  };
}
