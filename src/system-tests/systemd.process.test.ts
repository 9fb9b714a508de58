import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { projectRoot } from '../assets.js';

const UNIT = readFileSync(join(projectRoot, 'systemd/backend-api.service'), 'utf8');
const INSTALLED_BINARY = '/usr/local/bin/backend-api';
/** The most `systemd-analyze security` may score the unit (0 = locked down, 10 = exposed). */
const MAX_EXPOSURE = 2.0;

/** toolMissing says why a test cannot run here, or null; CI never skips (scripts/test.mjs installs the tools). */
function toolMissing(bin: string, pkg: string): string | null {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0) return null;
  if (process.env.CI === 'true') throw new Error(`${bin} is missing; CI installs it through npm test`);
  return `${bin} is not installed (apt-get install ${pkg})`;
}

/** directives lists every value a unit gives a key, in order. */
function directives(key: string): string[] {
  return [...UNIT.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
}

describe('systemd/backend-api.service', () => {
  const missing = toolMissing('systemd-analyze', 'systemd');
  let dir: string;
  let unit: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'backend-api-unit-'));
    // verify checks that ExecStart= names an executable; the real one lives where install.sh puts it.
    const binary = join(dir, 'backend-api');
    writeFileSync(binary, '#!/bin/sh\nexit 0\n');
    chmodSync(binary, 0o755);
    unit = join(dir, 'backend-api.service');
    writeFileSync(unit, UNIT.replaceAll(INSTALLED_BINARY, binary));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('systemd-analyze verify has nothing to say about it', { skip: missing ?? false }, () => {
    const run = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(`${run.stdout}${run.stderr}`, '');
    assert.equal(run.status, 0);
  });

  test('…and would say something about a mistake (the check above is not blind)', { skip: missing ?? false }, () => {
    const broken = join(dir, 'broken', 'backend-api.service');
    mkdirSync(join(dir, 'broken'));
    writeFileSync(broken, readFileSync(unit, 'utf8').replace('ProtectHome=yes', 'ProtectHome=yes\nProtectHomes=yes'));
    const run = spawnSync('systemd-analyze', ['verify', broken], { encoding: 'utf8', timeout: 30_000 });
    assert.match(`${run.stdout}${run.stderr}`, /Unknown key 'ProtectHomes'/);
  });

  test(`systemd-analyze security scores its exposure at most ${MAX_EXPOSURE.toFixed(1)}`, { skip: missing ?? false }, () => {
    const threshold = String(Math.round(MAX_EXPOSURE * 10)); // systemd counts tenths here
    const run = spawnSync('systemd-analyze', ['security', '--offline=true', `--threshold=${threshold}`, '--no-pager', unit], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    const score = Number(/Overall exposure level for backend-api\.service: ([\d.]+)/.exec(run.stdout)?.[1]);
    console.log(`exposure ${score}; still open: ${[...run.stdout.matchAll(/^✗ (\S+)/gm)].map((m) => m[1]).join(' ')}`);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.ok(score <= MAX_EXPOSURE, `exposure ${score}`);
  });

  test('is Type=notify, open to the systemd-notify processes the primary starts', () => {
    assert.deepEqual(directives('Type'), ['notify']);
    assert.deepEqual(directives('NotifyAccess'), ['all']);
    // V8's pkey_alloc is outside @system-service on systemd 252: it must fail with EPERM, not kill.
    assert.deepEqual(directives('SystemCallErrorNumber'), ['EPERM']);
    assert.match(UNIT, /pkey_alloc/);
  });

  test('stops the primary alone, with time for its drain, and does not restart a bad configuration', () => {
    assert.deepEqual(directives('ExecStart'), [`${INSTALLED_BINARY} serve`]);
    assert.deepEqual(directives('KillMode'), ['mixed']);
    assert.deepEqual(directives('ExecReload'), ['/bin/kill -HUP $MAINPID']);
    // The primary waits SHUTDOWN_TIMEOUT (10 s) plus 2 s for its workers before it kills them.
    assert.ok(Number(directives('TimeoutStopSec')[0]) > 12);
    assert.deepEqual(directives('RestartPreventExitStatus'), ['78']);
    assert.deepEqual(directives('Restart'), ['on-failure']);
    assert.deepEqual(directives('MemoryDenyWriteExecute'), [], 'V8 needs writable executable memory');
    assert.deepEqual(directives('CapabilityBoundingSet'), ['']);
    // Every setting comes from the one file check-config --environment-file reads, which must exist.
    assert.deepEqual(directives('EnvironmentFile'), ['/etc/backend-api/backend-api.env']);
    assert.deepEqual(directives('Environment'), []);
  });
});
