/**
 * `doctor` for an Okta org (idp.type "okta"): the same report as Entra's
 * (core/doctor.ts: statuses, fixes, exit code of the first failure), with the
 * chain of docs/okta.md — the org answers, the native app may start a device
 * sign-in, the sign-in and its scopes, the group, the people, the record
 * attributes in the profile schemas, the Push Groups mapping — then the OCI
 * checks shared with Entra. The Okta reads come through OktaDoctorPort.
 */
import type { Config } from '../config/schema.js';
import type { OciAccessError } from '../errors.js';
import {
  absoluteTime,
  filesCheck,
  finish,
  notifyCheck,
  ociChecks,
  addError,
  type Add,
  type CheckResult,
  type DoctorProbes,
  type DoctorReport,
} from './doctor.js';

export interface OktaMetadata {
  issuer: string;
  tokenEndpoint: string;
  deviceEndpoint: string;
  grantTypes: string[];
  authMethods: string[];
}

export type OktaDeviceCheck = { ok: true } | { ok: false; error: string; description: string };

export interface OktaGroupInfo {
  id: string;
  name: string;
  /** OKTA_GROUP, APP_GROUP or BUILT_IN. */
  type: string;
}

export interface OktaSchemaProperty {
  type: string;
  maxLength?: number;
  /** The SELF permission's action (users only): READ_WRITE, READ_ONLY or HIDE. */
  self?: string;
}

export interface OktaPushMappingInfo {
  id: string;
  status: string;
  targetGroupId: string | null;
  lastPush: string | null;
  errorSummary: string | null;
}

/** What doctor reads from the org (adapters/idp/okta/inspect.ts). */
export interface OktaDoctorPort {
  metadata(): Promise<OktaMetadata>;
  deviceAuthorization(clientId: string, scopes: readonly string[]): Promise<OktaDeviceCheck>;
  group(id: string): Promise<OktaGroupInfo | null>;
  userExists(login: string): Promise<boolean>;
  customProperties(kind: 'user' | 'group'): Promise<Record<string, OktaSchemaProperty>>;
  /** null: Okta has no app with that id. */
  pushMappings(appId: string, groupId: string): Promise<OktaPushMappingInfo[] | null>;
}

export interface OktaSignIn {
  who: string;
  expiresOn: Date;
  /** The scopes the token (for a person: the sign-in) carries. */
  scopes: string[];
  role?: 'requester' | 'approver';
}

export interface OktaDoctorProbes extends Pick<
  DoctorProbes,
  'identity' | 'now' | 'time' | 'config' | 'files' | 'notifyTargets' | 'oci'
> {
  /** The scopes each principal asks for (docs/okta.md, Scopes). */
  scopes: {
    person(role: 'requester' | 'approver'): string[];
    /** What the sweep's token asks for. */
    app: readonly string[];
  };
  /** A person's sign-in (the cached one), or the service app's token for the sweep's scopes. */
  signIn(config: Config): Promise<OktaSignIn>;
  /** App only: whether Okta gives the service app a token for this scope alone. */
  appScopeGranted(config: Config, scope: string): Promise<boolean>;
  okta(config: Config): OktaDoctorPort;
}

/** Read by doctor only: the profile schemas and the push mappings (docs/okta.md S1, S2, P1). */
export const OKTA_DOCTOR_APP_SCOPES = ['okta.schemas.read', 'okta.apps.read'] as const;

/** docs/okta.md, Records in Okta: each record attribute holds JSON of up to this many characters. */
export const RECORD_MAX_LENGTH = 4096;

type OktaIdp = Extract<NonNullable<Config['idp']>, { type: 'okta' }>;

const PROFILE_EDITOR = 'Admin Console → Directory → Profile Editor';

