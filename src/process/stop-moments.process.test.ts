import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { groupAlive } from '../test-support/proc-fs.js';
import { startServerProcess, type ServerProcess } from '../test-support/process.js';

const SHUTDOWN_TIMEOUT_S = 10;
type LogRecord = Record<string, any>;

/** A moment of the server's life, reached by waiting (and perhaps acting) after spawn. */
interface Moment {
  readonly name: string;
  readonly reach: (server: ServerProcess) => Promise<unknown>;
  readonly group?: boolean;
}

const nth = (message: string, n: number) => (server: ServerProcess) =>
  server.waitFor((r: LogRecord) => r.message === message && server.records().filter((x) => x.message === message).length >= n, 60_000);
const afterHangup = (then: (server: ServerProcess) => Promise<unknown>) => async (server: ServerProcess) => {
  await nth('primary ready', 1)(server);
  server.kill('SIGHUP');
  await then(server);
};

const MOMENTS: Moment[] = [
  { name: 'right after spawn', reach: () => Promise.resolve() },
  { name: '300 ms after spawn', reach: () => sleep(300) },
  { name: '1 s after spawn', reach: () => sleep(1000) },
  { name: '2 s after spawn', reach: () => sleep(2000) },
  { name: '3 s after spawn', reach: () => sleep(3000) },
  { name: 'once the database is ready, before any fork', reach: nth('database ready', 1) },
  { name: 'to the group once the database is ready', reach: nth('database ready', 1), group: true },
  { name: 'while the second worker starts', reach: nth('listening', 1) },
  { name: 'to the group while the second worker starts', reach: nth('listening', 1), group: true },
  { name: 'once every worker listens', reach: nth('primary ready', 1) },
  { name: 'right after a SIGHUP', reach: afterHangup(() => Promise.resolve()) },
  { name: 'while the new worker of a rolling restart starts', reach: afterHangup(() => sleep(500)) },
  { name: 'when an old worker of a rolling restart starts draining', reach: afterHangup(nth('retiring worker', 1)) },
  { name: 'to the group when an old worker of a rolling restart starts draining', reach: afterHangup(nth('retiring worker', 1)), group: true },
];

describe('a stop at any moment is one graceful stop', () => {
  const servers: ServerProcess[] = [];
  after(() => servers.forEach((s) => s.killGroup('SIGKILL')));

  for (const moment of MOMENTS) {
    test(`SIGTERM ${moment.name}: exit 0, nothing left running`, async () => {
      const server = await startServerProcess({ detached: true, readyMessage: null, env: { SHUTDOWN_TIMEOUT: String(SHUTDOWN_TIMEOUT_S) } });
      servers.push(server);
      await moment.reach(server);
      const signalled = Date.now();
      if (moment.group) server.killGroup('SIGTERM');
      else server.kill('SIGTERM');
      const exit = await server.exited;
      const tookMs = Date.now() - signalled;
      for (let i = 0; i < 100 && groupAlive(server.child.pid as number); i++) await sleep(20);
      const printed = server.records().length;
      console.log(`SIGTERM ${moment.name}: exit ${JSON.stringify(exit)} after ${tookMs} ms (${printed} log lines before)`);
      // Before node runs main's first line nothing of ours can answer a signal: its default action
      // ends the process (systemd counts SIGTERM as a clean stop). That is only true of a process that printed nothing.
      if (exit.signal === 'SIGTERM') assert.equal(server.output(), '', 'killed by the default action although the server had started');
      else assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(tookMs < SHUTDOWN_TIMEOUT_S * 1000, `${tookMs} ms`);
      assert.doesNotMatch(server.output(), /did not stop in time|second s(ignal|top)/);
      assert.ok(!groupAlive(server.child.pid as number), 'no process of the group is left');
    });
  }
});
