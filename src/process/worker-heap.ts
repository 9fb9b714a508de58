/**
 * WORKER_SEMI_SPACE_MB is the largest semi-space of a worker's young generation. V8's default is
 * 16 MB (two of them). Measured on the hot list on Node 24 (scripts/bench/ab.mjs, README,
 * Performance): 8 MB costs no CPU per request that the bench can see and keeps ~12 MB off a
 * loaded worker's RSS; 2 MB kept 30 MB off but cost a quarter more CPU per request.
 */
export const WORKER_SEMI_SPACE_MB = 8;

/**
 * workerNodeOptions is NODE_OPTIONS for the workers: the operator's, plus the semi-space size
 * unless the operator set one. Through the environment rather than execArgv, which the single
 * executable would take as arguments of its own.
 */
export function workerNodeOptions(operators: string | undefined): string {
  const own = operators?.trim() ?? '';
  if (/--max-semi-space-size\b/.test(own)) return own;
  return `${own} --max-semi-space-size=${WORKER_SEMI_SPACE_MB}`.trim();
}
