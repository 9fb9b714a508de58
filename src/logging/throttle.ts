import type { Logger } from './logger.js';

/** throttledWarn logs a warning at most once per interval per key, counting what it held back. */
export function throttledWarn(logger: Logger, intervalMs = 10_000) {
  const last = new Map<string, { at: number; suppressed: number }>();
  return function warn(key: string, message: string, meta: Record<string, unknown> = {}): void {
    const now = Date.now();
    const seen = last.get(key);
    if (seen && now - seen.at < intervalMs) {
      seen.suppressed++;
      return;
    }
    logger.warn(message, { ...meta, ...(seen?.suppressed ? { suppressed: seen.suppressed } : {}) });
    last.set(key, { at: now, suppressed: 0 });
  };
}
