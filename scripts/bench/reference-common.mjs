// What every reference server shares, so that each does the API's work and no more: the same
// database file, the same JWT check (HS256 with a prepared KeyObject, issuer and audience, as the
// API does), the same SQL as the API's list, get and create, and byte for byte the same JSON.
import { createSecretKey } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');
const jwt = require('jsonwebtoken');

const LIMIT = 20;

/** references builds the shared pieces from the environment the bench passes (JWT_SECRET, DATABASE_PATH, PORT). */
export function references() {
  const key = createSecretKey(Buffer.from(process.env.JWT_SECRET, 'utf8'));
  const verifyOptions = { algorithms: ['HS256'], issuer: 'backend-api', audience: 'backend-api' };
  const db = new Database(process.env.DATABASE_PATH);
  // The API's pragmas (src/db/database.ts), and no checkpoints of its own: as in the API's workers,
  // a primary does them for the group (our servers' primaries, running beside, do it for everyone).
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('cache_size = -2000');
  db.pragma('temp_store = MEMORY');
  db.pragma('wal_autocheckpoint = 0');
  const list = db.prepare('SELECT * FROM tasks ORDER BY created_at DESC, id DESC LIMIT ?');
  const one = db.prepare('SELECT * FROM tasks WHERE id = ?');
  const insert = db.prepare(
    "INSERT INTO tasks (title, description, status, due_date, created_by, created_at, updated_at) VALUES (?, NULL, 'todo', NULL, ?, ?, ?)",
  );
  const create = db.transaction((title, userId) => {
    const now = new Date().toISOString();
    return one.get(insert.run(title, userId, now, now).lastInsertRowid);
  });

  const toTask = (r) => ({
    id: r.id,
    title: r.title,
    description: r.description,
    status: r.status,
    dueDate: r.due_date,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  });
  // The API's keyset cursor (src/http/cursor.ts), so that the page object has the same size too.
  const cursor = (row) => Buffer.from(JSON.stringify(['createdAt:desc:', row.created_at, row.id])).toString('base64url');
  const listJson = () => {
    const rows = list.all(LIMIT + 1);
    const hasMore = rows.length > LIMIT;
    const page = rows.slice(0, LIMIT);
    return JSON.stringify({ data: page.map(toTask), page: { limit: LIMIT, hasMore, nextCursor: hasMore ? cursor(page.at(-1)) : null } });
  };

  return {
    /** verify returns the user id of a valid bearer token, or null. */
    verify(header) {
      if (typeof header !== 'string' || !header.startsWith('Bearer ')) return null;
      try {
        const claims = jwt.verify(header.slice(7), key, verifyOptions);
        return Number(claims.sub);
      } catch {
        return null;
      }
    },
    /** hot is the list serialized once at start: what the API's cache holds for a repeated list. */
    hot: listJson(),
    list: listJson,
    one(id) {
      const row = Number.isSafeInteger(id) ? one.get(id) : undefined;
      return row ? JSON.stringify(toTask(row)) : null;
    },
    create: (title, userId) => JSON.stringify(toTask(create.immediate(title, userId))),
    port: Number(process.env.PORT),
  };
}

/** ready tells the bench that the server listens. */
export function ready() {
  // Exiting rather than dying of the signal lets node --cpu-prof write its profile.
  process.once('SIGTERM', () => process.exit(0));
  process.stdout.write('ready\n');
}
