import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseEnv } from 'node:util';
import { projectRoot } from './assets.js';
import { envExample, withConfigTable } from './config-docs.js';
import { settingsOf } from './config-reader.js';
import { loadConfig, SETTINGS } from './config.js';

const read = (file: string) => readFileSync(join(projectRoot, file), 'utf8');
const dataPath = () => join(mkdtempSync(join(tmpdir(), 'backend-api-config-docs-')), 'app.db');

test('.env.example and the README table are exactly what npm run docs:config generates from SETTINGS', () => {
  assert.equal(read('.env.example'), envExample(), 'run npm run docs:config');
  const readme = read('README.md');
  assert.equal(readme, withConfigTable(readme), 'run npm run docs:config');
  for (const entry of settingsOf(SETTINGS).filter((e) => e.setBy === undefined)) {
    assert.match(read('.env.example'), new RegExp(`^# ${entry.name}=`, 'm'));
    assert.ok(readme.includes(`| \`${entry.name}\` |`), entry.name);
  }
});

test('the configuration reads no variable that SETTINGS does not list', () => {
  const names = new Set(settingsOf(SETTINGS).map((entry) => entry.name));
  assert.ok(names.size > 25);
  const asked = new Set<string>();
  const env = new Proxy({ DATABASE_PATH: dataPath(), NODE_ENV: 'test' } as Record<string, string | undefined>, {
    get(target, name) {
      if (typeof name === 'string') asked.add(name);
      return target[name as string];
    },
  });
  loadConfig(env);
  loadConfig(env, '0.0.0', 'ignore');
  assert.deepEqual([...asked].filter((name) => !names.has(name)), []);
  assert.deepEqual([...names].filter((name) => !asked.has(name)), [], 'every setting is read');
});

test('the defaults .env.example shows are the defaults the server uses', () => {
  const shown = parseEnv(read('.env.example').replace(/^# ([A-Za-z_]+=)/gm, '$1'));
  const examples = settingsOf(SETTINGS).filter((entry) => entry.example !== undefined || entry.fallback === null);
  for (const entry of examples) delete shown[entry.name];
  assert.ok(Object.keys(shown).length > 20);
  const base = { DATABASE_PATH: dataPath(), JWT_SECRET: 'x'.repeat(40) };
  assert.deepEqual(loadConfig({ ...shown, ...base }), loadConfig(base));
});
