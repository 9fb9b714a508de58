import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freshRequest, type FreshResponse } from '../test-support/fresh.js';
import { serverOnSmallDisk, tmpfsMissing, type ServerOnSmallDisk } from '../test-support/tmpfs.js';


describe('a full database disk', { skip: tmpfsMissing() ?? false }, () => {
  let running: ServerOnSmallDisk | undefined;
  after(() => running?.stop());

  test('writes get 503 storage_full with Retry-After, reads go on, /health says full, and writes recover when space frees', async () => {
    // The database, its WAL and its index live alone on an 8 MB filesystem; the logs go to stdout.
    running = await serverOnSmallDisk('data', 8 * 1024 * 1024, { RATE_LIMIT_MAX: '0' });
    const { server, disk } = running;
    const url = server.url;
    const credentials = { email: 'admin@example.com', password: 'secret123' };
    assert.equal((await freshRequest(url, 'POST', '/api/v1/auth/register', undefined, { username: 'admin', ...credentials })).status, 201);
    const token = (await freshRequest(url, 'POST', '/api/v1/auth/login', undefined, credentials)).body.token as string;
    const first = (await freshRequest(url, 'POST', '/api/v1/tasks', token, { title: 'before the disk filled' })).body;

    const filler = disk.fill();
    let created = 1;
    let refused: FreshResponse | undefined;
    // What is left of the WAL's last page may take a few more rows; then a write needs space there is not.
    for (let i = 0; i < 2000 && !refused; i++) {
      const reply = await freshRequest(url, 'POST', '/api/v1/tasks', token, { title: `filling ${i}`, description: 'x'.repeat(2000) });
      if (reply.status === 201) created++;
      else refused = reply;
    }
    assert.ok(refused, 'a write was refused');
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'storage_full');
    assert.equal(refused.headers['retry-after'], '30');
    assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);

    // Every kind of write, on both workers, is refused the same way; reads and logins are served.
    const writes = await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => freshRequest(url, 'POST', '/api/v1/tasks', token, { title: `refused ${i}` })),
      ...Array.from({ length: 4 }, () => freshRequest(url, 'PATCH', `/api/v1/tasks/${first.id}`, token, { title: 'changed' })),
      ...Array.from({ length: 4 }, () => freshRequest(url, 'DELETE', `/api/v1/tasks/${first.id}`, token)),
      freshRequest(url, 'POST', '/api/v1/auth/register', undefined, { username: 'late', email: 'late@example.com', password: 'secret123' }),
    ]);
    assert.deepEqual(new Set(writes.map((w) => `${w.status} ${w.body.code}`)), new Set(['503 storage_full']));
    const reads = await Promise.all([
      ...Array.from({ length: 6 }, () => freshRequest(url, 'GET', `/api/v1/tasks/${first.id}`, token)),
      ...Array.from({ length: 6 }, () => freshRequest(url, 'GET', '/api/v1/tasks?limit=100', token)),
      freshRequest(url, 'POST', '/api/v1/auth/login', undefined, credentials),
    ]);
    assert.deepEqual(new Set(reads.map((r) => r.status)), new Set([200]));
    assert.equal(reads[0]!.body.title, 'before the disk filled', 'the refused PATCH changed nothing');
    const health = await Promise.all(Array.from({ length: 6 }, () => freshRequest(url, 'GET', '/health')));
    assert.deepEqual(new Set(health.map((h) => `${h.status} ${h.body.status} ${h.body.checks.db}`)), new Set(['200 degraded full']));
    const healthWorkers = new Set(server.records().filter((r) => r.message === 'request' && r.route === '/health').map((r) => r.pid));
    assert.equal(healthWorkers.size, 2, 'both workers say so');

    // Nothing refused was stored: exactly the acknowledged tasks are in the file.
    const check = new Database(join(disk.dir, 'app.db'), { readonly: true });
    const stored = (check.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
    check.close();
    assert.equal(stored, created);

    disk.free();
    const recovered = await Promise.all(Array.from({ length: 6 }, (_, i) => freshRequest(url, 'POST', '/api/v1/tasks', token, { title: `after ${i}` })));
    assert.deepEqual(new Set(recovered.map((r) => r.status)), new Set([201]), 'writes work again, on both workers, without a restart');
    const healthy = await Promise.all(Array.from({ length: 6 }, () => freshRequest(url, 'GET', '/health')));
    assert.deepEqual(new Set(healthy.map((h) => `${h.body.status} ${h.body.checks.db}`)), new Set(['ok up']));

    const output = server.output();
    const refusals = server.records().filter((r) => r.message === 'request refused for now');
    console.log(
      `database disk full (${filler} bytes filler): ${created} tasks stored, then every write 503 storage_full, ` +
        `reads 200, /health degraded/full; ${refusals.length} warning lines for ${writes.length + 1} refusals; writes back after freeing`,
    );
    assert.ok(refusals.length >= 1 && refusals.length <= 4, 'a warning now and then, not one per request');
    assert.doesNotMatch(output, /internal_error|request failed/);
    // Stopping on a full disk: the last checkpoints cannot be written; the stop still succeeds, and the
    // WAL kept beside the database holds every acknowledged write for the next start.
    disk.fill();
    server.kill('SIGTERM');
    assert.equal((await server.exited).code, 0);
    assert.ok(server.records().some((r) => r.message?.startsWith('last checkpoint failed')));
    disk.free();
    const reopened = new Database(join(disk.dir, 'app.db'));
    const kept = (reopened.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
    reopened.close();
    assert.equal(kept, created + recovered.length);
  });
});
