// Turns the samples into medians, ratios and the issue's targets, and renders them as Markdown.
// A ratio is the median of the per-round ratios: each pairs runs made a minute apart, which
// cancels most of the drift of a shared machine that a ratio of overall medians would keep.

const median = (values) => {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (n, digits = 0) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : '—');
const OURS = new Set(['ours', 'ours-default', 'alone', 'with-logins', 'alone-all-cores', 'with-logins-all-cores', 'limited', 'redis', 'limited-redis']);

/** summarize reduces one target's samples (one per round) to medians; errors are summed. */
function summarize(samples) {
  const pick = (key) => median(samples.map((s) => s[key]));
  const logins = samples.map((s) => s.logins).filter(Boolean);
  return {
    server: samples[0]?.server ?? null,
    rps: pick('rps'),
    p50: pick('p50'),
    p99: pick('p99'),
    errors: samples.reduce((n, s) => n + s.errors, 0),
    cpu: pick('cpu'),
    // CPU time per request of the server's process tree: steadier than req/s when other work shares the machine.
    cpuUs: median(samples.map((s) => (s.cpu && s.rps ? (s.cpu / s.rps) * 1e6 : null))),
    rssMb: pick('rssMb'),
    heapMb: pick('heapMb'),
    totalRssMb: pick('totalRssMb'),
    loadCpu: pick('loadCpu'),
    bytesPerResponse: pick('bytesPerResponse'),
    ...(logins.length ? { logins: { rps: median(logins.map((l) => l.rps)), p99: median(logins.map((l) => l.p99)) } } : {}),
    samples,
  };
}

/** pairedRatio is the median over rounds of a[i].key / b[i].key. */
function pairedRatio(a, b, key = 'rps') {
  if (!a || !b) return null;
  return median(a.samples.map((s, i) => (b.samples[i]?.[key] ? s[key] / b.samples[i][key] : null)));
}

/** cpuRatio is the median over rounds of a's CPU time per request ÷ b's: above 1, b does a request for less. */
function cpuRatio(a, b) {
  const perRequest = (s) => (s?.cpu && s.rps ? s.cpu / s.rps : null);
  return median(a.samples.map((s, i) => (perRequest(s) && perRequest(b.samples[i]) ? perRequest(s) / perRequest(b.samples[i]) : null)));
}

