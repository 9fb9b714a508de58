import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { CommandError, EXIT_CONFIG, EXIT_USAGE } from './command-error.js';

type Env = Record<string, string | undefined>;

/** takeEnvFiles removes every `--env-file PATH` (or `--env-file=PATH`) before a `--` from a command line: the paths in order, and the rest. */
export function takeEnvFiles(argv: readonly string[]): { files: string[]; rest: string[] } {
  const files: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg !== '--env-file' && !arg.startsWith('--env-file=')) {
      rest.push(arg);
      continue;
    }
    const path = arg === '--env-file' ? argv[++i] : arg.slice('--env-file='.length);
    if (path === undefined || path === '') throw new CommandError('--env-file needs a path', EXIT_USAGE);
    files.push(path);
  }
  return { files, rest };
}

/**
 * readSettings returns the variables the configuration is read from. With --env-file: the
 * environment, then each file in turn, a file's value winning (as systemd's EnvironmentFile=
 * wins over Environment=), so `check-config --env-file` sees what the unit's service sees.
 * Without: ./.env, if present, under the environment, which wins.
 */
export function readSettings(files: readonly string[], env: Env): Env {
  if (files.length === 0) return { ...(existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {}), ...env };
  let settings: Env = { ...env };
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new CommandError(`cannot read --env-file ${file}: ${(error as Error).message}`, EXIT_CONFIG);
    }
    settings = { ...settings, ...parseEnv(text) };
  }
  return settings;
}
