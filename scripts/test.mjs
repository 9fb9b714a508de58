#!/usr/bin/env node
// Runs the whole test suite: finds (or, as root, installs) the system tools the tests drive,
// then runs every src/**/*.test.ts with node's test runner: light files in parallel, then the
// process-heavy ones (*.process.test.ts: clusters, signals, nginx, browsers) one at a time.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const EXECUTABLE_MARK = 'The subject of this file is the built executable';
const exceptExecutable = process.argv.includes('--except-executable');
const args = process.argv.slice(2).filter((arg) => arg !== '--except-executable');

if (args.includes('--help')) {
  console.log(`Usage: npm test [-- [--except-executable] <path filter>...]

Runs src/**/*.test.ts with node --test. A filter keeps the files whose path contains it.
--except-executable leaves out the files whose subject is the built executable (it embeds the
pinned Node 24 whichever Node runs them): CI runs them once, on its first runtime.
System tools the tests need (redis-server, nginx, chromium, systemd-analyze, shellcheck,
systemd-nspawn, debootstrap) are installed with apt-get when missing and this runs as root;
otherwise install them yourself. The Debian rootfs the systemd test boots is built once with
debootstrap (from this machine's apt mirror) and kept in /var/cache/backend-api-test.
With CI=true a missing tool fails the run instead of skipping tests.`);
  process.exit(0);
}

const TOOLS = [
  { bin: 'redis-server', pkg: 'redis-server', paths: ['/usr/bin/redis-server'] },
  { bin: 'nginx', pkg: 'nginx-light', paths: ['/usr/sbin/nginx'] },
  { bin: 'chromium', pkg: 'chromium', paths: ['/usr/bin/chromium'] },
  { bin: 'systemd-analyze', pkg: 'systemd', paths: ['/usr/bin/systemd-analyze'] },
  { bin: 'shellcheck', pkg: 'shellcheck', paths: ['/usr/bin/shellcheck'] },
  // The unit under a real systemd: a Debian rootfs booted with systemd-nspawn. Without recommends,
  // so libnss-mymachines never joins the machine's /etc/nsswitch.conf.
  { bin: 'systemd-nspawn', pkg: 'systemd-container', paths: ['/usr/bin/systemd-nspawn'] },
  { bin: 'debootstrap', pkg: 'debootstrap', paths: ['/usr/sbin/debootstrap'] },
];

function have(tool) {
  return tool.paths.some((path) => existsSync(path)) || spawnSync('sh', ['-c', `command -v ${tool.bin}`]).status === 0;
}

const missing = TOOLS.filter((tool) => !have(tool));
if (missing.length > 0) {
  const packages = missing.map((tool) => tool.pkg);
  if (process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get']).status === 0) {
    console.log(`installing test tools: ${packages.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-q', '-o', 'DPkg::Lock::Timeout=600'], { stdio: 'inherit', env });
    const install = update.status === 0 && spawnSync('apt-get', ['install', '-y', '-q', '-o', 'DPkg::Lock::Timeout=600', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
    if (!install || install.status !== 0) {
      console.error(`could not install ${packages.join(' ')} with apt-get`);
      process.exit(1);
    }
  } else {
    const message = `missing test tools: ${packages.join(' ')} (sudo apt-get install ${packages.join(' ')})`;
    if (process.env.CI === 'true') {
      console.error(`${message}; CI never skips them`);
      process.exit(1);
    }
    console.warn(`${message}; the tests that need them will be skipped`);
  }
}

const files = readdirSync(join(root, 'src'), { recursive: true })
  .map((file) => join('src', String(file)))
  .filter((file) => file.endsWith('.test.ts'))
  .filter((file) => args.length === 0 || args.some((filter) => file.includes(filter)))
  .filter((file) => !exceptExecutable || !readFileSync(join(root, file), 'utf8').includes(EXECUTABLE_MARK))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

// The systemd test boots a Debian rootfs that debootstrap builds once (minutes on a cold machine)
// and a cache keeps: built here, like a tool installed, so the test's time limit is its own.
const systemdTest = files.find((file) => file.endsWith('systemd-container.process.test.ts'));
if (systemdTest && process.getuid?.() === 0 && TOOLS.filter((tool) => ['debootstrap', 'systemd-nspawn'].includes(tool.bin)).every(have)) {
  const rootfs = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--eval', "import('./src/test-support/debian-rootfs.ts').then((m) => console.log(`container rootfs: ${m.cachedRootfs()}`))"],
    { cwd: root, stdio: 'inherit' },
  );
  if (rootfs.status !== 0) {
    console.error(`could not build the Debian rootfs ${systemdTest} boots`);
    process.exit(1);
  }
}

const heavy = files.filter((file) => file.endsWith('.process.test.ts') && file !== systemdTest);
const light = files.filter((file) => !heavy.includes(file) && file !== systemdTest);
let failed = false;
// A hung test fails after five minutes instead of holding CI until its limit; the systemd test
// (a build, a boot, 20 rolling restarts one after another) gets ten on a busy machine.
for (const [group, concurrency, limitMs] of [[light, 2, 300_000], [heavy, 1, 300_000], [systemdTest ? [systemdTest] : [], 1, 600_000]]) {
  if (group.length === 0) continue;
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, `--test-timeout=${limitMs}`, '--test-reporter=spec', ...group.map((f) => relative(root, join(root, f)))],
    { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
  );
  failed ||= run.status !== 0;
}
process.exit(failed ? 1 : 0);
