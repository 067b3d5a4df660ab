/**
 * "Nothing is recorded as done that was not": every audit entry a command
 * wrote with result "ok" is checked against the emulator right after the
 * command (nothing else runs in between), and so are the removals the sweep's
 * ledger calls confirmed.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { World } from '../../../src/emulator/state.js';
import { SEED } from '../../../src/emulator/seed.js';

export async function auditEntries(home: string): Promise<any[]> {
  const text = await readFile(path.join(home, 'audit.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
}

function entraMember(world: World, userId: string): boolean {
  return world.groups.get(SEED.tempGroupId)!.members.has(userId);
}

function ociMember(world: World, upn: string): boolean {
  const user = world.ociUserByUserName(upn);
  return Boolean(user && world.ociGroupByName(SEED.tempGroupName)!.members.has(user.id));
}

function requestRecorded(world: World, userId: string, requestId: string): boolean {
  const records = world.users.get(userId)?.extensions.get('com.ociaccess.requests')?.properties.records;
  return typeof records === 'string' && (JSON.parse(records) as { i: string }[]).some((r) => r.i === requestId);
}

/** Problems with the "ok" entries after index `from` of the audit log (empty when every one is true). */
export async function untrueAuditEntries(world: World, home: string, from: number): Promise<string[]> {
  const problems: string[] = [];
  for (const entry of (await auditEntries(home)).slice(from)) {
    if (entry.result !== 'ok') continue;
    const userId: string | undefined = entry.target?.userId;
    const what = `${entry.action} ${entry.target?.upn ?? ''} (seq ${entry.seq})`;
    switch (entry.action) {
      case 'approve':
      case 'auto-approve':
        if (userId && !entraMember(world, userId)) problems.push(`${what}: ok, but not a member`);
        break;
      case 'remove':
      case 'revoke':
        // A requester revoking their own grant cannot remove themselves (not a group owner): recorded, left for the sweep.
        if (entry.details?.membership === 'left-for-sweep') break;
        if (userId && entraMember(world, userId)) problems.push(`${what}: ok, but still a member`);
        break;
      case 'confirm-oci':
        if (entry.target?.upn && ociMember(world, entry.target.upn))
          problems.push(`${what}: ok, but still in the OCI group`);
        break;
      case 'request':
        if (userId && entry.target?.requestId && !requestRecorded(world, userId, entry.target.requestId))
          problems.push(`${what}: ok, but no record in Entra`);
        break;
      default:
        break;
    }
  }
  return problems;
}