export async function runOktaDoctor(probes: OktaDoctorProbes): Promise<DoctorReport> {
  const checks: CheckResult[] = [];
  const add: Add = (id, title, category, status, detail, fix = null) =>
    checks.push({ id, title, category, status, detail, fix });
  const app = probes.identity === 'app';

  let config: Config;
  try {
    config = await probes.config();
    if (config.idp?.type !== 'okta') throw new Error('runOktaDoctor needs a config with idp.type "okta"');
  } catch (error) {
    const e = error as OciAccessError;
    add('config', 'config', 'config', 'fail', e.message, e.hint ?? 'Run `ociaccess init --idp okta`.');
    return finish(probes.identity, checks);
  }
  const idp = config.idp as OktaIdp;
  add('config', 'config', 'config', 'pass', `valid: ${config.groups.length} group(s), Okta org ${idp.orgUrl}`);
  await filesCheck(probes, config, add);
  if (probes.notifyTargets) {
    try {
      notifyCheck(probes.notifyTargets(config), add);
    } catch (error) {
      add('notify', 'notification targets', 'config', 'warn', String((error as Error)?.message ?? error));
    }
  }
  const okta = probes.okta(config);
  await orgCheck(okta, idp, app, add);
  await nativeAppCheck(probes, okta, idp, config, add);

  let signIn: OktaSignIn | undefined;
  let signInError: unknown;
  try {
    signIn = await probes.signIn(config);
    add(
      'sign-in',
      'sign-in',
      'auth',
      'pass',
      `${signIn.who}; token expires ${(probes.time ?? absoluteTime)(signIn.expiresOn, probes.now())}`,
    );
  } catch (error) {
    signInError = error;
    addError(add, 'sign-in', 'sign-in', error, 'okta');
  }
  const doctorScopes = await scopesCheck(probes, config, signIn, signInError, add);

  const skipped = (reason: string, rows: [string, string][]) => {
    for (const [id, title] of rows) add(id, title, 'okta', 'skip', reason);
  };
  if (!signIn)
    skipped('needs a sign-in', [
      ['group', 'Okta group'],
      ['people', 'requesters and approvers'],
    ]);
  else {
    await groupCheck(okta, config, add);
    await peopleCheck(okta, config, add);
  }
  if (!app) {
    skipped(
      "reading it takes okta.schemas.read and okta.apps.read, which only the automation's service app holds: run `ociaccess doctor --as app` on the sweep host",
      [
        ['schema', 'record attributes'],
        ['push', 'Push Groups'],
      ],
    );
  } else if (!signIn)
    skipped("needs the service app's token", [
      ['schema', 'record attributes'],
      ['push', 'Push Groups'],
    ]);
  else {
    await schemaCheck(okta, doctorScopes.has('okta.schemas.read'), add);
    const shown = (text: string) => {
      const when = new Date(text);
      return Number.isNaN(when.getTime()) ? text : (probes.time ?? absoluteTime)(when, probes.now());
    };
    await pushCheck(okta, idp, config, doctorScopes.has('okta.apps.read'), shown, add);
  }
  await ociChecks(probes, config, add, 'okta');
  return finish(probes.identity, checks);
}

async function orgCheck(okta: OktaDoctorPort, idp: OktaIdp, app: boolean, add: Add): Promise<void> {
  const title = 'Okta org';
  try {
    const meta = await okta.metadata();
    const org = idp.orgUrl.replace(/\/+$/, '');
    const missing = app
      ? [
          ...(meta.grantTypes.includes('client_credentials') ? [] : ['the client credentials grant']),
          ...(meta.authMethods.includes('private_key_jwt') ? [] : ['private_key_jwt client authentication']),
        ]
      : meta.grantTypes.includes('urn:ietf:params:oauth:grant-type:device_code')
        ? []
        : ['the device authorization grant'];
    if (meta.issuer.replace(/\/+$/, '') !== org)
      add(
        'okta-org',
        title,
        'okta',
        'fail',
        `${org} publishes the issuer ${meta.issuer || '(none)'}: it is not the org authorization server`,
        'Set idp.orgUrl to the org URL itself (e.g. https://example.okta.com), without /oauth2/… or a custom authorization server id: only the org authorization server issues okta.* scopes (docs/okta.md).',
      );
    else if (missing.length)
      add(
        'okta-org',
        title,
        'okta',
        'fail',
        `the org authorization server does not offer ${missing.join(', ')}`,
        'Check idp.orgUrl; ociaccess needs the org authorization server (docs/okta.md, Sign-in).',
      );
    else add('okta-org', title, 'okta', 'pass', `${org} answers as the org authorization server`);
  } catch (error) {
    addError(add, 'okta-org', title, error, 'okta');
  }
}

/**
 * O2 with the people's app and the scopes people ask for (an approver's when the config names any):
 * Okta's invalid_scope does not name the scope, so on it each Okta scope is asked for alone.
 */
