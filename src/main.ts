import cluster from 'node:cluster';
import { checkConfigCommand } from './cli/check-config.js';
import { CommandError, EXIT_CONFIG, EXIT_USAGE } from './cli/command-error.js';
import { readSettings, takeEnvFiles } from './cli/settings.js';
import { ConfigError, loadConfig, type Config, type SecretUse } from './config.js';
import { prepareNativeBinding } from './db/native-binding.js';
import { catchStopSignals } from './process/signals.js';
import { VERSION } from './version.js';

const HELP = `backend-api ${VERSION}

Usage: backend-api [--env-file PATH]... [command]

Commands:
  serve                          run the HTTP server (default): a primary and WORKERS workers
  migrate                        bring the database schema up to date, then exit
  create-admin <username> <email>
                                 create an administrator; the password is read from stdin,
                                 or asked for twice on a terminal (never from the command line)
  backup <file>                  copy the live database to a new file (mode 0600), then check
                                 the copy with integrity_check
  check-config                   validate the environment and print the effective settings (no secrets)
  --version                      print the version, and the Node.js version it runs on
  --help                         print this help

Configuration comes from the environment and, if present, ./.env (see .env.example).
--env-file PATH (any command, repeatable) reads PATH instead of ./.env, its values winning over
the environment's as in systemd's EnvironmentFile=, so that
  backend-api check-config --env-file /etc/backend-api/backend-api.env
checks what the service runs with (Node itself stops with status 9 when such a file cannot be
read). Only serve reads JWT_SECRET; check-config writes nothing.
The single executable unpacks its SQLite addon into $CACHE_DIRECTORY (systemd's
CacheDirectory=), else $XDG_CACHE_HOME/backend-api, else ~/.cache/backend-api.

Exit status: 0 done, 1 failed, 2 bad command line, 78 bad configuration.`;

type Command = (config: Config, args: string[]) => Promise<void>;

/**
 * The commands that open the database, so the executable's SQLite addon must be ready first.
 * Each loads its modules only when it runs: until then, main has installed what it must before
 * the heavy modules load (a serving process's signal handlers).
 */
const COMMANDS: Readonly<Record<string, Command>> = {
  serve: async (config) => (await import('./cli/serve.js')).serveCommand(config, catchStopSignals(), process.env),
  migrate: async (config) => (await import('./cli/migrate.js')).migrateCommand(config),
  'create-admin': async (config, args) => (await import('./cli/create-admin.js')).createAdminCommand(config, args),
  backup: async (config, args) => (await import('./cli/backup.js')).backupCommand(config, args),
};

/** What each command does with the JWT secret: only serve signs tokens (and writes the development secret, in serve.ts); check-config shows it. */
const SECRET_USE: Readonly<Record<string, SecretUse>> = { serve: 'read', 'check-config': 'read' };

/** main dispatches the command line; every failure ends with a clear message and a non-zero exit. */
async function main(argv: string[]): Promise<void> {
  // A cluster worker only ever serves. Its argv says less than it seems: inside the executable,
  // cluster.fork passes the binary's own path again where node would expect a script.
  const { files, rest } = cluster.isWorker ? { files: [], rest: ['serve'] } : takeEnvFiles(argv);
  const [name = 'serve', ...args] = rest;
  // Node 24 names its main thread "MainThread", and that is the command ps, top, pgrep and
  // systemd-cgls show for every process; the title (prctl on Linux) gives the server its name back.
  if (name === 'serve') process.title = 'backend-api';
  if (name === '--help' || name === '-h' || name === 'help') return void process.stdout.write(`${HELP}\n`);
  if (name === '--version' || name === '-v') return void process.stdout.write(`backend-api ${VERSION}, Node.js ${process.version}\n`);
  const command = COMMANDS[name];
  if (name !== 'check-config' && command === undefined) throw new CommandError(`unknown command "${name}"\n\n${HELP}`, EXIT_USAGE);
  // A stop at any moment of a server's start is one stop, from here on.
  if (name === 'serve') catchStopSignals();

  const settings = readSettings(files, process.env);
  // The primary's workers inherit the files' settings through the environment.
  if (files.length > 0 && name === 'serve') Object.assign(process.env, settings);
  const config = readConfig(settings, SECRET_USE[name] ?? 'ignore');
  if (command === undefined) return checkConfigCommand(config);
  try {
    prepareNativeBinding(process.env);
  } catch (error) {
    throw new CommandError(`cannot load the SQLite addon: ${(error as Error).message}`);
  }
  return command(config, args);
}

/** readConfig validates the settings; a problem is a bad configuration (exit 78). */
function readConfig(settings: Record<string, string | undefined>, secretUse: SecretUse): Config {
  try {
    return loadConfig(settings, VERSION, secretUse);
  } catch (error) {
    if (error instanceof ConfigError) throw new CommandError(error.message, EXIT_CONFIG);
    throw error;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof CommandError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(error.exitCode);
  }
  // node:util parseArgs: an unknown option or a missing value.
  if (String((error as NodeJS.ErrnoException)?.code).startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`${(error as Error).message}\nbackend-api --help lists the commands\n`);
    process.exit(EXIT_USAGE);
  }
  process.stderr.write(`backend-api: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
