/** Tuning the emulated Entra: lifetimes and the device code polling interval (tests and the demo shorten them). */
import type { World } from '../state.js';
import { EmulatorInputError } from './errors.js';
import { DEFAULT_ENTRA_SETTINGS, type EntraSettings, type SigningKey } from './state.js';

/** Gives the emulated Entra its ID token signing key (or makes one) before the first client asks for a token. */
export function prepareEntra(world: World, key?: SigningKey): void {
  if (key) world.entra.useSigningKey(key);
  else world.entra.signingKey();
}

/** Changes the sign-in lifetimes and polling interval of this world. Returns the settings now in force. */
export function configureEntra(world: World, settings: Partial<EntraSettings>): EntraSettings {
  for (const [key, value] of Object.entries(settings)) {
    if (!(key in DEFAULT_ENTRA_SETTINGS)) throw new EmulatorInputError(400, `unknown Entra setting "${key}"`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new EmulatorInputError(400, `Entra setting "${key}" must be a non-negative number`);
    }
  }
  Object.assign(world.entra.settings, settings);
  return { ...world.entra.settings };
}
