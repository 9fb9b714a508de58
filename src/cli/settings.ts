import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { CommandError, EXIT_CONFIG, EXIT_USAGE } from './command-error.js';

type Env = Record<string, string | undefined>;

/**
 * The options that name a settings file. `--environment-file` (after systemd's EnvironmentFile=)
 * is the one to use: Node itself looks for every `--env-file` of its command line, the
 * application's arguments included, and stops with its own "not found" (status 9) before any of
 * ours runs when that file cannot be read, so only `--environment-file` can reach the clear
 * message and exit 78 below. `--env-file` stays as its alias.
 */
const FILE_OPTIONS = ['--environment-file', '--env-file'] as const;

/** takeEnvFiles removes every `--environment-file PATH` (or `--env-file`, or either with `=PATH`) before a `--` from a command line: the paths in order, and the rest. */
export function takeEnvFiles(argv: readonly string[]): { files: string[]; rest: string[] } {
  const files: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const option = FILE_OPTIONS.find((name) => arg === name || arg.startsWith(`${name}=`));
    if (option === undefined) {
      rest.push(arg);
      continue;
    }
    const path = arg === option ? argv[++i] : arg.slice(option.length + 1);
    if (path === undefined || path === '') throw new CommandError(`${option} needs a path`, EXIT_USAGE);
    files.push(path);
  }
  return { files, rest };
}

/**
 * readSettings returns the variables the configuration is read from. With settings files: the
 * environment, then each file in turn, a file's value winning (as systemd's EnvironmentFile=
 * wins over Environment=), so `check-config --environment-file` sees what the unit's service
 * sees. Without: ./.env, if present, under the environment, which wins. A file that cannot be
 * read is a bad configuration (exit 78), named with the reason.
 */
export function readSettings(files: readonly string[], env: Env): Env {
  if (files.length === 0) return { ...(existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {}), ...env };
  let settings: Env = { ...env };
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new CommandError(`cannot read the settings file ${file}: ${unreadableReason(error as NodeJS.ErrnoException)}`, EXIT_CONFIG);
    }
    settings = { ...settings, ...parseEnv(text) };
  }
  return settings;
}

/** unreadableReason says in words why a settings file could not be read. */
function unreadableReason(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return `permission denied for uid ${process.getuid?.() ?? '?'} (the service's file is root's, mode 0600: run this with sudo)`;
    case 'EISDIR':
      return 'it is a directory';
    default:
      return error.message;
  }
}
