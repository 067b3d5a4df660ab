/**
 * An Okta org, served under the emulator's base URL at /okta (its org URL):
 * the org authorization server, the Users, Groups, Schemas and Group Push
 * Mapping APIs, rate limits and Group Push to the OCI domain. The contract
 * and its sources: docs/okta.md; what the emulator chose: docs/emulator.md.
 *
 * | file | what |
 * |---|---|
 * | oauth.ts, client-assertion.ts, tokens.ts | metadata, device authorization, token endpoint, private_key_jwt, token issue |
 * | auth.ts | bearer tokens, scopes and admin permissions for /api/v1 |
 * | users.ts, groups.ts, schemas.ts, objects.ts | the APIs and the objects they answer |
 * | push.ts | Group Push to OCI and the push mappings API |
 * | rate-limits.ts, errors.ts | X-Rate-Limit-* and 429, Okta's error bodies |
 * | control.ts | /activate and the /_emulator/okta routes |
 * | state.ts, seed.ts, org.ts | world.okta, the default org, the org URL |
 */
import type { Route } from '../http.js';
import { oktaControlRoutes } from './control.js';
import { groupRoutes } from './groups.js';
import { oauthRoutes } from './oauth.js';
import { pushRoutes } from './push.js';
import { schemaRoutes } from './schemas.js';
import { userRoutes } from './users.js';

export { approveOktaDevice } from './control.js';
export { OKTA_ORG_PATH, oktaOrgUrl } from './org.js';
export { pushNow, runDueOktaPushes, setPushStatus } from './push.js';
export { setRateLimit, RATE_LIMIT_BUCKETS } from './rate-limits.js';
export { generateOktaServiceKey, seedOkta, SEED_OKTA, type OktaServiceKey } from './seed.js';
export { OktaState } from './state.js';
export { oktaError } from './errors.js';

export function oktaRoutes(): Route[] {
  return [
    ...oauthRoutes(),
    ...userRoutes(),
    ...groupRoutes(),
    ...schemaRoutes(),
    ...pushRoutes(),
    ...oktaControlRoutes(),
  ];
}
