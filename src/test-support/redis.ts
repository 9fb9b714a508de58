import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './process.js';

/** redisMissing says why Redis tests cannot run here, or null when redis-server is installed; CI never skips. */
export function redisMissing(): string | null {
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status === 0) return null;
  if (process.env.CI === 'true') throw new Error('redis-server is missing; CI installs it through npm test');
  return 'redis-server is not installed (apt-get install redis-server)';
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** kill stops it at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** start (re)starts it on the same port, empty. */
  start(): Promise<void>;
  /** pause freezes it (SIGSTOP): connections stay open and nothing is answered, as a hung Redis does. */
  pause(): void;
  /** resume lets it go on (SIGCONT). */
  resume(): void;
  stop(): Promise<void>;
}

async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => (socket.destroy(), resolve(data.toString().startsWith('+PONG'))));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

/** startRedis runs a real redis-server on a free loopback port, without persistence. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      for (let i = 0; i < 100; i++) {
        if (await ping(port)) return;
        await sleep(50);
      }
      throw new Error(`redis-server did not answer on port ${port}`);
    },
    async kill() {
      // A child killed by a signal has a signalCode and no exitCode.
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    },
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    stop: () => server.kill(),
  };
  await server.start();
  return server;
}
