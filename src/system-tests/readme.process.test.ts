import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { projectRoot } from '../assets.js';
import { startServerProcess, type ServerProcess } from '../test-support/process.js';

let server: ServerProcess | undefined;
after(() => server?.kill('SIGKILL'));

/** The shell block of the README's "Try it with curl" section, pointed at the test server. */
function curlFlow(port: number): string {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Try it with curl'));
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'the README has a curl block');
  return block.replaceAll('http://localhost:3000', `http://127.0.0.1:${port}`);
}

test("the README's curl flow works exactly as written: register, log in, create, list, delete", async () => {
  server = await startServerProcess({ env: { WORKERS: '2', NODE_ENV: 'development' } });
  const run = spawnSync('bash', ['-euo', 'pipefail', '-c', curlFlow(server.port)], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.split('\n');
  const registered = JSON.parse(lines[0]!) as { username: string; role: string };
  assert.deepEqual([registered.username, registered.role], ['john', 'admin']);
  const created = JSON.parse(lines[1]!) as { id: number; title: string };
  assert.deepEqual([created.id, created.title], [1, 'My Task']);
  const listed = JSON.parse(lines[2]!) as { data: Array<{ title: string }> };
  assert.deepEqual(
    listed.data.map((t) => t.title),
    ['My Task'],
  );
  assert.match(run.stdout, /HTTP\/1\.1 204 No Content/);
});
