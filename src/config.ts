import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { bool, directoryOrNone, duration, int, oneOf, optional, path, readTable, secret, setting, size, text, url, type TableValues } from './config-reader.js';

const NODE_ENVS = ['development', 'production', 'test'] as const;
const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'debug', 'silent'] as const;
const MIN_SECRET_BYTES = 32;

/**
 * SETTINGS is every variable the server reads: its name, default, parser and one line of doc,
 * nested as the Config it builds. .env.example and the README's table are generated from it
 * (npm run docs:config). A new setting is a line here and the code that uses it.
 */
export const SETTINGS = {
  env: setting('NODE_ENV', 'development', oneOf(NODE_ENVS), '`development`, `production` or `test`; production refuses to start without a `JWT_SECRET` of 32+ bytes'),
  host: setting('HOST', '127.0.0.1', text, 'address to listen on (behind Nginx on the same host keep `127.0.0.1`; `0.0.0.0` in a container)'),
  port: setting('PORT', '3000', int(0, 65535), 'port to listen on'),
  workers: setting('WORKERS', () => String(availableParallelism()), int(1, 64), 'worker processes sharing the port', { shown: 'CPU count', example: '2' }),
  shutdownTimeoutMs: setting('SHUTDOWN_TIMEOUT', '10', int(1, 600, 1000), 'seconds a worker may take to drain on SIGTERM/SIGINT (under systemd the stop timeout follows it, plus 5 s)'),
  trustProxy: setting('TRUST_PROXY', 'loopback', text, 'proxies whose `X-Forwarded-For` is believed: `loopback`, addresses/CIDRs, or `false` for none'),
  bodyLimitBytes: setting('BODY_LIMIT_BYTES', '102400', int(1024, 10 * 1024 * 1024), 'largest request body in bytes (larger is 413 `payload_too_large`)'),
  jwt: {
    secret: optional('JWT_SECRET', secret(MIN_SECRET_BYTES, { count: true }), 'HS256 secret, 32+ bytes (`openssl rand -base64 48`); unset outside production: generated once into the data directory', {
      shown: 'generated in dev',
    }),
    expiresInSeconds: setting('JWT_EXPIRES_IN', '1h', duration, 'token lifetime: seconds, or `15m`, `1h`, `7d`'),
    issuer: setting('JWT_ISSUER', 'backend-api', text, '`iss` claim set and checked'),
    audience: setting('JWT_AUDIENCE', 'backend-api', text, '`aud` claim set and checked'),
  },
  bcryptRounds: setting('BCRYPT_ROUNDS', '12', int(4, 15), 'bcrypt cost (4-15); each step doubles the time of a login'),
  bcryptMaxWaitMs: setting('BCRYPT_MAX_WAIT_MS', '2000', int(1, 60_000), 'longest a password check waits for the bcrypt thread; past it 503 with `Retry-After` at once'),
  database: {
    path: setting('DATABASE_PATH', './data/app.db', path, 'the SQLite file (WAL mode; the -wal and -shm files live beside it)'),
    synchronous: setting('DB_SYNCHRONOUS', 'NORMAL', oneOf(['NORMAL', 'FULL'] as const), '`NORMAL`: a power loss may lose the last commits but never corrupts the file; `FULL`: fsync per commit, slower writes'),
    checkpointIntervalMs: setting('DB_CHECKPOINT_INTERVAL', '30', int(1, 3600, 1000), 'seconds between PASSIVE WAL checkpoints (the WAL is also truncated whenever it passes 16 MB)'),
  },
  redisUrl: optional('REDIS_URL', url(['redis:', 'rediss:']), '`redis://…` for the shared cache and rate limits; unset = embedded (per host) fallbacks', { example: 'redis://127.0.0.1:6379' }),
  redisCommandTimeoutMs: setting('REDIS_COMMAND_TIMEOUT_MS', '300', int(10, 10_000), 'the most a request waits on one Redis command before treating it as down'),
  cache: {
    enabled: setting('CACHE_ENABLED', 'true', bool, 'response cache of `GET /tasks` and `GET /tasks/{id}` on/off'),
    /** 0 keeps each operation's x-cache-ttl from openapi.yaml. */
    ttlSeconds: setting('CACHE_TTL_SECONDS', '0', int(0, 86_400), "override of every `x-cache-ttl` in seconds (0 = use the spec's, 60 s)"),
  },
  rateLimit: {
    max: setting('RATE_LIMIT_MAX', '100', int(0, 10_000_000), 'requests per client IP per window; `0` = off'),
    windowSeconds: setting('RATE_LIMIT_WINDOW_SECONDS', '900', int(1, 86_400), 'the window of `RATE_LIMIT_MAX`, in seconds'),
    loginFailsPerIpPerDay: setting('RATE_LIMIT_LOGIN_FAILS_PER_IP_PER_DAY', '100', int(1, 1_000_000), 'failed logins from one IP per day'),
    loginConsecutiveFails: setting('RATE_LIMIT_LOGIN_CONSECUTIVE_FAILS', '10', int(1, 1000), 'failures for one account from one IP before blocking'),
    loginBlockSeconds: setting('RATE_LIMIT_LOGIN_BLOCK_SECONDS', '3600', int(1, 86_400 * 7), 'how long that account/IP pair stays blocked'),
  },
  log: {
    level: setting('LOG_LEVEL', 'info', oneOf(LOG_LEVELS), '`error`, `warn`, `info`, `http`, `debug` or `silent`'),
    dir: setting('LOG_DIR', './logs', directoryOrNone, 'rotating JSON files (app 14 days, errors 30 days); empty = stdout only (journald, PM2)', { emptyIsValue: true }),
    /** Rotates a file early once it reaches that size (like "50m"); null rotates daily only. */
    maxSize: optional('LOG_MAX_SIZE', size, 'also rotate a file when it reaches this size (`500k`, `20m`, `1g`); unset = daily only'),
  },
  metricsToken: optional('METRICS_TOKEN', secret(16), 'enables `GET /metrics` (Prometheus) for this bearer token; unset = no `/metrics`'),
  pm2: {
    id: optional('pm_id', int(0, 1_000_000), "PM2's process id: present when PM2 runs this process", { setBy: 'PM2' }),
    instance: setting('NODE_APP_INSTANCE', '0', int(0, 1024), "PM2's instance number in cluster mode", { setBy: 'PM2' }),
  },
  /** systemd's notification socket (Type=notify units), else null. */
  notifySocket: optional('NOTIFY_SOCKET', text, "systemd's notification socket (Type=notify units)", { setBy: 'systemd' }),
} as const;

