import path from 'node:path';
import { Option, type Command } from 'commander';
import type { Runner } from '../main.js';
import type { CommandEnv } from '../command-env.js';
import { Asker, parseGuid, parseHoursUpTo, parseHttpsUrl, parseText, parseUpnList } from '../ask.js';
import { UsageError } from '../../errors.js';
import { CLOUDS, cloudPreset } from '../../config/clouds.js';
import type { ConfigInput } from '../../config/schema.js';
import { resolveGroupId } from './init-group.js';
import { chooseBackend, type Backend } from './init-backend.js';

export interface InitOptions {
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

const parsePath = (cwd: string) => (raw: string) =>
  raw.trim() ? { value: path.resolve(cwd, raw.trim()) } : { error: 'must not be empty' };
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
  const caFile = await ask.ask(options.caFile, {
    flag: '--ca-file',
    message: 'Extra CA certificate file (PEM) to trust, e.g. a TLS-inspecting proxy (empty for none):',
    parse: parsePath(ctx.cwd),
    default: '',
  });

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
  // With pim, PIM's eligibility and policy say who may ask and approve: the lists may stay empty.
  const listRequirement = options.backend === 'pim' ? { default: '' } : { required: true };
  const requesters = await ask.ask(options.requesters, {
    flag: '--requesters',
    message: 'Who may request access (user principal names, comma-separated):',
    parse: parseUpnList,
    ...listRequirement,
  });
  const approvers = await ask.ask(options.approvers, {
    flag: '--approvers',
    message: 'Who may approve (user principal names, comma-separated):',
    parse: parseUpnList,
    ...listRequirement,
  });
  const standing = await ask.ask(options.standing, {
    flag: '--standing',
    message: 'Break-glass members the sweep must never remove (empty for none):',
    parse: parseUpnList,
    default: '',
  });
  const maxHours = (await ask.ask(options.maxHours, {
    flag: '--max-hours',
    message: 'Longest grant, in hours:',
    parse: parseHoursUpTo(168),
    default: '8',
  }))!;
  const defaultHours = (await ask.ask(options.defaultHours, {
    flag: '--default-hours',
    message: 'Default grant, in hours:',
    parse: parseHoursUpTo(maxHours),
    default: String(Math.min(2, maxHours)),
  }))!;
  const autoWanted = await ask.yesNo(options.autoApproveHours !== undefined ? true : undefined, {
    message: 'Approve short requests automatically (during sweep)?',
    default: false,
  });
  const autoHours = autoWanted
    ? await ask.ask(options.autoApproveHours, {
        flag: '--auto-approve-hours',
        message: 'Auto-approve requests of at most how many hours:',
        parse: parseHoursUpTo(Math.min(24, maxHours)),
        default: String(Math.min(1, maxHours)),
      })
    : undefined;
  const autoRequesters = autoHours
    ? await ask.ask(options.autoApproveRequesters, {
        flag: '--auto-approve-requesters',
        message: 'Only for these requesters (empty for every eligible requester):',
        parse: parseUpnList,
        default: '',
      })
    : undefined;

  const domainUrl = await ask.ask(options.ociDomainUrl, {
    flag: '--oci-domain-url',
    message: 'OCI identity domain URL (https://idcs-….identity.oraclecloud.com):',
    parse: parseHttpsUrl,
    required: true,
  });
  const home = ctx.env.HOME ?? ctx.env.USERPROFILE;
  const ociConfigFile = await ask.ask(options.ociConfig, {
    flag: '--oci-config',
    message: 'OCI config file (API key):',
    parse: parsePath(ctx.cwd),
    default: home ? path.join(home, '.oci', 'config') : undefined,
    required: true,
  });
  const ociProfile = (await ask.ask(options.ociProfile, {
    flag: '--oci-profile',
    message: 'OCI config profile:',
    parse: parseText,
    default: 'DEFAULT',
  }))!;

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
      'write a config file: asks for the tenant, apps, group, people, limits, OCI domain and provisioning job (or takes flags)',
    )
    .option('--tenant <id>', 'Entra tenant (directory) id')
    .option('--client-id <id>', 'application id of the public client app people sign in with')
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
    .option('--automation-key <file>', 'its private key (PEM)')
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
      --oci-domain-url https://idcs-abc.identity.oraclecloud.com`,
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
        env.out.info('Next: `ociaccess login`, then `ociaccess doctor` to check the whole chain.');
      }),
    );
}
