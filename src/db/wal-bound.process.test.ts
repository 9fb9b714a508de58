import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ApiClient } from '../test-support/client.js';
import { runLoad } from '../test-support/load.js';
import { startServerProcess, type ServerProcess } from '../test-support/process.js';
import { WAL_TRUNCATE_BYTES } from './checkpoint.js';

/** The bound README promises: the truncation threshold, plus what full-speed writes add before the next look. */
const WAL_BOUND_BYTES = 2 * WAL_TRUNCATE_BYTES;
const MB = 1024 * 1024;

describe('the WAL under sustained writes', () => {
  let server: ServerProcess | undefined;
  after(async () => {
    server?.kill('SIGKILL');
    await server?.exited;
  });

  test('writes at full speed from two workers keep the WAL below its documented bound, with no failed write', async () => {
    // Request lines go to files (through the primary), so stdout stays small.
    server = await startServerProcess({ env: { RATE_LIMIT_MAX: '0', LOG_DIR: 'logs' } });
    const { token } = await new ApiClient(server.url).signUp('admin');
    const wal = join(server.dir, 'data', 'app.db-wal');
    let largest = 0;
    let previous = 0;
    let truncations = 0;
    const sampler = setInterval(() => {
      let size = 0;
      try {
        size = statSync(wal).size;
      } catch {
        // not there yet
      }
      if (size < previous) truncations++;
      previous = size;
      largest = Math.max(largest, size);
    }, 5);
    // Until the WAL has filled up and been truncated several times (seconds on an idle machine, more on a busy one).
    const result = await runLoad({
      baseUrl: server.url,
      concurrency: 32,
      durationMs: 90_000,
      stop: () => truncations >= 4,
      next: (i) => ({ method: 'POST', path: '/api/v1/tasks', token, json: { title: `wal ${i}`, description: 'x'.repeat(4000) } }),
    });
    clearInterval(sampler);
    const created = result.statuses[201] ?? 0;
    console.log(
      `WAL under ${Math.round(created / (result.durationMs / 1000))} writes/s for ${result.durationMs} ms (${created} tasks of 4 kB): ` +
        `max ${(largest / MB).toFixed(1)} MB, bound ${WAL_BOUND_BYTES / MB} MB, truncated ${truncations} times; ${JSON.stringify(result.statuses)}`,
    );
    assert.deepEqual(Object.keys(result.statuses), ['201'], 'every write succeeded, none refused as busy');
    assert.equal(result.failures.length, 0);
    assert.ok(truncations >= 4, 'the WAL filled up and was truncated, again and again, while the writes went on');
    assert.ok(largest < WAL_BOUND_BYTES, `the WAL reached ${largest} bytes`);
  });
});
