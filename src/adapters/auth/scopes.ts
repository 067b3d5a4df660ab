/** The permissions ociaccess asks Entra for. */

/**
 * Delegated Microsoft Graph permissions of the CLI's public client, least
 * privilege for what people do with it: write their own request record
 * (User.ReadWrite), read others' records and the groups (User.Read.All,
 * Group.Read.All), change the temp group's members (GroupMember.ReadWrite.All),
 * provision on demand (Synchronization.ReadWrite.All), and stay signed in
 * (offline_access, for a refresh token).
 */
export const CLI_SCOPES = [
  'User.ReadWrite',
  'User.Read.All',
  'GroupMember.ReadWrite.All',
  'Group.Read.All',
  'Synchronization.ReadWrite.All',
  'offline_access',
] as const;

/**
 * The only scope an app-only (client credentials) token can ask for: every
 * application permission granted to the automation's service principal on
 * Graph, as `{graph resource}/.default`. The resource follows the cloud
 * (graph.microsoft.us, microsoftgraph.chinacloudapi.cn, the emulator).
 */
export function appOnlyGraphScope(graphBaseUrl: string): string {
  return `${graphBaseUrl.replace(/\/+$/, '')}/.default`;
}
