import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AppError } from '../http/errors.js';
import { mountSmallDisk, tmpfsMissing, type SmallDisk } from '../test-support/tmpfs.js';
import { openDatabase } from './database.js';
import { createStorageWatch, storageWatch } from './storage.js';
import { createWriter } from './write.js';

describe('a database on a full disk', { skip: tmpfsMissing() ?? false }, () => {
  const disks: SmallDisk[] = [];
  after(() => disks.forEach((disk) => disk.unmount()));
  const smallDisk = () => {
    const disk = mountSmallDisk(join(mkdtempSync(join(tmpdir(), 'backend-api-dbdisk-')), 'data'), 4 * 1024 * 1024);
    disks.push(disk);
    return disk;
  };

  test('writes fail as 503 storage_full with nothing stored, reads go on, and writes work again once space frees', () => {
    const disk = smallDisk();
    const db = openDatabase(join(disk.dir, 'app.db'), { synchronous: 'NORMAL' });
    db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const write = createWriter(db);
    const insert = db.prepare('INSERT INTO notes (body) VALUES (?)');
    const count = () => (db.prepare('SELECT count(*) AS n FROM notes').get() as { n: number }).n;
    write(() => insert.run('before'));
    assert.equal(storageWatch(db).state(), 'ok');

    disk.fill();
    let stored = 1;
    let refused: unknown;
    // The WAL's last page may still take a few rows; the first write that needs a new page fails.
    for (let i = 0; i < 1000 && refused === undefined; i++) {
      try {
        write(() => insert.run('x'.repeat(1000)));
        stored++;
      } catch (error) {
        refused = error;
      }
    }
    assert.ok(refused instanceof AppError, `refused with ${String(refused)}`);
    assert.equal(refused.status, 503);
    assert.equal(refused.code, 'storage_full');
    assert.equal(refused.headers['Retry-After'], '30');
    assert.equal((refused.cause as { code: string }).code, 'SQLITE_FULL');
    assert.equal(count(), stored, 'the refused write stored nothing, the earlier ones are all there');
    assert.equal(storageWatch(db).state(), 'full');

    disk.free();
    assert.equal(storageWatch(db).state(), 'ok', 'space is back before any write proves it');
    write(() => insert.run('after'));
    assert.equal(count(), stored + 1);
    db.close();
  });

  test('an I/O error counts as a full disk only while the filesystem has next to no space left', () => {
    const disk = smallDisk();
    const watch = createStorageWatch(disk.dir);
    const ioerr = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
    assert.equal(watch.isFull(ioerr), false, 'with space left it is a real I/O error');
    assert.equal(watch.isFull(Object.assign(new Error('busy'), { code: 'SQLITE_BUSY' })), false);
    disk.fill();
    assert.equal(watch.isFull(ioerr), true);
    assert.equal(watch.isFull(Object.assign(new Error('shm'), { code: 'SQLITE_IOERR_SHMSIZE' })), true);
    assert.equal(watch.state(), 'full');
    disk.free();
    assert.equal(watch.state(), 'ok');
  });

  test('a write refused for space is remembered for a while even when statfs shows room (a quota), until a write succeeds', () => {
    let now = 0;
    const disk = smallDisk();
    const watch = createStorageWatch(disk.dir, () => now);
    assert.equal(watch.isFull(Object.assign(new Error('full'), { code: 'SQLITE_FULL' })), true);
    assert.equal(watch.state(), 'full');
    now += 5_000;
    assert.equal(watch.state(), 'full');
    now += 6_000;
    assert.equal(watch.state(), 'ok', 'forgotten after 10 s without another failure');
    watch.isFull(Object.assign(new Error('full'), { code: 'SQLITE_FULL' }));
    watch.wrote();
    assert.equal(watch.state(), 'ok', 'a write that went through clears it');
  });
});
