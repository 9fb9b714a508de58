import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { addonCacheDir, extractAddon, isSea, nativeBinding } from './native-binding.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('the native addon cache', () => {
  let dir: string;
  const addon = randomBytes(256 * 1024);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'backend-api-addon-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('from source nothing is extracted: better-sqlite3 finds its own addon', () => {
    assert.equal(isSea(), false);
    assert.equal(nativeBinding(), undefined);
  });

  test("the cache is systemd's CacheDirectory, else the XDG cache, else ~/.cache", () => {
    assert.equal(addonCacheDir({ CACHE_DIRECTORY: '/var/cache/backend-api', XDG_CACHE_HOME: '/x', HOME: '/h' }), '/var/cache/backend-api');
    assert.equal(addonCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' }), '/x/backend-api');
    assert.equal(addonCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/h' }), '/h/.cache/backend-api');
    assert.equal(addonCacheDir({ HOME: '/h' }), '/h/.cache/backend-api');
  });

  test('writes the addon once under its hash, private, and rewrites a file that no longer matches', () => {
    const base = join(dir, 'one');
    const file = extractAddon(addon, base);
    assert.equal(file, join(base, sha256(addon), 'better_sqlite3.node'));
    assert.equal(statSync(join(base, sha256(addon))).mode & 0o777, 0o700);
    assert.equal(statSync(file).mode & 0o777, 0o500);
    const first = statSync(file);
    assert.equal(extractAddon(addon, base), file);
    assert.equal(statSync(file).ino, first.ino, 'an intact file is reused');

    chmodSync(file, 0o600);
    writeFileSync(file, 'tampered');
    extractAddon(addon, base);
    assert.ok(readFileSync(file).equals(addon));
  });

  test('refuses a directory that someone else may write to', () => {
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    assert.throws(() => extractAddon(addon, shared), /writable by no one else/);
    chmodSync(shared, 0o775);
    assert.throws(() => extractAddon(addon, shared), /writable by no one else/);
  });

  test('processes starting at once all get the whole addon, and leave no temporary file', async () => {
    const base = join(dir, 'race');
    const source = join(dir, 'addon.bin');
    writeFileSync(source, addon);
    const script = `
      import { readFileSync } from 'node:fs';
      import { extractAddon } from ${JSON.stringify(new URL('./native-binding.ts', import.meta.url).href)};
      const file = extractAddon(readFileSync(process.argv[1]), process.argv[2]);
      process.stdout.write(readFileSync(file).equals(readFileSync(process.argv[1])) ? 'same' : 'different');
    `;
    const runs = Array.from({ length: 6 }, () => {
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script, source, base], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      return new Promise<string>((resolve) => child.once('exit', () => resolve(out)));
    });
    assert.deepEqual(await Promise.all(runs), Array(6).fill('same'));
    assert.deepEqual(readdirSync(join(base, sha256(addon))), ['better_sqlite3.node']);
  });
});
