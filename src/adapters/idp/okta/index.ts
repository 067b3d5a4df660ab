/** Okta as the identity provider: sign-in and the directory (loaded only for configs with idp.type "okta"). */
export { OktaSession, oktaDelegatedScopes, OKTA_APP_SCOPES } from './session.js';
export { OktaDirectory, RECORD_ATTRIBUTE } from './directory.js';
