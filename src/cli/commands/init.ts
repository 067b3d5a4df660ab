import path from 'node:path';
import { Option, type Command } from 'commander';
import type { Runner } from '../main.js';
import type { CommandEnv } from '../command-env.js';
import { Asker, parseGuid, parseHttpsUrl, parseText } from '../ask.js';
import { UsageError } from '../../errors.js';
import { CLOUDS, cloudPreset } from '../../config/clouds.js';
import type { ConfigInput } from '../../config/schema.js';
import { resolveGroupId } from './init-group.js';
import { chooseBackend, type Backend } from './init-backend.js';
import { askCaFile, askGroupRules, askOci } from './init-questions.js';
import { chooseIdp, gatherOkta, type Idp } from './init-okta.js';

export interface InitOptions {
  idp?: Idp;
  orgUrl?: string;
  automationKid?: string;
  ociAppId?: string;
  tenant?: string;
  clientId?: string;
  cloud?: string;
  authorityHost?: string;
  graphUrl?: string;
  caFile?: string;
  group?: string;
  groupId?: string;
  backend?: Backend;
  ociGroup?: string;
  requesters?: string;
  approvers?: string;
  standing?: string;
  maxHours?: string;
  defaultHours?: string;
  autoApproveHours?: string;
  autoApproveRequesters?: string;
  ociDomainUrl?: string;
  ociConfig?: string;
  ociProfile?: string;
  servicePrincipal?: string;
  job?: string;
  ruleId?: string;
  provisionOnDemand?: boolean;
  automationClientId?: string;
  automationCertificate?: string;
  automationKey?: string;
  automationSecretFile?: string;
  automationSecretEnv?: string;
  force?: boolean;
  dryRun?: boolean;
}

const parseEnvName = (raw: string) =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(raw.trim())
    ? { value: raw.trim() }
    : { error: 'must be an environment variable name' };

