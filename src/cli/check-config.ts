import type { Config } from '../config.js';

/** checkConfigCommand prints the effective settings, every secret replaced by "[set]". */
export function checkConfigCommand(config: Config): void {
  process.stdout.write(`${JSON.stringify(publicSettings(config), null, 2)}\n`);
}

/** publicSettings is the configuration with nothing in it that would let a reader in. */
export function publicSettings(config: Config) {
  return {
    ...config,
    jwt: { ...config.jwt, secret: '[set]' },
    redisUrl: config.redisUrl ? '[set]' : null,
    metricsToken: config.metricsToken ? '[set]' : null,
  };
}
