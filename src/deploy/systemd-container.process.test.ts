// The subject of this file is the built executable, which embeds the pinned Node 24 whichever
// Node runs the test: `npm test -- --except-executable` leaves it out (CI's second runtime).
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { projectRoot } from '../assets.js';
import { bootContainer, writeInside, type Container } from '../test-support/container.js';
import { cachedRootfs } from '../test-support/debian-rootfs.js';

const SERVICE = 'backend-api';
const API = 'http://127.0.0.1:3000';
const RELOADS = 20;
const RELOAD_GAP_MS = 1000;
/** Each reload must finish its rolling restart within this, or the test fails instead of hanging. */
const ROLLING_TIMEOUT_MS = 60_000;
const BUILD_TIMEOUT_MS = 300_000;

/** missing says why this test cannot run here, or null; under CI=true nothing may be missing (scripts/test.mjs installs the tools). */
function missing(): string | null {
  const reasons: string[] = [];
  if (process.getuid?.() !== 0) reasons.push('it must run as root (mounts, cgroups, systemd-nspawn)');
  for (const [bin, pkg] of [['systemd-nspawn', 'systemd-container'], ['debootstrap', 'debootstrap'], ['nsenter', 'util-linux']] as const) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) reasons.push(`${bin} is not installed (apt-get install --no-install-recommends ${pkg})`);
  }
  if (reasons.length === 0) return null;
  if (process.env.CI === 'true') throw new Error(`${reasons.join('; ')}; CI never skips this test`);
  return reasons.join('; ');
}

