import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseEnv } from 'node:util';
import { projectRoot } from '../assets.js';
import { loadConfig } from '../config.js';

const SCRIPT = join(projectRoot, 'scripts/install.sh');

describe('scripts/install.sh', () => {
  let dir: string;
  let destdir: string;
  let binary: string;
  const install = (args: string[]) => spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', timeout: 30_000 });
  const mode = (path: string) => statSync(path).mode & 0o777;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'backend-api-install-'));
    destdir = join(dir, 'root');
    binary = join(dir, 'backend-api');
    writeFileSync(binary, '#!/bin/sh\necho 1.0.0\n');
    chmodSync(binary, 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('shellcheck finds nothing', (t) => {
    if (spawnSync('sh', ['-c', 'command -v shellcheck']).status !== 0) {
      if (process.env.CI === 'true') throw new Error('shellcheck is missing; CI installs it through npm test');
      return t.skip('shellcheck is not installed (apt-get install shellcheck)');
    }
    const run = spawnSync('shellcheck', [SCRIPT], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout);
  });

  test('--help explains it, and a wrong argument exits 2', () => {
    const help = install(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--destdir DIR/);
    const wrong = install(['--frobnicate']);
    assert.equal(wrong.status, 2);
    assert.match(wrong.stderr, /unknown argument --frobnicate/);
  });

  test('installs the executable, the unit and a private settings file with a strong JWT_SECRET', () => {
    const run = install(['--destdir', destdir, '--binary', binary]);
    assert.equal(run.status, 0, run.stderr);
    const bin = join(destdir, 'usr/local/bin/backend-api');
    assert.equal(readFileSync(bin, 'utf8'), readFileSync(binary, 'utf8'));
    assert.equal(mode(bin), 0o755);
    const unit = join(destdir, 'etc/systemd/system/backend-api.service');
    assert.equal(readFileSync(unit, 'utf8'), readFileSync(join(projectRoot, 'systemd/backend-api.service'), 'utf8'));
    assert.equal(mode(unit), 0o644);
    const envFile = join(destdir, 'etc/backend-api/backend-api.env');
    assert.equal(mode(join(destdir, 'etc/backend-api')), 0o700);
    assert.equal(mode(envFile), 0o600);
    const settings = parseEnv(readFileSync(envFile, 'utf8'));
    // This file alone (the unit sets nothing) is a configuration production accepts.
    assert.deepEqual([settings.NODE_ENV, settings.DATABASE_PATH, settings.LOG_DIR], ['production', '/var/lib/backend-api/app.db', '/var/log/backend-api']);
    const config = loadConfig({ ...settings, DATABASE_PATH: join(dir, 'data', 'app.db') });
    assert.equal(config.env, 'production');
    assert.equal(config.jwt.secretSource, 'env');
    assert.ok(Buffer.byteLength(config.jwt.secret) >= 48);
    assert.match(run.stdout, /systemctl not run/);
    assert.ok(!existsSync(`${envFile}.new`) && !existsSync(`${bin}.new`));
  });

  test('running it again replaces the executable and never the settings', () => {
    const envFile = join(destdir, 'etc/backend-api/backend-api.env');
    writeFileSync(envFile, `${readFileSync(envFile, 'utf8')}WORKERS=3\n`);
    const before = readFileSync(envFile, 'utf8');
    writeFileSync(binary, '#!/bin/sh\necho 1.0.1\n');
    const run = install(['--destdir', destdir, '--binary', binary]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /\(1\.0\.1\)/);
    assert.match(run.stdout, /kept .*backend-api\.env as it is/);
    assert.equal(readFileSync(envFile, 'utf8'), before);
  });

  test('a settings file from before the unit left everything to it gets the settings the unit set, and nothing else changes', () => {
    const envFile = join(destdir, 'etc/backend-api/backend-api.env');
    // An older install.sh wrote only the secret; an operator set LOG_DIR and left no final newline.
    const old = 'JWT_SECRET=an-older-secret-0123456789-0123456789\nLOG_DIR=/srv/logs';
    writeFileSync(envFile, old, { mode: 0o600 });
    const run = install(['--destdir', destdir, '--binary', binary]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /adding what the unit used to set: NODE_ENV=production DATABASE_PATH=\/var\/lib\/backend-api\/app\.db$/m);
    const text = readFileSync(envFile, 'utf8');
    assert.ok(text.startsWith(`${old}\n`), text);
    assert.deepEqual(parseEnv(text), {
      JWT_SECRET: 'an-older-secret-0123456789-0123456789',
      LOG_DIR: '/srv/logs',
      NODE_ENV: 'production',
      DATABASE_PATH: '/var/lib/backend-api/app.db',
    });
    assert.equal(mode(envFile), 0o600);
    // Once complete, it is left alone.
    assert.match(install(['--destdir', destdir, '--binary', binary]).stdout, /kept .*backend-api\.env as it is/);
    assert.equal(readFileSync(envFile, 'utf8'), text);
  });

  test('refuses to run without an executable, and without root unless given --destdir', () => {
    const none = install(['--destdir', destdir, '--binary', join(dir, 'nothing-here')]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no executable at .*nothing-here: run npm run build first/);
    const asNobody = process.getuid?.() === 0 ? runAsNobody(['--binary', binary]) : install(['--binary', binary]);
    assert.equal(asNobody.status, 1, asNobody.stderr);
    assert.match(asNobody.stderr, /must run as root/);
  });
});

/**
 * runAsNobody runs a copy of the script as nobody: the clone may sit in a private directory (a
 * home of mode 0700) that nobody cannot enter, so the copy goes to a fresh directory it can read.
 */
function runAsNobody(args: string[]) {
  const readable = mkdtempSync(join(tmpdir(), 'backend-api-install-nobody-'));
  try {
    chmodSync(readable, 0o755);
    const copy = join(readable, 'install.sh');
    copyFileSync(SCRIPT, copy);
    chmodSync(copy, 0o755);
    return spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', copy, ...args], { encoding: 'utf8' });
  } finally {
    rmSync(readable, { recursive: true, force: true });
  }
}
