import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AppError } from '../http/errors.js';
import { openDatabase, type Db } from './database.js';
import { createWriter } from './write.js';

function freshDb(): { db: Db; path: string } {
  const path = join(mkdtempSync(join(tmpdir(), 'backend-api-write-')), 'app.db');
  const db = openDatabase(path, { synchronous: 'NORMAL' });
  db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  return { db, path };
}

/** holdWriteLock starts a process that takes the write lock for holdMs, and resolves once it holds it (released: when it let go). */
async function holdWriteLock(path: string, holdMs: number) {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); }, Number(process.argv[2]));`;
  const child = spawn(process.execPath, ['-e', script, path, String(holdMs)], { stdio: ['ignore', 'pipe', 'inherit'], cwd: process.cwd() });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  return { released: exited };
}

describe('createWriter', () => {
  test('a write blocked by another process is retried until it goes through', async () => {
    const { db, path } = freshDb();
    db.pragma('busy_timeout = 50');
    let retries = 0;
    const write = createWriter(db, () => retries++);
    const { released } = await holdWriteLock(path, 300);
    const id = write(() => Number(db.prepare('INSERT INTO notes (body) VALUES (?)').run('after the lock').lastInsertRowid));
    await released;
    assert.ok(retries >= 1, `${retries} retries`);
    assert.equal((db.prepare('SELECT body FROM notes WHERE id = ?').get(id) as { body: string }).body, 'after the lock');
  });

  test('a lock held past every retry is a 503 database_busy, never a raw SQLITE_BUSY', async () => {
    const { db, path } = freshDb();
    db.pragma('busy_timeout = 10');
    const { released } = await holdWriteLock(path, 1500);
    const write = createWriter(db);
    assert.throws(
      () => write(() => db.prepare('INSERT INTO notes (body) VALUES (?)').run('never')),
      (error: unknown) => error instanceof AppError && error.status === 503 && error.code === 'database_busy',
    );
    await released;
    assert.equal((db.prepare('SELECT count(*) AS n FROM notes').get() as { n: number }).n, 0);
  });

  test('a failing transaction leaves nothing behind', () => {
    const { db } = freshDb();
    const write = createWriter(db);
    assert.throws(() =>
      write(() => {
        db.prepare('INSERT INTO notes (body) VALUES (?)').run('first');
        db.prepare('INSERT INTO notes (body) VALUES (?)').run(null);
      }),
    );
    assert.equal((db.prepare('SELECT count(*) AS n FROM notes').get() as { n: number }).n, 0);
    assert.equal(db.inTransaction, false);
  });
});
