import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { projectRoot } from '../assets.js';
import { makeNginxDirs, NGINX_FILES, nginxMissing, runnableNginxConf } from '../test-support/nginx.js';
import { redisMissing, startRedis, type RedisServer } from '../test-support/redis.js';
import { freePort, startServerProcess, type ServerProcess } from '../test-support/process.js';

const SHIPPED_CONF = readFileSync(join(projectRoot, 'nginx/nginx.conf'), 'utf8');
const SHIPPED_UPSTREAM = readFileSync(join(projectRoot, 'nginx/backend-api-upstream.conf'), 'utf8');
const RATE_LIMIT_MAX = 100;

/** testUpstream is the shipped instance list, its one instance (the unit's) repeated on each test instance's port. */
function testUpstream(ports: number[]): string {
  const shipped = SHIPPED_UPSTREAM.match(/^server 127\.0\.0\.1:3000 .*$/gm) ?? [];
  assert.equal(shipped.length, 1, "nginx/backend-api-upstream.conf should list the unit's one instance, on its default port");
  return SHIPPED_UPSTREAM.replace(shipped[0]!, ports.map((port) => shipped[0]!.replace(':3000 ', `:${port} `)).join('\n'));
}

interface Nginx {
  readonly port: number;
  readonly child: ChildProcess;
  /** The access log's JSON records so far. */
  accessLog(): Array<Record<string, any>>;
}

