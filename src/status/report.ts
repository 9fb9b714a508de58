import type { DependencyState } from '../health/states.js';
import { addCounts, emptyCounts, type Interval, type SampleRing } from './ring.js';
import type { RouteCounts } from './sample.js';

/** How many of the busiest routes the report details, and over how long its summary runs. */
const BUSIEST_ROUTES = 5;
const SUMMARY_SECONDS = 60;

export type StatusMode = 'cluster' | 'pm2' | 'standalone';

/** StatusMeta is what the sampling process knows besides its ring. */
export interface StatusMeta {
  readonly mode: StatusMode;
  readonly sampleIntervalSeconds: number;
  /** How far back the history reaches once the ring is full. */
  readonly historySeconds: number;
  readonly primary: { readonly pid: number; readonly startedAt: number } | null;
  readonly now: number;
}

interface Rates {
  requestsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  serverErrorsPerSecond: number;
  rateLimitedPerSecond: number;
}

/** StatusReport is the body of GET /api/v1/status (schema Status in openapi.yaml). */
export type StatusReport = ReturnType<typeof buildReport>;

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * quantileMs estimates a quantile from cumulative histogram buckets as Prometheus's
 * histogram_quantile does: linear inside the bucket it falls in; beyond the last finite bound it
 * answers that bound. Null when nothing was observed.
 */
export function quantileMs(q: number, bounds: readonly number[], buckets: readonly number[]): number | null {
  const total = buckets.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  const at = buckets.findIndex((n) => n >= rank);
  if (at >= bounds.length || at < 0) return round((bounds.at(-1) ?? 0) * 1000);
  const lower = at === 0 ? 0 : (bounds[at - 1] as number);
  const below = at === 0 ? 0 : (buckets[at - 1] as number);
  const inside = (buckets[at] as number) - below;
  const fraction = inside > 0 ? (rank - below) / inside : 1;
  return round((lower + ((bounds[at] as number) - lower) * fraction) * 1000);
}

/** sumCounts adds up counts over some intervals: every route's, or one route's when key is given. */
function sumCounts(intervals: readonly Interval[], size: number, key?: string): RouteCounts {
  const total = emptyCounts(size);
  for (const interval of intervals) {
    const counts = key === undefined ? interval.total : interval.routes.get(key);
    if (counts) addCounts(total, counts);
  }
  return total;
}

function rates(counts: RouteCounts, seconds: number, bounds: readonly number[]): Rates {
  const per = (n: number) => (seconds > 0 ? round(n / seconds) : 0);
  return {
    requestsPerSecond: per(counts.count),
    p50Ms: quantileMs(0.5, bounds, counts.buckets),
    p99Ms: quantileMs(0.99, bounds, counts.buckets),
    serverErrorsPerSecond: per(counts.serverErrors),
    rateLimitedPerSecond: per(counts.rateLimited),
  };
}

const seconds = (intervals: readonly Interval[]) => intervals.reduce((sum, i) => sum + i.seconds, 0);
const ratio = (hits: number, misses: number) => (hits + misses > 0 ? round(hits / (hits + misses), 4) : null);

/** redisOf sums each process's Redis state: up only when every process is connected. */
function redisOf(states: readonly DependencyState[]) {
  const connected = states.filter((s) => s === 'up').length;
  const state: DependencyState = states.length === 0 || states.every((s) => s === 'disabled') ? 'disabled' : connected === states.length ? 'up' : 'down';
  return { state, connected, processes: states.length };
}