/** Asks every question (flag, prompt or default) and returns the config to write. */
async function gather(env: CommandEnv, options: InitOptions): Promise<ConfigInput> {
  const { ctx, out } = env;
  const ask = new Asker(ctx.prompter);
  if (ask.interactive)
    out.info('Setting up ociaccess. Every answer can also be given as a flag (see `ociaccess init --help`).\n');
  if ((await chooseIdp(ask, options)) === 'okta') return gatherOkta(env, ask, options);

  const tenantId = await ask.ask(options.tenant, {
    flag: '--tenant',
    message: 'Entra tenant (directory) id:',
    parse: parseGuid,
    required: true,
  });
  const clientId = await ask.ask(options.clientId, {
    flag: '--client-id',
    message: 'Application (client) id of the ociaccess public client app:',
    parse: parseGuid,
    required: true,
  });
  const customGiven = options.authorityHost !== undefined || options.graphUrl !== undefined;
  const cloud = await ask.choose(options.cloud ?? (customGiven ? 'custom' : undefined), {
    flag: '--cloud',
    message: 'Which Microsoft cloud?',
    choices: [
      ...CLOUDS.map((c) => ({ name: `${c.label} (${c.authorityHost})`, value: c.id })),
      { name: 'Custom (enter the hosts)', value: 'custom' },
    ],
    default: 'public',
  });
  const preset = cloudPreset(cloud);
  const authorityHost =
    preset?.authorityHost ??
    (await ask.ask(options.authorityHost, {
      flag: '--authority-host',
      message: 'Sign-in authority host (https://…):',
      parse: parseHttpsUrl,
      required: true,
    }));
  const graphBaseUrl =
    preset?.graphBaseUrl ??
    (await ask.ask(options.graphUrl, {
      flag: '--graph-url',
      message: 'Microsoft Graph base URL (https://…):',
      parse: parseHttpsUrl,
      required: true,
    }));
  if (preset && customGiven)
    throw new UsageError(`--authority-host and --graph-url go with --cloud custom, not --cloud ${cloud}.`, {
      code: 'INVALID_VALUE',
    });
  const caFile = await askCaFile(ask, options, ctx.cwd);

  const groupName = (await ask.ask(options.group, {
    flag: '--group',
    message: 'Entra group that grants OCI admin access (display name):',
    parse: parseText,
    default: 'OCI-Temp-Admins',
  }))!;
  const ociGroupName = (await ask.ask(options.ociGroup, {
    flag: '--oci-group',
    message: 'OCI group it is provisioned to:',
    parse: parseText,
    default: groupName,
  }))!;
  const { requesters, approvers, standing, maxHours, defaultHours, autoHours, autoRequesters } = await askGroupRules(
    ask,
    options,
    'user principal names',
  );
  const { domainUrl, ociConfigFile, ociProfile } = await askOci(env, ask, options);

  const servicePrincipalId = await ask.ask(options.servicePrincipal, {
    flag: '--service-principal',
    message: "Object id of the OCI enterprise app's service principal (for the provisioning job; empty to skip):",
    parse: parseGuid,
    default: '',
  });
  let provisioning: ConfigInput['provisioning'];
  if (servicePrincipalId) {
    const jobId = await ask.ask(options.job, {
      flag: '--job',
      message: 'Provisioning job id (oracleOCI.…):',
      parse: parseText,
      required: true,
    });
    const ruleId = await ask.ask(options.ruleId, {
      flag: '--rule-id',
      message: 'Provisioning rule id, for provision-on-demand (empty to skip):',
      parse: parseText,
      default: '',
    });
    const provisionOnDemand = await ask.yesNo(options.provisionOnDemand, {
      message: 'Provision each change to OCI at once (provision on demand)?',
      default: false,
    });
    if (jobId) provisioning = { servicePrincipalId, jobId, ...(ruleId ? { ruleId } : {}), provisionOnDemand };
  } else if (options.job !== undefined || options.ruleId !== undefined || options.provisionOnDemand) {
    throw new UsageError('--job, --rule-id and --provision-on-demand need --service-principal.', {
      code: 'INVALID_VALUE',
    });
  }

  const automation = await gatherAutomation(env, ask, options);
  ask.assertComplete('init');

  const signIn = {
    tenantId: tenantId!,
    clientId: clientId!,
    cloud: { authorityHost: authorityHost!, graphBaseUrl: graphBaseUrl! },
    tls: caFile ? { caFile } : {},
  };
  const groupId = await resolveGroupId(env, ask, signIn, groupName, options.groupId);
  const backend = await chooseBackend(env, signIn, { id: groupId, name: groupName }, options.backend);
  return {
    version: 1,
    tenantId: tenantId!,
    clientId: clientId!,
    cloud: { authorityHost: authorityHost!, graphBaseUrl: graphBaseUrl! },
    ...(caFile ? { tls: { caFile } } : {}),
    ...(automation ? { automation } : {}),
    defaultGroup: groupName,
    groups: [
      {
        name: groupName,
        entraGroupId: groupId,
        ...(backend === 'pim' ? { backend } : {}),
        ociGroupName,
        maxHours,
        defaultHours,
        eligibleRequesters: requesters ?? [],
        approvers: approvers ?? [],
        standingMembers: standing ?? [],
        autoApproval: autoHours ? { maxHours: autoHours, requesters: autoRequesters ?? [] } : null,
      },
    ],
    oci: { domainUrl: domainUrl!, configFile: ociConfigFile!, profile: ociProfile },
    ...(provisioning ? { provisioning } : {}),
  };
}

