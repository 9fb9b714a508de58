import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createLogger, requestLine } from './logger.js';

describe('the request line', () => {
  const record = {
    requestId: 'r-1',
    status: 200,
    token: 'eyJhbGciOi.secret',
    user: { id: 7, passwordHash: '$2b$12$abc', sessions: [{ cookie: 'sid=1' }] },
    authorization: 'Bearer x',
  };

  test('goes through the same redaction as every other record', () => {
    const line = JSON.parse(requestLine(record));
    assert.equal(line.token, '[redacted]');
    assert.equal(line.authorization, '[redacted]');
    assert.equal(line.user.passwordHash, '[redacted]');
    assert.equal(line.user.sessions[0].cookie, '[redacted]');
    assert.equal(line.user.id, 7);
    assert.doesNotMatch(requestLine(record), /secret|\$2b\$|sid=1|Bearer/);
  });

  test('says what the file logger would say of the same record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backend-api-logger-'));
    try {
      const logger = createLogger({ log: { level: 'info', dir, maxSize: null } }, { console: false, files: true });
      logger.info('request', record);
      await new Promise<void>((resolve) => logger.on('finish', resolve).end());
      const file = readdirSync(dir).find((name) => name.startsWith('app-')) as string;
      const written = JSON.parse(readFileSync(join(dir, file), 'utf8').trim());
      const fast = JSON.parse(requestLine(record));
      assert.deepEqual({ ...fast, timestamp: null }, { ...written, timestamp: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