async function nativeAppCheck(
  probes: OktaDoctorProbes,
  okta: OktaDoctorPort,
  idp: OktaIdp,
  config: Config,
  add: Add,
): Promise<void> {
  const title = 'sign-in app';
  const role = config.groups.some((group) => group.approvers.length > 0) ? 'approver' : 'requester';
  const scopes = probes.scopes.person(role);
  const where = `the native app ${idp.clientId}`;
  try {
    const answer = await okta.deviceAuthorization(idp.clientId, scopes);
    if (answer.ok) {
      add('native-app', title, 'okta', 'pass', `${where} may start a device sign-in with the ${role}'s scopes`);
      return;
    }
    const said = `${answer.error}${answer.description ? ` (${answer.description})` : ''}`;
    if (answer.error === 'invalid_scope') {
      const missing: string[] = [];
      for (const scope of scopes.filter((name) => name.startsWith('okta.'))) {
        const alone = await okta.deviceAuthorization(idp.clientId, ['openid', scope]);
        if (!alone.ok) missing.push(scope);
      }
      add(
        'native-app',
        title,
        'auth',
        'fail',
        `${where} is not granted ${missing.length ? missing.join(', ') : 'every scope people ask for'}: Okta answered ${said}`,
        `Admin Console → Applications → the app → Okta API Scopes → Grant ${missing.length ? missing.join(', ') : scopes.filter((s) => s.startsWith('okta.')).join(', ')} (docs/okta.md, Scopes).`,
      );
      return;
    }
    add(
      'native-app',
      title,
      'auth',
      'fail',
      `${where} cannot start a device sign-in: Okta answered ${said}`,
      answer.error === 'unauthorized_client'
        ? `Allow the Device Authorization grant on ${where} (Applications → the app → General → Grant type); it must be an OIDC native app (docs/okta.md).`
        : `idp.clientId is the Client ID of the OIDC native app people sign in with (Applications → the app → General), with the Device Authorization and Refresh Token grants.`,
    );
  } catch (error) {
    addError(add, 'native-app', title, error, 'okta');
  }
}

/** The scopes the sign-in carries against what this principal needs; returns the doctor-only scopes the app holds. */
async function scopesCheck(
  probes: OktaDoctorProbes,
  config: Config,
  signIn: OktaSignIn | undefined,
  signInError: unknown,
  add: Add,
): Promise<Set<string>> {
  const title = 'Okta scopes';
  const idp = config.idp as OktaIdp;
  const held = new Set<string>();
  if (probes.identity === 'user') {
    if (!signIn) {
      add('scopes', title, 'auth', 'skip', 'needs a sign-in');
      return held;
    }
    const role = signIn.role ?? 'requester';
    const missing = probes.scopes.person(role).filter((scope) => !signIn.scopes.includes(scope));
    if (missing.length)
      add(
        'scopes',
        title,
        'auth',
        'fail',
        `your sign-in does not carry ${missing.join(', ')}, which a${role === 'approver' ? 'n approver' : ' requester'} needs`,
        `Run \`ociaccess login${role === 'approver' ? ' --role approver' : ''}\`; if Okta refuses a scope, grant it on the native app ${idp.clientId}'s Okta API Scopes tab (docs/okta.md, Scopes).`,
      );
    else
      add(
        'scopes',
        title,
        'auth',
        'pass',
        `your sign-in carries what ${role === 'approver' ? 'an approver' : 'a requester'} needs (${probes.scopes.person(role).length} scope(s))`,
      );
    return held;
  }
  const service = `the service app ${idp.automation?.clientId ?? ''}`.trim();
  const grantFix = (scopes: string[]) =>
    `Admin Console → Applications → ${service} → Okta API Scopes → Grant ${scopes.join(', ')}, and give the app an admin role that covers them (docs/okta.md, Scopes).`;
  const oauthError = (signInError as { details?: { oauthError?: string } } | undefined)?.details?.oauthError;
  if (!signIn && oauthError !== 'invalid_scope') {
    add('scopes', title, 'auth', 'skip', "needs the service app's token");
    return held;
  }
  try {
    const missing: string[] = [];
    if (!signIn)
      for (const scope of probes.scopes.app) if (!(await probes.appScopeGranted(config, scope))) missing.push(scope);
    const optional: string[] = [];
    for (const scope of OKTA_DOCTOR_APP_SCOPES) {
      if (await probes.appScopeGranted(config, scope)) held.add(scope);
      else optional.push(scope);
    }
    if (!signIn)
      add(
        'scopes',
        title,
        'auth',
        'fail',
        `${service} is not granted ${missing.length ? missing.join(', ') : 'every scope the sweep asks for'}, which the sweep needs`,
        grantFix(missing.length ? missing : [...probes.scopes.app]),
      );
    else if (optional.length)
      add(
        'scopes',
        title,
        'auth',
        'warn',
        `${service} holds the sweep's scopes, but not ${optional.join(', ')}: doctor cannot read ${optional.map((scope) => (scope === 'okta.schemas.read' ? 'the profile schemas' : 'the push mapping')).join(' or ')}`,
        grantFix(optional),
      );
    else
      add(
        'scopes',
        title,
        'auth',
        'pass',
        `${service} holds ${[...probes.scopes.app, ...OKTA_DOCTOR_APP_SCOPES].join(', ')}`,
      );
  } catch (error) {
    addError(add, 'scopes', title, error, 'auth');
  }
  return held;
}