/** buildReport turns the ring into the report: now (the last minute), the history of every interval, totals, processes and the busiest routes. */
export function buildReport(ring: SampleRing, meta: StatusMeta) {
  const intervals = ring.intervals();
  const bounds = ring.bounds();
  const size = bounds.length + 1;
  const recent = intervals.filter((i) => i.at > meta.now - SUMMARY_SECONDS * 1000);
  const recentSeconds = seconds(recent);
  const last = intervals.at(-1);
  const latest = ring.latest();
  const totals = emptyCounts(size);
  let cacheHits = 0;
  let cacheMisses = 0;
  const routeTotals = new Map<string, RouteCounts>();
  for (const sample of latest) {
    cacheHits += sample.cacheHits;
    cacheMisses += sample.cacheMisses;
    for (const [key, counts] of Object.entries(sample.routes)) {
      const into = routeTotals.get(key) ?? emptyCounts(size);
      for (const target of [into, totals]) {
        target.count += counts.count;
        target.serverErrors += counts.serverErrors;
        target.rateLimited += counts.rateLimited;
      }
      routeTotals.set(key, into);
    }
  }
  const windowCounts = new Map<string, number>();
  for (const interval of intervals) for (const [key, c] of interval.routes) windowCounts.set(key, (windowCounts.get(key) ?? 0) + c.count);
  const busiest = [...windowCounts]
    .filter(([, n]) => n > 0)
    .sort(([a, n], [b, m]) => m - n || a.localeCompare(b))
    .slice(0, BUSIEST_ROUTES)
    .map(([key]) => key);

  return {
    mode: meta.mode,
    sampledAt: last ? new Date(last.at).toISOString() : null,
    sampleIntervalSeconds: meta.sampleIntervalSeconds,
    historySeconds: meta.historySeconds,
    summarySeconds: SUMMARY_SECONDS,
    summary: { ...rates(sumCounts(recent, size), recentSeconds, bounds), cacheHitRatio: ratio(sum(recent, 'cacheHits'), sum(recent, 'cacheMisses')) },
    totals: { requests: totals.count, serverErrors: totals.serverErrors, rateLimited: totals.rateLimited, cacheHits, cacheMisses },
    primary: meta.primary && { pid: meta.primary.pid, uptimeSeconds: uptime(meta.primary.startedAt, meta.now), rssBytes: last?.primaryRssBytes ?? 0 },
    workers: latest.map((s) => ({
      pid: s.pid,
      uptimeSeconds: uptime(s.startedAt, meta.now),
      rssBytes: s.rssBytes,
      heapUsedBytes: s.heapUsedBytes,
      redis: s.redis,
      requestsPerSecond: recentSeconds > 0 ? round(recent.reduce((n, i) => n + (i.byPid.get(s.pid) ?? 0), 0) / recentSeconds) : 0,
    })),
    restarts: last?.restarts ?? 0,
    redis: redisOf(latest.map((s) => s.redis)),
    database: { fileBytes: last?.dbBytes ?? 0, walBytes: last?.walBytes ?? 0 },
    memory: { rssBytes: last?.rssBytes ?? 0, heapUsedBytes: last?.heapUsedBytes ?? 0 },
    history: intervals.map((i) => ({
      at: new Date(i.at).toISOString(),
      ...rates(i.total, i.seconds, bounds),
      cacheHitRatio: ratio(i.cacheHits, i.cacheMisses),
      rssBytes: i.rssBytes,
      heapUsedBytes: i.heapUsedBytes,
      dbBytes: i.dbBytes,
      walBytes: i.walBytes,
    })),
    routes: busiest.map((key) => {
      const [method = '', route = ''] = key.split(' ');
      const total = routeTotals.get(key) ?? emptyCounts(size);
      const now = rates(sumCounts(recent, size, key), recentSeconds, bounds);
      const none = emptyCounts(size);
      const points = intervals.map((i) => rates(i.routes.get(key) ?? none, i.seconds, bounds));
      return {
        method,
        route,
        requests: total.count,
        serverErrors: total.serverErrors,
        rateLimited: total.rateLimited,
        requestsPerSecond: now.requestsPerSecond,
        p50Ms: now.p50Ms,
        p99Ms: now.p99Ms,
        history: { requestsPerSecond: points.map((p) => p.requestsPerSecond), p99Ms: points.map((p) => p.p99Ms) },
      };
    }),
  };
}

function sum(intervals: readonly Interval[], field: 'cacheHits' | 'cacheMisses'): number {
  return intervals.reduce((n, i) => n + i[field], 0);
}

function uptime(startedAt: number, now: number): number {
  return Math.max(0, Math.round((now - startedAt) / 1000));
}
