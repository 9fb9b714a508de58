import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runLoad } from '../test-support/load.js';
import { startServerProcess, type ServerProcess } from '../test-support/process.js';

const readLines = (dir: string, prefix: string) =>
  readdirSync(dir)
    .filter((file) => file.startsWith(prefix) && !file.endsWith('.json'))
    .flatMap((file) => readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean));

describe('logs and metrics across workers', () => {
  const servers: ServerProcess[] = [];
  after(() => servers.forEach((s) => s.kill('SIGKILL')));

  test('four workers logging at full speed through forced rotations lose no line and duplicate none', async () => {
    const server = await startServerProcess({ env: { WORKERS: '4', LOG_DIR: 'logs', LOG_MAX_SIZE: '200k', LOG_LEVEL: 'info' } });
    servers.push(server);
    const total = 6000;
    const result = await runLoad({
      baseUrl: server.url,
      concurrency: 32,
      total,
      next: () => ({ method: 'GET', path: '/health' }),
    });
    assert.deepEqual(result.statuses, { 200: total });
    server.kill('SIGTERM');
    assert.equal((await server.exited).code, 0);
    const dir = join(server.dir, 'logs');
    const files = readdirSync(dir).filter((f) => f.startsWith('app-'));
    const requests = readLines(dir, 'app-')
      .map((line) => JSON.parse(line) as Record<string, any>)
      .filter((r) => r.message === 'request');
    const ids = new Set(requests.map((r) => r.requestId));
    const pids = new Set(requests.map((r) => r.pid));
    console.log(`rotation: ${total} requests → ${requests.length} request lines (${ids.size} distinct) in ${files.length} files from ${pids.size} workers`);
    assert.ok(files.length >= 3, `rotated into ${files.length} files`);
    assert.equal(pids.size, 4);
    assert.equal(requests.length, total);
    assert.equal(ids.size, total);
  });

  test('a client request id comes back and is in the log line, with the route template', async () => {
    const server = await startServerProcess({ env: { LOG_DIR: 'logs' } });
    servers.push(server);
    const response = await fetch(`${server.url}/api/v1/tasks/12`, { headers: { 'x-request-id': 'trace-abc.123' } });
    assert.equal(response.headers.get('x-request-id'), 'trace-abc.123');
    server.kill('SIGTERM');
    await server.exited;
    const lines = readLines(join(server.dir, 'logs'), 'app-').filter((l) => l.includes('trace-abc.123'));
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0]!) as Record<string, any>;
    assert.equal(line.message, 'request');
    assert.equal(line.route, '/api/v1/tasks/{id}');
    assert.equal(line.method, 'GET');
    assert.equal(line.status, 401);
    assert.equal(line.ip, '127.0.0.1');
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(typeof line.timestamp, 'string');
    assert.ok(!server.output().includes('trace-abc.123'), 'with files, stdout keeps only lifecycle lines');
  });

  test('a full flow leaves no password, token or hash in the logs', async () => {
    const server = await startServerProcess({ env: { LOG_DIR: 'logs', LOG_LEVEL: 'debug' } });
    servers.push(server);
    const password = 'Sup3r-Secret-Passw0rd';
    const post = (path: string, body: unknown, token?: string) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    await post('/api/v1/auth/register', { username: 'logcheck', email: 'log@example.com', password });
    const { token } = (await (await post('/api/v1/auth/login', { email: 'log@example.com', password })).json()) as { token: string };
    await post('/api/v1/auth/login', { email: 'log@example.com', password: `${password}-wrong` });
    await post('/api/v1/tasks', { title: 'x' }, token);
    await fetch(`${server.url}/api/v1/tasks`, { headers: { authorization: `Bearer ${token}`, cookie: 'session=cookie-secret-value' } });
    await post('/api/v1/auth/password', { currentPassword: password, newPassword: `${password}-2` }, token);
    server.kill('SIGTERM');
    await server.exited;
    const everything = `${server.output()}\n${readLines(join(server.dir, 'logs'), '').join('\n')}`;
    assert.ok(everything.includes('"message":"request"'));
    for (const secret of [password, token, token.split('.')[2]!, 'cookie-secret-value', '$2a$', '$2b$', server.env.JWT_SECRET!]) {
      assert.ok(!everything.includes(secret), `${secret.slice(0, 12)}… leaked into the logs`);
    }
  });

  test('/metrics totals equal the requests sent across all workers, and it needs the token', async () => {
    const metricsToken = 'metrics-token-0123456789';
    const server = await startServerProcess({ env: { METRICS_TOKEN: metricsToken, WORKERS: '3' } });
    servers.push(server);
    const sent = 900;
    const result = await runLoad({ baseUrl: server.url, concurrency: 12, total: sent, next: () => ({ method: 'GET', path: '/api/v1/tasks' }) });
    assert.deepEqual(result.statuses, { 401: sent });
    assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
    const scrape = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
    assert.equal(scrape.status, 200);
    assert.match(scrape.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await scrape.text();
    const counted = text
      .split('\n')
      .filter((line) => line.startsWith('http_requests_total{') && line.includes('route="/api/v1/tasks"'))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    const pids = new Set(server.records().filter((r) => r.message === 'request').map((r) => r.pid));
    console.log(`metrics: ${sent} sent, ${counted} counted, across ${pids.size} workers`);
    assert.equal(pids.size, 3);
    assert.equal(counted, sent);
    assert.match(text, /^http_request_duration_seconds_bucket\{/m);
    for (const name of ['http_request_duration_seconds', 'cache_results_total', 'rate_limit_rejections_total', 'sqlite_busy_retries_total', 'redis_up', 'worker_restarts_total', 'process_resident_memory_bytes', 'primary_process_resident_memory_bytes']) {
      assert.match(text, new RegExp(`^# HELP ${name} `, 'm'), name);
    }
  });

  test('/metrics does not exist without METRICS_TOKEN', async () => {
    const server = await startServerProcess({ env: { WORKERS: '1' } });
    servers.push(server);
    const response = await fetch(`${server.url}/metrics`);
    assert.equal(response.status, 404);
  });
});
