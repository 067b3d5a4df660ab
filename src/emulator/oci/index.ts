/**
 * The OCI IAM identity domain's SCIM API, the subset oci-identitydomains
 * 2.139.1 calls: /admin/v1/Users, /admin/v1/Groups, /admin/v1/IdentityProviders
 * (each request signed with an OCI API key), plus the control routes of the
 * OCI side and of the provisioning engine that feeds it.
 */
import type { Route } from '../http.js';
import { provisioningControlRoutes } from '../provisioning.js';
import { ociControlRoutes } from './control.js';
import { groupRoutes } from './groups.js';
import { identityProviderRoutes } from './identity-providers.js';
import { userRoutes } from './users.js';

export { scimError } from './scim.js';

export function ociRoutes(): Route[] {
  return [
    ...userRoutes(),
    ...groupRoutes(),
    ...identityProviderRoutes(),
    ...ociControlRoutes(),
    ...provisioningControlRoutes(),
  ];
}
