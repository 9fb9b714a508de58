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
    const script = `
      import { openDatabase } from ${JSON.stringify(join(projectRoot, 'src/db/database.ts'))};
      import { migrate } from ${JSON.stringify(join(projectRoot, 'src/db/migrations.ts'))};
      const db = openDatabase(process.argv[1], { synchronous: 'NORMAL' });
      process.stdout.write(JSON.stringify(migrate(db)));`;
    const runs = await Promise.all(
      Array.from({ length: 6 }, () => {
        const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script, path], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        return new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
      }),
    );
    for (const run of runs) assert.equal(run.code, 0, run.err);
    const applied = runs.map((run) => JSON.parse(run.out) as { from: number; to: number });
    assert.equal(applied.filter((a) => a.from === 0).length, 1, JSON.stringify(applied));
    assert.ok(applied.every((a) => a.to === schemaVersion));
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('user_version', { simple: true }), schemaVersion);
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
