import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from './assets.js';

const read = (file: string) => readFileSync(join(projectRoot, file), 'utf8');

/** The variables src/config.ts reads: every `read.x('NAME'` and every `env.NAME`. */
function variablesRead(): Set<string> {
  const source = read('src/config.ts');
  const names = [...source.matchAll(/read\.\w+\('([A-Z][A-Z0-9_]*)'/g), ...source.matchAll(/env\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!);
  return new Set(names);
}

test('.env.example documents every variable the server reads, and no other', () => {
  const documented = new Set([...read('.env.example').matchAll(/^# ([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
  const used = variablesRead();
  used.delete('NODE_APP_INSTANCE'); // set by PM2, not by operators
  used.delete('NOTIFY_SOCKET'); // set by systemd
  assert.ok(used.size > 20);
  assert.deepEqual([...used].filter((name) => !documented.has(name)), [], 'missing from .env.example');
  assert.deepEqual([...documented].filter((name) => !used.has(name)), [], 'documented but not read');
});

test('the README configuration table names every variable the server reads', () => {
  const readme = read('README.md');
  const used = variablesRead();
  used.delete('NODE_APP_INSTANCE');
  used.delete('NOTIFY_SOCKET');
  assert.deepEqual([...used].filter((name) => !readme.includes(`\`${name}\``)), []);
});
