/**
 * Where Entra ID and Microsoft Graph live in each Microsoft cloud. A
 * sovereign cloud differs only in these two hosts; `custom` is for anything
 * else (a proxy, the emulator).
 */
export interface CloudPreset {
  id: string;
  label: string;
  authorityHost: string;
  graphBaseUrl: string;
}

export const CLOUDS: readonly CloudPreset[] = [
  { id: 'public', label: 'Global (public) cloud', authorityHost: 'https://login.microsoftonline.com', graphBaseUrl: 'https://graph.microsoft.com' },
  { id: 'usgov', label: 'US Government (GCC High)', authorityHost: 'https://login.microsoftonline.us', graphBaseUrl: 'https://graph.microsoft.us' },
  { id: 'usgov-dod', label: 'US Government (DoD)', authorityHost: 'https://login.microsoftonline.us', graphBaseUrl: 'https://dod-graph.microsoft.us' },
  { id: 'china', label: 'China (operated by 21Vianet)', authorityHost: 'https://login.chinacloudapi.cn', graphBaseUrl: 'https://microsoftgraph.chinacloudapi.cn' },
];

export const CLOUD_IDS = [...CLOUDS.map((cloud) => cloud.id), 'custom'] as const;

export function cloudPreset(id: string): CloudPreset | undefined {
  return CLOUDS.find((cloud) => cloud.id === id);
}

/** The preset whose hosts these are, or 'custom'. */
export function cloudOf(authorityHost: string, graphBaseUrl: string): string {
  const trim = (url: string) => url.replace(/\/+$/, '');
  return CLOUDS.find((cloud) => cloud.authorityHost === trim(authorityHost) && cloud.graphBaseUrl === trim(graphBaseUrl))?.id ?? 'custom';
}
