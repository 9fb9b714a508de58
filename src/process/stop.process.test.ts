import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { childPids, groupAlive } from '../test-support/proc-fs.js';
import { startServerProcess, type ServerProcess } from '../test-support/process.js';
import { slowLoginsInFlight } from '../test-support/slow-logins.js';

const SHUTDOWN_TIMEOUT_S = 15;
// A login then takes a few hundred milliseconds, and a worker's bcrypt thread runs them one at a time.
const SLOW = { BCRYPT_ROUNDS: '12', SHUTDOWN_TIMEOUT: String(SHUTDOWN_TIMEOUT_S) };

/** The ways an operator's stop reaches the processes: each must be one graceful stop. */
const WAYS: Array<{ name: string; stop: (server: ServerProcess) => Promise<void> }> = [
  { name: 'SIGTERM to the primary (systemd KillMode=mixed)', stop: async (s) => s.kill('SIGTERM') },
  { name: 'SIGINT to the primary', stop: async (s) => s.kill('SIGINT') },
  { name: 'SIGTERM to the whole group (KillMode=control-group, kill -TERM -- -PGID)', stop: async (s) => s.killGroup('SIGTERM') },
  { name: 'SIGINT to the whole group (Ctrl-C in a terminal)', stop: async (s) => s.killGroup('SIGINT') },
  {
    name: 'SIGTERM to a worker, then to the primary',
    stop: async (s) => {
      process.kill(childPids(s.pid)[0] as number, 'SIGTERM');
      await sleep(300);
      s.kill('SIGTERM');
    },
  },
  {
    name: 'SIGTERM to the primary, then to every worker',
    stop: async (s) => {
      const workers = childPids(s.pid);
      s.kill('SIGTERM');
      await sleep(300);
      for (const pid of workers) process.kill(pid, 'SIGTERM');
    },
  },
];

/** waitGroupGone resolves when no process of the server's group is left (bounded). */
async function groupGone(server: ServerProcess): Promise<boolean> {
  for (let i = 0; i < 100 && groupAlive(server.child.pid as number); i++) await sleep(20);
  return !groupAlive(server.child.pid as number);
}

describe('one stop, however it arrives', () => {
  const servers: ServerProcess[] = [];
  after(() => servers.forEach((s) => s.killGroup('SIGKILL')));

  for (const way of WAYS) {
    test(`${way.name}: 6 slow logins in flight all answered, exit 0`, async () => {
      const server = await startServerProcess({ detached: true, env: SLOW });
      servers.push(server);
      const logins = await slowLoginsInFlight(server, 6);
      const signalled = Date.now();
      await way.stop(server);
      const [answers, exit] = await Promise.all([Promise.all(logins), server.exited]);
      const tookMs = Date.now() - signalled;
      const statuses = answers.map((a) => a.status);
      const afterSignal = answers.filter((a) => a.at > signalled).length;
      console.log(`${way.name}: logins ${JSON.stringify(statuses)} (${afterSignal} answered after the signal), exit ${JSON.stringify(exit)} after ${tookMs} ms`);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
      assert.ok(afterSignal > 0, 'some logins were still in flight at the signal');
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(tookMs < SHUTDOWN_TIMEOUT_S * 1000, `${tookMs} ms`);
      assert.doesNotMatch(server.output(), /did not stop in time|second s(ignal|top)|drain limit reached/);
      assert.ok(await groupGone(server), 'no process of the group is left');
    });
  }

  test('a second Ctrl-C (SIGINT to the group) exits at once with status 1 and leaves no worker behind', async () => {
    const server = await startServerProcess({ detached: true, env: SLOW });
    servers.push(server);
    const logins = await slowLoginsInFlight(server, 4);
    server.killGroup('SIGINT');
    await sleep(200);
    const again = Date.now();
    server.killGroup('SIGINT');
    const exit = await server.exited;
    const tookMs = Date.now() - again;
    console.log(`second Ctrl-C: exit ${JSON.stringify(exit)} ${tookMs} ms after it; logins ${JSON.stringify((await Promise.all(logins)).map((a) => a.status))}`);
    assert.equal(exit.code, 1);
    assert.ok(tookMs < 2000, `${tookMs} ms`);
    assert.ok(await groupGone(server), 'no process of the group is left');
  });
});
