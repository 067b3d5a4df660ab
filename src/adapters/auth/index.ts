/** Sign-in for ociaccess: the session API commands use, and the pieces it is built from. */
export {
  AuthSession,
  authSessionFromContext,
  entraReason,
  type AccessToken,
  type AuthSessionDeps,
  type DevicePrompt,
  type SignedInAccount,
} from './session.js';
export { APP_ASSIGNMENT_SCOPES, CLI_SCOPES, INIT_SCOPES, PIM_POLICY_SCOPE, appOnlyGraphScope } from './scopes.js';
export {
  createMsalConfidentialClient,
  createMsalPublicClient,
  type AuthAdapterConfig,
  type MsalClientDeps,
} from './msal.js';
export {
  TOKEN_STORE_ENV,
  openTokenStore,
  osKeyring,
  type KeyringBackend,
  type TokenStore,
  type TokenStoreKind,
} from './token-store.js';
export { authorityMetadata, authorityUrl, fetchOpenIdConfiguration, msalAuthorityOptions } from './authority.js';
export {
  describeAutomationCredential,
  loadAutomationCredential,
  thumbprintOf,
  type AutomationCredential,
} from './credentials.js';
// generateClientCertificate (./certificate.js) is imported from there: it loads node-forge.
export { caAwareNetworkClient, type NetworkObserver } from './network.js';
