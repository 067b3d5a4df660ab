/**
 * The event port (src/core/events.ts) and the audit log as its recorder
 * (src/store/audit-trail.ts): an intent that cannot be kept rejects (no grant
 * unaudited); emit never rejects and hands the recorder's failure back;
 * subscribers are told after the recorder, not awaited, and their failures
 * go to onError.
 */
import { EventBus, type DomainEvent } from '../../src/core/events.js';
import { auditRecorder } from '../../src/store/audit-trail.js';
import type { AuditInput } from '../../src/core/deps.js';

const base = {
  at: '2026-11-29T12:00:00.000Z',
  actor: { id: 'app', upn: 'sweep', kind: 'app' as const },
  group: { id: 'g-1', name: 'OCI-Temp-Admins' },
};
const approved: DomainEvent = {
  ...base,
  type: 'request.approved',
  requester: { id: 'u-1', upn: 'alice@x.example' },
  requestId: 'r-00000001',
  hours: 2,
  expiresAt: '2026-11-29T14:00:00.000Z',
  auto: true,
};
const removed: DomainEvent = {
  ...base,
  type: 'member.removed',
  member: { id: 'u-2', upn: 'bob@x.example' },
  reason: 'expired',
  requestId: 'r-00000002',
  outcome: 'removed',
};

test('intend writes the pending entry, and rejects when the audit log cannot: the grant is then not made', async () => {
  const written: AuditInput[][] = [];
  const ok = new EventBus(auditRecorder(async (entries) => void written.push(entries)));
  await ok.intend(approved);
  expect(written).toEqual([
    [
      {
        actor: base.actor,
        action: 'auto-approve',
        target: {
          groupId: 'g-1',
          groupName: 'OCI-Temp-Admins',
          userId: 'u-1',
          upn: 'alice@x.example',
          requestId: 'r-00000001',
        },
        result: 'pending',
      },
    ],
  ]);
  const broken = new EventBus(
    auditRecorder(async () => {
      throw new Error('disk full');
    }),
  );
  await expect(broken.intend(approved)).rejects.toThrow('disk full');
});

test('emit writes one append for many events, never rejects, and returns the recorder failure', async () => {
  const written: AuditInput[][] = [];
  const ok = new EventBus(auditRecorder(async (entries) => void written.push(entries)));
  expect(await ok.emit([removed, removed])).toEqual({});
  expect(written).toHaveLength(1);
  expect(written[0]!.map((e) => [e.action, e.result, e.details])).toEqual([
    ['remove', 'ok', { entra: 'removed' }],
    ['remove', 'ok', { entra: 'removed' }],
  ]);
  const failure = new Error('disk full');
  const broken = new EventBus(
    auditRecorder(async () => {
      throw failure;
    }),
  );
  expect(await broken.emit(removed)).toEqual({ recordFailure: failure });
});

test('subscribers are told every event without being awaited; a failing one goes to onError and stops nothing', async () => {
  const errors: unknown[] = [];
  const bus = new EventBus(undefined, (error) => errors.push(error));
  const seen: string[] = [];
  let release!: () => void;
  const slow = new Promise<void>((resolve) => (release = resolve));
  bus.subscribe(async (event) => {
    await slow;
    seen.push(event.type);
  });
  bus.subscribe(() => {
    throw new Error('webhook down');
  });
  const unsubscribe = bus.subscribe((event) => void seen.push(`early ${event.type}`));
  await bus.emit([approved, removed]);
  expect(seen).toEqual(['early request.approved', 'early member.removed']);
  unsubscribe();
  release();
  await bus.settled();
  expect(seen).toEqual(['early request.approved', 'early member.removed', 'request.approved', 'member.removed']);
  expect(errors).toHaveLength(2);
});