/** report builds the JSON the bench writes: medians per scenario and target, ratios, and the targets' verdicts. */
export function report(samples, meta) {
  const results = {};
  const ratios = {};
  for (const [scenario, targets] of Object.entries(samples)) {
    results[scenario] = Object.fromEntries(Object.entries(targets).map(([t, s]) => [t, summarize(s)]));
    const r = results[scenario];
    ratios[scenario] = {};
    for (const ref of ['express', 'fastify', 'raw']) if (r[ref] && r.ours) ratios[scenario][`ours/${ref}`] = pairedRatio(r.ours, r[ref]);
    if (r.express && r.ours) ratios[scenario]['CPU per request express/ours'] = cpuRatio(r.express, r.ours);
    if (r['ours-default'] && r.ours) ratios[scenario]['ours-default/ours'] = pairedRatio(r['ours-default'], r.ours);
    if (r.limited && r.ours) ratios[scenario]['limited/ours'] = pairedRatio(r.limited, r.ours);
    if (r.redis && r.ours) ratios[scenario]['redis/ours'] = pairedRatio(r.redis, r.ours);
    if (r['limited-redis'] && r.redis) ratios[scenario]['limited-redis/redis'] = pairedRatio(r['limited-redis'], r.redis);
    if (r['with-logins'] && r.alone) ratios[scenario]['p99 with-logins/alone'] = pairedRatio(r['with-logins'], r.alone, 'p99');
    if (r['with-logins-all-cores'] && r['alone-all-cores']) {
      ratios[scenario]['p99 with-logins/alone, all cores'] = pairedRatio(r['with-logins-all-cores'], r['alone-all-cores'], 'p99');
    }
  }

  const goals = [];
  const goal = (name, value, pass, detail) => goals.push({ name, value, pass: value === null ? null : pass, detail });
  for (const [scenario, label] of [
    ['hot-list', 'hot cached list ≥ 1.0× bare Express'],
    ['list-sqlite', 'list from SQLite ≥ 1.0× bare Express'],
    ['get-one', 'get one ≥ 1.0× bare Express'],
    ['create', 'create ≥ 1.0× bare Express'],
  ]) {
    const x = ratios[scenario] ?? {};
    const value = x['ours/express'] ?? null;
    goal(label, value, value >= 1, `${fmt(value, 2)}× Express (CPU per request: ${fmt(x['CPU per request express/ours'], 2)}× as efficient); gap to Fastify ${fmt(x['ours/fastify'], 2)}×, to raw node:http ${fmt(x['ours/raw'], 2)}×`);
  }
  const limits = ratios['rate-limit'] ?? {};
  for (const [key, label] of [
    ['limited/ours', 'rate limit counted in the primary costs ≤ 15 % on the hot list'],
    ['limited-redis/redis', 'rate limit counted in Redis costs ≤ 15 % on the hot list (Redis cache both sides)'],
  ]) {
    const value = limits[key] ?? null;
    goal(label, value, value >= 0.85, value === null ? '—' : `${fmt((1 - value) * 100)} % fewer req/s (${fmt(value, 2)}×)`);
  }
  const logins = results['reads-during-logins'];
  const loginRatio = ratios['reads-during-logins']?.['p99 with-logins/alone'] ?? null;
  const allCores = ratios['reads-during-logins']?.['p99 with-logins/alone, all cores'];
  goal('while logins run, read p99 ≤ 2× read p99 without (1 worker)', loginRatio, loginRatio <= 2,
    logins
      ? `p99 ${fmt(logins.alone.p99)} ms alone → ${fmt(logins['with-logins'].p99)} ms with ${fmt(logins['with-logins'].logins?.rps, 1)} logins/s (${fmt(loginRatio, 2)}×) on one core` +
          (allCores ? `; the same worker unpinned: ${fmt(logins['alone-all-cores'].p99)} → ${fmt(logins['with-logins-all-cores'].p99)} ms (${fmt(allCores, 2)}×)` : '')
      : '—');
  const scale = ratios['list-sqlite']?.['ours-default/ours'] ?? null;
  const others = ['hot-list', 'get-one'].map((s) => `${s} ${fmt(ratios[s]?.['ours-default/ours'], 2)}×`).join(', ');
  goal(`${meta.defaultWorkers} workers ≥ 1.5× one worker on reads (list from SQLite)`, scale, scale >= 1.5, `${fmt(scale, 2)}× (${others})`);
  const ours = Object.entries(results).flatMap(([s, targets]) => Object.entries(targets).filter(([t]) => OURS.has(t)).map(([t, r]) => [`${s}/${t}`, r]));
  const errors = ours.length ? ours.reduce((n, [, r]) => n + r.errors, 0) : null;
  const where = ours.filter(([, r]) => r.errors > 0).map(([name, r]) => `${name}: ${r.errors}`).join(', ');
  goal('zero errors (non-2xx + socket errors) in every scenario', errors, errors === 0, errors ? where : 'none');
  const rss = ours.length ? Math.max(...ours.map(([, r]) => r.rssMb ?? 0)) : null;
  const heaviest = ours.find(([, r]) => r.rssMb === rss)?.[0];
  const heap = ours.length ? Math.max(...ours.map(([, r]) => r.heapMb ?? 0)) : null;
  goal('steady-state RSS per worker ≤ 100 MB under load', rss || null, rss <= 100, `${fmt(rss)} MB at most (${heaviest ?? '—'}); heap used at most ${fmt(heap)} MB`);
  return { ...meta, results, ratios, goals };
}

/** markdown renders the report: per runtime, the setup, one table of every measurement, memory, the targets. */
export function markdown(summary) {
  const lines = [`# npm run bench — ${summary.date}`, ''];
  lines.push(`- Our server ran from the ${summary.ours.runs}${summary.ours.stale ? ' (**older than the source: run `npm run build` or pass --build**)' : ''}; the bench and autocannon on Node ${summary.benchNode}.`);
  for (const run of summary.runs) lines.push('', ...runMarkdown(run));
  if (summary.warnings.length) lines.push('', ...summary.warnings.map((w) => `> ${w}`));
  return `${lines.join('\n')}\n`;
}

