// The subject of this file is the built executable, which embeds the pinned Node 24 whichever
// Node runs the test: `npm test -- --except-executable` leaves it out (CI's second runtime).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { projectRoot } from '../assets.js';
import { builtExecutable } from '../test-support/executable.js';
import { installHostStubs } from '../test-support/host-stubs.js';
import { makeNginxDirs, NGINX_FILES, nginxBinary, nginxMissing, replaceOnce, runnableNginxConf } from '../test-support/nginx.js';
import { freePort } from '../test-support/process.js';
import { readmeBlocks, readmeSection } from '../test-support/readme.js';

const BUILD_TIMEOUT_MS = 300_000;

/**
 * onHost points a README command's absolute host paths (/etc, /var, /root, /run) into `prefix`,
 * the stand-in for the host's /. It is the one change made to the commands besides ports.
 */
function onHost(text: string, prefix: string): string {
  return text.replace(/(^|[\s="'])\/(etc|var|root|run)\//gm, `$1${prefix}/$2/`);
}

/** lines are a block's commands, one per line (the deploy blocks continue no line). */
const lines = (block: string) => block.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));

describe("the README's bare-metal deploy, step by step as written, answering through nginx", { skip: nginxMissing() ?? false }, () => {
  let work: string;
  let prefix: string;
  let apiPort: number;
  let nginxPort: number;
  let env: Record<string, string>;
  let token = '';
  const started = performance.now();

  /** sh runs README commands with the stand-ins first on PATH and the installed executable after them, from the clone. */
  function sh(script: string) {
    const run = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: projectRoot, env, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(run.status, 0, `${script}\n${run.stdout}${run.stderr}`);
    return run.stdout;
  }
  const api = (path: string) => `http://127.0.0.1:${nginxPort}${path}`;
  async function create(title: string) {
    const res = await fetch(api('/api/v1/tasks'), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ title }) });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('server'), 'nginx', 'answered through nginx');
  }
  async function titles(): Promise<string[]> {
    const res = await fetch(api('/api/v1/tasks?limit=100'), { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { data: Array<{ title: string }> }).data.map((task) => task.title);
  }

  before(
    async () => {
      work = mkdtempSync(join(tmpdir(), 'backend-api-readme-deploy-'));
      prefix = join(work, 'host');
      [apiPort, nginxPort] = [await freePort(), await freePort()];
      // What the host has before the steps: nginx's package made /etc/nginx; root has a home.
      for (const dir of ['etc/nginx', 'root', 'run']) mkdirSync(join(prefix, dir), { recursive: true });
      const stubs = installHostStubs(join(work, 'stubs'));
      env = {
        PATH: `${stubs}:${prefix}/usr/local/bin:${process.env.PATH ?? ''}:/usr/sbin`,
        HOME: join(prefix, 'root'),
        PREFIX: prefix,
        API_PORT: String(apiPort),
        REAL_NGINX: nginxBinary()!,
      };
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(() => {
    // Whatever a failed step left running: the service's session (its primary and workers), nginx.
    const pid = (file: string) => (existsSync(join(prefix, 'run', file)) ? Number(readFileSync(join(prefix, 'run', file), 'utf8')) : 0);
    const serviceGroup = existsSync(join(prefix, 'run/backend-api.status')) ? 0 : pid('backend-api.pgid');
    for (const target of [-serviceGroup, pid('nginx.pid')]) {
      // Never 0 or -0: that would be this test's own process group.
      if (Math.abs(target) <= 1) continue;
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('build, install.sh, its settings file: the service it installs answers', { timeout: BUILD_TIMEOUT_MS }, () => {
    const [build, install, status, ...more] = lines(readmeBlocks('### Bare metal or VM: the executable, systemd and Nginx (the main path)')[0]!);
    assert.deepEqual(more, []);
    // npm ci is the clone's own; the build is npm run build's, into a directory of the test's.
    assert.match(build!, /^npm ci && npm run build\s/);
    const built = builtExecutable(join(work, 'build'), BUILD_TIMEOUT_MS);
    assert.match(install!, /^sudo scripts\/install\.sh\s/);
    console.log(sh(install!.replace('scripts/install.sh', `scripts/install.sh --destdir ${prefix} --binary ${built}`)).trim());
    // The settings file as the operator finds it, its paths on this stand-in host and its port free here.
    const envFile = join(prefix, 'etc/backend-api/backend-api.env');
    writeFileSync(envFile, `${onHost(readFileSync(envFile, 'utf8'), prefix)}PORT=${apiPort}\nWORKERS=2\n`);
    // What install.sh runs itself when it is not given --destdir.
    sh('systemctl enable --now backend-api');
    assert.match(sh(status!), /active \(running\)/);
  });

  test('check-config --environment-file on the installed file shows what the service runs with', () => {
    const command = /`(sudo backend-api check-config --environment-file [^`]+)`/.exec(readmeSection('### Bare metal or VM: the executable, systemd and Nginx (the main path)'))?.[1];
    assert.ok(command, 'the README gives the command');
    const printed = JSON.parse(sh(onHost(command, prefix)));
    assert.deepEqual(
      [printed.env, printed.port, printed.database.path, printed.log.dir, printed.jwt.secret],
      ['production', apiPort, join(prefix, 'var/lib/backend-api/app.db'), join(prefix, 'var/log/backend-api'), '[set]'],
    );
  });

  test('nginx on the shipped files: the README curl flow answers through it', () => {
    const [apt, install, reload, health, ...more] = lines(readmeBlocks('### Nginx in front')[0]!);
    assert.deepEqual(more, []);
    assert.match(apt!, /^sudo apt-get install nginx-light\s/, 'nginx-light, as scripts/test.mjs installs it');
    sh(onHost(install!, prefix));
    // Only where its files go and which ports it uses change; the rest is the shipped text.
    const conf = join(prefix, 'etc/nginx/nginx.conf');
    const upstream = join(prefix, 'etc/nginx/backend-api-upstream.conf');
    assert.equal(readFileSync(conf, 'utf8'), readFileSync(join(projectRoot, 'nginx/nginx.conf'), 'utf8'));
    makeNginxDirs(prefix);
    writeFileSync(conf, runnableNginxConf(readFileSync(conf, 'utf8'), prefix, nginxPort));
    writeFileSync(upstream, replaceOnce(readFileSync(upstream, 'utf8'), /^server 127\.0\.0\.1:3000 /m, `server 127.0.0.1:${apiPort} `));
    sh(reload!);
    assert.equal(JSON.parse(sh(health!.replace('http://localhost/', api('/')))).status, 'ok');

    const flow = sh(readmeBlocks('## Try it with curl')[0]!.replaceAll('http://localhost:3000', api(''))).split('\n');
    assert.deepEqual([JSON.parse(flow[0]!).username, JSON.parse(flow[0]!).role], ['john', 'admin']);
    assert.equal(JSON.parse(flow[1]!).title, 'My Task');
    assert.match(flow.join('\n'), /HTTP\/1\.1 204 No Content[\s\S]*Server: nginx/i);
    const logged = readFileSync(join(prefix, NGINX_FILES.accessLog), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
    assert.ok(logged.some((r) => r.uri === '/api/v1/tasks' && r.upstream === `127.0.0.1:${apiPort}`), 'nginx logged the flow, sent to the service');
  });

  test('backup and restore as written: the data of the backup comes back through nginx, and the service stops cleanly', async () => {
    const login = await fetch(api('/api/v1/auth/login'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'john@example.com', password: 'secret123' }) });
    token = ((await login.json()) as { token: string }).token;
    await create('before the backup');
    const [backup, restore, ...more] = readmeBlocks('### Backup and restore');
    assert.equal(more.length, 0);
    assert.match(sh(onHost(backup!, prefix)), /integrity_check ok/);
    await create('after the backup');
    sh(onHost(restore!, prefix));
    const listed = await titles();
    assert.ok(listed.includes('before the backup') && !listed.includes('after the backup'), listed.join());

    sh('systemctl stop backend-api');
    assert.equal(readFileSync(join(prefix, 'run/backend-api.status'), 'utf8').trim(), '0', 'SIGTERM ends it with status 0');
    sh('nginx -s quit');
    console.log(`README deploy steps through nginx: ${((performance.now() - started) / 1000).toFixed(1)} s in all`);
  });
});