type Settings = TableValues<typeof SETTINGS>;
export type NodeEnv = Settings['env'];
export type LogLevel = Settings['log']['level'];

/**
 * env: JWT_SECRET; file: the development secret kept beside the database; pending: that file
 * does not exist yet (serve makes it); unused: a command that signs no token never read one;
 * ephemeral: made up for this process alone, because the data directory is another user's.
 */
export type SecretSource = 'env' | 'file' | 'pending' | 'unused' | 'ephemeral';

/** Config is what SETTINGS builds, with the JWT secret resolved and PM2's instance made one value. */
export type Config = Readonly<
  Omit<Settings, 'jwt' | 'pm2'> & {
    readonly version: string;
    readonly jwt: Readonly<Omit<Settings['jwt'], 'secret'> & { readonly secret: string; readonly secretSource: SecretSource }>;
    /** PM2's instance number when PM2 runs this process in cluster mode, else null. */
    readonly pm2Instance: number | null;
  }
>;

/** ConfigError lists every problem found in the environment at once. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

/**
 * What a command does with the JWT secret: read it (serve and check-config: from JWT_SECRET, or
 * the development secret file if it exists; serve then makes the file when missing, see
 * src/cli/dev-secret.ts), or ignore it (commands that sign no token: nothing demanded).
 */
export type SecretUse = 'read' | 'ignore';

/** The development secret's file name, beside the database. */
export const SECRET_FILE = 'jwt-secret';

/** loadConfig reads, validates and freezes the whole configuration, writing nothing; it throws ConfigError listing all problems. */
export function loadConfig(env: Env, version = '0.0.0', secretUse: SecretUse = 'read'): Config {
  const problems: string[] = [];
  // A command that signs no token neither reads nor judges the secret.
  const read = secretUse === 'ignore' ? { ...env, JWT_SECRET: undefined } : env;
  const { pm2, jwt, ...settings } = readTable(SETTINGS, read, problems);
  const given = (read.JWT_SECRET?.trim() ?? '') !== '';
  const resolved =
    secretUse === 'ignore' ? { secret: '', secretSource: 'unused' as const } : readJwtSecret(jwt.secret, given, settings.env, dirname(settings.database.path), problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze({ ...settings, version, jwt: { ...jwt, ...resolved }, pm2Instance: pm2.id === null ? null : pm2.instance });
}

/**
 * readJwtSecret takes JWT_SECRET, which production demands; outside production, when it is
 * unset, it reads the development secret kept beside the database, or says it is pending.
 */
function readJwtSecret(
  value: string | null,
  given: boolean,
  env: NodeEnv,
  dataDir: string,
  problems: string[],
): { secret: string; secretSource: SecretSource } {
  if (given) return { secret: value ?? '', secretSource: 'env' };
  if (env === 'production') {
    problems.push('JWT_SECRET is required in production (at least 32 random bytes, e.g. `openssl rand -base64 48`)');
    return { secret: '', secretSource: 'env' };
  }
  const file = join(dataDir, SECRET_FILE);
  if (!existsSync(file)) return { secret: '', secretSource: 'pending' };
  try {
    return { secret: readSecretFile(file), secretSource: 'file' };
  } catch (error) {
    problems.push((error as Error).message);
    return { secret: '', secretSource: 'file' };
  }
}

/** readSecretFile reads a development secret; it throws when the file cannot be read or holds too short a secret. */
export function readSecretFile(file: string): string {
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new Error(`cannot keep a development JWT secret in ${file}: ${(error as Error).message}`);
  }
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) throw new Error(`${file} holds a secret shorter than ${MIN_SECRET_BYTES} bytes`);
  return secret;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
