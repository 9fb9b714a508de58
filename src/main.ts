import cluster from 'node:cluster';
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logging/logger.js';
import { runPrimary } from './primary.js';
import { runWorker } from './worker.js';
import { VERSION } from './version.js';

const HELP = `backend-api ${VERSION}

Usage: backend-api [command]

Commands:
  serve          run the HTTP server (default): a primary and WORKERS workers
  check-config   validate the environment and print the effective settings (no secrets)
  --version      print the version
  --help         print this help

Configuration comes from the environment and, if present, ./.env (see .env.example).`;

/** main dispatches the command line; every failure ends with a clear message and a non-zero exit. */
async function main(argv: string[]): Promise<void> {
  const command = argv[0] ?? 'serve';
  if (command === '--help' || command === '-h' || command === 'help') return void process.stdout.write(`${HELP}\n`);
  if (command === '--version' || command === '-v') return void process.stdout.write(`${VERSION}\n`);

  const config = readConfig();
  switch (command) {
    case 'serve':
      return serveCommand(config);
    case 'check-config':
      process.stdout.write(`${JSON.stringify(publicSettings(config), null, 2)}\n`);
      return;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${HELP}\n`);
      process.exit(2);
  }
}

async function serveCommand(config: Config): Promise<void> {
  if (config.pm2Instance !== null) return runWorker(config, 'pm2');
  if (cluster.isWorker) return runWorker(config, 'cluster');
  const fileSink = createLogger(config, { console: false, files: true });
  const logger = createLogger(config, { console: true, files: false, forward: (record) => fileSink.log(record) });
  if (config.jwt.secretSource === 'file') logger.warn('JWT_SECRET is not set; using a generated development secret kept beside the database');
  return runPrimary(config, logger, fileSink);
}

/** readConfig loads ./.env under the real environment (which wins) and validates it all. */
function readConfig(): Config {
  const fromFile = existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {};
  try {
    return loadConfig({ ...fromFile, ...process.env }, VERSION);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG: systemd's Restart=on-failure should not spin on a bad config.
    }
    throw error;
  }
}

function publicSettings(config: Config) {
  return { ...config, jwt: { ...config.jwt, secret: '[set]' }, redisUrl: config.redisUrl ? '[set]' : null, metricsToken: config.metricsToken ? '[set]' : null };
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`backend-api: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
