/**
 * ROLES is every role an account can have, from the least privileged to the most. The Role
 * type, token checks and the test client derive from it; openapi.yaml's Role schema and every
 * operation's x-roles are checked against it when the spec loads. The database's CHECK
 * constraint is history: a new role also needs a migration.
 */
export const ROLES = ['user', 'admin'] as const;

/** A role of ROLES. */
export type Role = (typeof ROLES)[number];

/** isRole says whether a value is one of ROLES. */
export function isRole(value: unknown): value is Role {
  return (ROLES as readonly unknown[]).includes(value);
}
