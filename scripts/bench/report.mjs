// Turns the bench's medians into ratios against the references and the project's targets.

const ratio = (a, b) => (a && b ? a / b : null);
const fmt = (n, digits = 0) => (n === null || n === undefined || Number.isNaN(n) ? '—' : n.toFixed(digits));

/** report adds ratios and target verdicts to the raw results. */
export function report(results, machine) {
  const scenarios = {};
  for (const [name, targets] of Object.entries(results)) {
    if (name === 'reads-during-logins' || name === 'workers') continue;
    const ours = targets.ours;
    scenarios[name] = {
      targets,
      ratios: Object.fromEntries(Object.keys(targets).filter((t) => t !== 'ours').map((t) => [`ours/${t}`, ratio(ours?.rps, targets[t].rps)])),
    };
  }
  const goals = [];
  const goal = (name, value, pass, detail) => goals.push({ name, value, pass: value === null ? null : pass, detail });
  for (const [scenario, label] of [['hot-list', 'hot cached list ≥ 0.9× bare Express'], ['list-sqlite', 'list from SQLite ≥ 0.9× bare Express'], ['create', 'create ≥ 0.9× bare Express']]) {
    const value = scenarios[scenario]?.ratios['ours/express'] ?? null;
    goal(label, value, value >= 0.9, `${fmt(value, 2)}× (Fastify: ${fmt(scenarios[scenario]?.ratios['ours/fastify'], 2)}×, raw: ${fmt(scenarios[scenario]?.ratios['ours/raw'], 2)}×)`);
  }
  const logins = results['reads-during-logins'];
  if (logins) {
    const value = ratio(logins.withLogins.p99, logins.alone.p99);
    goal('read p99 while logins run ≤ 2× without', value, value <= 2, `${logins.alone.p99} ms → ${logins.withLogins.p99} ms (${fmt(value, 2)}×)`);
  }
  const workers = results.workers;
  if (workers) {
    const value = ratio(workers.all.rps, workers.one.rps);
    goal(`${machine.cores} workers ≥ 1.5× one worker on reads`, value, value >= 1.5, `${fmt(workers.one.rps)} → ${fmt(workers.all.rps)} req/s (${fmt(value, 2)}×)`);
  }
  const all = Object.values(results).flatMap((targets) => Object.entries(targets));
  const errors = all.filter(([t]) => t !== 'raw' && t !== 'express' && t !== 'fastify').reduce((n, [, r]) => n + r.errors, 0);
  goal('zero errors in every scenario', errors, errors === 0, `${errors} non-2xx or socket errors`);
  const rss = Math.max(...all.filter(([t]) => !['raw', 'express', 'fastify'].includes(t)).map(([, r]) => r.rssMb));
  goal('steady-state RSS per worker ≤ 100 MB', rss, rss <= 100, `${fmt(rss)} MB`);
  return { machine, date: new Date().toISOString(), note: 'Rate limiting off (RATE_LIMIT_MAX=0); every other production feature on: helmet, request ids, request log to file, validation, auth.', scenarios, results, goals };
}

/** markdown renders the report as the tables the README quotes. */
export function markdown(summary) {
  const lines = [
    `Measured ${summary.date} on ${summary.machine.cores} cores (${summary.machine.cpu}), Node ${summary.machine.node}; ` +
      `${summary.machine.rounds} interleaved round(s) of ${summary.machine.seconds} s, ${summary.machine.connections} connections, medians; ` +
      `${summary.machine.taskset ? 'server on core 0, load generator on core 1' : 'no CPU pinning'}. ${summary.note}`,
    '',
    '| scenario | target | req/s | p50 ms | p99 ms | errors | server CPU | RSS/worker MB | ours ÷ target |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [name, targets] of Object.entries(summary.results)) {
    for (const [target, r] of Object.entries(targets)) {
      const ratioToTarget = summary.scenarios[name]?.ratios[`ours/${target}`];
      lines.push(`| ${name} | ${target} | ${fmt(r.rps)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.errors} | ${fmt(r.cpu * 100)}% | ${fmt(r.rssMb)} | ${ratioToTarget ? `${fmt(ratioToTarget, 2)}×` : ''} |`);
    }
  }
  lines.push('', '| target | result | |', '|---|---|---|');
  for (const g of summary.goals) lines.push(`| ${g.name} | ${g.detail} | ${g.pass === null ? 'n/a' : g.pass ? 'PASS' : 'MISS'} |`);
  return `${lines.join('\n')}\n`;
}
