import cluster from 'node:cluster';
import type { Config } from '../config.js';
import { createLogger } from '../logging/logger.js';
import { keepDevelopmentSecret } from './dev-secret.js';
import { runPrimary } from '../process/primary.js';
import { PRIMARY_CODE_ENV } from '../process/protocol.js';
import type { StopSignals } from '../process/signals.js';
import { workerNodeOptions } from '../process/worker-heap.js';
import { runWorker } from '../process/worker.js';

/**
 * serveCommand decides, once, what this process is — a PM2 instance, a worker of our cluster
 * primary, or the primary — and runs it with the stop signals main caught from its first line.
 */
export async function serveCommand(loaded: Config, signals: StopSignals, env: NodeJS.ProcessEnv): Promise<void> {
  const config = keepDevelopmentSecret(loaded);
  if (config.pm2Instance !== null) return runWorker(config, { kind: 'pm2' }, signals);
  if (cluster.isWorker) return runWorker(config, { kind: 'cluster', primaryCode: env[PRIMARY_CODE_ENV] ?? null }, signals);
  const fileSink = createLogger(config, { console: false, files: true });
  const logger = createLogger(config, { console: true, files: false, forward: (record) => fileSink.log(record) });
  if (config.jwt.secretSource === 'file') logger.warn('JWT_SECRET is not set; using a generated development secret kept beside the database');
  return runPrimary(config, logger, fileSink, signals, { NODE_OPTIONS: workerNodeOptions(env.NODE_OPTIONS) });
}