async function gatherAutomation(env: CommandEnv, ask: Asker, options: InitOptions): Promise<ConfigInput['automation']> {
  const clientId = await ask.ask(options.automationClientId, {
    flag: '--automation-client-id',
    message: 'Client id of the automation app that runs sweep (empty to skip):',
    parse: parseGuid,
    default: '',
  });
  const credentialFlags = [
    options.automationCertificate,
    options.automationKey,
    options.automationSecretFile,
    options.automationSecretEnv,
  ].filter((v) => v !== undefined);
  if (!clientId) {
    if (credentialFlags.length)
      throw new UsageError('The --automation-* credential flags need --automation-client-id.', {
        code: 'INVALID_VALUE',
      });
    return undefined;
  }
  const kind = await ask.choose(
    options.automationCertificate || options.automationKey
      ? 'certificate'
      : options.automationSecretFile
        ? 'secret-file'
        : options.automationSecretEnv
          ? 'secret-env'
          : undefined,
    {
      flag: '--automation-certificate',
      message: "The automation app's credential:",
      choices: [
        { name: 'Certificate (recommended): a PEM certificate and its private key', value: 'certificate' as const },
        { name: 'Client secret in a file', value: 'secret-file' as const },
        { name: 'Client secret in an environment variable', value: 'secret-env' as const },
      ],
      default: 'certificate',
    },
  );
  const file = (raw: string) =>
    raw.trim() ? { value: path.resolve(env.ctx.cwd, raw.trim()) } : { error: 'must not be empty' };
  if (kind === 'certificate') {
    const certificateFile = await ask.ask(options.automationCertificate, {
      flag: '--automation-certificate',
      message: 'Certificate file (PEM):',
      parse: file,
      required: true,
    });
    const certificateKeyFile = await ask.ask(options.automationKey, {
      flag: '--automation-key',
      message: 'Private key file (PEM):',
      parse: file,
      required: true,
    });
    return { clientId, certificateFile, certificateKeyFile };
  }
  if (kind === 'secret-file') {
    return {
      clientId,
      clientSecretFile: await ask.ask(options.automationSecretFile, {
        flag: '--automation-secret-file',
        message: 'File holding the client secret:',
        parse: file,
        required: true,
      }),
    };
  }
  return {
    clientId,
    clientSecretEnv: await ask.ask(options.automationSecretEnv, {
      flag: '--automation-secret-env',
      message: 'Environment variable holding the client secret:',
      parse: parseEnvName,
      default: 'OCIACCESS_CLIENT_SECRET',
    }),
  };
}

