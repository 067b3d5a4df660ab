/**
 * Read-only OCI identity domain calls for `doctor`: can the OCI config
 * profile be used at all, and how the domain's SAML identity providers do
 * JIT provisioning. Group and user look-ups go through OciDomain (the port the
 * core uses), so doctor checks exactly what the sweep will do.
 */
import * as identitydomains from 'oci-identitydomains';
import { createOciClient, type OciClientOptions } from './client.js';
import { domainHostOf, ociErrorOf } from './errors.js';
import type { JitSettings } from '../../core/doctor.js';
import { stripControls } from '../../core/text.js';

export class OciInspector {
  private readonly client: identitydomains.IdentityDomainsClient;
  private readonly domainHost: string | undefined;

  constructor(options: OciClientOptions) {
    this.client = createOciClient(options);
    this.domainHost = domainHostOf(options.domainUrl);
  }

  async identityProviders(): Promise<JitSettings[]> {
    let response: identitydomains.responses.ListIdentityProvidersResponse;
    try {
      response = await this.client.listIdentityProviders({ count: 100 });
    } catch (error) {
      throw ociErrorOf(
        'list identity providers',
        error,
        'The OCI API key user needs to read the identity domain (e.g. Security Administrator or Identity Domain Administrator).',
        this.domainHost,
      );
    }
    return (response.identityProviders?.resources ?? []).map((idp) => ({
      id: idp.id ?? '',
      name: stripControls(idp.partnerName ?? idp.id ?? '(unnamed)'),
      enabled: idp.enabled !== false,
      jitEnabled: idp.jitUserProvEnabled === true,
      createUsers: idp.jitUserProvCreateUserEnabled === true,
      groupAssignmentMethod: idp.jitUserProvGroupAssignmentMethod
        ? stripControls(String(idp.jitUserProvGroupAssignmentMethod))
        : null,
      mappingMode: idp.jitUserProvGroupMappingMode ? stripControls(String(idp.jitUserProvGroupMappingMode)) : null,
      mappedOciGroupIds: (idp.jitUserProvGroupMappings ?? []).map((mapping) => mapping.value),
    }));
  }
}
