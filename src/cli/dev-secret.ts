import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError, readSecretFile, SECRET_FILE, type Config } from '../config.js';
import { CommandError, EXIT_CONFIG } from './command-error.js';

/**
 * keepDevelopmentSecret gives a server started without JWT_SECRET outside production (its
 * config says the secret is pending) a secret kept beside the database: made once, mode 0600,
 * so that restarts keep tokens valid. It never adds that file to another user's data
 * directory (root running the server against the service's state directory): such a process
 * gets a secret of its own that nothing keeps. Only serve calls it; parsing the config writes nothing.
 */
export function keepDevelopmentSecret(config: Config): Config {
  if (config.jwt.secretSource !== 'pending') return config;
  const dataDir = dirname(config.database.path);
  if (ownedByAnotherUser(dataDir)) return withSecret(config, randomBytes(48).toString('base64url'), 'ephemeral');
  const file = join(dataDir, SECRET_FILE);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // 'wx' fails when another process won the race; then its secret is the one to read.
    writeFileSync(file, randomBytes(48).toString('base64url'), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') refuse(`cannot keep a development JWT secret in ${file}: ${(error as Error).message}`);
  }
  try {
    return withSecret(config, readSecretFile(file), 'file');
  } catch (error) {
    return refuse((error as Error).message);
  }
}

/** refuse ends the start as any other bad configuration does (exit 78). */
function refuse(problem: string): never {
  throw new CommandError(new ConfigError([problem]).message, EXIT_CONFIG);
}

function withSecret(config: Config, secret: string, secretSource: 'file' | 'ephemeral'): Config {
  return Object.freeze({ ...config, jwt: Object.freeze({ ...config.jwt, secret, secretSource }) });
}

/** ownedByAnotherUser says whether a directory exists and belongs to someone other than this process's user. */
function ownedByAnotherUser(dir: string): boolean {
  try {
    return statSync(dir).uid !== process.geteuid?.();
  } catch {
    return false;
  }
}
