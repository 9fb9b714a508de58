import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { runLoad } from '../test-support/load.js';
import { childPids } from '../test-support/proc-fs.js';
import { startServerProcess, type ServerProcess } from '../test-support/process.js';
import { slowLoginsInFlight } from '../test-support/slow-logins.js';

/** sampleWorkers counts the primary's children every 20 ms until stopped: the most seen, and every pid. */
function sampleWorkers(primary: number) {
  let most = 0;
  let running = true;
  const seen = new Set<number>();
  const sampling = (async () => {
    while (running) {
      const pids = childPids(primary);
      pids.forEach((pid) => seen.add(pid));
      most = Math.max(most, pids.length);
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await sampling;
      return { most, seen };
    },
  };
}

describe('the primary keeps the number of workers asked', () => {
  const servers: ServerProcess[] = [];
  after(() => servers.forEach((s) => s.killGroup('SIGKILL')));

  test('SIGHUP to the group, a worker killed and SIGHUP again: never more than 2+1 workers, none dies of SIGHUP, then exactly 2', async () => {
    const server = await startServerProcess({ detached: true });
    servers.push(server);
    const workers = sampleWorkers(server.pid);
    let done = false;
    const load = runLoad({ baseUrl: server.url, concurrency: 8, durationMs: 120_000, next: () => ({ method: 'GET', path: '/health' }), stop: () => done });

    // A terminal hang-up: the whole group gets SIGHUP at once.
    server.killGroup('SIGHUP');
    await server.waitFor((r) => r.message === 'rolling restart: begin');
    await sleep(300);
    process.kill(childPids(server.pid)[0] as number, 'SIGKILL');
    await sleep(300);
    server.kill('SIGHUP');
    server.killGroup('SIGHUP');
    const passes = () => server.records().filter((r) => r.message === 'rolling restart: done').length;
    for (let i = 0; i < 600 && passes() < 1; i++) await sleep(100);
    await sleep(1500);
    done = true;
    const result = await load;
    const { most, seen } = await workers.stop();
    const now = childPids(server.pid);
    const exits = server.records().filter((r) => r.message === 'worker exited');
    console.log(
      `SIGHUP mix: at most ${most} workers, ${seen.size} forked in all, ${now.length} at the end; ${passes()} rolling passes; ` +
        `exits ${JSON.stringify(exits.map((r) => [r.signal ?? r.code, r.leaving]))}; load ${JSON.stringify(result.statuses)}, ${result.failures.length} failed`,
    );
    assert.ok(passes() >= 1);
    assert.ok(most <= 3, `${most} workers at once`);
    assert.equal(now.length, 2);
    // A worker still booting (before node runs our first line, which ignores SIGHUP) can only die of it by the default action.
    const listened = new Set(server.records().filter((r) => r.message === 'listening').map((r) => r.pid));
    assert.deepEqual(
      exits.filter((r) => r.signal === 'SIGHUP' && listened.has(r.workerPid)),
      [],
      'no running worker died of SIGHUP',
    );
    assert.equal(exits.filter((r) => r.signal === 'SIGKILL').length, 1, 'the one we killed');
    assert.ok(result.failures.length <= 8, 'only what the killed worker had in flight');
    server.killGroup('SIGTERM');
    assert.deepEqual(await server.exited, { code: 0, signal: null });
  });

  test('primary SIGKILLed: its workers finish the 6 logins in flight and exit 0, with no unhandled error', async () => {
    const server = await startServerProcess({ detached: true, reaper: true, env: { BCRYPT_ROUNDS: '12', SHUTDOWN_TIMEOUT: '20' } });
    servers.push(server);
    const workers = childPids(server.pid);
    const logins = await slowLoginsInFlight(server, 6);
    const killedAt = Date.now();
    process.kill(server.pid, 'SIGKILL');
    const statuses = (await Promise.all(logins)).map((a) => a.status);
    const reaped = await Promise.all(workers.map((pid) => server.waitFor((r) => r.reaped === pid, 30_000)));
    const tookMs = Date.now() - killedAt;
    console.log(`primary gone: logins ${JSON.stringify(statuses)}; workers ${JSON.stringify(reaped.map((r) => [r.code, r.signal]))} within ${tookMs} ms`);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
    assert.deepEqual(
      reaped.map((r) => [r.code, r.signal]),
      workers.map(() => [0, null]),
    );
    assert.equal(server.records().filter((r) => r.message === 'draining' && r.reason === 'primary gone').length, workers.length);
    assert.doesNotMatch(server.output(), /EPIPE|ERR_IPC|Unhandled|uncaught|Error:/i);
    await server.exited;
  });
});
