/**
 * foldAuditActions: an action's "pending" entry and its outcome are one row;
 * entries of other actions, targets, actors or hosts never fold together.
 */
import type { AuditEntry } from '../../src/store/audit-entry.js';
import { foldAuditActions } from '../../src/store/audit-actions.js';

let seq = 0;
function entry(fields: Partial<AuditEntry> & Pick<AuditEntry, 'action' | 'result'>): AuditEntry {
  seq += 1;
  return {
    seq,
    at: `2026-11-29T08:00:${String(seq).padStart(2, '0')}.123Z`,
    actor: { id: 'bob-id', upn: 'bob@contoso.example', kind: 'user' },
    host: 'laptop',
    target: { groupId: 'g', groupName: 'OCI-Temp-Admins', userId: 'alice-id', upn: 'alice@contoso.example' },
    prev: '0',
    hash: '0',
    ...fields,
  };
}

beforeEach(() => {
  seq = 0;
});

const rows = (entries: AuditEntry[]) => foldAuditActions(entries).map((a) => [a.action, a.state, a.seqs, a.reason]);

test('pending then ok: one row, ok, the reason kept, the details merged, first and last times', () => {
  const actions = foldAuditActions([
    entry({ action: 'revoke', result: 'pending', reason: 'done early', details: { requests: ['r-1'] } }),
    entry({ action: 'revoke', result: 'ok', reason: 'done early', details: { membership: 'removed' } }),
  ]);
  expect(actions).toEqual([
    expect.objectContaining({
      seqs: [1, 2],
      at: '2026-11-29T08:00:01.123Z',
      lastAt: '2026-11-29T08:00:02.123Z',
      state: 'ok',
      reason: 'done early',
      details: { requests: ['r-1'], membership: 'removed' },
    }),
  ]);
});

test('a revoke still pending in OCI (intent and outcome both pending) is one row, pending; the next revoke is another row', () => {
  expect(
    rows([
      entry({ action: 'revoke', result: 'pending' }),
      entry({ action: 'revoke', result: 'pending', details: { oci: 'member' } }),
      entry({ action: 'revoke', result: 'pending' }),
      entry({ action: 'revoke', result: 'failed' }),
    ]),
  ).toEqual([
    ['revoke', 'pending', [1, 2], null],
    ['revoke', 'failed', [3, 4], null],
  ]);
});

test('an intent with no outcome (the command stopped) stays pending; entries of other targets, actors and hosts do not fold into it', () => {
  expect(
    rows([
      entry({ action: 'approve', result: 'pending', target: { requestId: 'r-1', userId: 'alice-id' } }),
      entry({ action: 'approve', result: 'ok', target: { requestId: 'r-2', userId: 'alice-id' } }),
      entry({ action: 'approve', result: 'ok', target: { requestId: 'r-1', userId: 'alice-id' }, host: 'other' }),
      entry({
        action: 'approve',
        result: 'ok',
        target: { requestId: 'r-1', userId: 'alice-id' },
        actor: { id: 'carol-id', upn: 'carol@contoso.example', kind: 'user' },
      }),
    ]),
  ).toEqual([
    ['approve', 'pending', [1], null],
    ['approve', 'ok', [2], null],
    ['approve', 'ok', [3], null],
    ['approve', 'ok', [4], null],
  ]);
});

test('force-remove-oci says why from its details; an entry that is complete at once is its own row', () => {
  expect(
    rows([
      entry({ action: 'force-remove-oci', result: 'ok', details: { pendingForMs: 45 * 60_000 } }),
      entry({ action: 'force-remove-oci', result: 'ok', details: { pendingForMs: 31 * 60_000 } }),
    ]),
  ).toEqual([
    ['force-remove-oci', 'ok', [1], 'still in OCI 45 minutes after the removal in Entra (sweep.forceOciAfterMinutes)'],
    ['force-remove-oci', 'ok', [2], 'still in OCI 31 minutes after the removal in Entra (sweep.forceOciAfterMinutes)'],
  ]);
});

test("on an Okta machine a forced OCI removal's reason names Okta, not Entra", () => {
  const [action] = foldAuditActions(
    [entry({ action: 'force-remove-oci', result: 'ok', details: { pendingForMs: 12 * 60_000 } })],
    'Okta',
  );
  expect(action.reason).toBe('still in OCI 12 minutes after the removal in Okta (sweep.forceOciAfterMinutes)');
});
