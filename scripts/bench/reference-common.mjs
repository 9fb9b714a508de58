// What every reference server shares: the same database file, the same JWT check (HS256 with a
// prepared KeyObject, as the API does), and the same SQL as the API's list, get and create.
import { createSecretKey } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');
const jwt = require('jsonwebtoken');

/** references builds the shared pieces from the environment the bench passes. */
export function references() {
  const key = createSecretKey(Buffer.from(process.env.JWT_SECRET, 'utf8'));
  const db = new Database(process.env.DATABASE_PATH);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const list = db.prepare('SELECT * FROM tasks ORDER BY created_at DESC, id DESC LIMIT 21');
  const one = db.prepare('SELECT * FROM tasks WHERE id = ?');
  const insert = db.prepare(
    "INSERT INTO tasks (title, description, status, due_date, created_by, created_at, updated_at) VALUES (?, NULL, 'todo', NULL, 1, ?, ?)",
  );
  const create = db.transaction((title) => {
    const now = new Date().toISOString();
    return one.get(insert.run(title, now, now).lastInsertRowid);
  });
  const toTask = (r) => ({ id: r.id, title: r.title, description: r.description, status: r.status, dueDate: r.due_date, createdBy: r.created_by, createdAt: r.created_at, updatedAt: r.updated_at });
  const listBody = () => {
    const rows = list.all();
    return { data: rows.slice(0, 20).map(toTask), page: { limit: 20, hasMore: rows.length > 20, nextCursor: null } };
  };
  const hot = JSON.stringify(listBody());
  const verify = (header) => {
    if (!header?.startsWith('Bearer ')) return null;
    try {
      return jwt.verify(header.slice(7), key, { algorithms: ['HS256'], issuer: 'backend-api', audience: 'backend-api' });
    } catch {
      return null;
    }
  };
  return {
    verify,
    hot,
    list: () => JSON.stringify(listBody()),
    one: (id) => {
      const row = one.get(id);
      return row ? JSON.stringify(toTask(row)) : null;
    },
    create: (title) => JSON.stringify(toTask(create.immediate(title))),
  };
}
