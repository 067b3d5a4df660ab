/**
 * How messages name the identity provider and what carries a membership change
 * to OCI: Entra's SCIM provisioning runs in cycles (about 40 minutes), Okta's
 * Push Groups within seconds. Every message that tells a person where a change
 * was made, or when OCI follows, says it with these words, so that an Okta
 * org is never told about Entra or a provisioning cycle it does not have.
 */
import type { Config } from '../config/schema.js';

export interface IdpWords {
  /** Where memberships and records live: "Entra" or "Okta". */
  readonly name: string;
  /** What brings OCI up to date next, as a subject: "the next provisioning cycle", "Okta's Push Groups". */
  readonly nextPush: string;
  /** The same as a noun phrase after "through": "provisioning", "Push Groups". */
  readonly carrier: string;
  /** Where an admin removes a member by hand. */
  readonly membersConsole: string;
}

const ENTRA: IdpWords = {
  name: 'Entra',
  nextPush: 'the next provisioning cycle',
  carrier: 'provisioning',
  membersConsole: 'Entra admin center → the group → Members',
};

const OKTA: IdpWords = {
  name: 'Okta',
  nextPush: "Okta's Push Groups (within seconds)",
  carrier: 'Push Groups',
  membersConsole: 'Okta Admin Console → Directory → Groups → the group → People',
};

export function idpWordsOf(config: Pick<Config, 'idp'> | undefined): IdpWords {
  return config?.idp?.type === 'okta' ? OKTA : ENTRA;
}
