import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPasswordHasher, type PasswordHasher } from '../auth/passwords.js';
import { loadConfig, type Config } from '../config.js';
import { openDatabase, type Db } from '../db/database.js';
import { migrate } from '../db/migrations.js';
import { createLogger } from '../logging/logger.js';
import type { Spec } from '../openapi/spec.js';
import { singleProcess } from '../process/model.js';
import { serve, type RunningServer } from '../server.js';
import { ApiClient } from './client.js';

export interface TestApp {
  readonly config: Config;
  readonly dir: string;
  readonly url: string;
  readonly api: ApiClient;
  /** A separate read connection to the same database file, to check what is stored. */
  readonly db: Db;
  readonly running: RunningServer;
  /** Operation ids in the order their handlers ran. */
  readonly handled: string[];
  close(): Promise<void>;
}

/** testEnv is the environment of a test server: a fresh data directory, fast bcrypt, no rate limit, quiet logs. */
export function testEnv(dir: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_PATH: join(dir, 'data', 'app.db'),
    JWT_SECRET: randomBytes(32).toString('base64url'),
    BCRYPT_ROUNDS: '4',
    RATE_LIMIT_MAX: '0',
    LOG_DIR: '',
    LOG_LEVEL: 'silent',
    ...overrides,
  };
}

export interface TestAppOptions {
  /** Wraps the app's bcrypt queue (built from the test's config), e.g. to count the jobs that reach it. */
  readonly passwords?: (real: PasswordHasher) => PasswordHasher;
  /** The contract to serve instead of openapi.yaml. */
  readonly spec?: Spec;
}

/** startTestApp runs the real server in this process on port 0 with a fresh SQLite file. */
export async function startTestApp(overrides: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'backend-api-test-'));
  const config = loadConfig(testEnv(dir, overrides), 'test');
  const appDb = openDatabase(config.database.path, { synchronous: config.database.synchronous });
  migrate(appDb);
  const logger = createLogger(config, { console: false, files: true });
  const handled: string[] = [];
  const real = createPasswordHasher({ rounds: config.bcryptRounds, maxWaitMs: config.bcryptMaxWaitMs });
  const passwords = options.passwords?.(real) ?? real;
  const running = await serve({ config, logger, db: appDb, model: singleProcess(), observe: (id) => handled.push(id), passwords, ...(options.spec ? { spec: options.spec } : {}) });
  const url = `http://127.0.0.1:${running.port}`;
  const db = new Database(config.database.path, { readonly: true });
  return {
    config,
    dir,
    url,
    api: new ApiClient(url),
    db,
    running,
    handled,
    async close() {
      db.close();
      await running.drain('test done');
      await real.close();
      logger.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
