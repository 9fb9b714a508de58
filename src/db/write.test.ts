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

/** holdWriteLock starts a process that takes the write lock and writes a note, commits after holdMs, and resolves once it holds the lock. */
async function holdWriteLock(path: string, holdMs: number) {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    db.prepare('INSERT INTO notes (body) VALUES (?)').run('from the other process');
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); }, Number(process.argv[2]));`;
  const child = spawn(process.execPath, ['-e', script, path, String(holdMs)], { stdio: ['ignore', 'pipe', 'inherit'], cwd: process.cwd() });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  return { released: exited };
}

describe('createWriter', () => {
  test('a write blocked by another process is retried until it goes through, and its work runs once, holding the lock', async () => {
    const { db, path } = freshDb();
    db.pragma('busy_timeout = 50');
    let retries = 0;
    const write = createWriter(db, () => retries++);
    const { released } = await holdWriteLock(path, 300);
    const started = Date.now();
    let runs = 0;
    const id = write(() => {
      runs++;
      db.prepare('SELECT count(*) FROM notes').get();
      return Number(db.prepare('INSERT INTO notes (body) VALUES (?)').run('after the lock').lastInsertRowid);
    });
    const waited = Date.now() - started;
    assert.equal(runs, 1, 'BEGIN IMMEDIATE waits for the lock before the work starts');
    await released;
    assert.ok(retries >= 1, `${retries} retries`);
    assert.ok(waited >= 150, `waited ${waited} ms for the lock`);
    assert.deepEqual(
      db.prepare('SELECT id, body FROM notes ORDER BY id').all(),
      [
        { id: 1, body: 'from the other process' },
        { id, body: 'after the lock' },
      ],
      'written after the other process committed',
    );
  });

  test('a lock held past every retry is a 503 database_busy, never a raw SQLITE_BUSY', async () => {
    const { db, path } = freshDb();
    db.pragma('busy_timeout = 10');
    const { released } = await holdWriteLock(path, 1500);
    let retries = 0;
    const write = createWriter(db, () => retries++);
    assert.throws(
      () => write(() => db.prepare('INSERT INTO notes (body) VALUES (?)').run('never')),
      (error: unknown) => error instanceof AppError && error.status === 503 && error.code === 'database_busy' && error.headers['Retry-After'] === '1',
    );
    assert.ok(retries >= 1, `gave up after ${retries} retries`);
    assert.equal(db.inTransaction, false);
    await released;
    assert.deepEqual(db.prepare('SELECT body FROM notes').all(), [{ body: 'from the other process' }]);
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
    assert.throws(
      () =>
        write(() => {
          db.prepare('INSERT INTO notes (body) VALUES (?)').run('second');
          throw new Error('the handler changed its mind');
        }),
      /changed its mind/,
    );
    assert.equal(write(() => db.prepare('INSERT INTO notes (body) VALUES (?)').run('third').changes), 1, 'the writer works after a failure');
    assert.deepEqual(db.prepare('SELECT body FROM notes').all(), [{ body: 'third' }]);
  });
});
