import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseEnv } from 'node:util';
import { projectRoot } from '../assets.js';
import { loadConfig } from '../config.js';

const read = (file: string) => readFileSync(join(projectRoot, file), 'utf8');

/** installedEnvFile is the settings file install.sh writes, commented defaults and all. */
function installedEnvFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'backend-api-defaults-'));
  try {
    const binary = join(dir, 'backend-api');
    writeFileSync(binary, '#!/bin/sh\necho 0.0.0\n');
    chmodSync(binary, 0o755);
    const run = spawnSync('bash', [join(projectRoot, 'scripts/install.sh'), '--destdir', join(dir, 'root'), '--binary', binary], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    return readFileSync(join(dir, 'root/etc/backend-api/backend-api.env'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the unit, its settings file, the nginx upstream and the README agree on where the API listens', () => {
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_PATH: join(tmpdir(), 'unused', 'app.db'), JWT_SECRET: 'x'.repeat(40) });
  const address = `${config.host}:${config.port}`;
  assert.equal(address, '127.0.0.1:3000');
  // The unit sets nothing itself: every setting is in the file install.sh writes…
  const unit = read('systemd/backend-api.service');
  assert.doesNotMatch(unit, /^Environment=/m);
  assert.match(unit, /^EnvironmentFile=\/etc\/backend-api\/backend-api\.env$/m);
  // …which leaves HOST and PORT to their defaults, shown commented as such.
  const envFile = installedEnvFile();
  const commented = parseEnv(envFile.replace(/^# ([A-Z_]+=)/gm, '$1'));
  assert.deepEqual([commented.HOST, commented.PORT, commented.SHUTDOWN_TIMEOUT], [config.host, String(config.port), String(config.shutdownTimeoutMs / 1000)]);
  assert.deepEqual(Object.keys(parseEnv(envFile)).sort(), ['DATABASE_PATH', 'JWT_SECRET', 'LOG_DIR', 'NODE_ENV']);
  // The state and logs directories the unit makes are the ones the file names.
  const settings = parseEnv(envFile);
  assert.equal(settings.DATABASE_PATH, `/var/lib/${/^StateDirectory=(\S+)$/m.exec(unit)?.[1]}/app.db`);
  assert.equal(settings.LOG_DIR, `/var/log/${/^LogsDirectory=(\S+)$/m.exec(unit)?.[1]}`);
  // nginx sends to exactly that instance.
  const servers = [...read('nginx/backend-api-upstream.conf').matchAll(/^server (\S+)/gm)].map((m) => m[1]);
  assert.deepEqual(servers, [address]);
  // nginx listens on port 80, where the README's Nginx steps ask it for /health.
  assert.deepEqual([...read('nginx/nginx.conf').matchAll(/^\s*listen (\S+)/gm)].map((m) => m[1]), ['80']);
  assert.match(read('README.md'), /^curl -s http:\/\/localhost\/health /m);
  // And the README's curl flow talks to it.
  const readme = read('README.md');
  const urls = new Set(readme.match(/http:\/\/(?:localhost|127\.0\.0\.1):\d+/g));
  assert.deepEqual([...urls].map((url) => url.replace('localhost', '127.0.0.1')).filter((url) => !url.endsWith(`:${config.port}`)), []);
});
