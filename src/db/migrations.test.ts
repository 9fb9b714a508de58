import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { projectRoot } from '../assets.js';
import { openDatabase } from './database.js';
import { migrate, schemaVersion } from './migrations.js';

describe('migrations', () => {
  test('six processes migrating one fresh file at once apply each migration exactly once', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'backend-api-migrate-')), 'app.db');
    // Each child opens the file, says "ready" and migrates only on "go", so that all six race for real.
    const script = `
      import { openDatabase } from ${JSON.stringify(join(projectRoot, 'src/db/database.ts'))};
      import { migrate } from ${JSON.stringify(join(projectRoot, 'src/db/migrations.ts'))};
      const db = openDatabase(process.argv[1], { synchronous: 'NORMAL' });
      process.stdout.write('ready\\n');
      process.stdin.once('data', () => {
        process.stdout.write(JSON.stringify(migrate(db)));
        db.close();
        process.exit(0);
      });`;
    const children = Array.from({ length: 6 }, () => {
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script, path], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.startsWith('ready\n')) resolve();
        });
        child.once('exit', () => reject(new Error(`exited before ready: ${err}`)));
      });
      const exited = new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
        child.once('exit', (code) => resolve({ code, out: out.slice('ready\n'.length), err })),
      );
      return { child, ready, exited };
    });
    await Promise.all(children.map((c) => c.ready));
    for (const { child } of children) child.stdin.write('go\n');
    const runs = await Promise.all(children.map((c) => c.exited));
    for (const run of runs) assert.equal(run.code, 0, run.err);
    const applied = runs.map((run) => JSON.parse(run.out) as { from: number; to: number });
    assert.equal(applied.filter((a) => a.from === 0).length, 1, JSON.stringify(applied));
    assert.ok(applied.every((a) => a.from === 0 || a.from === schemaVersion));
    assert.ok(applied.every((a) => a.to === schemaVersion));
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('user_version', { simple: true }), schemaVersion);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>;
    assert.deepEqual(tables.map((t) => t.name), ['cache_generations', 'idempotency_keys', 'tasks', 'users']);
    assert.equal((db.prepare("SELECT count(*) AS n FROM cache_generations WHERE resource = 'tasks'").get() as { n: number }).n, 1);
    db.close();
  });

  test('a database from a newer version of the schema is refused', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'backend-api-migrate-')), 'app.db');
    const db = openDatabase(path, { synchronous: 'NORMAL' });
    migrate(db);
    db.pragma(`user_version = ${schemaVersion + 1}`);
    assert.throws(() => migrate(db), /newer than this build/);
    assert.equal(db.inTransaction, false);
    assert.equal(db.pragma('user_version', { simple: true }), schemaVersion + 1, 'left as it was');
  });

  test('the connection is in WAL mode with the pragmas the design relies on', () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'backend-api-migrate-')), 'app.db'), { synchronous: 'FULL' });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('busy_timeout', { simple: true }), 5000);
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    assert.equal(db.pragma('synchronous', { simple: true }), 2);
    assert.equal(db.pragma('cache_size', { simple: true }), -2000);
  });
});
