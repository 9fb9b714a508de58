import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { runLoad } from '../test-support/load.js';
import type { ServerProcess } from '../test-support/process.js';
import { serverOnSmallDisk, tmpfsMissing, type ServerOnSmallDisk } from '../test-support/tmpfs.js';

const METRICS_TOKEN = 'metrics-token-0123456789';

/** appLines reads every line of the app log files. */
function appLines(dir: string): string[] {
  return readdirSync(dir)
    .filter((file) => file.startsWith('app-'))
    .flatMap((file) => readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean));
}

async function droppedLines(server: ServerProcess): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  const line = text.split('\n').find((l) => l.startsWith('log_lines_dropped_total{file="app"}'));
  return Number(line?.split(' ').at(-1) ?? 0);
}

describe('a full log disk', { skip: tmpfsMissing() ?? false }, () => {
  let running: ServerOnSmallDisk | undefined;
  after(() => running?.stop());

  test('never takes the API down: lines are dropped and counted, one warning, and logging resumes when space frees', async () => {
    running = await serverOnSmallDisk('logs', 2 * 1024 * 1024, { METRICS_TOKEN, RATE_LIMIT_MAX: '0' });
    const { server, disk } = running;
    let sent = 0;
    const load = async (total: number) => {
      const result = await runLoad({ baseUrl: server.url, concurrency: 8, total, next: () => ({ method: 'GET', path: '/health' }) });
      sent += result.sent;
      return result;
    };

    const before = await load(200);
    assert.deepEqual(before.statuses, { 200: 200 });
    const filled = disk.fill();

    // Full: every request still answered, lines dropped and counted.
    const during = await load(3000);
    assert.deepEqual(during.statuses, { 200: 3000 });
    assert.equal(during.failures.length, 0);
    const dropped = await droppedLines(server);
    sent++;
    const warnings = server.records().filter((r) => r.message?.startsWith('log files cannot be written'));
    assert.equal(warnings.length, 1, 'one warning on stderr, not one per line');
    assert.equal(warnings[0]!.error, 'ENOSPC');
    assert.ok(dropped > 2000, `dropped ${dropped}`);

    // Space again: the next lines reach the file, without a restart.
    disk.free();
    const resumed = await load(300);
    assert.deepEqual(resumed.statuses, { 200: 300 });
    // "Writable again" is said by a write that works 2 s after the last failure.
    await sleep(2500);
    await load(20);
    const notice = await server.waitFor((r) => r.message === 'log files writable again', 5000);

    server.kill('SIGTERM');
    assert.equal((await server.exited).code, 0);
    const lines = appLines(disk.dir);
    const requests = lines.map((line) => JSON.parse(line) as Record<string, any>).filter((r) => r.message === 'request');
    const gapNotes = lines.map((line) => JSON.parse(line) as Record<string, any>).filter((r) => r.message?.startsWith('log lines dropped'));
    const ids = new Set(requests.map((r) => r.requestId));
    console.log(
      `log disk full (${filled} bytes filler): ${sent} requests, all answered; ${requests.length} request lines written, ` +
        `${notice.dropped} lines dropped (metric ${dropped} while full), one warning`,
    );
    assert.equal(ids.size, requests.length, 'no line written twice');
    assert.ok(gapNotes.length > 0, 'the file says where lines are missing');
    // The notes are not lines of their own that could be dropped: each goes in with the batch after its gap.
    assert.equal(gapNotes.reduce((sum, note) => sum + note.dropped, 0), notice.dropped);
    assert.equal(server.records().filter((r) => r.message?.startsWith('log files cannot be written')).length, 1, 'still one warning');
    assert.equal(server.records().filter((r) => r.message === 'log files writable again').length, 1, 'one notice');
    // Every request line is either in the file or counted as dropped: none lost silently, none torn.
    assert.equal(requests.length + notice.dropped, sent);
    assert.ok(requests.length >= 200 + 300 + 20, 'logging resumed');
  });
});
