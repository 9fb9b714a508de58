import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { parse } from 'yaml';
import { readAsset, readYamlAsset } from './assets.js';

afterEach(() => {
  globalThis.__BACKEND_API_PARSED_ASSETS__ = undefined;
});

test('readYamlAsset parses a YAML file of the checkout when no bundle carries it parsed', () => {
  assert.deepEqual(readYamlAsset('openapi.yaml'), parse(readAsset('openapi.yaml')));
});

test('readYamlAsset takes the parsed copy a bundle carries, a fresh object each time', () => {
  const carried = { openapi: '3.1.0', info: { title: 'carried by the bundle' } };
  globalThis.__BACKEND_API_PARSED_ASSETS__ = { 'openapi.yaml': JSON.stringify(carried) };
  const first = readYamlAsset('openapi.yaml');
  assert.deepEqual(first, carried);
  (first as { info: { title: string } }).info.title = 'changed by a caller';
  assert.deepEqual(readYamlAsset('openapi.yaml'), carried);
});

test('readYamlAsset refuses a file outside ASSET_FILES', () => {
  assert.throws(() => readYamlAsset('secrets.yaml'), /not in ASSET_FILES/);
});
