/** The config's identity-provider section: Entra stays the default; Okta needs and refuses its own fields. */
import { parseConfig } from '../../src/config/load.js';
import type { OciAccessError } from '../../src/errors.js';

const entraGroup = {
  name: 'OCI-Temp-Admins',
  entraGroupId: '11111111-1111-1111-1111-111111111111',
  ociGroupName: 'OCI-Temp-Admins',
  maxHours: 8,
  approvers: ['bob@example.com'],
  eligibleRequesters: ['alice@example.com'],
};
const oktaGroup = {
  name: 'OCI-Temp-Admins',
  oktaGroupId: '00g1a2b3c4d5e6f7g8h9',
  ociGroupName: 'OCI-Temp-Admins',
  maxHours: 8,
  approvers: ['bob@example.com'],
  eligibleRequesters: ['alice@example.com'],
};
const okta = {
  version: 1,
  idp: {
    type: 'okta',
    orgUrl: 'https://example.okta.com',
    clientId: '0oa1a2b3c4d5e6f7g8h9',
    automation: { clientId: '0oa9z8y7x6w5v4u3t2s1', privateKeyFile: '/etc/ociaccess/okta.pem' },
  },
  groups: [oktaGroup],
};

function problemsOf(config: unknown): string[] {
  try {
    parseConfig(JSON.stringify(config), 'config.json');
  } catch (error) {
    return ((error as OciAccessError).details?.problems as string[]) ?? [];
  }
  throw new Error('the config was accepted');
}

describe('config: idp', () => {
  it('a config without "idp" is Entra, as before, and still needs tenantId, clientId and entraGroupId', () => {
    const config = parseConfig(
      JSON.stringify({
        version: 1,
        tenantId: '22222222-2222-2222-2222-222222222222',
        clientId: '33333333-3333-3333-3333-333333333333',
        groups: [entraGroup],
      }),
      'c.json',
    );
    expect(config.idp).toBeUndefined();
    expect(config.groups[0]!.entraGroupId).toBe(entraGroup.entraGroupId);
    expect(problemsOf({ version: 1, groups: [{ ...entraGroup, entraGroupId: undefined }] })).toEqual([
      expect.stringMatching(/^tenantId: is required/),
      expect.stringMatching(/^clientId: is required/),
      expect.stringMatching(/^groups\[0\]\.entraGroupId: is required/),
    ]);
  });

  it('an Okta config needs no tenant, Entra client or GUID, and names its groups by Okta id', () => {
    const config = parseConfig(JSON.stringify(okta), 'c.json');
    expect(config.idp).toMatchObject({ type: 'okta', orgUrl: 'https://example.okta.com' });
    expect(config.tenantId).toBeUndefined();
    // The core names groups by one key whichever the IdP.
    expect(config.groups[0]!.entraGroupId).toBe('00g1a2b3c4d5e6f7g8h9');
  });

  it('Okta refuses Entra-only settings, a missing Okta group id, and the pim backend, naming each', () => {
    const problems = problemsOf({
      ...okta,
      tenantId: '22222222-2222-2222-2222-222222222222',
      automation: { clientId: '33333333-3333-3333-3333-333333333333' },
      provisioning: { servicePrincipalId: '44444444-4444-4444-4444-444444444444', jobId: 'j' },
      groups: [{ ...oktaGroup, oktaGroupId: undefined, entraGroupId: entraGroup.entraGroupId, backend: 'pim' }],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^tenantId: Okta has no tenant id/),
        expect.stringMatching(/^automation: .*idp\.automation/),
        expect.stringMatching(/^provisioning: .*Push Groups/),
        expect.stringMatching(/^groups\[0\]\.oktaGroupId: is required/),
        expect.stringMatching(/^groups\[0\]\.entraGroupId: .*remove entraGroupId/),
        expect.stringMatching(/^groups\[0\]\.backend: "pim" is Entra PIM/),
      ]),
    );
  });

  it('Okta fields are checked: https org URL, Okta-shaped ids, no unknown keys (an API token has no place)', () => {
    const problems = problemsOf({
      ...okta,
      idp: {
        ...okta.idp,
        orgUrl: 'http://example.okta.com',
        clientId: 'not-an-id',
        automation: { clientId: '0oa9z8y7x6w5v4u3t2s1', privateKeyFile: 'k.pem', apiToken: 'SSWS 00abc' },
      },
      groups: [{ ...oktaGroup, oktaGroupId: '00u1a2b3c4d5e6f7g8h9' }],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'idp.orgUrl: must be an https:// URL',
        expect.stringMatching(/^idp\.clientId: must be an Okta client id/),
        expect.stringMatching(/^idp\.automation: unknown key "apiToken"/),
        expect.stringMatching(/^groups\[0\]\.oktaGroupId: must be an Okta group id/),
      ]),
    );
    // The token's value is never echoed back.
    expect(problems.join('\n')).not.toContain('SSWS 00abc');
  });

  it('an Entra config may not carry an Okta group id', () => {
    expect(
      problemsOf({
        version: 1,
        tenantId: '22222222-2222-2222-2222-222222222222',
        clientId: '33333333-3333-3333-3333-333333333333',
        groups: [{ ...entraGroup, oktaGroupId: '00g1a2b3c4d5e6f7g8h9' }],
      }),
    ).toEqual([expect.stringMatching(/^groups\[0\]\.oktaGroupId: is an Okta group id/)]);
  });

  it('idp.ociAppId (the OCI app whose push doctor reads) is optional and must be an Okta app id', () => {
    const config = parseConfig(
      JSON.stringify({ ...okta, idp: { ...okta.idp, ociAppId: '0oaocipush0000000003' } }),
      'c.json',
    );
    expect(config.idp).toMatchObject({ ociAppId: '0oaocipush0000000003' });
    expect(problemsOf({ ...okta, idp: { ...okta.idp, ociAppId: 'oci-app' } })).toEqual([
      expect.stringMatching(/^idp\.ociAppId: must be an Okta app id/),
    ]);
  });
});
