/**
 * Microsoft Graph v1.0, the subset ociaccess uses: users and /me, groups with
 * paged members and owners and $ref membership changes, open extensions on
 * users and groups, JSON $batch, and the provisioning (synchronization) jobs
 * of the OCI enterprise application. Every route checks the bearer token and
 * the documented permissions, and answers with Graph's status codes and
 * error bodies. One module per area; this file only assembles the routes.
 */
import type { Route } from '../http.js';
import { batchRoutes } from './batch.js';
import { graphControlRoutes } from './control.js';
import { extensionRoutes } from './extensions.js';
import { groupRoutes } from './groups.js';
import { synchronizationRoutes } from './synchronization.js';
import { userRoutes } from './users.js';
import { pimRoutes } from '../pim/routes.js';
import { pimControlRoutes } from '../pim/control.js';

export { graphError } from './errors.js';

export function graphRoutes(): Route[] {
  // Extension routes first: /users/{id}/extensions must not be taken for a user id.
  return [
    ...extensionRoutes(),
    ...userRoutes(),
    ...groupRoutes(),
    ...batchRoutes(),
    ...synchronizationRoutes(),
    ...pimRoutes(),
    ...pimControlRoutes(),
    ...graphControlRoutes(),
  ];
}
