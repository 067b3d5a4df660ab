/**
 * The questions of `init` that do not depend on the identity provider: who
 * may ask and approve, the limits, auto-approval, and the OCI domain and key.
 */
import path from 'node:path';
import type { CommandEnv } from '../command-env.js';
import { Asker, parseHoursUpTo, parseHttpsUrl, parseText, parseUpnList } from '../ask.js';
import type { InitOptions } from './init.js';

export const parsePath = (cwd: string) => (raw: string) =>
  raw.trim() ? { value: path.resolve(cwd, raw.trim()) } : { error: 'must not be empty' };

/** An extra CA certificate to trust (a TLS-inspecting proxy), or '' for none. */
export async function askCaFile(ask: Asker, options: InitOptions, cwd: string) {
  return ask.ask(options.caFile, {
    flag: '--ca-file',
    message: 'Extra CA certificate file (PEM) to trust, e.g. a TLS-inspecting proxy (empty for none):',
    parse: parsePath(cwd),
    default: '',
  });
}

/** The group's people and limits; `people` names what the lists hold (UPNs in Entra, logins in Okta). */
export async function askGroupRules(ask: Asker, options: InitOptions, people: string) {
  // With pim, PIM's eligibility and policy say who may ask and approve: the lists may stay empty.
  const listRequirement = options.backend === 'pim' ? { default: '' } : { required: true };
  const requesters = await ask.ask(options.requesters, {
    flag: '--requesters',
    message: `Who may request access (${people}, comma-separated):`,
    parse: parseUpnList,
    ...listRequirement,
  });
  const approvers = await ask.ask(options.approvers, {
    flag: '--approvers',
    message: `Who may approve (${people}, comma-separated):`,
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

  return { requesters, approvers, standing, maxHours, defaultHours, autoHours, autoRequesters };
}

/** The OCI identity domain and the OCI config profile (API key) to reach it with. */
export async function askOci(env: CommandEnv, ask: Asker, options: InitOptions) {
  const { ctx } = env;
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
  return { domainUrl, ociConfigFile, ociProfile };
}
