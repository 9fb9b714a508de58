import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { projectRoot } from '../assets.js';
import { runLoad } from '../test-support/load.js';
import { childPids } from '../test-support/proc-fs.js';
import { startServerProcess, type ServerProcess } from '../test-support/process.js';

describe('upgrading the code under a running primary', () => {
  const servers: ServerProcess[] = [];
  after(() => servers.forEach((s) => s.killGroup('SIGKILL')));

  test('after the bundle on disk changed, SIGHUP refuses the rolling restart and a replacement worker refuses to start: never two versions', async () => {
    const out = mkdtempSync(join(tmpdir(), 'backend-api-upgrade-'));
    const build = spawnSync(process.execPath, [join(projectRoot, 'scripts/build.mjs'), '--bundle-only', '--out', out], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(build.status, 0, build.stderr);
    const bundle = join(out, 'main.cjs');
    const server = await startServerProcess({
      detached: true,
      program: [bundle],
      // The bundle leaves better-sqlite3 outside, in the checkout's node_modules.
      env: { NODE_PATH: join(projectRoot, 'node_modules') },
    });
    servers.push(server);
    const before = childPids(server.pid).sort();
    let done = false;
    const load = runLoad({ baseUrl: server.url, concurrency: 8, durationMs: 120_000, next: () => ({ method: 'GET', path: '/health' }), stop: () => done });

    // What install.sh does to the executable: a new file where the old one was.
    appendFileSync(bundle, '\n// the next version\n');
    server.kill('SIGHUP');
    const refused = await server.waitFor((r) => r.message?.startsWith('rolling restart refused'));
    await sleep(500);
    assert.deepEqual(childPids(server.pid).sort(), before, 'the same workers serve');
    assert.ok(!server.records().some((r) => r.message === 'rolling restart: begin'));

    // A worker that dies now cannot be replaced by one running the new code.
    const [victim] = before;
    process.kill(victim as number, 'SIGKILL');
    const refusal = await server.waitFor((r) => r.message === 'worker exited' && r.code === 3);
    await server.waitFor((r) => r.message?.startsWith('a new worker refused to run other code'));
    done = true;
    const result = await load;
    const listening = server.records().filter((r) => r.message === 'listening').map((r) => r.pid);
    console.log(
      `upgrade: "${refused.message}"; refused worker ${refusal.workerPid} exit ${refusal.code}; ` +
        `load ${JSON.stringify(result.statuses)}, ${result.failures.length} failed; pids that listened ${listening}`,
    );
    assert.deepEqual(listening.sort(), before, 'no worker of the new code ever listened');
    assert.ok(result.failures.length <= 8, 'only what the killed worker had in flight');
    server.kill('SIGTERM');
    assert.deepEqual(await server.exited, { code: 0, signal: null });
  });
});
