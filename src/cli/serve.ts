import cluster from 'node:cluster';
import type { Config } from '../config.js';
import { createLogger } from '../logging/logger.js';
import { runPrimary } from '../primary.js';
import { runWorker } from '../worker.js';

/** serveCommand runs this process as what it was started as: a PM2 instance, a cluster worker, or the primary. */
export async function serveCommand(config: Config): Promise<void> {
  if (config.pm2Instance !== null) return runWorker(config, 'pm2');
  if (cluster.isWorker) return runWorker(config, 'cluster');
  const fileSink = createLogger(config, { console: false, files: true });
  const logger = createLogger(config, { console: true, files: false, forward: (record) => fileSink.log(record) });
  if (config.jwt.secretSource === 'file') logger.warn('JWT_SECRET is not set; using a generated development secret kept beside the database');
  return runPrimary(config, logger, fileSink);
}
