import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { mountSmallDisk, tmpfsMissing, type SmallDisk } from '../test-support/tmpfs.js';
import { fileTroubleReporter } from './file-trouble.js';
import { openRotatingFile, type FileTrouble } from './rotating-file.js';

const lines = (count: number, width: number, tag: string) =>
  Array.from({ length: count }, (_, i) => JSON.stringify({ tag, i, pad: 'x'.repeat(width) })).join('\n') + '\n';

const today = () => {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
};

describe('rotating log file', () => {
  test('rotates at the size limit within a day, goes on in the newest file after a reopen, and deletes files past their days', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backend-api-rotate-'));
    writeFileSync(join(dir, 'app-2001-01-01.log'), 'old\n');
    writeFileSync(join(dir, 'app-2001-01-01.log.3'), 'old\n');
    writeFileSync(join(dir, 'app-instance0-2001-01-01.log'), 'not ours\n');
    const options = { dir, prefix: 'app', maxBytes: 10_000, keepDays: 14, onTrouble: () => {} };
    const file = openRotatingFile(options);
    for (let i = 0; i < 7; i++) assert.equal(file.write(lines(10, 400, `batch${i}`), 10), true);
    file.close();
    const again = openRotatingFile(options);
    again.write(lines(1, 10, 'after-reopen'), 1);
    again.close();
    const names = readdirSync(dir).sort();
    const day = today();
    assert.deepEqual(names, [`app-${day}.log`, `app-${day}.log.1`, `app-${day}.log.2`, 'app-instance0-2001-01-01.log']);
    assert.match(readFileSync(join(dir, `app-${day}.log.2`), 'utf8'), /after-reopen/, 'appended to the newest file, which had room');
    const all = names.filter((n) => n.includes(day)).flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean));
    assert.equal(all.length, 71);
  });

  describe('on a full disk', { skip: tmpfsMissing() ?? false }, () => {
    const disks: SmallDisk[] = [];
    after(() => disks.forEach((disk) => disk.unmount()));

    test('a batch that does not fit is cut back to the last whole line and counted; the next one that fits goes in', () => {
      const disk = mountSmallDisk(join(mkdtempSync(join(tmpdir(), 'backend-api-logfile-')), 'logs'), 1024 * 1024);
      disks.push(disk);
      const troubles: FileTrouble[] = [];
      const file = openRotatingFile({ dir: disk.dir, prefix: 'app', maxBytes: null, keepDays: 14, onTrouble: (t) => troubles.push(t) });
      assert.equal(file.write(lines(600, 1000, 'fits'), 600), true);
      // Needs about 600 kB where some 400 kB are left: write(2) writes part of it, then ENOSPC.
      assert.equal(file.write(lines(600, 1000, 'too-big'), 600), false);
      assert.equal(file.write(lines(1, 10, 'still-full'), 1), true, 'a small batch still fits in what is left');
      disk.fill();
      // More than what is left of the file's last page (tmpfs counts whole pages).
      assert.equal(file.write(lines(5, 2000, 'full'), 5), false);
      assert.equal(file.dropped, 605);
      disk.free();
      assert.equal(file.write(lines(5, 100, 'freed'), 5), true);
      file.close();

      const written = readFileSync(join(disk.dir, `app-${today()}.log`), 'utf8').split('\n').filter(Boolean);
      const records = written.map((line) => JSON.parse(line) as { tag?: string; dropped?: number });
      assert.deepEqual(
        records.map((r) => r.tag ?? `gap of ${r.dropped}`).filter((tag, i, all) => tag !== all[i - 1]),
        ['fits', 'gap of 600', 'still-full', 'gap of 5', 'freed'],
        'no line of a dropped batch, none torn, and a note where each gap is',
      );
      assert.equal(written.length, 608);
      assert.deepEqual(
        troubles.map((t) => [t.state, t.state === 'failing' ? t.error.code : t.dropped]),
        [
          ['failing', 'ENOSPC'],
          ['recovered', 600],
          ['failing', 'ENOSPC'],
          ['recovered', 5],
        ],
      );
    });
  });

  test('the reporter says it once however the disk flaps, and "writable again" only after a write that works well after the last failure', () => {
    let now = 0;
    let space = 0;
    const said: Array<Record<string, any>> = [];
    const reporter = fileTroubleReporter('/logs', (line) => said.push(JSON.parse(line) as Record<string, any>), 2000, { now: () => now, spaceLeft: () => space });
    const failing = (prefix: string): FileTrouble => ({ state: 'failing', prefix, path: `/logs/${prefix}`, error: Object.assign(new Error('no space'), { code: 'ENOSPC' }) });
    const recovered = (prefix: string, dropped: number): FileTrouble => ({ state: 'recovered', prefix, path: `/logs/${prefix}`, dropped });
    for (let i = 0; i < 20; i++) {
      reporter.trouble(failing('app'));
      now += 100;
      reporter.trouble(recovered('app', 3));
      reporter.wrote();
    }
    reporter.trouble(failing('error'));
    now += 5000;
    reporter.wrote();
    assert.equal(said.length, 1, 'one warning while the error file still fails');
    reporter.trouble(recovered('error', 1));
    reporter.wrote();
    assert.equal(said.length, 1, 'a write into the end of a page of a disk still full proves nothing');
    space = 50 * 1024 * 1024;
    reporter.wrote();
    assert.deepEqual(
      said.map((s) => [s.level, s.message, s.error ?? s.dropped]),
      [
        ['warn', 'log files cannot be written; dropping log lines until they can (counted in log_lines_dropped_total)', 'ENOSPC'],
        ['info', 'log files writable again', 61],
      ],
    );
  });
});
