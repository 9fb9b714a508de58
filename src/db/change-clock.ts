import type { Db } from './database.js';

/**
 * A ChangeClock ticks whenever the database may have changed: another connection (any process)
 * committed, which SQLite's PRAGMA data_version tells, or this connection wrote.
 */
export interface ChangeClock {
  /** tick returns the current tick; null inside a transaction, where nothing read may be kept. */
  tick(): number | null;
  /** wrote tells the clock that this connection writes (the writer calls it as each write begins). */
  wrote(): void;
}

/** changeClock asks SQLite once per tick() whether another connection committed: one statement, no table read. */
export function changeClock(db: Db): ChangeClock {
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  let seenVersion = -1;
  let ownWrites = 0;
  let seenWrites = -1;
  let current = 0;
  return {
    tick() {
      if (db.inTransaction) return null;
      const version = dataVersion.get() as number;
      if (version !== seenVersion || ownWrites !== seenWrites) {
        seenVersion = version;
        seenWrites = ownWrites;
        current++;
      }
      return current;
    },
    wrote() {
      ownWrites++;
    },
  };
}

/**
 * factCache keeps what read(key) returned for as long as the clock has not ticked: a value read
 * at tick T is still the database's at tick T, since nothing committed in between. A null tick
 * (inside a transaction) always reads. At most maxEntries keys are kept, the oldest dropped first.
 */
export function factCache<K, V>(read: (key: K) => V, maxEntries: number): (tick: number | null, key: K) => V {
  const entries = new Map<K, { tick: number; value: V }>();
  return (tick, key) => {
    if (tick === null) return read(key);
    const kept = entries.get(key);
    if (kept !== undefined && kept.tick === tick) return kept.value;
    const value = read(key);
    if (kept === undefined && entries.size >= maxEntries) entries.delete(entries.keys().next().value as K);
    entries.set(key, { tick, value });
    return value;
  };
}
