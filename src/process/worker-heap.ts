/**
 * WORKER_SEMI_SPACE_MB is the largest semi-space of a worker's young generation. V8's default
 * (16 MB, two of them) is for throughput on machines with memory to spare; a worker's garbage
 * is short-lived request data, so small semi-spaces cost a few more scavenges of little each and
 * keep tens of megabytes off every worker's RSS (see README, Performance).
 */
export const WORKER_SEMI_SPACE_MB = 2;

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
