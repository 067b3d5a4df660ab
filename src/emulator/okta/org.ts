/** Where the emulated Okta org lives: its org URL is the emulator's base URL plus this prefix (docs/okta.md). */
export const OKTA_ORG_PATH = '/okta';

export function oktaOrgUrl(baseUrl: string): string {
  return `${baseUrl}${OKTA_ORG_PATH}`;
}

/** An anchored route pattern for a path under the org URL (`tail` is a regex source starting with '/'). */
export function orgPattern(tail: string): RegExp {
  return new RegExp(`^${OKTA_ORG_PATH}${tail}$`);
}
