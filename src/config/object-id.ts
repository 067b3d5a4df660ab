/** Entra object ids (GUIDs); kept apart from the schema so that the core can tell them from UPNs without loading the validator. */
export const GUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** An object id rather than a user principal name: how a standing member that is not a user is named in the config. */
export function isObjectId(value: string): boolean {
  return GUID_PATTERN.test(value);
}
