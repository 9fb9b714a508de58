// The redis-server of the bench's -redis targets: its own, on a free port, without persistence.
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './targets.mjs';

/** startRedis runs a redis-server without persistence for the -redis targets, or says why it cannot. */
export async function startRedis() {
  if (spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status !== 0) return null;
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (await answersPing(port)) return { url: `redis://127.0.0.1:${port}`, child };
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port}`);
}

function answersPing(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.once('data', (data) => resolve(socket.destroy() || String(data).startsWith('+PONG')));
    socket.once('error', () => resolve(false));
  });
}