async function groupCheck(okta: OktaDoctorPort, config: Config, add: Add): Promise<void> {
  const title = 'Okta group';
  try {
    const missing: string[] = [];
    const notOkta: string[] = [];
    const renamed: string[] = [];
    const found: string[] = [];
    for (const group of config.groups) {
      const id = group.entraGroupId;
      const info = await okta.group(id);
      if (!info) missing.push(`"${group.name}": no Okta group has id ${id}`);
      else if (info.type !== 'OKTA_GROUP')
        notOkta.push(`"${group.name}" (${id}) is a group of type ${info.type || 'unknown'}`);
      else {
        found.push(`${info.name} (${info.id})`);
        if (info.name !== group.name) renamed.push(`"${group.name}" is called "${info.name}" in Okta`);
      }
    }
    if (missing.length || notOkta.length)
      add(
        'group',
        title,
        'okta',
        'fail',
        [...missing, ...notOkta].join('; ') +
          (notOkta.length ? ': only an OKTA_GROUP has members the API may add and remove' : ''),
        missing.length
          ? "Fix groups[].oktaGroupId: the 00g… id at the end of the group's URL (Admin Console → Directory → Groups → the group), or create the group."
          : 'Use a group created in Okta (Directory → Groups → Add group, type OKTA_GROUP), not one imported from an app or directory.',
      );
    else if (renamed.length)
      add(
        'group',
        title,
        'okta',
        'warn',
        renamed.join('; '),
        'Rename one or the other so that people and the OCI group (Push Groups keeps the Okta name) agree.',
      );
    else add('group', title, 'okta', 'pass', found.join(', '));
  } catch (error) {
    addError(add, 'group', title, error, 'okta');
  }
}

async function peopleCheck(okta: OktaDoctorPort, config: Config, add: Add): Promise<void> {
  const title = 'requesters and approvers';
  try {
    const logins = [
      ...new Set(
        config.groups.flatMap((group) => [...group.eligibleRequesters, ...group.approvers, ...group.standingMembers]),
      ),
    ];
    const unknown: string[] = [];
    for (const login of logins.slice(0, 200)) if (!(await okta.userExists(login))) unknown.push(login);
    if (unknown.length)
      add(
        'people',
        title,
        'okta',
        'warn',
        `not found in Okta: ${unknown.join(', ')}`,
        "Correct the logins in the config (a person's Okta username, as they sign in).",
      );
    else add('people', title, 'okta', 'pass', `${logins.length} user(s) found`);
  } catch (error) {
    addError(add, 'people', title, error, 'okta', 'warn');
  }
}

/**
 * docs/okta.md, Records in Okta: ociaccessRequests and ociaccessDecisions on the user profile, string,
 * room for 4096 characters, SELF permission READ_WRITE (a person writes their own record through
 * /users/me); ociaccessDecisions on the group profile, string, the same room.
 */
export function schemaProblems(
  user: Record<string, OktaSchemaProperty>,
  group: Record<string, OktaSchemaProperty>,
): { problem: string; fix: string }[] {
  const problems: { problem: string; fix: string }[] = [];
  const attribute = (kind: 'user' | 'group', name: string, property: OktaSchemaProperty | undefined) => {
    const where = `${PROFILE_EDITOR} → ${kind === 'user' ? 'User (default)' : 'Groups (default)'}`;
    if (!property) {
      problems.push({
        problem: `the ${kind} profile has no attribute ${name}`,
        fix: `${where} → Add Attribute: data type string, variable name ${name}, maximum length ${RECORD_MAX_LENGTH}${kind === 'user' ? ', User permission Read-Write' : ''} (docs/okta.md, Records in Okta).`,
      });
      return;
    }
    if (property.type !== 'string')
      problems.push({
        problem: `${kind} attribute ${name} is of type ${property.type || 'unknown'}, not string`,
        fix: `${where}: delete ${name} and add it again as a string (its data type cannot be changed).`,
      });
    if (property.maxLength !== undefined && property.maxLength < RECORD_MAX_LENGTH)
      problems.push({
        problem: `${kind} attribute ${name} allows ${property.maxLength} characters, fewer than the ${RECORD_MAX_LENGTH} a record may take`,
        fix: `${where} → ${name} → Attribute length: maximum ${RECORD_MAX_LENGTH}.`,
      });
    if (kind === 'user' && property.self !== 'READ_WRITE')
      problems.push({
        problem: `user attribute ${name} has the User permission ${property.self ?? 'none'}, not READ_WRITE: people cannot write their own ${name === 'ociaccessRequests' ? 'requests' : 'decisions'}`,
        fix: `${where} → ${name} → User permission: Read-Write (docs/security.md: the owner of the profile, not the attribute, decides whose record it is).`,
      });
  };
  attribute('user', 'ociaccessRequests', user.ociaccessRequests);
  attribute('user', 'ociaccessDecisions', user.ociaccessDecisions);
  attribute('group', 'ociaccessDecisions', group.ociaccessDecisions);
  return problems;
}

