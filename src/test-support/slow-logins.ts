import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { childPids, tcpSockets } from './proc-fs.js';
import type { ServerProcess } from './process.js';

export const SLOW_LOGIN = { email: 'slow@example.com', password: 'secret123' };

/** An answer: the status or the error code, and when it came. */
export interface Answer {
  readonly status: number | string;
  readonly at: number;
}

/** postJson sends one request on a connection of its own (closed after), resolving with the status or the error code. */
export function postJson(server: ServerProcess, path: string, body: object): Promise<Answer> {
  return new Promise((done) => {
    const resolve = (status: number | string) => done({ status, at: Date.now() });
    const payload = JSON.stringify(body);
    const req = request(
      `${server.url}${path}`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      },
    );
    req.setTimeout(60_000, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end(payload);
  });
}

/**
 * slowLoginsInFlight registers the account of SLOW_LOGIN, then starts `count` logins at once
 * (with a high BCRYPT_ROUNDS each takes a second or more) and resolves when the workers hold
 * every one of their connections: requests surely in flight, not waiting in a backlog.
 */
export async function slowLoginsInFlight(server: ServerProcess, count: number): Promise<Array<Promise<Answer>>> {
  await postJson(server, '/api/v1/auth/register', { username: 'slow', ...SLOW_LOGIN });
  const logins = Array.from({ length: count }, () => postJson(server, '/api/v1/auth/login', SLOW_LOGIN));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const held = childPids(server.pid).reduce((sum, pid) => sum + tcpSockets(pid, server.port, 'established'), 0);
    if (held >= count) return logins;
    if (Date.now() > deadline) throw new Error(`only ${held} of ${count} logins reached a worker`);
    await sleep(10);
  }
}
