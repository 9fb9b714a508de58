// The load generator: one long-lived process (pinned by the bench to a core of its own) that runs
// autocannon jobs sent over IPC. One process for the whole bench, so that no measurement pays for
// starting Node and loading autocannon, and the bench can read the server's CPU exactly from the
// moment the load starts ("started") to the moment it ends ("done").
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

const autocannon = createRequire(import.meta.url)('autocannon');

if (!process.send) {
  console.error('scripts/bench/load.mjs is started by scripts/bench.mjs (it takes its jobs over IPC)');
  process.exit(2);
}

/** summarize keeps the figures the bench reports, with the load generator's own CPU share. */
function summarize(result, cpuSeconds) {
  const seconds = result.duration || 1;
  return {
    rps: result.requests.total / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    non2xx: result.non2xx,
    // autocannon's errors include its timeouts.
    errors: result.errors,
    statusCodes: result.statusCodeStats,
    bytesPerResponse: result.requests.total ? result.throughput.total / result.requests.total : 0,
    loadCpu: cpuSeconds / seconds,
  };
}

// autocannon checks its duration on each sample tick, 1 s by default: every run would last whole
// seconds. Ticks of 100 ms let a warm-up last 0.25 s; rps is computed from the total, not the ticks.
const SAMPLE_MS = 100;

/** run drives the main load; a background load (the logins of reads-during-logins) runs around it. */
async function run({ main, background, leadMs = 300 }, started) {
  const behind = background ? autocannon({ ...background, duration: 3600, sampleInt: SAMPLE_MS }) : null;
  if (behind) await sleep(leadMs);
  const cpu = process.cpuUsage();
  started();
  const result = await autocannon({ ...main, sampleInt: SAMPLE_MS });
  const used = process.cpuUsage(cpu);
  let backgroundResult = null;
  if (behind) {
    behind.stop();
    backgroundResult = summarize(await behind, 0);
  }
  return { main: summarize(result, (used.user + used.system) / 1e6), background: backgroundResult };
}

process.on('message', async (job) => {
  try {
    const result = await run(job, () => process.send({ id: job.id, type: 'started' }));
    process.send({ id: job.id, type: 'done', result });
  } catch (error) {
    process.send({ id: job.id, type: 'failed', error: String(error?.stack ?? error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'up' });
