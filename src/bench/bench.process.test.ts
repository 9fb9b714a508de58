import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../assets.js';

test('npm run bench -- --quick runs every scenario against every reference and writes its report', () => {
  const run = spawnSync(process.execPath, [join(projectRoot, 'scripts/bench.mjs'), '--quick'], { cwd: projectRoot, encoding: 'utf8', timeout: 300_000 });
  assert.equal(run.status, 0, `${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
  const report = JSON.parse(readFileSync(join(projectRoot, 'bench-results/latest.json'), 'utf8')) as {
    results: Record<string, Record<string, { rps: number; errors: number; p99: number }>>;
    goals: Array<{ name: string; value: number | null }>;
  };
  assert.deepEqual(Object.keys(report.results).sort(), ['create', 'get-one', 'hot-list', 'list-sqlite', 'login', 'mix-90-10', 'reads-during-logins', 'workers']);
  for (const scenario of ['hot-list', 'list-sqlite', 'get-one', 'create']) {
    assert.deepEqual(Object.keys(report.results[scenario]!).sort(), ['express', 'fastify', 'ours', 'raw'], scenario);
  }
  for (const [scenario, targets] of Object.entries(report.results)) {
    for (const [target, result] of Object.entries(targets)) {
      assert.ok(result.rps > 0, `${scenario}/${target} served requests`);
      assert.equal(result.errors, 0, `${scenario}/${target} had errors`);
    }
  }
  assert.equal(report.goals.length, 7);
  assert.ok(report.goals.every((g) => g.value !== null), 'every target was measured');
  assert.match(readFileSync(join(projectRoot, 'bench-results/latest.md'), 'utf8'), /\| hot-list \| ours \|/);
});
