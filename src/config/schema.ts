/**
 * The configuration file's schema. Strict: an unknown or misspelt key is an
 * error that names it, because a silently ignored "aprovers" would be a
 * security bug.
 */
import { z } from 'zod';
import { GUID_PATTERN, isObjectId } from './object-id.js';
import { quoteInput } from '../errors.js';
import { cloudOf, isEmulatorCloud, isLoopbackHttps } from './clouds.js';

// A command parses its config once: zod's JIT (a parser compiled per object
// schema with new Function) costs more at start-up than it saves at that count.
z.config({ jitless: true });

const upn = z
  .string()
  .min(3)
  .regex(/^[^\s@]+@[^\s@]+$/, 'must be a user principal name such as alice@contoso.com');

const guid = z.string().regex(GUID_PATTERN, 'must be a GUID');

/**
 * A standing member: a user by user principal name, or any member (a nested group, a service
 * principal, a device, or a user) by its Entra object id.
 */
const standingMember = z
  .string()
  .refine(
    (value) => isObjectId(value) || (value.length >= 3 && /^[^\s@]+@[^\s@]+$/.test(value)),
    'must be a user principal name such as alice@contoso.com, or the object id (GUID) of a member that is not a user (nested group, service principal, device)',
  );

/** Okta object ids: a three-character type prefix (00u user, 00g group, 0oa app) and 17 more characters. */
function oktaId(prefix: string, example: string) {
  return z.string().regex(new RegExp(`^${prefix}[0-9A-Za-z]{17}$`), `must be ${example}`);
}

const httpsUrl = z
  .string()
  .url()
  .refine((value) => value.startsWith('https://'), 'must be an https:// URL');

export const autoApprovalSchema = z
  .object({
    /** Requests of at most this many hours are approved by the sweep without a human. */
    maxHours: z.number().positive().max(24),
    /** Who may be auto-approved; empty means every eligible requester. */
    requesters: z.array(upn).default([]),
  })
  .strict();

/**
 * Where one group's notifications go: a Teams Workflows webhook, a Slack
 * incoming webhook or a signed JSON webhook. The URL is a secret (whoever
 * holds it can post to the channel): it is read from a file or an
 * environment variable, never written in the config or passed in argv.
 */
