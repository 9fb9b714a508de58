import cluster from 'node:cluster';
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { checkConfigCommand } from './cli/check-config.js';
import { CommandError, EXIT_CONFIG, EXIT_USAGE } from './cli/command-error.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { prepareNativeBinding } from './db/native-binding.js';
import { catchStopSignals } from './process/signals.js';
import { VERSION } from './version.js';

const HELP = `backend-api ${VERSION}

Usage: backend-api [command]

Commands:
  serve                          run the HTTP server (default): a primary and WORKERS workers
  migrate                        bring the database schema up to date, then exit
  create-admin <username> <email>
                                 create an administrator; the password is read from stdin,
                                 or asked for twice on a terminal (never from the command line)
  backup <file>                  copy the live database to a new file (mode 0600), then check
                                 the copy with integrity_check
  check-config                   validate the environment and print the effective settings (no secrets)
  --version                      print the version
  --help                         print this help

Configuration comes from the environment and, if present, ./.env (see .env.example).
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

/** main dispatches the command line; every failure ends with a clear message and a non-zero exit. */
async function main(argv: string[]): Promise<void> {
  // A cluster worker only ever serves. Its argv says less than it seems: inside the executable,
  // cluster.fork passes the binary's own path again where node would expect a script.
  const [name = 'serve', ...args] = cluster.isWorker ? ['serve'] : argv;
  if (name === '--help' || name === '-h' || name === 'help') return void process.stdout.write(`${HELP}\n`);
  if (name === '--version' || name === '-v') return void process.stdout.write(`${VERSION}\n`);
  const command = COMMANDS[name];
  if (name !== 'check-config' && command === undefined) throw new CommandError(`unknown command "${name}"\n\n${HELP}`, EXIT_USAGE);
  // A stop at any moment of a server's start is one stop, from here on.
  if (name === 'serve') catchStopSignals();

  const config = readConfig();
  if (command === undefined) return checkConfigCommand(config);
  try {
    prepareNativeBinding(process.env);
  } catch (error) {
    throw new CommandError(`cannot load the SQLite addon: ${(error as Error).message}`);
  }
  return command(config, args);
}

/** readConfig loads ./.env under the real environment (which wins) and validates it all. */
function readConfig(): Config {
  const fromFile = existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {};
  try {
    return loadConfig({ ...fromFile, ...process.env }, VERSION);
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
