// The live status view, for admins: GET /api/v1/status every few seconds, drawn as plain SVG.
// No inline style anywhere (the page's CSP forbids it): charts are SVG attributes and CSS classes.
'use strict';
(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const WIDTH = 300;
  const HEIGHT = 64;
  const state = { timer: undefined, busy: false, span: 0, request: null };

  const $ = (id) => document.getElementById(id);
  const node = (tag, className, text) => {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  };
  const svgNode = (tag, attributes) => {
    const element = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
    return element;
  };

  const count = (n) => Math.round(n).toLocaleString('en-US');
  const decimal = (n) => (n === null || n === undefined ? '–' : n < 10 ? n.toFixed(1) : count(n));
  const percent = (ratio) => (ratio === null ? '–' : `${(ratio * 100).toFixed(ratio === 1 ? 0 : 1)} %`);
  const bytes = (n) => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MB` : `${(n / 1024).toFixed(0)} kB`);
  const duration = (s) => {
    const units = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
    const parts = [];
    for (const [unit, size] of units) {
      if (s >= size || (unit === 's' && parts.length === 0)) parts.push(`${Math.floor(s / size)} ${unit}`);
      s %= size;
      if (parts.length === 2) break;
    }
    return parts.join(' ');
  };

  /** niceMax rounds a chart's top up to a round number (in `unit`s: MiB for bytes), so the axis reads well. */
  function niceMax(value, unit = 1) {
    if (!(value > 0)) return unit;
    const power = 10 ** Math.floor(Math.log10(value / unit));
    return [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * power * unit).find((m) => m >= value);
  }

  /** segments splits points at each null: no request, no latency, no line. */
  function segments(points) {
    const runs = [[]];
    for (const [t, v] of points) {
      if (v === null || v === undefined) runs.push([]);
      else runs.at(-1).push([t, v]);
    }
    return runs.filter((run) => run.length > 0);
  }

  /**
   * chart draws series of [time, value|null] on one time axis from `from` to `to` (so the lines
   * travel left as time passes), under a top rounded by niceMax, labelled in the plot's corner.
   */
  function chart(svg, series, { from, to, max, format, area, unit }) {
    const top = max ?? niceMax(Math.max(0, ...series.flatMap((s) => s.points.map(([, v]) => v ?? 0))) * 1.1, unit);
    const x = (t) => (((t - from) / (to - from)) * WIDTH).toFixed(1);
    const y = (v) => (HEIGHT - (Math.min(v, top) / top) * (HEIGHT - 2) - 1).toFixed(1);
    svg.replaceChildren(...[0.5, 1].map((f) => svgNode('line', { class: 'grid', x1: 0, x2: WIDTH, y1: y(top * f), y2: y(top * f), 'vector-effect': 'non-scaling-stroke' })));
    series.forEach((s, index) => {
      const runs = segments(s.points).map((run) => run.map(([t, v], i) => `${i ? 'L' : 'M'}${x(t)},${y(v)}`).join(''));
      if (area && index === 0) {
        const closed = segments(s.points).map((run, i) => `${runs[i]}L${x(run.at(-1)[0])},${HEIGHT}L${x(run[0][0])},${HEIGHT}Z`);
        svg.append(svgNode('path', { class: `area ${s.color}`, d: closed.join('') || 'M0,0' }));
      }
      svg.append(svgNode('path', { class: `line ${s.color}`, d: runs.join('') || 'M0,0', 'vector-effect': 'non-scaling-stroke', 'data-series': s.name }));
    });
    svg.parentElement.querySelector('.top')?.replaceChildren(format(top));
    svg.setAttribute('aria-label', series.map((s) => `${s.name}: latest ${format(s.points.findLast(([, v]) => v !== null)?.[1] ?? 0)}`).join('; '));
  }

  /** tile builds one card: a title, the headline value, a line under it, a chart and its legend. */
  function tile(id, title, legend = []) {
    const card = node('article', 'tile');
    card.id = `tile-${id}`;
    const value = node('p', 'value');
    value.append(node('span', 'big'), node('span', 'unit'));
    card.append(node('h3', '', title), value, node('p', 'sub'));
    if (legend) {
      const plot = node('div', 'plot');
      plot.append(svgNode('svg', { class: 'chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none', role: 'img' }), node('span', 'top'));
      card.append(plot);
      const keys = node('p', 'legend');
      for (const [name, color] of legend) keys.append(node('span', `key ${color}`, name));
      keys.append(node('span', 'ago'));
      card.append(keys);
    }
    return card;
  }

  function build() {
    const tiles = $('status-tiles');
    if (tiles.childElementCount) return;
    tiles.append(
      tile('requests', 'Requests', [['req/s', 's-blue']]),
      tile('latency', 'Latency', [['p99', 's-amber'], ['p50', 's-blue']]),
      tile('errors', 'Errors', [['5xx/s', 's-red'], ['429/s', 's-amber']]),
      tile('cache', 'Cache hit ratio', [['hits', 's-teal']]),
      tile('memory', 'Memory', [['resident', 's-blue'], ['heap in use', 's-teal']]),
      tile('database', 'SQLite', [['WAL', 's-purple'], ['file', 's-gray']]),
      tile('workers', 'Workers', null),
      tile('redis', 'Redis', null),
    );
  }

  function set(id, big, unit, sub) {
    const card = $(`tile-${id}`);
    card.querySelector('.big').textContent = big;
    card.querySelector('.unit').textContent = unit;
    card.querySelector('.sub').replaceChildren(...[sub].flat());
    card.querySelector('.ago')?.replaceChildren(`last ${duration(state.span)}`);
    return card;
  }

  /** figure is a number the tests can find and compare: shown as text, with its exact value kept too. */
  function figure(id, value, label) {
    const span = node('span', 'figure', `${count(value)} ${label}`);
    if (id) span.id = id;
    span.dataset.value = String(value);
    return span;
  }

  function draw(status) {
    build();
    // The time axis spans the history kept so far (a minute at least, five once full), so a
    // freshly started server fills the charts at once; from then on they travel left.
    const to = status.sampledAt ? Date.parse(status.sampledAt) : Date.now();
    const first = status.history.length ? Date.parse(status.history[0].at) : to;
    const from = Math.max(to - status.historySeconds * 1000, Math.min(first, to - 60_000));
    state.span = Math.round((to - from) / 1000);
    const points = (field, scale = 1) => status.history.map((p) => [Date.parse(p.at), p[field] === null ? null : p[field] * scale]);
    const s = status.summary;
    const span = `last ${duration(status.summarySeconds)}`;
    const per = (n) => `${decimal(n)}/s`;

    chart(set('requests', decimal(s.requestsPerSecond), 'req/s', [`${span} · `, figure('status-requests-total', status.totals.requests, 'since start')]).querySelector('svg'),
      [{ name: 'req/s', color: 's-blue', points: points('requestsPerSecond') }], { from, to, format: per, area: true });
    chart(set('latency', decimal(s.p99Ms), 'ms p99', `p50 ${decimal(s.p50Ms)} ms · ${span}`).querySelector('svg'),
      [{ name: 'p99', color: 's-amber', points: points('p99Ms') }, { name: 'p50', color: 's-blue', points: points('p50Ms') }], { from, to, format: (v) => `${decimal(v)} ms` });
    const errors = set('errors', decimal(s.serverErrorsPerSecond), '5xx/s', [
      `429 ${per(s.rateLimitedPerSecond)} · since start: `, figure('status-server-errors-total', status.totals.serverErrors, '5xx'), ', ', figure('status-rate-limited-total', status.totals.rateLimited, '429'),
    ]);
    chart(errors.querySelector('svg'), [{ name: '5xx/s', color: 's-red', points: points('serverErrorsPerSecond') }, { name: '429/s', color: 's-amber', points: points('rateLimitedPerSecond') }], { from, to, format: per });
    chart(set('cache', percent(s.cacheHitRatio), '', [figure('status-cache-hits', status.totals.cacheHits, 'hits'), ' · ', figure('status-cache-misses', status.totals.cacheMisses, 'misses')]).querySelector('svg'),
      [{ name: 'hits', color: 's-teal', points: points('cacheHitRatio', 100) }], { from, to, max: 100, format: (v) => `${Math.round(v)} %`, area: true });
    const processes = status.workers.length + (status.primary ? 1 : 0);
    chart(set('memory', bytes(status.memory.rssBytes), 'resident', `heap in use ${bytes(status.memory.heapUsedBytes)} · ${processes} process${processes === 1 ? '' : 'es'}`).querySelector('svg'),
      [{ name: 'resident', color: 's-blue', points: points('rssBytes') }, { name: 'heap in use', color: 's-teal', points: points('heapUsedBytes') }], { from, to, format: bytes, area: true, unit: 1024 ** 2 });
    chart(set('database', bytes(status.database.walBytes), 'WAL', `database file ${bytes(status.database.fileBytes)}`).querySelector('svg'),
      [{ name: 'WAL', color: 's-purple', points: points('walBytes') }, { name: 'file', color: 's-gray', points: points('dbBytes') }], { from, to, format: bytes, area: true, unit: 1024 });
    drawWorkers(status);
    const redis = status.redis;
    set('redis', redis.state, '', redis.state === 'disabled' ? 'not configured: cache and limits kept on this host' : `connected in ${redis.connected} of ${redis.processes} processes`).dataset.state = redis.state;
    drawRoutes(status, from, to);
    const sampled = status.sampledAt ? new Date(status.sampledAt).toLocaleTimeString() : 'not yet';
    const scope = status.mode === 'cluster' ? `every worker of the cluster (${status.workers.length})` : `this process only (${status.mode})`;
    $('status-meta').textContent = `Live · sampled ${sampled}, every ${status.sampleIntervalSeconds} s · ${scope}`;
    $('status-meta').dataset.sampledAt = status.sampledAt ?? '';
  }

  function drawWorkers(status) {
    const busiest = Math.max(0.001, ...status.workers.map((w) => w.requestsPerSecond));
    const primary = status.primary ? `primary ${status.primary.pid}, up ${duration(status.primary.uptimeSeconds)} · ` : '';
    const card = set('workers', String(status.workers.length), status.workers.length === 1 ? 'process' : 'processes', `${primary}restarts: ${status.restarts}`);
    const list = node('ul', 'workers');
    for (const worker of status.workers) {
      const row = node('li');
      row.dataset.pid = String(worker.pid);
      const bar = node('meter');
      bar.min = 0;
      bar.max = busiest;
      bar.value = worker.requestsPerSecond;
      bar.setAttribute('aria-label', `pid ${worker.pid}: ${decimal(worker.requestsPerSecond)} requests per second`);
      row.append(node('span', 'pid', `pid ${worker.pid}`), node('span', 'muted', `up ${duration(worker.uptimeSeconds)} · ${bytes(worker.rssBytes)}`), bar, node('span', 'rate', `${decimal(worker.requestsPerSecond)}/s`));
      list.append(row);
    }
    card.querySelector('ul')?.remove();
    card.append(list);
  }

  function drawRoutes(status, from, to) {
    const rows = status.routes.map((route) => {
      const row = node('li', 'route');
      row.dataset.route = `${route.method} ${route.route}`;
      const name = node('span', 'route-name');
      // "unmatched": no operation took the request (an unknown path, or a 429 of the global limit, which comes first).
      name.append(node('strong', '', route.method), ` ${route.route === 'unmatched' ? '(no route: 404, global 429)' : route.route}`);
      const numbers = node('span', 'route-numbers');
      const total = figure(null, route.requests, 'since start');
      total.classList.add('route-total');
      numbers.append(`${decimal(route.requestsPerSecond)}/s · p50 ${decimal(route.p50Ms)} · p99 ${decimal(route.p99Ms)} ms · `, total);
      const svg = svgNode('svg', { class: 'chart spark', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none', role: 'img' });
      row.append(name, numbers, svg);
      const times = status.history.map((p) => Date.parse(p.at));
      chart(svg, [{ name: 'req/s', color: 's-blue', points: times.map((t, i) => [t, route.history.requestsPerSecond[i]]) }], { from, to, format: (v) => `${decimal(v)}/s`, area: true });
      return row;
    });
    $('status-routes').replaceChildren(...(rows.length ? rows : [node('li', 'hint', 'No requests yet.')]));
  }

  function isAdmin() {
    const user = JSON.parse(sessionStorage.getItem('user') || 'null');
    return user?.role === 'admin' && Boolean(sessionStorage.getItem('token'));
  }

  /** refresh asks for the status once and schedules the next ask, while an admin is logged in and the page is visible. */
  async function refresh() {
    clearTimeout(state.timer);
    if (!isAdmin() || document.hidden || state.busy) return;
    state.busy = true;
    state.request = new AbortController();
    let delay = 2000;
    try {
      const headers = { accept: 'application/json', authorization: `Bearer ${sessionStorage.getItem('token')}` };
      const response = await fetch('/api/v1/status', { headers, signal: state.request.signal });
      if (response.ok) {
        const status = await response.json();
        draw(status);
        delay = status.sampleIntervalSeconds * 1000;
        $('status-problem').hidden = true;
      } else if (response.status === 401 || response.status === 403) {
        // The token expired or lost its role: asking again would not help; logging in again will.
        $('status-problem').textContent = 'The session can no longer see the status; log in again.';
        $('status-problem').hidden = false;
        return;
      } else {
        $('status-problem').textContent = `The status is unavailable (${response.status}); retrying.`;
        $('status-problem').hidden = false;
      }
    } catch (error) {
      if (error.name === 'AbortError') return;
      $('status-problem').textContent = 'The server does not answer; retrying.';
      $('status-problem').hidden = false;
    } finally {
      state.busy = false;
    }
    state.timer = setTimeout(refresh, delay);
  }

  /** sync shows the view to admins only, and starts or stops the refreshing to match; a session that is ending stops it at once. */
  function sync(event) {
    const show = isAdmin() && !event?.detail?.ending;
    if (!show) {
      clearTimeout(state.timer);
      state.request?.abort();
    }
    $('status').hidden = !isAdmin();
    if (show) void refresh();
  }

  document.addEventListener('dashboard:session', sync);
  document.addEventListener('visibilitychange', () => void refresh());
  document.addEventListener('DOMContentLoaded', sync);
})();
