/** `ociaccess extend` on the records backend: the use case (the rule is in extension.ts). */
import type { CoreDeps } from './deps.js';
import { requestAccess, type RequestAccessInput, type RequestAccessResult } from './lifecycle.js';

/** `extend` on the records backend: a request that continues the signed-in user's live grant (NO_ACTIVE_GRANT without one). */
export function extendAccess(deps: CoreDeps, input: Omit<RequestAccessInput, 'extend'>): Promise<RequestAccessResult> {
  return requestAccess(deps, { ...input, extend: true });
}