function runMarkdown(m) {
  const lines = [
    `## ${m.runtime}`,
    '',
    `- References: raw node:http, bare Express ${m.versions.express}, Fastify ${m.versions.fastify}; load: autocannon ${m.versions.autocannon}.`,
    `- ${m.cores} cores (${m.cpu}), every server on Node ${m.node}. ${m.pinning}`,
    `- ${m.rounds} interleaved round(s) of ${m.seconds} s, each after ${m.warmupSeconds} s of warm-up, ${m.connections} connections; medians, ratios are medians of per-round ratios.`,
    `- NODE_ENV=production, security headers, request ids, request log to a file (LOG_LEVEL=info), metrics, validation, auth with revocation and the cache on; the rate limit off except in rate-limit (on, with a budget it never reaches), the bcrypt queue's wait bound out of the way (BCRYPT_MAX_WAIT_MS=60000); BCRYPT_ROUNDS=${m.bcryptRounds}${m.bcryptRounds === 12 ? ' (the production default)' : ''}.`,
    `- Data: ${m.seedTasks} tasks; a list page is ${fmt(m.listBytes)} bytes of JSON. "ours" is WORKERS=1; "ours-default" is WORKERS unset (${m.defaultWorkers} workers).`,
    '',
    ...Object.entries(m.scenarios).map(([name, title]) => `- **${name}**: ${title}`),
    '',
    '| scenario | target | req/s | p50 ms | p99 ms | errors | server CPU | CPU µs/req | RSS/worker MB | heap/worker MB | RSS total MB | load-gen CPU | ratio |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const [name, targets] of Object.entries(m.results)) {
    for (const [target, r] of Object.entries(targets)) {
      const ratio = ratioCell(m.ratios[name] ?? {}, target);
      const cells = [name, target, fmt(r.rps), fmt(r.p50), fmt(r.p99), r.errors, `${fmt(r.cpu === null ? null : r.cpu * 100)}%`, fmt(r.cpuUs), fmt(r.rssMb), fmt(r.heapMb), fmt(r.totalRssMb), `${fmt(r.loadCpu === null ? null : r.loadCpu * 100)}%`, ratio];
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  lines.push('', "ratio: on a reference's row, ours ÷ that reference (req/s); on ours-default, ours-default ÷ ours; on with-logins, its p99 ÷ alone's; on limited, limited ÷ ours; on limited-redis, limited-redis ÷ redis.", '');
  lines.push('Memory of our workers (the largest worker; heap used and RSS as the status view sampled them): idle after start, and loaded (the largest over the scenarios that server ran).', '');
  lines.push('| server | idle heap MB | idle RSS MB | loaded heap MB | loaded RSS MB |', '|---|--:|--:|--:|--:|');
  for (const [key, idle] of Object.entries(m.idle ?? {})) {
    const loaded = Object.values(m.results).flatMap((targets) => Object.values(targets).filter((r) => r.server === key));
    const most = (k) => (loaded.length ? Math.max(...loaded.map((r) => r[k] ?? 0)) : null);
    lines.push(`| ${key} | ${fmt(idle.heapMb)} | ${fmt(idle.rssMb)} | ${fmt(most('heapMb'))} | ${fmt(most('rssMb'))} |`);
  }
  lines.push('', '| target | measured | verdict |', '|---|---|---|');
  for (const g of m.goals) lines.push(`| ${g.name} | ${g.detail} | ${g.pass === null ? 'n/a' : g.pass ? 'PASS' : 'MISS'} |`);
  return lines;
}

function ratioCell(ratios, target) {
  const value = {
    express: ratios['ours/express'],
    fastify: ratios['ours/fastify'],
    raw: ratios['ours/raw'],
    'ours-default': ratios['ours-default/ours'],
    'with-logins': ratios['p99 with-logins/alone'],
    'with-logins-all-cores': ratios['p99 with-logins/alone, all cores'],
    limited: ratios['limited/ours'],
    'limited-redis': ratios['limited-redis/redis'],
  }[target];
  return value === undefined || value === null ? '' : `${fmt(value, 2)}×`;
}
