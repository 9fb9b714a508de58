// The data every target reads: accounts made through the API (so the tokens are the API's own),
// then 1 000 tasks written straight into SQLite with fixed timestamps, so that the list is the
// same 20 rows, byte for byte, in every run and on every target.
import { createRequire } from 'node:module';

const Database = createRequire(import.meta.url)('better-sqlite3');

export const SEED_TASKS = 1000;
/** The task every get-one request reads. */
export const TASK_ID = 500;
export const USER = { username: 'bench-user', email: 'bench-user@example.com', password: 'bench-password-user-1' };
const ADMIN = { username: 'bench-admin', email: 'bench-admin@example.com', password: 'bench-password-admin-1' };

/**
 * seed makes the admin (the first account) and a user through the API at `url`, logs both in,
 * and inserts the tasks; it returns both tokens.
 */
export async function seed(url, databasePath) {
  const call = async (path, body, token) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`seeding: POST ${path} answered ${response.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const admin = await call('/api/v1/auth/register', ADMIN);
  const adminToken = (await call('/api/v1/auth/login', { email: ADMIN.email, password: ADMIN.password })).token;
  await call('/api/v1/auth/register', USER, adminToken);
  const userToken = (await call('/api/v1/auth/login', { email: USER.email, password: USER.password })).token;

  const db = open(databasePath);
  const insert = db.prepare(
    'INSERT INTO tasks (id, title, description, status, due_date, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  db.transaction(() => {
    for (let i = 1; i <= SEED_TASKS; i++) {
      const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
      const description = `What task ${i} is about, long enough to look like the data of a real list.`;
      insert.run(i, `Task number ${i} with a realistic title`, description, ['todo', 'in_progress', 'done'][i % 3], '2026-12-31', admin.id, at, at);
    }
    bumpGeneration(db);
  })();
  db.close();
  return { adminToken, userToken };
}

/**
 * reset removes what the write scenarios added, so that each round's reads see the seeded list;
 * the generation bump retires the API's cached pages as any write of its own would.
 */
export function reset(databasePath) {
  const db = open(databasePath);
  db.transaction(() => {
    db.prepare('DELETE FROM tasks WHERE id > ?').run(SEED_TASKS);
    bumpGeneration(db);
  }).immediate();
  db.pragma('wal_checkpoint(PASSIVE)');
  db.close();
}

function open(path) {
  const db = new Database(path);
  db.pragma('busy_timeout = 10000');
  return db;
}

function bumpGeneration(db) {
  db.prepare("UPDATE cache_generations SET generation = generation + 1 WHERE resource = 'tasks'").run();
}
