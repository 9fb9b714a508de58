// Runs one autocannon measurement in a process of its own (pinned to its own core by the bench)
// and prints the result as one JSON line.
import { createRequire } from 'node:module';

const autocannon = createRequire(import.meta.url)('autocannon');
const options = JSON.parse(process.argv[2]);
const result = await autocannon({ ...options, requests: options.requests });
process.stdout.write(
  `${JSON.stringify({
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    bytes: result.throughput.total,
  })}\n`,
);
