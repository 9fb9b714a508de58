import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { projectRoot } from '../assets.js';
import { loadSpec } from '../openapi/spec.js';
import { assertCatalogueCode, assertMatchesContract } from '../test-support/contract.js';
import { ERROR_CODES, problems } from './errors.js';

/** sourceFiles lists every TypeScript file under a folder of the project, recursively. */
function sourceFiles(dir: string): string[] {
  return readdirSync(join(projectRoot, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts|mjs)$/.test(entry.name))
    .map((entry) => relative(projectRoot, join(entry.parentPath, entry.name)));
}

test('no code outside the catalogue constructs or extends AppError', () => {
  const files = [...sourceFiles('src'), ...sourceFiles('scripts')];
  assert.ok(files.length > 100, `${files.length} files`);
  const outside = files
    .filter((file) => file !== 'src/http/errors.ts' && file !== 'src/http/errors.test.ts')
    .filter((file) => /\b(new|extends)\s+AppError\b/.test(readFileSync(join(projectRoot, file), 'utf8')));
  assert.deepEqual(outside, [], 'every AppError is made by src/http/errors.ts');
});

test('every code openapi.yaml documents (x-codes of its problem responses) is in the catalogue, and each problem response lists its codes', () => {
  const document = parse(readFileSync(join(projectRoot, 'openapi.yaml'), 'utf8')) as { components: { responses: Record<string, Record<string, any>> } };
  const declared = [
    ...Object.entries(document.components.responses),
    ...loadSpec().operations.flatMap((op) => Object.entries(op.responses).map(([status, response]) => [`${op.id} ${status}`, response] as const)),
  ];
  const problemResponses = declared.filter(([, response]) => (response.content as Record<string, unknown> | undefined)?.['application/problem+json']);
  assert.ok(problemResponses.length >= 100);
  const unlisted = problemResponses.filter(([, response]) => !Array.isArray(response['x-codes']) || response['x-codes'].length === 0).map(([name]) => name);
  assert.deepEqual(unlisted, [], 'problem responses without x-codes');
  const documented = problemResponses.flatMap(([, response]) => response['x-codes'] as string[]);
  assert.deepEqual(documented.filter((code) => !ERROR_CODES.includes(code as never)), [], 'documented codes missing from the catalogue');
});

test("each catalogue constructor makes a catalogued code with its status, and the test client refuses any other code", () => {
  const made = [problems.usernameTaken(), problems.emailTaken(), problems.lastAdmin(), problems.badRequest(undefined, 414)];
  assert.deepEqual(made.map((e) => [e.code, e.status]), [['username_taken', 409], ['email_taken', 409], ['last_admin', 409], ['bad_request', 414]]);
  assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
  const problem = (code: string) => ({ type: `/problems/${code}`, title: 'Conflict', status: 409, detail: 'x', code, requestId: 'r' });
  assert.equal(assertCatalogueCode(problem('last_admin'), 'here'), 'last_admin');
  assert.throws(() => assertCatalogueCode(problem('nickname_taken'), 'here'), /nickname_taken is not in the error catalogue/);
  // A catalogued code the operation's response does not document is refused too.
  assert.throws(
    () => assertMatchesContract('PATCH', '/api/v1/users/1', 409, 'application/problem+json', problem('not_found')),
    /code not_found is not among the x-codes of updateUser's 409/,
  );
  assert.doesNotThrow(() => assertMatchesContract('PATCH', '/api/v1/users/1', 409, 'application/problem+json', problem('last_admin')));
});
