import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readAsset } from '../assets.js';
import { ROLES } from '../auth/roles.js';
import { loadSpec } from './spec.js';

const shipped = readAsset('openapi.yaml');

test("the shipped spec loads, and its operations' x-roles and Role schema name only the roles of ROLES", () => {
  const spec = loadSpec(shipped);
  const named = new Set(spec.operations.flatMap((op) => op.roles ?? []));
  assert.deepEqual([...named].sort(), [...ROLES].sort());
});

test('a spec whose x-roles names an unknown role refuses to load', () => {
  const edited = shipped.replace('x-roles: [admin]', 'x-roles: [admin, auditor]');
  assert.notEqual(edited, shipped);
  assert.throws(() => loadSpec(edited), /x-roles names auditor, not a role of ROLES \(user, admin\)/);
  assert.throws(() => loadSpec(shipped.replace('x-roles: [user, admin]', 'x-roles: [User, admin]')), /x-roles names User/);
});

test('a spec whose Role schema lists another set of roles refuses to load', () => {
  const roleEnum = 'enum: [user, admin]';
  assert.ok(shipped.includes(roleEnum));
  for (const other of ['enum: [user, admin, auditor]', 'enum: [user]', 'enum: [user, root]']) {
    assert.throws(() => loadSpec(shipped.replace(roleEnum, other)), /components\.schemas\.Role must be an enum of exactly user, admin/, other);
  }
});
