/** OCI identity domain SCIM API subset. (To be filled in.) */
import type { EmuResponse, Route } from '../http.js';

/** SCIM error body as the identity domain answers it. */
export function scimError(status: number, detail: string, scimType?: string): EmuResponse {
  return {
    status,
    headers: { 'content-type': 'application/scim+json' },
    body: {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: String(status),
      detail,
      ...(scimType ? { scimType } : {}),
    },
  };
}

export function ociRoutes(): Route[] {
  return [];
}
