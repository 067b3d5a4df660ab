/** Entra sign-in: OpenID configuration, token and device code endpoints. (To be filled in.) */
import type { Route } from './http.js';

export function entraRoutes(): Route[] {
  return [];
}