async function schemaCheck(okta: OktaDoctorPort, granted: boolean, add: Add): Promise<void> {
  const title = 'record attributes';
  if (!granted) {
    add('schema', title, 'okta', 'skip', 'needs okta.schemas.read (see the scopes check)');
    return;
  }
  try {
    const problems = schemaProblems(await okta.customProperties('user'), await okta.customProperties('group'));
    if (problems.length)
      add(
        'schema',
        title,
        'okta',
        'fail',
        problems.map((p) => p.problem).join('; '),
        problems.map((p) => p.fix).join(' '),
      );
    else
      add(
        'schema',
        title,
        'okta',
        'pass',
        `user: ociaccessRequests, ociaccessDecisions (string, self READ_WRITE); group: ociaccessDecisions (string)`,
      );
  } catch (error) {
    addError(add, 'schema', title, error, 'okta');
  }
}

async function pushCheck(
  okta: OktaDoctorPort,
  idp: OktaIdp,
  config: Config,
  granted: boolean,
  shown: (time: string) => string,
  add: Add,
): Promise<void> {
  const title = 'Push Groups';
  if (!idp.ociAppId) {
    add(
      'push',
      title,
      'okta',
      'warn',
      'no idp.ociAppId: the Push Groups mapping to OCI cannot be checked (the OCI group check below still runs)',
      "Add idp.ociAppId: the OCI IAM app's id in Okta (0oa…, at the end of its URL under Applications).",
    );
    return;
  }
  if (!granted) {
    add('push', title, 'okta', 'skip', 'needs okta.apps.read (see the scopes check)');
    return;
  }
  const pushTab = `Admin Console → Applications → the OCI app (${idp.ociAppId}) → Push Groups`;
  try {
    const problems: string[] = [];
    const fixes = new Set<string>();
    const fine: string[] = [];
    for (const group of config.groups) {
      const mappings = await okta.pushMappings(idp.ociAppId, group.entraGroupId);
      if (mappings === null) {
        problems.push(`Okta has no app ${idp.ociAppId}`);
        fixes.add("idp.ociAppId is the OCI IAM app's id in Okta (0oa…, at the end of its URL under Applications).");
        break;
      }
      const active = mappings.find((mapping) => mapping.status === 'ACTIVE');
      if (active) {
        fine.push(`${group.name}: ACTIVE, last push ${active.lastPush ? shown(active.lastPush) : 'never'}`);
        continue;
      }
      const mapping = mappings[0];
      if (!mapping) {
        problems.push(`${group.name} is not pushed to OCI`);
        fixes.add(
          `${pushTab} → + Push Groups → find "${group.name}" (Push group memberships immediately) (docs/okta.md, Push Groups).`,
        );
      } else if (mapping.status === 'INACTIVE') {
        problems.push(`the push of ${group.name} is paused (INACTIVE): membership changes do not reach OCI`);
        fixes.add(`${pushTab} → the group → Activate group push.`);
      } else {
        problems.push(
          `the push of ${group.name} is ${mapping.status}${mapping.errorSummary ? `: ${mapping.errorSummary}` : ''}`,
        );
        fixes.add(`${pushTab}: fix the error shown there, then Push Now.`);
      }
    }
    if (problems.length) add('push', title, 'okta', 'fail', problems.join('; '), [...fixes].join(' '));
    else add('push', title, 'okta', 'pass', fine.join('; '));
  } catch (error) {
    addError(add, 'push', title, error, 'okta');
  }
}
