import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readYamlAsset } from '../assets.js';
import { createAjv } from './ajv.js';

/** schemasOf finds every JSON Schema in the spec: components.schemas and each `schema` of a parameter, body or response. */
function schemasOf(node: unknown, path: string, found: Array<[string, object]>): Array<[string, object]> {
  if (node === null || typeof node !== 'object') return found;
  for (const [key, value] of Object.entries(node)) {
    const at = `${path}/${key}`;
    if ((key === 'schema' || path.endsWith('/components/schemas')) && value !== null && typeof value === 'object') found.push([at, value]);
    else schemasOf(value, at, found);
  }
  return found;
}

test("every schema of openapi.yaml is valid JSON Schema 2020-12 (the server skips this check at start)", () => {
  const schemas = schemasOf(readYamlAsset('openapi.yaml'), '', []);
  assert.ok(schemas.length > 20, `${schemas.length} schemas`);
  for (const kind of ['parameters', 'bodies'] as const) {
    const ajv = createAjv(kind);
    for (const [at, schema] of schemas) assert.ok(ajv.validateSchema(schema), `${at}: ${ajv.errorsText()}`);
  }
});

test('…and the check would see a broken one', () => {
  const ajv = createAjv('bodies');
  assert.equal(ajv.validateSchema({ type: 'string', minLength: 'five' }), false);
  assert.match(ajv.errorsText(), /minLength must be integer/);
});
