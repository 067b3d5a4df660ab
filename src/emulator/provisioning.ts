/** Entra's provisioning engine between the tenant and the OCI domain. (To be filled in.) */
import type { World } from './state.js';

export function runDueProvisioningCycles(_world: World): void {}

export function runProvisioningCycleNow(_world: World): void {}
