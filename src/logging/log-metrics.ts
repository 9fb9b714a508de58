import { Counter, type Registry } from 'prom-client';
import { fileTransports, type Logger } from './logger.js';

/**
 * registerLogMetrics adds log_lines_dropped_total to the registry of the process that writes the
 * log files: the lines a full (or failing) log disk made it drop, by file (app, error).
 */
export function registerLogMetrics(registry: Registry, logger: Logger): void {
  const files = fileTransports(logger);
  const reported = new Map<string, number>();
  new Counter({
    name: 'log_lines_dropped_total',
    help: 'Log lines dropped because the log files could not be written (a full disk, say), by file.',
    labelNames: ['file'],
    registers: [registry],
    collect() {
      for (const file of files) {
        const delta = file.dropped - (reported.get(file.kind) ?? 0);
        this.inc({ file: file.kind }, delta);
        reported.set(file.kind, file.dropped);
      }
    },
  });
}