export function registerInit(program: Command, run: Runner): void {
  program
    .command('init')
    .description(
      'write a config file: asks for the identity provider (Entra tenant or Okta org), apps, group, people, limits, OCI domain and provisioning (or takes flags)',
    )
    .addOption(
      new Option('--idp <name>', 'the identity provider: entra (default) or okta; asked first in a terminal').choices([
        'entra',
        'okta',
      ]),
    )
    .option('--tenant <id>', 'Entra tenant (directory) id')
    .option(
      '--client-id <id>',
      'application id of the public client app people sign in with (Okta: the OIDC native app, 0oa…)',
    )
    .option('--org-url <url>', 'Okta: the org URL, e.g. https://example.okta.com')
    .addOption(
      new Option('--cloud <name>', 'which Microsoft cloud').choices([
        'public',
        'usgov',
        'usgov-dod',
        'china',
        'custom',
      ]),
    )
    .option('--authority-host <url>', 'sign-in host for --cloud custom')
    .option('--graph-url <url>', 'Microsoft Graph base URL for --cloud custom')
    .option('--ca-file <file>', 'extra CA certificate (PEM) to trust')
    .option(
      '--group <name>',
      'the Entra group that grants access (default OCI-Temp-Admins); looked up by name when signed in',
    )
    .option('--group-id <id>', "the group's object id (needed when nobody is signed in)")
    .addOption(
      new Option(
        '--backend <name>',
        'where requests and approvals live: records, or pim (PIM for Groups); checked against the group when signed in, detected when left out',
      ).choices(['records', 'pim']),
    )
    .option('--oci-group <name>', 'the OCI group it is provisioned to (default: the same name)')
    .option('--requesters <upns>', 'who may request, comma-separated')
    .option('--approvers <upns>', 'who may approve, comma-separated')
    .option('--standing <upns>', 'break-glass members sweep never removes')
    .option('--max-hours <n>', 'longest grant (default 8)')
    .option('--default-hours <n>', 'default grant (default 2)')
    .option('--auto-approve-hours <n>', 'auto-approve requests up to this many hours (off unless given)')
    .option('--auto-approve-requesters <upns>', 'only for these requesters (default: all eligible)')
    .option('--oci-domain-url <url>', 'the OCI identity domain URL')
    .option('--oci-config <file>', 'OCI config file with the API key (default ~/.oci/config)')
    .option('--oci-profile <name>', 'profile in the OCI config file (default DEFAULT)')
    .option('--service-principal <id>', "object id of the OCI enterprise app's service principal")
    .option('--job <id>', 'its provisioning job id')
    .option('--rule-id <id>', 'provisioning rule id (for provision on demand)')
    .option('--provision-on-demand', 'push every change to OCI at once')
    .option('--automation-client-id <id>', 'client id of the automation app (sweep)')
    .option('--automation-certificate <file>', "the automation app's certificate (PEM)")
    .option('--automation-key <file>', "its private key (PEM); Okta: the service app's private_key_jwt key")
    .option('--automation-kid <kid>', "Okta: the key's id as Okta shows it (when the app has several)")
    .option('--oci-app-id <id>', 'Okta: the OCI IAM app (0oa…) whose Push Groups doctor checks')
    .option('--automation-secret-file <file>', 'or: a file holding its client secret')
    .option('--automation-secret-env <name>', 'or: an environment variable holding its client secret')
    .option('--force', 'overwrite an existing config file')
    .option('--dry-run', 'print the config instead of writing it')
    .addHelpText(
      'after',
      `
Writes to --config FILE, $OCIACCESS_CONFIG or ~/.config/ociaccess/config.json
(mode 0600). In a terminal, every question not answered by a flag is asked;
without one, the missing required flags are named (exit 2).

Examples:
  $ ociaccess init
  $ ociaccess init --tenant 7f3c… --client-id 0c1a… --group-id 5e6f… \\
      --requesters alice@contoso.com --approvers bob@contoso.com \\
      --oci-domain-url https://idcs-abc.identity.oraclecloud.com
  $ ociaccess init --idp okta --org-url https://example.okta.com \\
      --client-id 0oa1… --group-id 00g1… --requesters alice@example.com \\
      --approvers bob@example.com --oci-domain-url https://idcs-abc.identity.oraclecloud.com \\
      --automation-client-id 0oa2… --automation-key /etc/ociaccess/okta.pem`,
    )
    .action(async (options: InitOptions, command: Command) =>
      run(command, async (env) => {
        const file = env.globals.config ? path.resolve(env.ctx.cwd, env.globals.config) : env.ctx.paths.configFile;
        const { configExists, writeConfigFile } = await import('../../config/write.js');
        if (!options.force && !options.dryRun && (await configExists(file))) {
          throw new UsageError(`${file} already exists; init does not overwrite it.`, {
            code: 'CONFIG_EXISTS',
            hint: 'Pass --force to replace it, or --config OTHER_FILE to write somewhere else.',
          });
        }
        const config = await gather(env, options);
        if (options.dryRun) {
          const { parseConfig } = await import('../../config/load.js');
          parseConfig(JSON.stringify(config), file);
          env.out.data(env.out.json ? { configFile: null, config } : config, () => JSON.stringify(config, null, 2));
          return;
        }
        await writeConfigFile(file, config, { force: Boolean(options.force) });
        env.out.data({ configFile: file, config }, () => file);
        env.out.success(`Wrote ${file} (mode 0600).`);
        env.out.info(
          config.idp?.type === 'okta'
            ? 'Next: `ociaccess login` (approvers: `ociaccess login --role approver`), then `ociaccess doctor`; on the sweep host `ociaccess doctor --as app` also checks the record attributes and Push Groups.'
            : 'Next: `ociaccess login`, then `ociaccess doctor` to check the whole chain.',
        );
      }),
    );
}