export const notifyTargetSchema = z
  .object({
    kind: z.enum(['teams', 'slack', 'webhook']),
    /** Which messages: new requests (approvers), decisions (requester), sweep reports (operators). */
    for: z.array(z.enum(['approvers', 'requester', 'operators'])).min(1),
    /** A label for `notify test` and warnings (default: the kind and its position). */
    name: z.string().min(1).max(64).optional(),
    /** A file (mode 0600) holding the webhook URL on one line. */
    urlFile: z.string().min(1).optional(),
    /** An environment variable holding the webhook URL. */
    urlEnv: z.string().min(1).optional(),
    /** kind "webhook" only: the shared secret that signs every body (HMAC-SHA256), from a file (0600) or the environment. */
    secretFile: z.string().min(1).optional(),
    secretEnv: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((target, issue) => {
    if ((target.urlFile === undefined) === (target.urlEnv === undefined)) {
      issue.addIssue({
        code: 'custom',
        path: ['urlFile'],
        message: 'give exactly one of urlFile and urlEnv (the URL is a secret: never inline)',
      });
    }
    const secrets = [target.secretFile, target.secretEnv].filter((value) => value !== undefined).length;
    if (target.kind === 'webhook' && secrets !== 1) {
      issue.addIssue({
        code: 'custom',
        path: ['secretFile'],
        message: 'a "webhook" target is signed: give exactly one of secretFile and secretEnv',
      });
    }
    if (target.kind !== 'webhook' && secrets > 0) {
      issue.addIssue({
        code: 'custom',
        path: ['secretFile'],
        message: `only "webhook" targets are signed; a "${target.kind}" target takes no secret`,
      });
    }
  });

export const groupSchema = z
  .object({
    /** The name used on the command line (`--group`), usually the Entra group's display name. */
    name: z.string().min(1),
    /**
     * The group's id in the identity provider. Given as entraGroupId (an Entra object id) or, with
     * idp.type "okta", as oktaGroupId (00g…); after parsing it is always here, whichever the IdP,
     * because the core names groups by it (see the config's transform below).
     */
    entraGroupId: guid.optional(),
    /** With idp.type "okta": the Okta group's id (00g…, Groups API). */
    oktaGroupId: oktaId('00g', 'an Okta group id such as 00g1a2b3c4d5e6f7g8h9').optional(),
    /** The OCI group that SCIM/JIT keep in step with the Entra group. */
    ociGroupName: z.string().min(1),
    maxHours: z.number().positive().max(168),
    defaultHours: z.number().positive().optional(),
    /**
     * Where requests, approvals and schedules live: "records" (open extensions kept by this tool, the
     * default when absent) or "pim" (Entra PIM for Groups keeps them and ends memberships itself; docs/pim.md).
     */
    backend: z.enum(['records', 'pim']).optional(),
    /** Who may ask (records). With the "pim" backend PIM's eligibility schedules decide, and this list may be empty. */
    eligibleRequesters: z.array(upn).default([]),
    /** Who may decide (records). With the "pim" backend the group's PIM policy names the approvers, and this list may be empty. */
    approvers: z.array(upn).default([]),
    /** Break-glass members: never removed by sweep, always reported. UPNs, or object ids for non-user members. */
    standingMembers: z.array(standingMember).default([]),
    autoApproval: autoApprovalSchema.nullable().default(null),
    /** Pending requests older than this are closed by sweep. */
    pendingTimeoutHours: z.number().positive().default(24),
    /** Where this group's notifications go (docs/notifications.md); none when absent (optional, so code that builds a group by hand need not name it). */
    notify: z.array(notifyTargetSchema).optional(),
    /** Overrides oci.removeDirectly for this group (true needs oci.access "write"). */
    removeDirectly: z.boolean().optional(),
  })
  .strict()
  .superRefine((group, issue) => {
    if ((group.backend ?? 'records') === 'records') {
      for (const list of ['eligibleRequesters', 'approvers'] as const) {
        if (group[list].length === 0)
          issue.addIssue({
            code: 'custom',
            path: [list],
            message: 'must name at least one user principal name (the "records" backend has no other source of them)',
          });
      }
    }
    if (group.defaultHours !== undefined && group.defaultHours > group.maxHours) {
      issue.addIssue({
        code: 'custom',
        path: ['defaultHours'],
        message: `must not exceed maxHours (${group.maxHours})`,
      });
    }
    if (group.autoApproval && group.autoApproval.maxHours > group.maxHours) {
      issue.addIssue({
        code: 'custom',
        path: ['autoApproval', 'maxHours'],
        message: `must not exceed maxHours (${group.maxHours})`,
      });
    }
  });

export const ociSchema = z
  .object({
    /** The identity domain URL, e.g. https://idcs-abc123.identity.oraclecloud.com */
    domainUrl: z.string().url(),
    configFile: z.string().min(1),
    profile: z.string().min(1).default('DEFAULT'),
    /**
     * What the key is for. "read" (the default): ociaccess refuses every OCI
     * write before sending it, whatever the key's user could do. "write":
     * only on the sweep host, for direct removals (removeDirectly), --fix-drift
     * and forced removals (sweep.forceOciAfterMinutes / --force-oci-after).
     */
    access: z.enum(['read', 'write']).default('read'),
    /**
     * Remove a member from the OCI group in the same sweep that removed them
     * in Entra (SCIM stays the backstop). Default: on when access is "write";
     * true with a read key is refused (a read key sends no change).
     */
    removeDirectly: z.boolean().optional(),
  })
  .strict();

/**
 * Okta as the identity provider (docs/configuration.md#okta). People sign in to the OIDC native
 * app `clientId` with the device authorization grant; the sweep host's automation signs in as an
 * API service app with private_key_jwt. No SSWS API token is accepted anywhere: it cannot be
 * scoped or made short-lived, and an OAuth service app can.
 */
export const oktaIdpSchema = z
  .object({
    type: z.literal('okta'),
    /** The org URL, e.g. https://example.okta.com (the org authorization server lives under it). */
    orgUrl: httpsUrl,
    /** The OIDC native app people sign in with (device authorization grant enabled). */
    clientId: oktaId('0oa', 'an Okta client id such as 0oa1a2b3c4d5e6f7g8h9'),
    automation: z
      .object({
        /** The API service app's client id. */
        clientId: oktaId('0oa', 'an Okta client id such as 0oa1a2b3c4d5e6f7g8h9'),
        /** A PEM private key (mode 0600) whose public key is registered on the service app. */
        privateKeyFile: z.string().min(1),
        /** The key's id (kid) as Okta shows it; needed when the app has more than one key. */
        keyId: z.string().min(1).max(128).optional(),
      })
      .strict()
      .optional(),
    /** The OCI IAM app in Okta (0oa…) whose Push Groups carry the group to OCI: doctor reads its push mapping. */
    ociAppId: oktaId('0oa', 'an Okta app id such as 0oa1a2b3c4d5e6f7g8h9').optional(),
  })
  .strict();

const entraIdpSchema = z.object({ type: z.literal('entra') }).strict();

export const idpSchema = z.discriminatedUnion('type', [entraIdpSchema, oktaIdpSchema]);

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1),
    /**
     * Which identity provider holds the people and the groups: Entra ID (the default when absent,
     * so configs written before Okta support are unchanged) or Okta.
     */
    idp: idpSchema.optional(),
    /** Entra only (required there): the directory (tenant) id. */
    tenantId: guid.optional(),
    /** Entra only (required there): the public client (device code / browser sign-in) used by people. */
    clientId: guid.optional(),
    cloud: z
      .object({
        /** Authority host, e.g. https://login.microsoftonline.com (sovereign clouds and the emulator differ). */
        authorityHost: httpsUrl.default('https://login.microsoftonline.com'),
        graphBaseUrl: httpsUrl.default('https://graph.microsoft.com'),
      })
      .strict()
      .default({ authorityHost: 'https://login.microsoftonline.com', graphBaseUrl: 'https://graph.microsoft.com' }),
    /**
     * The outbound proxy, when the company requires one (else HTTPS_PROXY / NO_PROXY from the
     * environment): https calls go through it in a CONNECT tunnel; noProxy names hosts reached directly.
     */
    network: z
      .object({
        proxy: z
          .string()
          .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL such as http://proxy.example.com:3128')
          .optional(),
        noProxy: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
    tls: z
      .object({
        /** Extra CA certificates (PEM) to trust, e.g. a TLS-inspecting proxy's or the emulator's. */
        caFile: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    automation: z
      .object({
        clientId: guid,
        clientSecretFile: z.string().min(1).optional(),
        clientSecretEnv: z.string().min(1).optional(),
        certificateFile: z.string().min(1).optional(),
        certificateKeyFile: z.string().min(1).optional(),
        certificateThumbprintSha256: z
          .string()
          .regex(/^[0-9a-fA-F]{64}$/, 'must be a 64-digit hex SHA-256 thumbprint')
          .optional(),
      })
      .strict()
      .optional(),
    defaultGroup: z.string().min(1).optional(),
    groups: z.array(groupSchema).min(1),
    /**
     * The OCI identity domain and the API key that reads (or, on the sweep
     * host, writes) it. Optional: people's machines need no OCI key at all;
     * without it, status, list, request/approve --wait and revoke say OCI is
     * "not checked from this machine". sweep and `doctor --as app` need it.
     */
    oci: ociSchema.optional(),
    provisioning: z
      .object({
        /** Object id of the OCI enterprise application's service principal. */
        servicePrincipalId: guid,
        jobId: z.string().min(1),
        ruleId: z.string().min(1).optional(),
        /** Ask Entra to provision on demand after every change. */
        provisionOnDemand: z.boolean().default(false),
        cycleMinutes: z.number().positive().default(40),
      })
      .strict()
      .optional(),
    sweep: z
      .object({
        /** A removal still pending in OCI after this many minutes is removed in OCI directly (0 = never). */
        forceOciAfterMinutes: z.number().nonnegative().default(0),
        concurrency: z.number().int().min(1).max(16).default(4),
      })
      .strict()
      .default({ forceOciAfterMinutes: 0, concurrency: 4 }),
    /**
     * How far ahead of a machine's clock a recorded decision may be dated: a later one is not
     * trusted (a skewed clock or a hand-edited record), and `approve` refuses to run on a machine
     * whose clock is off from Microsoft Graph's by more.
     */
    maxClockSkewMinutes: z.number().min(0).max(60).default(5),
    audit: z
      .object({
        /** A file (mode 0600) holding the HMAC key that seals every audit entry; see docs/configuration.md#audit-key. */
        keyFile: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /**
     * Only in configs written by `ociaccess emulator`: where to read the emulator's virtual clock.
     * It sets the CLI's time, so it is honoured only in the emulator's own config (see superRefine).
     */
    emulator: z.object({ controlUrl: z.string().url() }).strict().optional(),
  })
  .strict()
  .superRefine((config, issue) => {
    for (const { path, message } of identityProviderProblems(config)) issue.addIssue({ code: 'custom', path, message });
    const names = new Set<string>();
    config.groups.forEach((group, index) => {
      if (names.has(group.name))
        issue.addIssue({
          code: 'custom',
          path: ['groups', index, 'name'],
          message: `duplicate group name ${quoteInput(group.name)}`,
        });
      names.add(group.name);
    });
    if (config.defaultGroup && !names.has(config.defaultGroup)) {
      issue.addIssue({
        code: 'custom',
        path: ['defaultGroup'],
        message: `names no group in "groups" (have: ${[...names].map((name) => quoteInput(name)).join(', ')})`,
      });
    }
    for (const { path, message } of directRemovalWithoutWriteKey(config))
      issue.addIssue({ code: 'custom', path, message });
    const controlUrl = config.emulator?.controlUrl;
    if (controlUrl !== undefined) {
      // The control URL sets this CLI's clock, and so every expiry: only the local emulator may do that.
      const problem = !controlUrl.startsWith('https://')
        ? 'must be an https:// URL (the emulator serves only https)'
        : !isLoopbackHttps(controlUrl)
          ? 'must be on this machine (https://127.0.0.1, https://[::1] or https://localhost)'
          : !emulatorServesIdp(config, controlUrl)
            ? `is honoured only in the emulator's own config, whose cloud.authorityHost and cloud.graphBaseUrl are the emulator's address; this config's cloud is ${cloudOf(config.cloud.authorityHost, config.cloud.graphBaseUrl)} (${quoteInput(config.cloud.authorityHost)}). Remove the "emulator" section`
            : undefined;
      if (problem) issue.addIssue({ code: 'custom', path: ['emulator', 'controlUrl'], message: problem });
    }
  })
  // The core names a group by its IdP id under one key, whichever IdP holds it (validated above:
  // exactly one of the two is present).
  .transform((config) => ({
    ...config,
    groups: config.groups.map((group) => ({ ...group, entraGroupId: (group.entraGroupId ?? group.oktaGroupId)! })),
  }));

/** Whether the control URL is the emulator that also serves this config's IdP (Entra's cloud, or the Okta org). */
function emulatorServesIdp(
  config: { idp?: { type: string; orgUrl?: string }; cloud: { authorityHost: string; graphBaseUrl: string } },
  controlUrl: string,
): boolean {
  if (config.idp?.type !== 'okta') return isEmulatorCloud(config.cloud, controlUrl);
  try {
    return new URL(config.idp.orgUrl!).origin === new URL(controlUrl).origin;
  } catch {
    return false;
  }
}

/**
 * What each identity provider requires and refuses: Entra needs tenantId, clientId and Entra group
 * ids; Okta needs Okta group ids and has no tenant, Graph app registration, SCIM job or PIM.
 */
function identityProviderProblems(config: {
  idp?: { type: 'entra' } | { type: 'okta' };
  tenantId?: string;
  clientId?: string;
  automation?: unknown;
  provisioning?: unknown;
  groups: { entraGroupId?: string; oktaGroupId?: string; backend?: string }[];
}): { path: (string | number)[]; message: string }[] {
  const found: { path: (string | number)[]; message: string }[] = [];
  if (config.idp?.type === 'okta') {
    const entraOnly: [keyof typeof config, string][] = [
      ['tenantId', 'Okta has no tenant id: the org is idp.orgUrl. Remove tenantId'],
      ['clientId', 'with Okta, people sign in to idp.clientId (the OIDC native app). Remove the top-level clientId'],
      [
        'automation',
        'with Okta, the automation is idp.automation (clientId and privateKeyFile). Move it there and remove the top-level "automation"',
      ],
      [
        'provisioning',
        'Okta carries memberships to OCI with Push Groups, which has no SCIM job to read or trigger. Remove "provisioning"',
      ],
    ];
    for (const [key, message] of entraOnly) if (config[key] !== undefined) found.push({ path: [key], message });
    config.groups.forEach((group, index) => {
      if (group.oktaGroupId === undefined)
        found.push({
          path: ['groups', index, 'oktaGroupId'],
          message:
            'is required with idp.type "okta": the Okta group id (00g…, Admin Console → Groups → the group\'s URL)',
        });
      if (group.entraGroupId !== undefined)
        found.push({
          path: ['groups', index, 'entraGroupId'],
          message: 'is an Entra object id; with idp.type "okta" name the group by oktaGroupId and remove entraGroupId',
        });
      if (group.backend === 'pim')
        found.push({
          path: ['groups', index, 'backend'],
          message:
            '"pim" is Entra PIM for Groups and does not exist in Okta; with idp.type "okta" use "records" (or remove "backend")',
        });
    });
    return found;
  }
  if (config.tenantId === undefined)
    found.push({ path: ['tenantId'], message: 'is required (the Entra directory id, a GUID); or set idp.type "okta"' });
  if (config.clientId === undefined)
    found.push({
      path: ['clientId'],
      message: 'is required (the Entra app registration people sign in with, a GUID); or set idp.type "okta"',
    });
  config.groups.forEach((group, index) => {
    if (group.entraGroupId === undefined)
      found.push({
        path: ['groups', index, 'entraGroupId'],
        message: "is required (the Entra group's object id, a GUID)",
      });
    if (group.oktaGroupId !== undefined)
      found.push({
        path: ['groups', index, 'oktaGroupId'],
        message: 'is an Okta group id, but this config\'s identity provider is Entra; set idp.type "okta" or remove it',
      });
  });
  return found;
}

/** removeDirectly true (for all groups or one) needs a key declared for writing: said at load time, not at the first removal. */
function directRemovalWithoutWriteKey(config: {
  oci?: { access: 'read' | 'write'; removeDirectly?: boolean };
  groups: { removeDirectly?: boolean }[];
}): { path: (string | number)[]; message: string }[] {
  const access = config.oci?.access;
  if (access === 'write') return [];
  const reason =
    access === 'read'
      ? 'needs oci.access "write" (the sweep host\'s key); this config\'s OCI key is declared read-only, and a read key sends no change to OCI'
      : 'needs an "oci" section with "access": "write" (the sweep host\'s key)';
  const found: { path: (string | number)[]; message: string }[] = [];
  if (config.oci?.removeDirectly === true) found.push({ path: ['oci', 'removeDirectly'], message: reason });
  config.groups.forEach((group, index) => {
    if (group.removeDirectly === true) found.push({ path: ['groups', index, 'removeDirectly'], message: reason });
  });
  return found;
}

export type Config = z.infer<typeof configSchema>;
export type GroupConfig = Config['groups'][number];
export type OktaIdpConfig = z.infer<typeof oktaIdpSchema>;
export type OciConfig = z.infer<typeof ociSchema>;
export type NotifyTargetConfig = z.infer<typeof notifyTargetSchema>;
export type ConfigInput = z.input<typeof configSchema>;
