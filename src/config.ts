import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export type NodeEnv = 'development' | 'production' | 'test';
export type LogLevel = 'error' | 'warn' | 'info' | 'http' | 'debug' | 'silent';

export interface Config {
  readonly env: NodeEnv;
  readonly version: string;
  readonly host: string;
  readonly port: number;
  readonly workers: number;
  readonly shutdownTimeoutMs: number;
  readonly trustProxy: string;
  readonly bodyLimitBytes: number;
  readonly jwt: {
    readonly secret: string;
    /**
     * env: JWT_SECRET; file: the development secret kept beside the database; pending: that file
     * does not exist yet (serve makes it); unused: a command that signs no token never read one;
     * ephemeral: made up for this process alone, because the data directory is another user's.
     */
    readonly secretSource: SecretSource;
    readonly expiresInSeconds: number;
    readonly issuer: string;
    readonly audience: string;
  };
  readonly bcryptRounds: number;
  /** The longest a password check may wait for its process's bcrypt thread before the request gets 503. */
  readonly bcryptMaxWaitMs: number;
  readonly database: {
    readonly path: string;
    readonly synchronous: 'NORMAL' | 'FULL';
    readonly checkpointIntervalMs: number;
  };
  readonly redisUrl: string | null;
  readonly redisCommandTimeoutMs: number;
  /** ttlSeconds 0 keeps each operation's x-cache-ttl from openapi.yaml. */
  readonly cache: { readonly enabled: boolean; readonly ttlSeconds: number };
  readonly rateLimit: {
    readonly max: number;
    readonly windowSeconds: number;
    readonly loginFailsPerIpPerDay: number;
    readonly loginConsecutiveFails: number;
    readonly loginBlockSeconds: number;
  };
  /** maxSize rotates a file early once it reaches that size (like "50m"); null rotates daily only. */
  readonly log: { readonly level: LogLevel; readonly dir: string | null; readonly maxSize: string | null };
  readonly metricsToken: string | null;
  /** PM2's instance number when PM2 runs this process in cluster mode, else null. */
  readonly pm2Instance: number | null;
  /** systemd's notification socket (Type=notify units), else null. */
  readonly notifySocket: string | null;
}

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
type SecretSource = 'env' | 'file' | 'pending' | 'unused' | 'ephemeral';

/**
 * What a command does with the JWT secret: use it (serve: outside production it makes the
 * development secret file when missing), check it as serve would without writing anything
 * (check-config), or ignore it (commands that sign no token: nothing demanded, nothing written).
 */
export type SecretUse = 'use' | 'check' | 'ignore';

const MIN_SECRET_BYTES = 32;
const SECRET_FILE = 'jwt-secret';

/** loadConfig reads, validates and freezes the whole configuration; it throws ConfigError listing all problems. */
export function loadConfig(env: Env, version = '0.0.0', secretUse: SecretUse = 'use'): Config {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);

  const nodeEnv = read.oneOf('NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const databasePath = resolve(read.string('DATABASE_PATH', './data/app.db'));
  const rawSecret = env.JWT_SECRET;
  const logDir = env.LOG_DIR === undefined ? './logs' : env.LOG_DIR.trim();

  const config: Config = {
    env: nodeEnv,
    version,
    host: read.string('HOST', '127.0.0.1'),
    port: read.int('PORT', 3000, 0, 65535),
    workers: read.int('WORKERS', availableParallelism(), 1, 64),
    shutdownTimeoutMs: read.int('SHUTDOWN_TIMEOUT', 10, 1, 600) * 1000,
    trustProxy: read.string('TRUST_PROXY', 'loopback'),
    bodyLimitBytes: read.int('BODY_LIMIT_BYTES', 100 * 1024, 1024, 10 * 1024 * 1024),
    jwt: {
      secret: '',
      secretSource: 'env',
      expiresInSeconds: read.duration('JWT_EXPIRES_IN', 3600),
      issuer: read.string('JWT_ISSUER', 'backend-api'),
      audience: read.string('JWT_AUDIENCE', 'backend-api'),
    },
    bcryptRounds: read.int('BCRYPT_ROUNDS', 12, 4, 15),
    bcryptMaxWaitMs: read.int('BCRYPT_MAX_WAIT_MS', 2000, 1, 60_000),
    database: {
      path: databasePath,
      synchronous: read.oneOf('DB_SYNCHRONOUS', ['NORMAL', 'FULL'] as const, 'NORMAL'),
      checkpointIntervalMs: read.int('DB_CHECKPOINT_INTERVAL', 30, 1, 3600) * 1000,
    },
    redisUrl: read.optionalUrl('REDIS_URL', ['redis:', 'rediss:']),
    redisCommandTimeoutMs: read.int('REDIS_COMMAND_TIMEOUT_MS', 300, 10, 10_000),
    cache: {
      enabled: read.bool('CACHE_ENABLED', true),
      ttlSeconds: read.int('CACHE_TTL_SECONDS', 0, 0, 86_400),
    },
    rateLimit: {
      max: read.int('RATE_LIMIT_MAX', 100, 0, 10_000_000),
      windowSeconds: read.int('RATE_LIMIT_WINDOW_SECONDS', 900, 1, 86_400),
      loginFailsPerIpPerDay: read.int('RATE_LIMIT_LOGIN_FAILS_PER_IP_PER_DAY', 100, 1, 1_000_000),
      loginConsecutiveFails: read.int('RATE_LIMIT_LOGIN_CONSECUTIVE_FAILS', 10, 1, 1000),
      loginBlockSeconds: read.int('RATE_LIMIT_LOGIN_BLOCK_SECONDS', 3600, 1, 86_400 * 7),
    },
    log: {
      level: read.oneOf('LOG_LEVEL', ['error', 'warn', 'info', 'http', 'debug', 'silent'] as const, 'info'),
      dir: logDir === '' ? null : resolve(logDir),
      maxSize: read.size('LOG_MAX_SIZE'),
    },
    metricsToken: read.optionalSecret('METRICS_TOKEN', 16),
    pm2Instance: env.pm_id === undefined ? null : read.int('NODE_APP_INSTANCE', 0, 0, 1024),
    notifySocket: env.NOTIFY_SOCKET || null,
  };

  const secret =
    secretUse === 'ignore' ? { secret: '', secretSource: 'unused' as const } : resolveJwtSecret(rawSecret, nodeEnv, dirname(databasePath), problems, secretUse === 'use');

  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze({ ...config, jwt: { ...config.jwt, ...secret } });
}

