/**
 * An in-memory tenant behind the core's ports (DirectoryPort, OciPort,
 * StatePort, the audit log as the event recorder), so the model check can run the real use cases
 * (requestAccess, approveRequest, denyRequest, revokeGrant, runSweep)
 * thousands of times in seconds.
 *
 * It keeps Graph's rules that matter here: a person writes only their own
 * user object, only the app writes the group's record, only owners (the
 * approvers) and the app change the membership; "already a member" and "not a
 * member" are answers, not errors.
 *
 * Crashes: `crashAt(k, after)` makes the k-th port call of the next operation
 * the last thing that process does — it dies just before that call takes
 * effect, or just after (the effect happened, the answer was lost). From then
 * on every port call fails without effect, whatever the code does with the
 * error, as with kill -9. Local state writes are atomic (as the real store's).
 */
import { AuthError, UpstreamError } from '../../../src/errors.js';
import type { Clock, IdSource } from '../../../src/context.js';
import type { AuditInput, CoreDeps } from '../../../src/core/deps.js';
import { EventBus } from '../../../src/core/events.js';
import { auditRecorder } from '../../../src/store/audit-trail.js';
import type {
  AddResult,
  DirectoryPort,
  DirectoryUser,
  OciPort,
  OciUserRef,
  ProvisioningJobStatus,
  RecordOwner,
  RecordPayload,
  RemoveResult,
} from '../../../src/core/ports.js';
import {
  emptyState,
  stateLedger,
  validateLocalState,
  type LocalState,
  type StateStore,
} from '../../../src/store/state-store.js';
import type { Config } from '../../../src/config/schema.js';

export class Crash extends Error {
  constructor() {
    super('the process was killed');
  }
}

export class FakeTenant {
  now: number;
  readonly users = new Map<string, DirectoryUser>();
  readonly owners = new Set<string>();
  readonly members = new Set<string>();
  /** OCI group members, by Entra user id (provisioning copies the Entra group at each cycle). */
  readonly ociMembers = new Set<string>();
  readonly records = new Map<string, RecordPayload>();
  /** Called before a member is removed: (userId, by whom). */
  onRemove?: (userId: string, by: string) => void;
  private nextId = 0;
  private calls = 0;
  private crashPlan: { at: number; after: boolean } | undefined;
  private dead = false;

  constructor(startMs: number) {
    this.now = startMs;
  }

  addUser(id: string, upn: string, options: { owner?: boolean } = {}): void {
    this.users.set(id, { id, userPrincipalName: upn, displayName: upn.split('@')[0]! });
    if (options.owner) this.owners.add(id);
  }

  /** The next operation dies at its k-th port call (before or after that call's effect). */
  crashAt(k: number, after: boolean): void {
    this.calls = 0;
    this.crashPlan = { at: k, after };
    this.dead = false;
  }

  /** Ends crash mode; says whether a crash happened. */
  settle(): boolean {
    const crashed = this.dead;
    this.crashPlan = undefined;
    this.dead = false;
    return crashed;
  }

  provisioningCycle(): void {
    this.ociMembers.clear();
    for (const id of this.members) this.ociMembers.add(id);
  }

  /** Every port call goes through here: counted, and the crash point. */
  async port<T>(effect: () => T): Promise<T> {
    await Promise.resolve();
    if (this.dead) throw new Crash();
    this.calls += 1;
    if (this.crashPlan && this.calls === this.crashPlan.at) {
      this.dead = true;
      if (this.crashPlan.after) effect();
      throw new Crash();
    }
    return effect();
  }

  clock(): Clock {
    return { now: () => new Date(this.now), sleep: async () => undefined };
  }

  ids(): IdSource {
    return {
      requestId: () => `r-${(this.nextId += 1).toString(36).padStart(8, '0')}`,
      uuid: () => `uuid-${(this.nextId += 1)}`,
    };
  }

  private recordKey(owner: RecordOwner, name: string): string {
    // A user's record may be addressed by UPN, as Graph allows: it is the same record.
    const id = owner.kind === 'user' ? (this.user(owner.id)?.id ?? owner.id) : owner.id;
    return `${owner.kind}:${id}:${name}`;
  }

  private user(idOrUpn: string): DirectoryUser | undefined {
    const direct = this.users.get(idOrUpn);
    if (direct) return direct;
    const wanted = idOrUpn.toLowerCase();
    return [...this.users.values()].find((u) => u.userPrincipalName.toLowerCase() === wanted);
  }