/** readmeBlocks are the bash blocks of one README section, exactly as written there. */
function readmeBlocks(heading: string): string[] {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `the README has a section ${heading}`);
  const end = readme.slice(start + heading.length + 2).search(/\n#{2,3} /);
  const section = readme.slice(start, end < 0 ? undefined : start + heading.length + 2 + end);
  return [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** The load a client loop puts on the server inside the container: one line per request, `exitcode status seconds`. */
const LOAD_SCRIPT = `#!/bin/bash
# load.sh OUT URL [TOKEN]: one request after another, each on a new connection, until /root/load/stop exists.
out=$1 url=$2 token=\${3:-}
: >"$out"
while [ ! -e /root/load/stop ]; do
  curl -s -o /dev/null --max-time 10 -H "Authorization: Bearer $token" -w '%{exitcode} %{http_code} %{time_total}\\n' "$url" >>"$out" || true
done
`;

describe('the unit under a real systemd: systemd-nspawn --boot of a Debian rootfs', { skip: missing() ?? false }, () => {
  let work: string;
  let container: Container;
  let token = '';

  const systemctl = (...args: string[]) => container.exec(['systemctl', ...args], 120_000);
  const curl = (...args: string[]) => container.exec(['curl', '-s', '--max-time', '10', ...args]);
  async function props(...names: string[]): Promise<Record<string, string>> {
    const show = await systemctl('show', SERVICE, ...names.map((name) => `--property=${name}`));
    return Object.fromEntries(show.stdout.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  }
  /** journal is what the service logged since a moment (seconds since the epoch), message by message. */
  async function journal(since: number): Promise<string> {
    return (await container.exec(['journalctl', '-u', SERVICE, '-o', 'cat', '--no-pager', `--since=@${Math.floor(since)}`])).stdout;
  }
  const now = () => Date.now() / 1000;
  const count = (text: string, what: string) => text.split(what).length - 1;

  before(
    async () => {
      work = mkdtempSync(join(tmpdir(), 'backend-api-systemd-'));
      const started = performance.now();
      const build = spawnSync(process.execPath, [join(projectRoot, 'scripts/build.mjs'), '--out', join(work, 'build')], { encoding: 'utf8', timeout: BUILD_TIMEOUT_MS });
      assert.equal(build.status, 0, `${build.stdout}${build.stderr}`);
      const rootfs = cachedRootfs();
      const booting = performance.now();
      container = await bootContainer({
        rootfs,
        prepare: (root) => {
          // As an operator would, with the executable of npm run build.
          const install = spawnSync('bash', [join(projectRoot, 'scripts/install.sh'), '--destdir', root, '--binary', join(work, 'build', 'backend-api')], { encoding: 'utf8' });
          assert.equal(install.status, 0, install.stderr);
          // Two workers whatever the machine's CPU count, so the figures compare.
          appendFileSync(join(root, 'etc/backend-api/backend-api.env'), 'WORKERS=2\n');
          writeInside({ root }, 'root/load.sh', LOAD_SCRIPT, 0o755);
        },
      });
      console.log(`build + rootfs ${((booting - started) / 1000).toFixed(1)} s; boot ${((performance.now() - booting) / 1000).toFixed(1)} s`);
    },
    { timeout: 900_000 },
  );

  after(async () => {
    await container?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('systemctl start returns once every worker listens: the API answers at once, and the status line says so', async () => {
    const since = now();
    const start = await systemctl('enable', '--now', SERVICE);
    assert.equal(start.status, 0, `${start.stderr}\n${await journal(since)}`);
    // No retry: READY=1 came only after both workers listened.
    const health = await curl('-o', '/dev/null', '-w', '%{http_code}', `${API}/health`);
    console.log(`systemctl start: ${Math.round(start.ms)} ms, then /health ${health.stdout}`);
    assert.equal(health.stdout, '200');
    const state = await props('Type', 'NotifyAccess', 'ActiveState', 'SubState', 'StatusText');
    assert.deepEqual(state, { Type: 'notify', NotifyAccess: 'all', ActiveState: 'active', SubState: 'running', StatusText: 'serving on 127.0.0.1:3000 with 2 workers' });
    assert.equal(count(await journal(since), 'systemd notification failed'), 0);
  });

  test("the README's curl flow works on a host that has only the executable", async () => {
    assert.notEqual((await container.exec(['sh', '-c', 'command -v node'])).status, 0, 'no node inside');
    const flow = await container.exec(['bash', '-euo', 'pipefail', '-c', readmeBlocks('## Try it with curl')[0]!]);
    assert.equal(flow.status, 0, flow.stderr);
    const lines = flow.stdout.split('\n');
    assert.deepEqual(Object.entries(JSON.parse(lines[0]!)).filter(([k]) => k === 'username' || k === 'role'), [['username', 'john'], ['role', 'admin']]);
    assert.equal(JSON.parse(lines[1]!).title, 'My Task');
    assert.deepEqual(JSON.parse(lines[2]!).data.map((task: { title: string }) => task.title), ['My Task']);
    assert.match(flow.stdout, /HTTP\/1\.1 204 No Content/);
    const login = await curl('-X', 'POST', `${API}/api/v1/auth/login`, '-H', 'Content-Type: application/json', '-d', '{"email":"john@example.com","password":"secret123"}');
    token = JSON.parse(login.stdout).token;
  });

  test('two restarts in a row: one primary and two workers, answering, nothing failed', async () => {
    // The operator lifts the rate limit for the load below (one client address makes every request).
    appendFileSync(join(container.root, 'etc/backend-api/backend-api.env'), 'RATE_LIMIT_MAX=0\n');
    const since = now();
    const before = (await props('MainPID')).MainPID;
    const first = await systemctl('restart', SERVICE);
    const second = await systemctl('restart', SERVICE);
    console.log(`two restarts: ${Math.round(first.ms)} ms and ${Math.round(second.ms)} ms`);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(second.status, 0, second.stderr);
    const state = await props('MainPID', 'ActiveState', 'NRestarts');
    assert.notEqual(state.MainPID, before);
    assert.equal(state.ActiveState, 'active');
    assert.equal(state.NRestarts, '0', 'systemd never restarted it on its own');
    // Its children are the workers, and for a moment a systemd-notify still waiting on its barrier.
    const children = await container.exec(['ps', '-o', 'comm=', '--ppid', state.MainPID!]);
    assert.equal(children.stdout.split('\n').filter((comm) => comm === 'backend-api').length, 2, children.stdout);
    assert.equal((await curl('-o', '/dev/null', '-w', '%{http_code}', `${API}/health`)).stdout, '200');
    const log = await journal(since);
    assert.equal(count(log, 'did not stop in time'), 0, log);
    assert.equal(count(log, '"level":"error"'), 0, log);
  });

  test(`systemctl reload ${RELOADS} times under load: zero failed or hung requests`, { timeout: 600_000 }, async () => {
    const since = now();
    // Under /root: the host sees the container's files there (its /run is a tmpfs of its own).
    await container.exec(['mkdir', '-p', '/root/load']);
    const loops: ChildProcess[] = [
      container.spawn(['/root/load.sh', '/root/load/1', `${API}/health`]),
      container.spawn(['/root/load.sh', '/root/load/2', `${API}/health`]),
      container.spawn(['/root/load.sh', '/root/load/3', `${API}/api/v1/tasks`, token]),
      container.spawn(['/root/load.sh', '/root/load/4', `${API}/api/v1/tasks?limit=5`, token]),
    ];
    const ended = loops.map((loop) => new Promise((resolve) => loop.once('exit', resolve)));
    const seen = new Set<string>();
    const reloadMs: number[] = [];
    try {
      await sleep(1000);
      for (let i = 1; i <= RELOADS; i++) {
        const reload = await systemctl('reload', SERVICE);
        assert.equal(reload.status, 0, reload.stderr);
        // Until this reload's rolling restart is over, watching what systemd is told meanwhile.
        const deadline = Date.now() + ROLLING_TIMEOUT_MS;
        while (count(await journal(since), 'rolling restart: done') < i) {
          assert.ok(Date.now() < deadline, `rolling restart ${i} did not finish`);
          const state = await props('ActiveState', 'StatusText');
          seen.add(`${state.ActiveState}: ${state.StatusText}`);
          await sleep(100);
        }
        reloadMs.push(performance.now());
        await sleep(RELOAD_GAP_MS);
      }
    } finally {
      writeInside(container, 'root/load/stop', '');
      await Promise.all(ended);
    }
    const results = ['1', '2', '3', '4']
      .flatMap((n) => readFileSync(join(container.root, `root/load/${n}`), 'utf8').trim().split('\n'))
      .map((line) => line.split(' '))
      .map(([exit, status, seconds]) => ({ exit: Number(exit), status, seconds: Number(seconds) }));
    const failed = results.filter((r) => r.exit !== 0 || r.status !== '200');
    const log = await journal(since);
    const closeWait = await container.sh(`awk '$2 ~ /:0BB8$/ && $4 == "08"' /proc/net/tcp /proc/net/tcp6 | wc -l`);
    const slowest = Math.max(...results.map((r) => r.seconds));
    console.log(
      `reloads: ${RELOADS} in ${((reloadMs.at(-1)! - reloadMs[0]!) / 1000).toFixed(0)} s, rolling restarts done ${count(log, 'rolling restart: done')}; ` +
        `requests ${results.length}, failed ${failed.length} (${JSON.stringify(failed.slice(0, 5))}), slowest ${slowest} s; CLOSE_WAIT on :3000 ${closeWait.stdout.trim()}; systemd saw ${[...seen].join(' | ')}`,
    );
    assert.equal(failed.length, 0);
    assert.ok(results.length > RELOADS * 10, `${results.length} requests`);
    assert.equal(count(log, 'rolling restart: done'), RELOADS);
    assert.equal(closeWait.stdout.trim(), '0');
    assert.ok(seen.has('reloading: rolling restart of 2 workers'), [...seen].join(' | '));
    assert.equal((await props('StatusText')).StatusText, 'serving on 127.0.0.1:3000 with 2 workers');
  });

  /** slowUploads starts POSTs that take about `seconds` to send their body: requests in flight for as long. */
  function slowUploads(n: number, seconds: number, label: string): Array<Promise<string>> {
    const rate = 4096;
    // Valid JSON whatever its length: the padding is whitespace.
    const body = (i: number) => `{"title":"${label} ${i}"${' '.repeat(rate * seconds)}}`;
    return Array.from({ length: n }, (_, i) => {
      writeInside(container, `root/${label.replace(/\W/g, '-')}-${i}.json`, body(i));
      return container
        .exec(
          ['curl', '-s', '-o', '/dev/null', '--max-time', '60', '--limit-rate', String(rate), '-w', '%{exitcode} %{http_code}', '-X', 'POST', `${API}/api/v1/tasks`,
            '-H', `Authorization: Bearer ${token}`, '-H', 'Content-Type: application/json', '--data-binary', `@/root/${label.replace(/\W/g, '-')}-${i}.json`],
          120_000,
        )
        .then((r) => r.stdout);
    });
  }

  /** stopWatching runs systemctl stop while recording what systemd shows of the unit meanwhile. */
  async function stopWatching(): Promise<{ ms: number; seen: Set<string> }> {
    const seen = new Set<string>();
    let stopped = false;
    const stop = systemctl('stop', SERVICE).then((r) => ((stopped = true), r));
    while (!stopped) {
      const state = await props('ActiveState', 'StatusText');
      seen.add(`${state.ActiveState}: ${state.StatusText}`);
    }
    const result = await stop;
    assert.equal(result.status, 0, result.stderr);
    return { ms: result.ms, seen };
  }

  test('systemctl stop with requests in flight: each one completes, the primary says STOPPING and exits 0', async () => {
    const since = now();
    const uploads = slowUploads(3, 3, 'in flight');
    await sleep(1000);
    const { ms, seen } = await stopWatching();
    const outcomes = await Promise.all(uploads);
    const state = await props('ActiveState', 'Result', 'ExecMainStatus');
    console.log(`stop with 3 uploads in flight: ${Math.round(ms)} ms; uploads ${JSON.stringify(outcomes)}; systemd saw ${[...seen].join(' | ')}`);
    assert.deepEqual(outcomes, ['0 201', '0 201', '0 201']);
    assert.deepEqual(state, { ActiveState: 'inactive', Result: 'success', ExecMainStatus: '0' });
    assert.ok(seen.has('deactivating: stopping (SIGTERM): draining 2 workers'), [...seen].join(' | '));
    const log = await journal(since);
    assert.equal(count(log, 'did not stop in time'), 0, log);
  });

  test('a TimeoutStopSec below the drain never cuts it short: the primary extends it to SHUTDOWN_TIMEOUT', async () => {
    // An operator's drop-in with a stop timeout shorter than the drain the settings allow (10 s).
    writeInside(container, 'etc/systemd/system/backend-api.service.d/stop.conf', '[Service]\nTimeoutStopSec=2\n');
    try {
      assert.equal((await systemctl('daemon-reload')).status, 0);
      await systemctl('reset-failed', SERVICE);
      assert.equal((await systemctl('start', SERVICE)).status, 0);
      assert.equal((await props('TimeoutStopUSec')).TimeoutStopUSec, '2s');
      const uploads = slowUploads(1, 5, 'past the stop timeout');
      await sleep(1000);
      const { ms } = await stopWatching();
      const outcomes = await Promise.all(uploads);
      const state = await props('Result', 'ExecMainStatus');
      console.log(`stop under TimeoutStopSec=2 with a 5 s upload: ${Math.round(ms)} ms; upload ${JSON.stringify(outcomes)}; ${JSON.stringify(state)}`);
      assert.deepEqual(outcomes, ['0 201']);
      assert.deepEqual(state, { Result: 'success', ExecMainStatus: '0' });
    } finally {
      rmSync(join(container.root, 'etc/systemd/system/backend-api.service.d'), { recursive: true, force: true });
      await systemctl('daemon-reload');
    }
  });

  test('systemctl stop at any moment of a start: stopped cleanly, within SHUTDOWN_TIMEOUT', async () => {
    const figures: string[] = [];
    for (const delayMs of [0, 200, 500, 1000, 1500, 2000, 3000]) {
      const since = now();
      // These starts are deliberate: keep them out of the unit's crash-loop limit (5 starts in 2 minutes).
      await systemctl('reset-failed', SERVICE);
      assert.equal((await systemctl('start', '--no-block', SERVICE)).status, 0);
      await sleep(delayMs);
      const stop = await systemctl('stop', SERVICE);
      const state = await props('ActiveState', 'Result');
      const log = await journal(since);
      figures.push(`${delayMs} ms → ${Math.round(stop.ms)} ms`);
      assert.equal(stop.status, 0, stop.stderr);
      assert.deepEqual(state, { ActiveState: 'inactive', Result: 'success' }, `stop ${delayMs} ms after start:\n${log}`);
      // Past SHUTDOWN_TIMEOUT the primary would kill its workers, log this and exit 1 (Result=exit-code).
      assert.equal(count(log, 'did not stop in time'), 0, log);
    }
    console.log(`stop during start (delay → stop time): ${figures.join(', ')}`);
  });

  test("backup and restore exactly as the README says: the data comes back, owned by the service's user", async () => {
    await systemctl('reset-failed', SERVICE);
    assert.equal((await systemctl('start', SERVICE)).status, 0);
    const create = (title: string) =>
      curl('-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', `${API}/api/v1/tasks`, '-H', `Authorization: Bearer ${token}`, '-H', 'Content-Type: application/json', '-d', JSON.stringify({ title }));
    assert.equal((await create('before the backup')).stdout, '201');
    const [backup, restore, ...more] = readmeBlocks('### Backup and restore');
    assert.equal(more.length, 0);
    assert.match(backup!, /backend-api backup/);
    assert.match(restore!, /systemctl start backend-api/);
    const backedUp = await container.exec(['bash', '-euo', 'pipefail', '-c', backup!]);
    assert.equal(backedUp.status, 0, backedUp.stderr);
    assert.match(backedUp.stdout, /integrity_check ok/);
    assert.equal((await create('after the backup')).stdout, '201');
    const restored = await container.exec(['bash', '-euo', 'pipefail', '-c', restore!]);
    assert.equal(restored.status, 0, restored.stderr);
    const titles = await curl(`${API}/api/v1/tasks?limit=100`, '-H', `Authorization: Bearer ${token}`);
    const listed = (JSON.parse(titles.stdout).data as Array<{ title: string }>).map((task) => task.title);
    assert.ok(listed.includes('before the backup') && !listed.includes('after the backup'), listed.join());
    // Nothing in the state directory belongs to anyone but the service's user.
    const strangers = await container.sh('cd /var/lib/private/backend-api && find . ! -uid "$(stat -c %u .)" -printf "%p %u\\n"');
    assert.equal(strangers.status, 0, strangers.stderr);
    assert.equal(strangers.stdout, '');
    const files = await container.sh('ls -ln /var/lib/private/backend-api');
    console.log(`after backup and restore: ${files.stdout.trim().split('\n').slice(1).join('; ')}`);
  });
});
