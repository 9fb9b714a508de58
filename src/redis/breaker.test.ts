import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { CircuitOpenError, createBreaker } from './breaker.js';

/** A dependency the test switches between answering, hanging and answering with an error. */
function dependency() {
  let mode: 'up' | 'hung' | 'reply-error' = 'up';
  let probes = 0;
  const call = (): Promise<string> => {
    if (mode === 'up') return Promise.resolve('PONG');
    if (mode === 'reply-error') return Promise.reject(Object.assign(new Error('WRONGTYPE'), { reply: true }));
    return new Promise((_, reject) => setTimeout(() => reject(new Error('Command timed out')), 50));
  };
  return {
    set: (next: typeof mode) => (mode = next),
    call,
    probe: () => (probes++, call()),
    probes: () => probes,
  };
}

describe('circuit breaker', () => {
  test('opens after the given consecutive failures and fails the calls still waiting at once', async () => {
    const redis = dependency();
    const changes: boolean[] = [];
    const breaker = createBreaker({ failuresToOpen: 3, probeEveryMs: 10_000, probe: redis.probe, onChange: (open) => changes.push(open) });
    try {
      assert.equal(await breaker.track(redis.call()), 'PONG');
      redis.set('hung');
      const first = Array.from({ length: 3 }, () => breaker.track(redis.call()));
      const waiting = breaker.track(new Promise(() => {}));
      const started = Date.now();
      for (const call of first) await assert.rejects(call, /timed out/);
      await assert.rejects(waiting, CircuitOpenError);
      assert.ok(Date.now() - started < 1000, 'the call that would never end was released');
      assert.equal(breaker.isOpen, true);
      assert.deepEqual(changes, [true]);
    } finally {
      breaker.stop();
    }
  });

  test('a success in between resets the count; a reply error is an answer, not a failure', async () => {
    const redis = dependency();
    const breaker = createBreaker({ failuresToOpen: 2, probeEveryMs: 10_000, probe: redis.probe, answered: (e) => (e as { reply?: boolean }).reply === true });
    try {
      redis.set('hung');
      await assert.rejects(breaker.track(redis.call()));
      redis.set('up');
      await breaker.track(redis.call());
      redis.set('hung');
      await assert.rejects(breaker.track(redis.call()));
      redis.set('reply-error');
      await assert.rejects(breaker.track(redis.call()), /WRONGTYPE/);
      assert.equal(breaker.isOpen, false);
    } finally {
      breaker.stop();
    }
  });

  test('with no traffic, probes find a hang in a few timeouts, and close it again on the first answer', async () => {
    const redis = dependency();
    const changes: Array<{ open: boolean; at: number }> = [];
    const breaker = createBreaker({ failuresToOpen: 3, probeEveryMs: 30, probe: redis.probe, onChange: (open) => changes.push({ open, at: Date.now() }) });
    try {
      await sleep(100);
      assert.equal(breaker.isOpen, false);
      const hungAt = Date.now();
      redis.set('hung');
      while (!breaker.isOpen && Date.now() - hungAt < 2000) await sleep(5);
      assert.equal(breaker.isOpen, true);
      // One probe turn to notice, then three 50 ms timeouts back to back: about 180 ms.
      console.log(`breaker: a hang with no traffic found in ${changes[0]!.at - hungAt} ms`);
      const probesWhileOpen = redis.probes();
      await sleep(200);
      assert.ok(redis.probes() - probesWhileOpen <= 200 / 30 + 1, 'open, it probes at its pace, not in a loop');
      redis.set('up');
      while (breaker.isOpen) await sleep(5);
      assert.deepEqual(
        changes.map((c) => c.open),
        [true, false],
      );
    } finally {
      breaker.stop();
    }
  });
});
