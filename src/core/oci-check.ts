/** Proof in OCI: is the user (by user name = Entra UPN) a member of the group's OCI twin? */
import type { GroupConfig } from '../config/schema.js';
import type { OciPort } from './ports.js';

export type OciMembership =
  | { state: 'member'; ociUserId: string; ociGroupId: string }
  | { state: 'not-member'; ociUserId: string; ociGroupId: string }
  /** Never provisioned to OCI (or deleted there): certainly not a member. */
  | { state: 'no-user'; ociGroupId: string }
  | { state: 'no-group' };

export async function checkOciMembership(oci: OciPort, group: GroupConfig, userName: string, memberIds?: Set<string>): Promise<OciMembership> {
  const ociGroup = await oci.findGroup(group.ociGroupName);
  if (!ociGroup) return { state: 'no-group' };
  const user = await oci.findUser(userName);
  if (!user) return { state: 'no-user', ociGroupId: ociGroup.id };
  const members = memberIds ?? (await oci.groupMemberIds(ociGroup.id));
  return { state: members.has(user.id) ? 'member' : 'not-member', ociUserId: user.id, ociGroupId: ociGroup.id };
}

export const describeOci = (membership: OciMembership | undefined): string => {
  switch (membership?.state) {
    case 'member': return 'in OCI group';
    case 'not-member': return 'not in OCI group';
    case 'no-user': return 'no OCI user yet';
    case 'no-group': return 'OCI group missing';
    default: return '-';
  }
};
