/** How the sweep names what it reports, and when a failing removal counts as irrevocable. */
import type { MemberKind } from './ports.js';
import { stripControls } from './text.js';

/** After this many failed attempts a removal is flagged irrevocable (still retried on every sweep). */
export const IRREVOCABLE_AFTER_ATTEMPTS = 6;

const KIND_NAMES: Record<Exclude<MemberKind, 'user'>, string> = {
  group: 'nested group',
  servicePrincipal: 'service principal',
  device: 'device',
  other: 'directory object',
};

/** "service principal "Build agent" (id)": how a member that is not a user is named in messages. */
export function describeNonUser(member: { kind?: MemberKind; displayName?: string; id: string }): string {
  const kind = member.kind && member.kind !== 'user' ? KIND_NAMES[member.kind] : 'member';
  const name = stripControls(member.displayName ?? '');
  return `${kind} ${name ? `"${name}" ` : ''}(${member.id})`;
}
