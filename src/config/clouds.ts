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
  {
    id: 'public',
    label: 'Global (public) cloud',
    authorityHost: 'https://login.microsoftonline.com',
    graphBaseUrl: 'https://graph.microsoft.com',
  },
  {
    id: 'usgov',
    label: 'US Government (GCC High)',
    authorityHost: 'https://login.microsoftonline.us',
    graphBaseUrl: 'https://graph.microsoft.us',
  },
  {
    id: 'usgov-dod',
    label: 'US Government (DoD)',
    authorityHost: 'https://login.microsoftonline.us',
    graphBaseUrl: 'https://dod-graph.microsoft.us',
  },
  {
    id: 'china',
    label: 'China (operated by 21Vianet)',
    authorityHost: 'https://login.chinacloudapi.cn',
    graphBaseUrl: 'https://microsoftgraph.chinacloudapi.cn',
  },
];

export const CLOUD_IDS = [...CLOUDS.map((cloud) => cloud.id), 'custom'] as const;

export function cloudPreset(id: string): CloudPreset | undefined {
  return CLOUDS.find((cloud) => cloud.id === id);
}

/** The preset whose hosts these are, or 'custom'. */
export function cloudOf(authorityHost: string, graphBaseUrl: string): string {
  const trim = (url: string) => url.replace(/\/+$/, '');
  return (
    CLOUDS.find((cloud) => cloud.authorityHost === trim(authorityHost) && cloud.graphBaseUrl === trim(graphBaseUrl))
      ?.id ?? 'custom'
  );
}

/** Where the emulator may live: this machine only. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

function parsedUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** An https:// URL on a loopback address (127.0.0.1, ::1, localhost). */
export function isLoopbackHttps(url: string): boolean {
  const parsed = parsedUrl(url);
  return parsed !== undefined && parsed.protocol === 'https:' && LOOPBACK_HOSTS.has(parsed.hostname.toLowerCase());
}

/**
 * The emulator's own cloud: what `ociaccess emulator` writes, sign-in and
 * Graph both served from the control URL's origin, over https on a loopback
 * address. No preset (public, sovereign) and no other custom cloud is it.
 */
export function isEmulatorCloud(cloud: { authorityHost: string; graphBaseUrl: string }, controlUrl: string): boolean {
  const control = parsedUrl(controlUrl);
  if (!control || !isLoopbackHttps(controlUrl) || cloudOf(cloud.authorityHost, cloud.graphBaseUrl) !== 'custom')
    return false;
  return [cloud.authorityHost, cloud.graphBaseUrl].every((url) => parsedUrl(url)?.origin === control.origin);
}