/**
 * resolveJwtSecret takes JWT_SECRET from the environment; outside production, when it is
 * unset, it generates one once (when allowed to write) and keeps it beside the database so
 * restarts keep tokens valid. It never adds that file to another user's data directory (root
 * running the server against the service's state directory): such a process gets a secret of
 * its own that nothing keeps.
 */
function resolveJwtSecret(
  raw: string | undefined,
  env: NodeEnv,
  dataDir: string,
  problems: string[],
  mayWrite: boolean,
): { secret: string; secretSource: SecretSource } {
  if (raw !== undefined && raw !== '') {
    if (Buffer.byteLength(raw) < MIN_SECRET_BYTES) {
      problems.push(`JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes (got ${Buffer.byteLength(raw)})`);
    }
    return { secret: raw, secretSource: 'env' };
  }
  if (env === 'production') {
    problems.push('JWT_SECRET is required in production (at least 32 random bytes, e.g. `openssl rand -base64 48`)');
    return { secret: '', secretSource: 'env' };
  }
  const file = join(dataDir, SECRET_FILE);
  if (!mayWrite && !existsSync(file)) return { secret: '', secretSource: 'pending' };
  if (!existsSync(file) && ownedByAnotherUser(dataDir)) return { secret: randomBytes(48).toString('base64url'), secretSource: 'ephemeral' };
  try {
    if (mayWrite) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    try {
      // 'wx' fails when another process won the race; then its secret is the one to read.
      if (mayWrite) writeFileSync(file, randomBytes(48).toString('base64url'), { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const secret = readFileSync(file, 'utf8').trim();
    if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) problems.push(`${file} holds a secret shorter than ${MIN_SECRET_BYTES} bytes`);
    return { secret, secretSource: 'file' };
  } catch (error) {
    problems.push(`cannot keep a development JWT secret in ${file}: ${(error as Error).message}`);
    return { secret: '', secretSource: 'file' };
  }
}

/** ownedByAnotherUser says whether a directory exists and belongs to someone other than this process's user. */
function ownedByAnotherUser(dir: string): boolean {
  try {
    return statSync(dir).uid !== process.geteuid?.();
  } catch {
    return false;
  }
}

class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  private raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < min || n > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max} (got "${value}")`);
      return fallback;
    }
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(value)) return true;
    if (['0', 'false', 'no', 'off'].includes(value)) return false;
    this.problems.push(`${name} must be true or false (got "${value}")`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const match = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
    if (match === undefined) this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${value}")`);
    return match ?? fallback;
  }

  /** duration accepts seconds ("3600") or a number with a unit: s, m, h, d. */
  duration(name: string, fallbackSeconds: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallbackSeconds;
    const match = /^(\d+)\s*([smhd]?)$/.exec(value);
    const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match?.[2] ?? ''] ?? 1;
    const seconds = match ? Number(match[1]) * unit : NaN;
    if (!(seconds >= 10 && seconds <= 30 * 86_400)) {
      this.problems.push(`${name} must be a duration from 10s to 30d, like 3600, 15m, 1h or 7d (got "${value}")`);
      return fallbackSeconds;
    }
    return seconds;
  }

  /** size accepts a file size for the log rotation: 500k, 20m, 1g. */
  size(name: string): string | null {
    const value = this.raw(name);
    if (value === undefined) return null;
    if (/^\d+[kmg]$/i.test(value)) return value.toLowerCase();
    this.problems.push(`${name} must be a size like 500k, 20m or 1g (got "${value}")`);
    return null;
  }

  optionalUrl(name: string, protocols: string[]): string | null {
    const value = this.raw(name);
    if (value === undefined) return null;
    try {
      const url = new URL(value);
      if (protocols.includes(url.protocol)) return value;
    } catch {
      // reported below
    }
    this.problems.push(`${name} must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
    return null;
  }

  optionalSecret(name: string, minBytes: number): string | null {
    const value = this.raw(name);
    if (value === undefined) return null;
    if (Buffer.byteLength(value) < minBytes) this.problems.push(`${name} must be at least ${minBytes} bytes`);
    return value;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
