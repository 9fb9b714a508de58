import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { sharedAppend } from './shared-append.js';

describe('request lines appended straight to the owner\'s file', () => {
  test('handed over until a path is named, then written in whole lines; a switch leaves each line in the file that was current', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backend-api-append-'));
    try {
      const handed: string[] = [];
      let asked = 0;
      const lines = sharedAppend({ handOver: (line) => handed.push(line), askForPath: () => asked++ });
      lines.write('{"n":1}');
      assert.deepEqual(handed, ['{"n":1}']);
      const first = join(dir, 'app-1.log');
      const second = join(dir, 'app-2.log');
      lines.use(first);
      lines.write('{"n":2}');
      lines.write('{"n":3}');
      lines.use(second);
      lines.write('{"n":4}');
      lines.flush();
      assert.equal(readFileSync(first, 'utf8'), '{"n":2}\n{"n":3}\n');
      assert.equal(readFileSync(second, 'utf8'), '{"n":4}\n');
      assert.deepEqual(handed, ['{"n":1}']);
      lines.use(join(dir, 'missing', 'app.log'));
      lines.write('{"n":5}');
      assert.deepEqual(handed, ['{"n":1}', '{"n":5}'], 'a file that cannot be opened: lines go to the owner');
      assert.equal(asked, 0, 'asked again only later');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
