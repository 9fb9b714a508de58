import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../assets.js';

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  cpu: number | null;
  rssMb: number | null;
  heapMb: number | null;
}

interface BenchRun {
  runtime: string;
  results: Record<string, Record<string, Measured>>;
  ratios: Record<string, Record<string, number | null>>;
  goals: Array<{ name: string; value: number | null; pass: boolean | null }>;
}

interface BenchReport {
  runs: BenchRun[];
  warnings: string[];
}

const SCENARIOS = ['create', 'get-one', 'hot-list', 'list-sqlite', 'login', 'mix-90-10', 'rate-limit', 'reads-during-logins'];
const EVERY_TARGET = ['express', 'fastify', 'ours', 'ours-default', 'raw'];

// A smoke run: it proves the harness works end to end, never how fast anything is. The lower
// bcrypt cost only lets enough logins finish in its one-second measurements; --source measures the
// code under test, whatever state dist/ is in (stale, or being rebuilt by another test).
test('npm run bench -- --quick runs every scenario against every target and writes its report', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'backend-api-bench-test-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const run = spawnSync(process.execPath, [join(projectRoot, 'scripts/bench.mjs'), '--quick', '--source', '--bcrypt-rounds', '10', '--out', out], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 180_000,
  });
  assert.equal(run.status, 0, `${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`);
  assert.match(run.stdout, /our server runs from the source/);

  const { runs, warnings } = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;
  assert.deepEqual(runs.map((r) => r.runtime), [`Node ${process.version}`], '--source runs every server on the bench\'s own Node');
  const report = runs[0]!;
  assert.deepEqual(Object.keys(report.results).sort(), SCENARIOS);
  const multiCore = 'ours-default' in report.results['hot-list']!;
  const targets = EVERY_TARGET.filter((target) => multiCore || target !== 'ours-default');
  for (const scenario of ['hot-list', 'list-sqlite', 'get-one', 'create', 'mix-90-10']) {
    assert.deepEqual(Object.keys(report.results[scenario]!).sort(), targets, scenario);
  }
  const contention = multiCore ? ['alone', 'alone-all-cores', 'with-logins', 'with-logins-all-cores'] : ['alone', 'with-logins'];
  assert.deepEqual(Object.keys(report.results['reads-during-logins']!).sort(), contention);
  assert.deepEqual(Object.keys(report.results['rate-limit']!).sort(), ['limited', 'limited-redis', 'ours', 'redis']);
  for (const [scenario, byTarget] of Object.entries(report.results)) {
    for (const [target, result] of Object.entries(byTarget)) {
      for (const key of ['rps', 'p50', 'p99', 'cpu', 'rssMb'] as const) {
        assert.ok((result[key] ?? 0) > 0, `${scenario}/${target}: ${key} is ${result[key]}`);
      }
      assert.equal(result.errors, 0, `${scenario}/${target} had errors`);
      if (!['express', 'fastify', 'raw'].includes(target)) assert.ok((result.heapMb ?? 0) > 0, `${scenario}/${target}: the heap is measured`);
    }
  }
  for (const reference of ['express', 'fastify', 'raw']) assert.ok(report.ratios['hot-list']![`ours/${reference}`]! > 0, reference);
  assert.equal(report.goals.length, 10);
  for (const goal of report.goals.filter((g) => multiCore || !/workers ≥/.test(g.name))) {
    assert.ok(goal.value !== null && goal.pass !== null, `measured: ${goal.name}`);
  }
  assert.deepEqual(warnings, [], 'every target answered the reads with the same bytes');
  assert.match(readFileSync(join(out, 'latest.md'), 'utf8'), /\| hot-list \| ours \|.*\n[\s\S]*\| create ≥ 1\.0× bare Express \|/);
});
