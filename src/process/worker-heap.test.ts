import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WORKER_SEMI_SPACE_MB, workerNodeOptions } from './worker-heap.js';

test("workers get a small young generation, added to the operator's NODE_OPTIONS unless it sets one", () => {
  assert.equal(workerNodeOptions(undefined), `--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`);
  assert.equal(workerNodeOptions(' --enable-source-maps '), `--enable-source-maps --max-semi-space-size=${WORKER_SEMI_SPACE_MB}`);
  assert.equal(workerNodeOptions('--max-semi-space-size=16'), '--max-semi-space-size=16');
});
