import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CommandError } from './cli/command-error.js';
import { keepDevelopmentSecret } from './cli/dev-secret.js';
import { ConfigError, loadConfig } from './config.js';

const dir = () => mkdtempSync(join(tmpdir(), 'backend-api-config-'));
const strong = 'x'.repeat(40);

describe('loadConfig', () => {
  test('starts on safe defaults with nothing set outside production', () => {
    const data = dir();
    const config = loadConfig({ DATABASE_PATH: join(data, 'app.db') });
    assert.equal(config.env, 'development');
    assert.equal(config.port, 3000);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.jwt.expiresInSeconds, 3600);
    assert.equal(config.rateLimit.max, 100);
    assert.equal(config.rateLimit.windowSeconds, 900);
    assert.equal(config.database.synchronous, 'NORMAL');
    assert.equal(config.redisUrl, null);
    assert.equal(config.metricsToken, null);
    assert.ok(config.workers >= 1);
  });

  test('lists every problem at once', () => {
    const error = (() => {
      try {
        loadConfig({
          PORT: 'eighty',
          WORKERS: '0',
          NODE_ENV: 'staging',
          REDIS_URL: 'http://x',
          LOG_LEVEL: 'loud',
          JWT_EXPIRES_IN: '1y',
          JWT_SECRET: 'too-short',
          BCRYPT_ROUNDS: '99',
          BODY_LIMIT_BYTES: '1.5',
          DATABASE_PATH: join(dir(), 'a.db'),
        });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    assert.ok(error instanceof ConfigError);
    const names = error.problems.map((p) => p.split(' ')[0]);
    assert.deepEqual(names.sort(), ['BCRYPT_ROUNDS', 'BODY_LIMIT_BYTES', 'JWT_EXPIRES_IN', 'JWT_SECRET', 'LOG_LEVEL', 'NODE_ENV', 'PORT', 'REDIS_URL', 'WORKERS']);
    for (const problem of error.problems) assert.ok(error.message.includes(problem), `the message lists: ${problem}`);
  });

  test('production refuses to start without a JWT_SECRET, or with one under 32 bytes, and writes no secret file', () => {
    const data = dir();
    const base = { NODE_ENV: 'production', DATABASE_PATH: join(data, 'a.db') };
    assert.throws(() => loadConfig(base), (e: ConfigError) => e instanceof ConfigError && e.problems.some((p) => p.startsWith('JWT_SECRET is required in production')));
    assert.throws(() => loadConfig({ ...base, JWT_SECRET: '' }), ConfigError, 'an empty secret is no secret');
    assert.throws(() => loadConfig({ ...base, JWT_SECRET: 'short-secret' }), /JWT_SECRET must be at least 32 bytes/);
    assert.throws(() => loadConfig({ ...base, JWT_SECRET: 'x'.repeat(31) }), ConfigError, '31 bytes');
    assert.equal(loadConfig({ ...base, JWT_SECRET: 'x'.repeat(32) }).jwt.secret, 'x'.repeat(32), '32 bytes');
    assert.equal(loadConfig({ ...base, JWT_SECRET: '€'.repeat(11) }).jwt.secretSource, 'env', '11 characters are 33 bytes');
    assert.equal(loadConfig({ ...base, JWT_SECRET: strong }).jwt.secret, strong);
    assert.equal(existsSync(join(data, 'jwt-secret')), false);
  });

  test('development generates one secret, keeps it beside the database with mode 0600, and reuses it', () => {
    const data = join(dir(), 'not-yet-there');
    const parsed = loadConfig({ DATABASE_PATH: join(data, 'app.db') });
    assert.deepEqual([parsed.jwt.secretSource, parsed.jwt.secret, existsSync(data)], ['pending', '', false], 'parsing the config writes nothing');
    const first = keepDevelopmentSecret(parsed);
    const second = keepDevelopmentSecret(loadConfig({ DATABASE_PATH: join(data, 'app.db') }));
    assert.equal(loadConfig({ DATABASE_PATH: join(data, 'app.db') }).jwt.secret, first.jwt.secret, 'a later parse reads the kept secret');
    assert.equal(statSync(data).mode & 0o777, 0o700, 'the data directory it created is private');
    assert.equal(first.jwt.secretSource, 'file');
    assert.equal(first.jwt.secret, second.jwt.secret);
    assert.ok(Buffer.byteLength(first.jwt.secret) >= 32);
    const file = join(data, 'jwt-secret');
    assert.equal(readFileSync(file, 'utf8').trim(), first.jwt.secret);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  test("never adds a secret file to another user's data directory, and reads the one already there", (t) => {
    if (process.geteuid?.() !== 0) return t.skip('needs root to give a directory to another user');
    const data = join(dir(), 'service-state');
    mkdirSync(data, { mode: 0o700 });
    chownSync(data, 65534, 65534);
    const asRoot = keepDevelopmentSecret(loadConfig({ DATABASE_PATH: join(data, 'app.db') }));
    assert.equal(asRoot.jwt.secretSource, 'ephemeral');
    assert.ok(Buffer.byteLength(asRoot.jwt.secret) >= 32);
    assert.deepEqual(readdirSync(data), []);
    writeFileSync(join(data, 'jwt-secret'), strong);
    assert.deepEqual([loadConfig({ DATABASE_PATH: join(data, 'app.db') }).jwt.secret, loadConfig({ DATABASE_PATH: join(data, 'app.db') }).jwt.secretSource], [strong, 'file']);
  });

  test('a development secret that cannot be kept stops the start as a bad configuration (exit 78)', () => {
    const blocker = join(dir(), 'a-file');
    writeFileSync(blocker, '');
    const parsed = loadConfig({ DATABASE_PATH: join(blocker, 'data', 'app.db') });
    assert.equal(parsed.jwt.secretSource, 'pending');
    assert.throws(
      () => keepDevelopmentSecret(parsed),
      (e: unknown) => e instanceof CommandError && e.exitCode === 78 && /cannot keep a development JWT secret in .*a-file\/data\/jwt-secret/.test(e.message),
    );
  });

  test('a command that signs no token neither demands nor judges JWT_SECRET, and writes nothing', () => {
    const data = join(dir(), 'data');
    for (const JWT_SECRET of [undefined, 'short']) {
      const config = loadConfig({ NODE_ENV: 'production', DATABASE_PATH: join(data, 'app.db'), ...(JWT_SECRET ? { JWT_SECRET } : {}) }, '1.0.0', 'ignore');
      assert.deepEqual([config.jwt.secretSource, config.jwt.secret], ['unused', '']);
    }
    assert.equal(existsSync(data), false);
  });

  test('is frozen all the way down', () => {
    const config = loadConfig({ DATABASE_PATH: join(dir(), 'a.db'), JWT_SECRET: strong });
    const unfrozen: string[] = [];
    const walk = (value: unknown, path: string) => {
      if (value === null || typeof value !== 'object') return;
      if (!Object.isFrozen(value)) unfrozen.push(path);
      for (const [key, inner] of Object.entries(value)) walk(inner, `${path}.${key}`);
    };
    walk(config, 'config');
    assert.deepEqual(unfrozen, []);
    assert.ok(Object.keys(config.jwt).length > 0 && Object.keys(config.database).length > 0);
    assert.throws(() => {
      (config.rateLimit as { max: number }).max = 1;
    }, TypeError);
  });

  test('reads token lifetimes in seconds or with a unit', () => {
    const lifetime = (JWT_EXPIRES_IN: string) => loadConfig({ DATABASE_PATH: join(dir(), 'a.db'), JWT_SECRET: strong, JWT_EXPIRES_IN }).jwt.expiresInSeconds;
    assert.equal(lifetime('3600'), 3600);
    assert.equal(lifetime('15m'), 900);
    assert.equal(lifetime('1h'), 3600);
    assert.equal(lifetime('7d'), 604_800);
    assert.equal(lifetime('90s'), 90);
    assert.equal(lifetime('30d'), 2_592_000);
    assert.equal(lifetime(''), 3600, 'empty is unset');
    for (const bad of ['-5', '1w', 'soon', '5', '9s', '31d', '1.5h', '1h30m', 'h']) {
      assert.throws(() => lifetime(bad), (e: unknown) => e instanceof ConfigError && e.problems.length === 1 && e.problems[0]!.startsWith('JWT_EXPIRES_IN'), bad);
    }
  });

  test('an empty LOG_DIR means stdout only, and sizes and booleans are checked', () => {
    const base = { DATABASE_PATH: join(dir(), 'a.db'), JWT_SECRET: strong };
    assert.equal(loadConfig({ ...base, LOG_DIR: '' }).log.dir, null);
    assert.equal(loadConfig({ ...base, LOG_MAX_SIZE: '20M' }).log.maxSize, '20m');
    assert.throws(() => loadConfig({ ...base, LOG_MAX_SIZE: 'big' }), /LOG_MAX_SIZE/);
    assert.equal(loadConfig({ ...base, CACHE_ENABLED: 'off' }).cache.enabled, false);
    assert.throws(() => loadConfig({ ...base, CACHE_ENABLED: 'maybe' }), /CACHE_ENABLED/);
    assert.throws(() => loadConfig({ ...base, METRICS_TOKEN: 'short' }), /METRICS_TOKEN/);
  });
});
