/**
 * The audit log read as actions: an action writes a "pending" entry before its
 * change and its outcome after, and a person wants one row per action with
 * its final state. Entries of the same actor, host, action and target are
 * folded while the action is still pending; anything else starts a new row.
 * Pure: `ociaccess audit` reads the entries, this folds them.
 */
import type { AuditEntry, AuditResult } from './audit-entry.js';

export interface AuditAction {
  /** The sequence numbers of the entries folded into this action, oldest first. */
  seqs: number[];
  /** When the action started (its first entry). */
  at: string;
  /** When its last entry was written. */
  lastAt: string;
  actor: AuditEntry['actor'];
  host: string;
  action: string;
  target: AuditEntry['target'];
  /** The result of its last entry: ok, failed, or pending (not finished, or waiting for OCI). */
  state: AuditResult;
  reason: string | null;
  details: Record<string, unknown>;
}

const keyOf = (entry: AuditEntry) =>
  JSON.stringify([
    entry.host,
    entry.actor.id,
    entry.action,
    entry.target.groupId ?? null,
    entry.target.userId ?? entry.target.upn ?? null,
    entry.target.requestId ?? null,
  ]);

/** Why an action was taken, where the entry says it only in its details (a forced OCI removal). */
function reasonOf(entry: AuditEntry, idpName: string): string | undefined {
  if (entry.reason) return entry.reason;
  const pendingForMs = entry.details?.pendingForMs;
  if (entry.action === 'force-remove-oci' && typeof pendingForMs === 'number')
    return `still in OCI ${Math.round(pendingForMs / 60_000)} minutes after the removal in ${idpName} (sweep.forceOciAfterMinutes)`;
  return undefined;
}

/** `idpName` names where this machine's removals are made ("Entra", "Okta"): one machine, one config. */
export function foldAuditActions(entries: readonly AuditEntry[], idpName = 'Entra'): AuditAction[] {
  const actions: AuditAction[] = [];
  const open = new Map<string, AuditAction>();
  for (const entry of entries) {
    const key = keyOf(entry);
    const pending = open.get(key);
    const reason = reasonOf(entry, idpName);
    if (pending) {
      pending.seqs.push(entry.seq);
      pending.lastAt = entry.at;
      pending.state = entry.result;
      pending.reason = reason ?? pending.reason;
      pending.details = { ...pending.details, ...entry.details };
    } else {
      const action: AuditAction = {
        seqs: [entry.seq],
        at: entry.at,
        lastAt: entry.at,
        actor: entry.actor,
        host: entry.host,
        action: entry.action,
        target: entry.target,
        state: entry.result,
        reason: reason ?? null,
        details: { ...entry.details },
      };
      actions.push(action);
      open.set(key, action);
    }
    // Only an intent ("pending" written before the change) waits for its outcome; a later entry is a new action.
    const current = open.get(key)!;
    if (entry.result !== 'pending' || current.seqs.length > 1) open.delete(key);
  }
  return actions;
}
