import type { Db } from './database.js';

/** Each entry moves the schema one version up; never edit one that has shipped, add the next. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL COLLATE NOCASE UNIQUE,
    email         TEXT NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
  ) STRICT;
  CREATE INDEX users_role ON users (role);

  CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT,
    status      TEXT NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'in_progress', 'done')),
    due_date    TEXT,
    created_by  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  ) STRICT;
  -- One index per sort key, and per (status, sort key) for the filtered lists; id breaks ties.
  CREATE INDEX tasks_created_at ON tasks (created_at, id);
  CREATE INDEX tasks_updated_at ON tasks (updated_at, id);
  CREATE INDEX tasks_title ON tasks (title, id);
  CREATE INDEX tasks_status_created_at ON tasks (status, created_at, id);
  CREATE INDEX tasks_status_updated_at ON tasks (status, updated_at, id);
  CREATE INDEX tasks_status_title ON tasks (status, title, id);
  `,
  `
  -- Response cache keys carry a resource's generation; writes bump it in their own transaction.
  CREATE TABLE cache_generations (
    resource   TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
  ) STRICT;
  INSERT INTO cache_generations (resource, generation) VALUES ('tasks', 0);
  `,
  `
  -- The first response to a write sent with an Idempotency-Key, stored in the write's own
  -- transaction and replayed for a retry of the same request (one caller's keys, one scope).
  CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       INTEGER NOT NULL,
    content_type TEXT,
    location     TEXT,
    body         BLOB NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
  `,
];

/** schemaVersion is the version the code expects. */
export const schemaVersion = MIGRATIONS.length;

/**
 * migrate brings the schema up to date inside one EXCLUSIVE transaction, so that several
 * processes starting at once apply each migration exactly once; it returns the versions applied.
 */
export function migrate(db: Db): { from: number; to: number } {
  db.exec('BEGIN EXCLUSIVE');
  try {
    const from = db.pragma('user_version', { simple: true }) as number;
    if (from > MIGRATIONS.length) {
      throw new Error(`the database is at schema version ${from}, newer than this build (${MIGRATIONS.length})`);
    }
    for (let version = from; version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version] as string);
    }
    db.pragma(`user_version = ${MIGRATIONS.length}`);
    db.exec('COMMIT');
    return { from, to: MIGRATIONS.length };
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

/** quickCheck runs SQLite's quick_check and returns its verdict ("ok" when healthy). */
export function quickCheck(db: Db): string {
  const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
  return rows.map((row) => row.quick_check).join('; ');
}
