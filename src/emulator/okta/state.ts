/**
 * One Okta org's state in the world (world.okta): people, groups, the profile
 * schemas, the OAuth apps, what the org authorization server issued, the rate
 * limit windows and the Group Push mappings. See docs/okta.md for the contract.
 */
import type { KeyObject } from 'node:crypto';

/** Admin role assignments, reduced to what the emulator checks (docs/okta.md, "Scopes"). */
export type OktaRoleType =
  'OCIACCESS_READER' | 'GROUP_MEMBERSHIP_ADMIN' | 'GROUP_ADMIN' | 'USER_ADMIN' | 'ORG_ADMIN' | 'SUPER_ADMIN';

export interface OktaRole {
  type: OktaRoleType;
  /** Group targets (GROUP_MEMBERSHIP_ADMIN, GROUP_ADMIN); absent = all groups. */
  groupIds?: string[];
}

export interface OktaUser {
  id: string;
  status: 'ACTIVE' | 'SUSPENDED' | 'DEPROVISIONED';
  created: string;
  lastUpdated: string;
  /** login, email, firstName, lastName, displayName and the custom attributes. */
  profile: Record<string, unknown>;
  roles: OktaRole[];
}

export interface OktaGroup {
  id: string;
  created: string;
  lastUpdated: string;
  lastMembershipUpdated: string;
  /** name, description and the custom attributes. */
  profile: Record<string, unknown>;
  /** Member user ids. */
  members: Set<string>;
}

export type SelfPermission = 'READ_WRITE' | 'READ_ONLY' | 'HIDE';

/** One property of definitions.base or definitions.custom (UserSchemaAttribute, reduced). */
export interface OktaSchemaAttribute {
  title: string;
  type: 'string' | 'boolean' | 'integer' | 'number' | 'array';
  maxLength?: number;
  /** SELF's permission (users only; groups have no SELF). */
  self?: SelfPermission;
  /** Base attributes cannot be removed and are listed under definitions.base. */
  base?: boolean;
  required?: boolean;
}

export interface OktaApp {
  clientId: string;
  label: string;
  kind: 'native' | 'service' | 'provisioning';
  /** Okta API scopes granted on the app's "Okta API Scopes" tab (its grants collection). */
  grantedScopes: string[];
  /** Service apps: the registered JWKS, by kid. */
  publicKeys: Map<string, KeyObject>;
  /** Service apps: admin roles assigned to the app. */
  roles: OktaRole[];
  /** "Require Demonstrating Proof of Possession (DPoP) header in token requests" (docs/okta.md, DPoP). */
  requireDpop?: boolean;
}

export interface OktaToken {
  token: string;
  kind: 'access' | 'refresh';
  clientId: string;
  /** Set for people's tokens; absent for a service app's. */
  userId?: string;
  scopes: string[];
  expiresAt: number;
  revoked: boolean;
  /** A DPoP-bound token: the JWK thumbprint (RFC 7638) of the key its every use must prove. */
  jkt?: string;
}

export interface OktaDeviceGrant {
  deviceCode: string;
  userCode: string;
  clientId: string;
  scopes: string[];
  expiresAt: number;
  intervalSeconds: number;
  /** Virtual time of the last poll, for slow_down. */
  lastPolledAt: number | null;
  approvedByUserId: string | null;
  denied: boolean;
  consumed: boolean;
}

/** A Group Push mapping (GroupPushMapping) and what the push engine remembers of it. */
export interface OktaPushMapping {
  id: string;
  appId: string;
  sourceGroupId: string;
  /** The OCI group's display name (created under it when missing). */
  targetGroupName: string;
  status: 'ACTIVE' | 'INACTIVE' | 'ERROR';
  created: string;
  lastUpdated: string;
  lastPush: string | null;
  errorSummary: string | null;
  /** Virtual time at which pending membership changes are pushed; null when nothing waits. */
  dueAt: number | null;
  /** Okta user ids last pushed as members (the push sends changes against this). */
  pushedMembers: Set<string>;
}

export interface OktaSettings {
  deviceCodeLifetimeSeconds: number;
  deviceCodeIntervalSeconds: number;
  accessTokenLifetimeSeconds: number;
  refreshTokenLifetimeSeconds: number;
  /** Delay between a membership change and its push to OCI (virtual ms). */
  pushDelayMs: number;
}

export const DEFAULT_OKTA_SETTINGS: OktaSettings = {
  deviceCodeLifetimeSeconds: 600,
  deviceCodeIntervalSeconds: 5,
  accessTokenLifetimeSeconds: 3600,
  refreshTokenLifetimeSeconds: 90 * 24 * 3600,
  pushDelayMs: 5_000,
};

/** A rate-limit window of one endpoint group (see rate-limits.ts). */
export interface RateWindow {
  windowStart: number;
  used: number;
}

export class OktaState {
  readonly settings: OktaSettings = { ...DEFAULT_OKTA_SETTINGS };
  readonly users = new Map<string, OktaUser>();
  readonly groups = new Map<string, OktaGroup>();
  readonly userSchema = new Map<string, OktaSchemaAttribute>();
  readonly groupSchema = new Map<string, OktaSchemaAttribute>();
  readonly apps = new Map<string, OktaApp>();
  readonly tokens = new Map<string, OktaToken>();
  readonly deviceGrants = new Map<string, OktaDeviceGrant>();
  /** Client assertion jti → virtual time until which it is remembered (its exp). */
  readonly usedAssertionIds = new Map<string, number>();
  readonly pushMappings = new Map<string, OktaPushMapping>();
  readonly rateWindows = new Map<string, RateWindow>();
  /** Per-minute budgets set by tests (bucket → limit), over the defaults. */
  readonly rateLimitOverrides = new Map<string, number>();
  /** The nonce the token endpoint wants in DPoP proofs now (DPoP-Nonce). */
  dpopNonce = '';
  /** DPoP proof `jkt jti` → virtual time until which it is remembered. */
  readonly usedDpopProofs = new Map<string, number>();

  userByIdOrLogin(idOrLogin: string): OktaUser | undefined {
    const direct = this.users.get(idOrLogin);
    if (direct) return direct;
    const wanted = idOrLogin.toLowerCase();
    for (const user of this.users.values()) {
      const login = String(user.profile.login ?? '').toLowerCase();
      // "login shortname (as long as the shortname is unambiguous)" — the part before '@'.
      if (login === wanted) return user;
    }
    const short = [...this.users.values()].filter(
      (user) =>
        String(user.profile.login ?? '')
          .toLowerCase()
          .split('@')[0] === wanted,
    );
    return short.length === 1 ? short[0] : undefined;
  }
}