  /** The directory as one identity sees it: a person (user id) or the automation app ('app'). */
  directory(identity: string): DirectoryPort {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the port's methods are arrow functions over this tenant
    const tenant = this;
    const mayChangeMembers = () => identity === 'app' || tenant.owners.has(identity);
    const denied = (what: string) =>
      new AuthError('PERMISSION_DENIED', `Microsoft Graph denied the permission to ${what}.`);
    return {
      me: () =>
        tenant.port(() => {
          const me = tenant.users.get(identity);
          if (!me) throw new AuthError('SESSION_EXPIRED', 'app-only token has no /me');
          return me;
        }),
      // Whole seconds, as an HTTP Date header has them.
      serviceTime: () => tenant.port(() => new Date(Math.floor(tenant.now / 1000) * 1000)),
      getUser: (idOrUpn) => tenant.port(() => tenant.user(idOrUpn) ?? null),
      getUsers: (keys) =>
        tenant.port(() => {
          const found = new Map<string, DirectoryUser>();
          for (const key of keys) {
            const user = tenant.user(key);
            if (user) found.set(key, user);
          }
          return found;
        }),
      listGroupMembers: () =>
        tenant.port(() => [...tenant.members].map((id) => ({ ...tenant.users.get(id)!, kind: 'user' as const }))),
      addGroupMember: (_groupId, userId) =>
        tenant.port((): AddResult => {
          if (!mayChangeMembers()) throw denied('add the member to the group');
          if (tenant.members.has(userId)) return 'already-member';
          tenant.members.add(userId);
          return 'added';
        }),
      removeGroupMember: (_groupId, userId) =>
        tenant.port((): RemoveResult => {
          if (!mayChangeMembers()) throw denied('remove the member from the group');
          if (!tenant.members.has(userId)) return 'not-member';
          tenant.onRemove?.(userId, identity);
          tenant.members.delete(userId);
          return 'removed';
        }),
      removeGroupMembers: (_groupId, userIds) =>
        tenant.port(() => {
          const results = new Map<string, RemoveResult | Error>();
          for (const userId of userIds) {
            if (!mayChangeMembers()) results.set(userId, denied('remove members'));
            else if (!tenant.members.has(userId)) results.set(userId, 'not-member');
            else {
              tenant.onRemove?.(userId, identity);
              tenant.members.delete(userId);
              results.set(userId, 'removed');
            }
          }
          return results;
        }),
      readRecord: (owner, name) =>
        tenant.port(() => structuredClone(tenant.records.get(tenant.recordKey(owner, name)) ?? null)),
      readRecords: (owners, name) =>
        tenant.port(
          () =>
            new Map(
              owners.map((owner) => [
                owner.id,
                structuredClone(tenant.records.get(tenant.recordKey(owner, name)) ?? null),
              ]),
            ),
        ),
      writeRecord: (owner, name, payload) =>
        tenant.port(() => {
          const allowed = owner.kind === 'user' ? owner.id === identity : identity === 'app';
          if (!allowed) throw denied('write an access record');
          tenant.records.set(tenant.recordKey(owner, name), structuredClone(payload));
        }),
      provisionOnDemand: (_groupId: string, userIds: string[]) =>
        tenant.port(() =>
          userIds.map((userId) => ({ userId, result: 'Success' as const, errorCode: null, reason: null })),
        ),
      provisioningJob: () =>
        tenant.port((): ProvisioningJobStatus => ({
          id: 'job',
          code: 'Active',
          lastExecution: null,
          lastSuccessfulRun: null,
          successiveFailures: 0,
          quarantine: null,
          interval: null,
          scheduleState: 'Active',
        })),
    };
  }

  oci(): OciPort {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- as above
    const tenant = this;
    const ref = (id: string): OciUserRef => ({ id: `oci-${id}`, userName: tenant.users.get(id)!.userPrincipalName });
    return {
      findUser: (userName) =>
        tenant.port(() => {
          const user = tenant.user(userName);
          return user ? ref(user.id) : null;
        }),
      findGroup: (displayName) => tenant.port(() => ({ id: 'oci-group', displayName })),
      groupMemberIds: () => tenant.port(() => new Set([...tenant.ociMembers].map((id) => `oci-${id}`))),
      groupMembers: () => tenant.port(() => [...tenant.ociMembers].map(ref)),
      removeGroupMember: (_groupId, ociUserId) =>
        tenant.port(() => {
          tenant.ociMembers.delete(ociUserId.replace(/^oci-/, ''));
        }),
      removeGroupMembers: (_groupId, ociUserIds) =>
        tenant.port(() => {
          for (const id of ociUserIds) tenant.ociMembers.delete(id.replace(/^oci-/, ''));
          return new Map(ociUserIds.map((id) => [id, 'removed' as const]));
        }),
    };
  }
}

/** One machine's local state and audit log, in memory; writes are atomic, as the real store's. */
export class FakeMachine {
  state: LocalState = emptyState();
  readonly audit: AuditInput[] = [];

  constructor(private readonly tenant: FakeTenant) {}

  statePort(): Pick<StateStore, 'read' | 'update'> {
    return {
      read: () => this.tenant.port(() => structuredClone(this.state)),
      update: async (mutator) => {
        const draft = structuredClone(await this.tenant.port(() => this.state));
        await mutator(draft);
        const checked = validateLocalState(draft);
        if (!checked.ok) throw new UpstreamError('STATE_INVALID_UPDATE', checked.problem);
        return this.tenant.port(() => {
          this.state = checked.state;
          return structuredClone(this.state);
        });
      },
    };
  }

  deps(tenant: FakeTenant, config: Config, identity: string): CoreDeps {
    return {
      config,
      clock: tenant.clock(),
      ids: tenant.ids(),
      directory: tenant.directory(identity),
      oci: async () => tenant.oci(),
      state: stateLedger(this.statePort()),
      events: new EventBus(
        auditRecorder((entries) =>
          tenant.port(() => {
            this.audit.push(...entries);
          }),
        ),
      ),
    };
  }
}
