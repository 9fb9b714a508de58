/**
 * ROLES is every role an account can have, from the least privileged to the most. The Role
 * type, token checks and the test client derive from it; openapi.yaml's Role schema and every
 * operation's x-roles are checked against it when the spec loads. The database's CHECK
 * constraint is history: a new role also needs a migration.
 */
export const ROLES = ['user', 'admin'] as const;

/** A role of ROLES. */
export type Role = (typeof ROLES)[number];

/** DEFAULT_ROLE is the least privileged role: what a sign-up gets unless an administrator grants more. */
export const DEFAULT_ROLE: Role = ROLES[0];

/** ADMIN_ROLE is the most privileged role: the first account's, and the only one that may grant a role above DEFAULT_ROLE. */
export const ADMIN_ROLE: Role = ROLES[ROLES.length - 1] as Role;

/** isRole says whether a value is one of ROLES. */
export function isRole(value: unknown): value is Role {
  return (ROLES as readonly unknown[]).includes(value);
}
