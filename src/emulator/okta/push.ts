/**
 * Group Push to the OCI identity domain (docs/okta.md, "Push Groups"): a
 * membership change in a pushed group is sent to OCI a few virtual seconds
 * later (settings.pushDelayMs), as changes against what was pushed before:
 * members added by hand in OCI stay, as Okta reconciles only when push is set
 * up. A member's OCI user is created when missing (userName = Okta login). An
 * INACTIVE mapping pushes nothing until it is active again. The mappings
 * answer GET /api/v1/apps/{appId}/group-push/mappings.
 */
import { json, type EmuRequest, type EmuResponse, type EmulatorApi, type Route } from '../http.js';
import type { World } from '../state.js';
import { createOciGroup, createOciUser, ociGroupByNameInsensitive } from '../oci/domain.js';
import { authorize, isCaller } from './auth.js';
import { accessDenied, notFound } from './errors.js';
import { oktaOrgUrl, orgPattern } from './org.js';
import { oktaRoute } from './rate-limits.js';
import type { OktaPushMapping } from './state.js';

/** Notes a membership change of `groupId`: its active mappings push after the delay. */
export function schedulePush(world: World, groupId: string): void {
  const at = world.now() + world.okta.settings.pushDelayMs;
  for (const mapping of world.okta.pushMappings.values()) {
    if (mapping.sourceGroupId !== groupId) continue;
    mapping.dueAt = mapping.dueAt === null ? at : Math.min(mapping.dueAt, at);
  }
}

export interface PushSummary {
  mappingId: string;
  added: string[];
  removed: string[];
}

function push(world: World, mapping: OktaPushMapping): PushSummary {
  const summary: PushSummary = { mappingId: mapping.id, added: [], removed: [] };
  const source = world.okta.groups.get(mapping.sourceGroupId);
  if (!source) {
    mapping.status = 'ERROR';
    mapping.errorSummary = 'The source group no longer exists.';
    return summary;
  }
  const target =
    ociGroupByNameInsensitive(world, mapping.targetGroupName) ??
    createOciGroup(world, { displayName: mapping.targetGroupName, externalId: source.id });
  const loginOf = (userId: string) => String(world.okta.users.get(userId)?.profile.login ?? '');
  for (const userId of source.members) {
    if (mapping.pushedMembers.has(userId)) continue;
    const user = world.okta.users.get(userId)!;
    const login = loginOf(userId);
    const oci =
      world.ociUserByUserName(login) ??
      createOciUser(world, {
        userName: login,
        displayName: `${String(user.profile.firstName ?? '')} ${String(user.profile.lastName ?? '')}`.trim() || login,
        createdBy: 'scim',
      });
    oci.active = true;
    if (!target.members.has(oci.id)) {
      target.members.add(oci.id);
      summary.added.push(login);
    }
  }
  for (const userId of mapping.pushedMembers) {
    if (source.members.has(userId)) continue;
    const oci = world.ociUserByUserName(loginOf(userId));
    if (oci && target.members.delete(oci.id)) summary.removed.push(loginOf(userId));
  }
  mapping.pushedMembers = new Set(source.members);
  mapping.lastPush = world.nowIso();
  mapping.errorSummary = null;
  mapping.dueAt = null;
  return summary;
}

/** Pushes every active mapping whose changes are due at the current virtual time. */
export function runDueOktaPushes(world: World): PushSummary[] {
  const now = world.now();
  const summaries: PushSummary[] = [];
  for (const mapping of world.okta.pushMappings.values()) {
    if (mapping.status !== 'ACTIVE' || mapping.dueAt === null || mapping.dueAt > now) continue;
    summaries.push(push(world, mapping));
  }
  return summaries;
}

/** "Push Now": pushes every active mapping at once, whether or not a change waits. */
export function pushNow(world: World): PushSummary[] {
  return [...world.okta.pushMappings.values()]
    .filter((mapping) => mapping.status === 'ACTIVE')
    .map((mapping) => push(world, mapping));
}

/** Pauses (INACTIVE) or resumes (ACTIVE) push; a resumed mapping pushes what changed meanwhile after the delay. */
export function setPushStatus(world: World, status: 'ACTIVE' | 'INACTIVE', mappingId?: string): OktaPushMapping[] {
  const changed: OktaPushMapping[] = [];
  for (const mapping of world.okta.pushMappings.values()) {
    if (mappingId && mapping.id !== mappingId) continue;
    mapping.status = status;
    mapping.lastUpdated = world.nowIso();
    if (status === 'ACTIVE') mapping.dueAt = world.now() + world.okta.settings.pushDelayMs;
    changed.push(mapping);
  }
  return changed;
}

export function mappingJson(emu: EmulatorApi, mapping: OktaPushMapping): Record<string, unknown> {
  const org = oktaOrgUrl(emu.baseUrl);
  const target = ociGroupByNameInsensitive(emu.world, mapping.targetGroupName);
  return {
    id: mapping.id,
    sourceGroupId: mapping.sourceGroupId,
    targetGroupId: target?.id ?? null,
    status: mapping.status,
    created: mapping.created,
    lastUpdated: mapping.lastUpdated,
    lastPush: mapping.lastPush,
    errorSummary: mapping.errorSummary,
    _links: {
      app: { href: `${org}/api/v1/apps/${mapping.appId}` },
      sourceGroup: { href: `${org}/api/v1/groups/${mapping.sourceGroupId}` },
      targetGroup: { href: `${org}/api/v1/groups/${mapping.sourceGroupId}` },
    },
  };
}

function listMappings(req: EmuRequest, emu: EmulatorApi): EmuResponse {
  const caller = authorize(req, emu, 'okta.apps.read', 'apps.read');
  if (!isCaller(caller)) return caller;
  // The mapping API takes both okta.apps.read and okta.groups.read ([mgmt] listGroupPushMappings).
  if (!caller.token.scopes.includes('okta.groups.read')) return accessDenied();
  const app = emu.world.okta.apps.get(req.params.appId!);
  if (!app) return notFound('AppInstance', req.params.appId!);
  const source = req.query.get('sourceGroupId');
  const status = req.query.get('status');
  const mappings = [...emu.world.okta.pushMappings.values()].filter(
    (mapping) =>
      mapping.appId === app.clientId &&
      (!source || mapping.sourceGroupId === source) &&
      (!status || mapping.status === status),
  );
  return json(
    200,
    mappings.map((mapping) => mappingJson(emu, mapping)),
  );
}

export function pushRoutes(): Route[] {
  return [
    oktaRoute('GET', orgPattern('/api/v1/apps/(?<appId>[^/]+)/group-push/mappings'), 'api/v1/apps', listMappings),
  ];
}
