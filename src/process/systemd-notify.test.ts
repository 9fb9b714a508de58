import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createSystemdNotifier } from './systemd-notify.js';

/** fakeNotify is a systemd-notify that records each call (its socket and arguments), slowly, so calls that overlapped would interleave. */
function fakeNotify(exitCode = 0): { command: string; calls: () => string[][] } {
  const dir = mkdtempSync(join(tmpdir(), 'backend-api-notify-'));
  const log = join(dir, 'calls');
  const command = join(dir, 'systemd-notify');
  writeFileSync(command, `#!/bin/sh\nsleep 0.05\nprintf '%s' "$NOTIFY_SOCKET" >>"${log}"\nfor a in "$@"; do printf '\\t%s' "$a" >>"${log}"; done\necho >>"${log}"\nexit ${exitCode}\n`);
  chmodSync(command, 0o755);
  const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').map((line) => line.split('\t')) : []);
  return { command, calls };
}

const quiet = { warn: () => undefined } as never;

describe('createSystemdNotifier', () => {
  test('sends nothing outside a Type=notify unit', async () => {
    const fake = fakeNotify();
    const notifier = createSystemdNotifier({ socket: null, logger: quiet, command: fake.command });
    notifier.ready('serving');
    notifier.stopping('stopping', 10_000);
    await notifier.sent();
    assert.deepEqual(fake.calls(), []);
  });

  test('sends each message to the socket systemd gave, one at a time and in order', async () => {
    const fake = fakeNotify();
    const notifier = createSystemdNotifier({ socket: '/run/systemd/notify', logger: quiet, command: fake.command });
    notifier.ready('serving on 127.0.0.1:3000 with 2 workers');
    notifier.reloading('rolling restart of 2 workers');
    notifier.ready('serving again');
    notifier.status('two\nlines');
    notifier.stopping('stopping (SIGTERM): draining 2 workers', 30_000);
    await notifier.sent();
    const calls = fake.calls();
    assert.deepEqual(
      calls.map(([socket, ...fields]) => [socket, ...fields.filter((f) => !f.startsWith('MONOTONIC_USEC='))]),
      [
        ['/run/systemd/notify', 'READY=1', 'STATUS=serving on 127.0.0.1:3000 with 2 workers'],
        ['/run/systemd/notify', 'RELOADING=1', 'STATUS=rolling restart of 2 workers'],
        ['/run/systemd/notify', 'READY=1', 'STATUS=serving again'],
        ['/run/systemd/notify', 'STATUS=two lines'],
        // The stop timeout systemd enforces becomes SHUTDOWN_TIMEOUT plus the primary's own margin.
        ['/run/systemd/notify', 'STOPPING=1', 'STATUS=stopping (SIGTERM): draining 2 workers', 'EXTEND_TIMEOUT_USEC=35000000'],
      ],
    );
    const monotonic = calls[1]!.find((f) => f.startsWith('MONOTONIC_USEC='));
    assert.match(monotonic ?? '', /^MONOTONIC_USEC=\d+$/);
  });

  test('a failed send is logged and the next message still goes', async () => {
    const warnings: string[] = [];
    const fake = fakeNotify(1);
    const notifier = createSystemdNotifier({ socket: '/run/systemd/notify', logger: { warn: (message: string) => warnings.push(message) } as never, command: fake.command });
    notifier.ready('a');
    notifier.status('b');
    await notifier.sent();
    assert.equal(fake.calls().length, 2);
    assert.deepEqual(warnings, ['systemd notification failed', 'systemd notification failed']);
    const missing = createSystemdNotifier({ socket: '/run/systemd/notify', logger: { warn: (message: string) => warnings.push(message) } as never, command: '/nonexistent/systemd-notify' });
    missing.ready('c');
    await missing.sent();
    assert.equal(warnings.length, 3);
  });
});
