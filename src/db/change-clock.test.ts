import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { changeClock, factCache } from './change-clock.js';
import { openDatabase } from './database.js';
import { createWriter } from './write.js';

describe('the change clock and the facts it keeps', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backend-api-clock-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'app.db');
  const ours = openDatabase(path, { synchronous: 'NORMAL' });
  const other = openDatabase(path, { synchronous: 'NORMAL' });
  ours.exec('CREATE TABLE facts (id INTEGER PRIMARY KEY, value TEXT NOT NULL); INSERT INTO facts VALUES (1, \'a\')');
  const clock = changeClock(ours);
  const write = createWriter(ours, () => {}, () => false, clock.wrote);
  let reads = 0;
  const read = ours.prepare<[number], { value: string }>('SELECT value FROM facts WHERE id = ?');
  const fact = factCache((id: number) => (reads++, read.get(id)?.value), 2);

  test('the tick stays while nothing commits, and a kept fact is not read again', () => {
    const tick = clock.tick();
    assert.equal(clock.tick(), tick);
    assert.equal(fact(tick, 1), 'a');
    assert.equal(fact(clock.tick(), 1), 'a');
    assert.equal(reads, 1);
  });

  test('another connection (another process) committing moves the tick, and the fact is read anew', () => {
    const tick = clock.tick();
    other.prepare("UPDATE facts SET value = 'b' WHERE id = 1").run();
    assert.notEqual(clock.tick(), tick);
    assert.equal(fact(clock.tick(), 1), 'b');
  });

  test('a write of this connection moves the tick too', () => {
    const tick = clock.tick();
    assert.equal(fact(tick, 1), 'b');
    write(() => ours.prepare("UPDATE facts SET value = 'c' WHERE id = 1").run());
    assert.notEqual(clock.tick(), tick);
    assert.equal(fact(clock.tick(), 1), 'c');
  });

  test('inside a transaction nothing is kept, and what was read there is not served after it rolls back', () => {
    ours.exec('BEGIN');
    ours.prepare("UPDATE facts SET value = 'uncommitted' WHERE id = 1").run();
    assert.equal(clock.tick(), null);
    assert.equal(fact(null, 1), 'uncommitted');
    ours.exec('ROLLBACK');
    assert.equal(fact(clock.tick(), 1), 'c');
  });

  test('at most maxEntries facts are kept', () => {
    other.exec("INSERT INTO facts VALUES (2, 'x'), (3, 'y')");
    const tick = clock.tick();
    for (const id of [1, 2, 3]) fact(tick, id);
    const before = reads;
    fact(tick, 3);
    fact(tick, 2);
    assert.equal(reads, before, 'the two newest are kept');
    fact(tick, 1);
    assert.equal(reads, before + 1, 'the oldest was dropped');
  });
});