async function startNginx(ports: number[]): Promise<Nginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'backend-api-nginx-'));
  makeNginxDirs(prefix);
  const port = await freePort();
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, runnableNginxConf(SHIPPED_CONF, prefix, port));
  writeFileSync(join(prefix, 'backend-api-upstream.conf'), testUpstream(ports));
  const errorLog = join(prefix, NGINX_FILES.errorLog);
  const child = spawn('nginx', ['-p', `${prefix}/`, '-c', conf, '-e', errorLog, '-g', 'daemon off;'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin` },
  });
  for (let i = 0; i < 100; i++) {
    const ok = await send(port, '/health').then((r) => r.status === 200, () => false);
    if (ok) {
      const accessLog = () => readFileSync(join(prefix, NGINX_FILES.accessLog), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
      return { port, child, accessLog };
    }
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  throw new Error(`nginx did not start:\n${readFileSync(errorLog, 'utf8')}`);
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body as sent on the wire (compressed when content-encoding says so). */
  readonly raw: Buffer;
  json(): any;
}

const agent = new Agent({ keepAlive: true });

interface SendOptions {
  readonly method?: string;
  /** The client's own address: any of 127/8 works on Linux loopback, so each is a different client. */
  readonly from?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly token?: string;
}

/** send makes one request to nginx from the given loopback address, without decompressing the answer. */
function send(port: number, path: string, options: SendOptions = {}): Promise<Reply> {
  const { method = 'GET', from = '127.0.0.1', body, token } = options;
  const headers = {
    ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}),
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent, localAddress: from }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const json = () => JSON.parse((res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString());
        resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const requestLines = (server: ServerProcess) => server.records().filter((r) => r.message === 'request');

/** logged waits until every id shows in one instance's request log or the other's (workers send log lines in batches). */
async function logged(instances: ServerProcess[], ids: string[]): Promise<Map<string, Record<string, any>>> {
  for (let i = 0; i < 100; i++) {
    const seen = new Map(instances.flatMap((s) => requestLines(s).map((r) => [r.requestId as string, { ...r, instance: s.port }] as const)));
    if (ids.every((id) => seen.has(id))) return seen;
    await sleep(50);
  }
  throw new Error(`request ids never logged: ${ids.filter((id) => !instances.some((s) => requestLines(s).some((r) => r.requestId === id)))}`);
}

const missing = nginxMissing() ?? redisMissing();

describe('nginx/nginx.conf in front of two instances on one SQLite file', { skip: missing ?? false }, () => {
  let redis: RedisServer;
  let nginx: Nginx;
  let a: ServerProcess;
  let b: ServerProcess;
  let token: string;
  let instanceEnv: Record<string, string>;
  const dir = mkdtempSync(join(tmpdir(), 'backend-api-nginx-data-'));

  before(async () => {
    redis = await startRedis();
    // One data directory: both instances serve the same WAL file, as instances on one host do;
    // one JWT secret and one Redis, so a token and a client's rate-limit count hold on either.
    instanceEnv = { WORKERS: '1', RATE_LIMIT_MAX: String(RATE_LIMIT_MAX), REDIS_URL: redis.url, JWT_SECRET: randomBytes(32).toString('base64url') };
    a = await startServerProcess({ dir, env: instanceEnv, detached: true });
    b = await startServerProcess({ dir, env: instanceEnv, detached: true });
    nginx = await startNginx([a.port, b.port]);
    const admin = { username: 'admin', email: 'admin@example.com', password: 'secret123' };
    assert.equal((await send(nginx.port, '/api/v1/auth/register', { method: 'POST', body: JSON.stringify(admin) })).status, 201);
    const login = await send(nginx.port, '/api/v1/auth/login', { method: 'POST', body: JSON.stringify({ email: admin.email, password: admin.password }) });
    token = login.json().token;
  });

  after(async () => {
    agent.destroy();
    nginx?.child.kill('SIGTERM');
    for (const instance of [a, b]) {
      try {
        if (instance) process.kill(-instance.child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * loadKillingB runs `clients` loops of `perClient` requests each through nginx, SIGKILLs
   * instance B (its whole process group) once `killAfter` have completed, and counts answers.
   */
  async function loadKillingB(clients: number, perClient: number, killAfter: number, sendOne: (client: number, i: number) => Promise<Reply>) {
    let completed = 0;
    let killedAt = 0;
    const statuses: Record<number, number> = {};
    const failures: string[] = [];
    const started = Date.now();
    const client = async (k: number) => {
      for (let i = 0; i < perClient; i++) {
        if (completed === killAfter && !killedAt) {
          killedAt = Date.now();
          process.kill(-b.child.pid!, 'SIGKILL');
        }
        try {
          const reply = await sendOne(k, i);
          statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
        } catch (error) {
          failures.push((error as NodeJS.ErrnoException).code ?? String(error));
        }
        completed++;
      }
    };
    await Promise.all(Array.from({ length: clients }, (_, k) => client(k)));
    assert.ok(killedAt > 0, 'B was killed during the load');
    return { statuses, failures, killedAt, started, durationMs: Date.now() - started };
  }

  test('sequential requests alternate between the two instances (round robin)', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `rr-${i}`);
    for (const id of ids) assert.equal((await send(nginx.port, '/api/v1/tasks', { from: '127.0.0.3', token, headers: { 'x-request-id': id } })).status, 200);
    const seen = await logged([a, b], ids);
    const onA = ids.map((id, i) => (seen.get(id)!.instance === a.port ? i : -1)).filter((i) => i >= 0);
    const pids = new Set(ids.map((id) => seen.get(id)!.pid));
    console.log(`round robin: ${onA.length} on instance A (${a.port}), ${ids.length - onA.length} on B (${b.port}); worker pids ${[...pids]}`);
    assert.equal(onA.length, 10);
    assert.equal(pids.size, 2);
    assert.ok(onA.every((i) => i % 2 === onA[0]! % 2), `A answered requests ${onA}: not every other one`);
  });

  test('the app sees each client address, and limits each client on its own across both instances', async () => {
    const statuses: number[] = [];
    for (let i = 0; i <= RATE_LIMIT_MAX; i++) statuses.push((await send(nginx.port, '/api/v1/tasks', { from: '127.0.0.2', token })).status);
    const other = await send(nginx.port, '/api/v1/tasks', { from: '127.0.0.4', token, headers: { 'x-request-id': 'other-client' } });
    const limited = await send(nginx.port, '/api/v1/tasks', { from: '127.0.0.2', token, headers: { 'x-request-id': 'limited-client' } });
    const seen = await logged([a, b], ['other-client', 'limited-client']);
    const byInstance = [a, b].map((s) => requestLines(s).filter((r) => r.ip === '127.0.0.2').length);
    console.log(`rate limit ${RATE_LIMIT_MAX}: 127.0.0.2 got ${statuses.filter((s) => s === 200).length}×200 then ${statuses.at(-1)}; its requests per instance ${byInstance}; 127.0.0.4 got ${other.status}`);
    assert.deepEqual(statuses, [...Array(RATE_LIMIT_MAX).fill(200), 429]);
    assert.equal(limited.status, 429);
    assert.equal(limited.json().code, 'rate_limited');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal(other.status, 200);
    assert.ok(byInstance.every((n) => n >= RATE_LIMIT_MAX / 2), 'both instances counted the same client');
    assert.equal(seen.get('other-client')!.ip, '127.0.0.4');
    assert.equal(seen.get('limited-client')!.ip, '127.0.0.2');
  });

  test("the client's X-Request-Id reaches the app's log, the response and nginx's log; nginx makes one up otherwise", async () => {
    const offered = await send(nginx.port, '/api/v1/tasks', { from: '127.0.0.5', token, headers: { 'x-request-id': 'trace-4f2a.9' } });
    const none = await send(nginx.port, '/api/v1/tasks', { from: '127.0.0.5', token });
    const malformed = await send(nginx.port, '/api/v1/tasks', { from: '127.0.0.5', token, headers: { 'x-request-id': 'not a sane id' } });
    assert.equal(offered.headers['x-request-id'], 'trace-4f2a.9');
    assert.match(String(none.headers['x-request-id']), /^[0-9a-f]{32}$/);
    assert.match(String(malformed.headers['x-request-id']), /^[0-9a-f]{32}$/);
    const ids = [offered, none, malformed].map((r) => String(r.headers['x-request-id']));
    const seen = await logged([a, b], ids);
    assert.ok(ids.every((id) => seen.get(id)!.ip === '127.0.0.5'));
    const inNginxLog = nginx.accessLog().filter((r) => ids.includes(r.requestId));
    assert.deepEqual(inNginxLog.map((r) => r.requestId).sort(), [...ids].sort());
  });

  test('a large JSON list leaves gzip-compressed to clients that accept it, plain to others', async () => {
    const description = 'Write the quarterly report. '.repeat(70);
    for (let i = 0; i < 30; i++) {
      const created = await send(nginx.port, '/api/v1/tasks', { method: 'POST', token, body: JSON.stringify({ title: `task ${i}`, description }) });
      assert.equal(created.status, 201);
    }
    const gzipped = await send(nginx.port, '/api/v1/tasks?limit=30', { from: '127.0.0.6', token, headers: { 'accept-encoding': 'gzip' } });
    const plain = await send(nginx.port, '/api/v1/tasks?limit=30', { from: '127.0.0.6', token });
    console.log(`gzip: ${plain.raw.length} bytes plain, ${gzipped.raw.length} gzipped`);
    assert.equal(gzipped.headers['content-encoding'], 'gzip');
    assert.match(String(gzipped.headers.vary), /Accept-Encoding/i);
    assert.equal(gzipped.json().data.length, 30);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.deepEqual(gzipped.json(), plain.json());
    assert.ok(gzipped.raw.length * 5 < plain.raw.length);
  });

  test("a body just over the app's limit gets the app's 413; a much larger one nginx's, both problem+json", async () => {
    const body = (bytes: number) => JSON.stringify({ title: 'big', description: 'x'.repeat(bytes) });
    const fromApp = await send(nginx.port, '/api/v1/tasks', { method: 'POST', from: '127.0.0.7', token, body: body(110 * 1024) });
    const fromNginx = await send(nginx.port, '/api/v1/tasks', { method: 'POST', from: '127.0.0.7', token, body: body(200 * 1024) });
    for (const reply of [fromApp, fromNginx]) {
      assert.equal(reply.status, 413);
      assert.match(String(reply.headers['content-type']), /^application\/problem\+json\b/);
      assert.equal(reply.json().code, 'payload_too_large');
      assert.equal(reply.json().requestId, reply.headers['x-request-id']);
    }
    assert.match(fromApp.json().detail, /102400 bytes/);
    assert.equal(fromNginx.headers.server, 'nginx', 'server_tokens off: no version');
  });

  test('one instance SIGKILLed under write load: every POST succeeds, and each is stored exactly once', async () => {
    const clients = 8;
    const perClient = 50;
    const { statuses, failures, killedAt, started, durationMs } = await loadKillingB(clients, perClient, 120, (k, i) =>
      send(nginx.port, '/api/v1/tasks', { method: 'POST', from: `127.0.2.${k + 1}`, token, body: JSON.stringify({ title: `write-${k}-${i}` }) }),
    );
    assert.equal((await b.exited).signal, 'SIGKILL');
    const db = new Database(join(dir, 'data', 'app.db'), { readonly: true });
    const stored = (db.prepare("SELECT count(*) AS n FROM tasks WHERE title LIKE 'write-%'").get() as { n: number }).n;
    const twice = db.prepare("SELECT title FROM tasks WHERE title LIKE 'write-%' GROUP BY title HAVING count(*) > 1").all();
    db.close();
    const retried = nginx.accessLog().filter((r) => r.method === 'POST' && String(r.upstream).includes(','));
    console.log(
      `kill under write load: ${clients * perClient} POSTs in ${durationMs} ms, B killed after ${killedAt - started} ms: ${JSON.stringify(statuses)}, ` +
        `${failures.length} failed, ${retried.length} retried on the other instance, ${stored} stored, ${twice.length} stored twice`,
    );
    assert.deepEqual(failures, []);
    assert.deepEqual(statuses, { 201: clients * perClient });
    assert.equal(stored, clients * perClient);
    assert.deepEqual(twice, []);

    // B comes back on its port for the next test, and nginx sends it requests again.
    b = await startServerProcess({ dir, env: { ...instanceEnv, PORT: String(b.port) }, detached: true });
    for (let i = 0; i < 150 && !requestLines(b).some((r) => String(r.requestId).startsWith('back-')); i++) {
      await send(nginx.port, '/api/v1/tasks', { from: `127.0.3.${i + 1}`, token, headers: { 'x-request-id': `back-${i}` } });
      await sleep(100);
    }
    assert.ok(requestLines(b).some((r) => String(r.requestId).startsWith('back-')), 'nginx sends requests to the restarted instance');
  });

  test('one instance SIGKILLed under load: every GET still succeeds, through the other', async () => {
    const clients = 8;
    const perClient = 80;
    const { statuses, failures, killedAt, started, durationMs } = await loadKillingB(clients, perClient, 200, (k, i) =>
      send(nginx.port, '/api/v1/tasks', { from: `127.0.1.${k + 1}`, token, headers: { 'x-request-id': `load-${k}-${i}` } }),
    );
    const exit = await b.exited;
    const retried = nginx.accessLog().filter((r) => String(r.requestId).startsWith('load-') && String(r.upstream).includes(','));
    const onAAfterKill = requestLines(a).filter((r) => String(r.requestId).startsWith('load-') && r.timestamp && Date.parse(r.timestamp) > killedAt);
    console.log(
      `kill under load: ${clients * perClient} GETs in ${durationMs} ms, B killed after ${killedAt - started} ms: ${JSON.stringify(statuses)}, ` +
        `${failures.length} failed, ${retried.length} retried on the other instance, ${onAAfterKill.length} answered by A after the kill`,
    );
    assert.equal(exit.signal, 'SIGKILL');
    assert.deepEqual(failures, []);
    assert.deepEqual(statuses, { 200: clients * perClient });
    assert.ok(retried.length >= 1, 'nginx retried at least the requests that met the dead instance');
  });
});

describe('nginx/nginx.conf as written', () => {
  const directives = SHIPPED_CONF.replace(/#.*$/gm, '');
  const directive = (name: string) => [...directives.matchAll(new RegExp(`^\\s*${name} ([^;]*);`, 'gm'))].map((m) => m[1]);

  test('retries a write only because every write carries an Idempotency-Key, the client\'s or one from the request id', () => {
    assert.deepEqual(directive('proxy_next_upstream'), ['error timeout http_502 http_503 non_idempotent']);
    assert.deepEqual(directive('proxy_set_header Idempotency-Key'), ['$backend_idempotency_key']);
    assert.match(directives, /map \$http_idempotency_key \$backend_idempotency_key \{\s*"" "nginx-\$request_id";\s*default \$http_idempotency_key;\s*\}/);
  });

  test("closes idle upstream connections before the app's 65 s keepAliveTimeout does", () => {
    const appTimeout = /keepAliveTimeout: ([\d_]+)/.exec(readFileSync(join(projectRoot, 'src/server.ts'), 'utf8'))?.[1]?.replaceAll('_', '');
    const upstream = /upstream backend_api \{([^}]*)\}/.exec(directives)?.[1] ?? '';
    const idle = /keepalive_timeout (\d+)s;/.exec(upstream)?.[1];
    assert.equal(appTimeout, '65000');
    assert.match(upstream, /keepalive 32;/);
    assert.ok(Number(idle) * 1000 < Number(appTimeout), `upstream keepalive_timeout ${idle}s`);
  });
});
