import type { Db } from '../db/database.js';
import { isUniqueViolation } from '../db/database.js';
import type { Writer } from '../db/write.js';
import { problems } from '../http/errors.js';
import { ADMIN_ROLE, type Role } from '../auth/roles.js';

export interface UserRow {
  id: number;
  username: string;
  email: string;
  password_hash: string;
  role: Role;
  token_version: number;
  created_at: string;
  updated_at: string;
}

/** The public shape of an account: never the hash, never the token version. */
export interface User {
  id: number;
  username: string;
  email: string;
  role: Role;
  createdAt: string;
  updatedAt: string;
}

export interface NewUser {
  username: string;
  email: string;
  passwordHash: string;
}

/** toUser maps a row to the API's User. */
export function toUser(row: UserRow): User {
  return { id: row.id, username: row.username, email: row.email, role: row.role, createdAt: row.created_at, updatedAt: row.updated_at };
}

export type UserRepository = ReturnType<typeof createUserRepository>;

/** createUserRepository holds every SQL statement about accounts. */
export function createUserRepository(db: Db, write: Writer) {
  const byId = db.prepare<[number], UserRow>('SELECT * FROM users WHERE id = ?');
  const byEmail = db.prepare<[string], UserRow>('SELECT * FROM users WHERE email = ?');
  const authInfo = db.prepare<[number], Pick<UserRow, 'role' | 'token_version'>>('SELECT role, token_version FROM users WHERE id = ?');
  const anyUser = db.prepare<[], { one: number }>('SELECT 1 AS one FROM users LIMIT 1');
  const taken = db.prepare<[string, string], { username: string }>('SELECT username FROM users WHERE username = ? OR email = ? LIMIT 1');
  const adminCount = db.prepare<[Role], { n: number }>('SELECT count(*) AS n FROM users WHERE role = ?');
  const insert = db.prepare<[string, string, string, Role, string, string]>(
    'INSERT INTO users (username, email, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const page = db.prepare<[number, number], UserRow>('SELECT * FROM users WHERE id > ? ORDER BY id LIMIT ?');
  const updateRole = db.prepare<[Role, string, number]>(
    'UPDATE users SET role = ?, token_version = token_version + 1, updated_at = ? WHERE id = ?',
  );
  const updatePassword = db.prepare<[string, string, number]>(
    'UPDATE users SET password_hash = ?, token_version = token_version + 1, updated_at = ? WHERE id = ?',
  );
  const bumpVersion = db.prepare<[number]>('UPDATE users SET token_version = token_version + 1 WHERE id = ?');

  function assertAvailable(username: string, email: string): void {
    const existing = taken.get(username, email);
    if (!existing) return;
    throw existing.username.toLowerCase() === username.toLowerCase()
      ? problems.usernameTaken()
      : problems.emailTaken();
  }

  return {
    findById: (id: number) => byId.get(id),
    findByEmail: (email: string) => byEmail.get(email),
    authInfo: (id: number) => authInfo.get(id),
    /** any says whether the database holds an account yet. */
    any: () => anyUser.get() !== undefined,

    /** assertAvailable throws 409 username_taken or email_taken when either is in use (in any case). */
    assertAvailable,

    /**
     * create inserts an account; chooseRole sees whether the database had no account yet and
     * may throw to refuse, inside the same transaction, so two first sign-ups cannot both win.
     */
    create(input: NewUser, chooseRole: (isFirstUser: boolean) => Role): UserRow {
      try {
        return write(() => {
          const role = chooseRole(anyUser.get() === undefined);
          assertAvailable(input.username, input.email);
          const now = new Date().toISOString();
          const { lastInsertRowid } = insert.run(input.username, input.email, input.passwordHash, role, now, now);
          return byId.get(Number(lastInsertRowid)) as UserRow;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw problems.usernameTaken('That username or email is taken.');
        throw error;
      }
    },

    list(afterId: number, limit: number): UserRow[] {
      return page.all(afterId, limit);
    },

    /** setRole changes a role and revokes the account's tokens; the last admin cannot be demoted. */
    setRole(id: number, role: Role): UserRow {
      return write(() => {
        const user = byId.get(id);
        if (!user) throw problems.notFound('user');
        if (user.role === role) return user;
        if (user.role === ADMIN_ROLE && (adminCount.get(ADMIN_ROLE) as { n: number }).n <= 1) {
          throw problems.lastAdmin();
        }
        updateRole.run(role, new Date().toISOString(), id);
        return byId.get(id) as UserRow;
      });
    },

    /** setPassword stores a new hash and revokes the account's tokens. */
    setPassword(id: number, passwordHash: string): void {
      write(() => updatePassword.run(passwordHash, new Date().toISOString(), id));
    },

    /** revokeTokens invalidates every token issued to the account so far. */
    revokeTokens(id: number): void {
      write(() => bumpVersion.run(id));
    },
  };
}
