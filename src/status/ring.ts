import type { ProcessSample, RouteCounts } from './sample.js';

/** HostFacts are what the sampling process measures itself at each tick. */
export interface HostFacts {
  readonly dbBytes: number;
  readonly walBytes: number;
  /** The cluster primary's own memory; null where there is no primary of ours. */
  readonly primaryRssBytes: number | null;
  readonly restarts: number;
}

/** Interval is what happened between two ticks, summed over every process: counts are increments, not totals. */
export interface Interval extends HostFacts {
  readonly at: number;
  readonly seconds: number;
  readonly routes: ReadonlyMap<string, RouteCounts>;
  /** Every route together, added up once here rather than at each report. */
  readonly total: RouteCounts;
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** Requests per process pid in this interval. */
  readonly byPid: ReadonlyMap<number, number>;
}

/** SampleRing keeps the last intervals and each live process's latest sample. */
export interface SampleRing {
  /** record turns the samples of one tick into an interval; `live` lists every process still running, answered or not. */
  record(at: number, samples: readonly ProcessSample[], live: readonly number[], facts: HostFacts): void;
  intervals(): readonly Interval[];
  /** The latest sample of each live process: the totals /metrics adds up. */
  latest(): readonly ProcessSample[];
  bounds(): readonly number[];
}

/** addCounts adds `b` (or b − base, for an increment) into `into`, bucket by bucket. */
export function addCounts(into: RouteCounts, b: RouteCounts, base?: RouteCounts): void {
  into.count += b.count - (base?.count ?? 0);
  into.serverErrors += b.serverErrors - (base?.serverErrors ?? 0);
  into.rateLimited += b.rateLimited - (base?.rateLimited ?? 0);
  b.buckets.forEach((n, i) => (into.buckets[i] = (into.buckets[i] ?? 0) + n - (base?.buckets[i] ?? 0)));
}

/** emptyCounts is a RouteCounts of zeros with `size` buckets. */
export function emptyCounts(size: number): RouteCounts {
  return { count: 0, serverErrors: 0, rateLimited: 0, buckets: Array<number>(size).fill(0) };
}

/**
 * createSampleRing keeps `capacity` intervals. Each process's counters are differenced against its
 * own previous sample, so a replaced worker (new pid, counters from zero) never makes a rate go
 * negative, and a worker that missed a tick has its requests counted at the next one.
 */
export function createSampleRing(capacity: number, startedAt = Date.now()): SampleRing {
  const ring: Interval[] = [];
  const previous = new Map<number, ProcessSample>();
  let lastAt = startedAt;
  let bounds: number[] = [];

  function record(at: number, samples: readonly ProcessSample[], live: readonly number[], facts: HostFacts): void {
    const routes = new Map<string, RouteCounts>();
    const byPid = new Map<number, number>();
    let cacheHits = 0;
    let cacheMisses = 0;
    for (const sample of samples) {
      if (bounds.length === 0) bounds = sample.bounds;
      let base = previous.get(sample.pid);
      // Another start time is a new process under a reused pid: its counters began at zero.
      if (base && (base.startedAt !== sample.startedAt || base.bounds.length !== sample.bounds.length)) base = undefined;
      let requests = 0;
      for (const [key, counts] of Object.entries(sample.routes)) {
        const into = routes.get(key) ?? emptyCounts(bounds.length + 1);
        const before = into.count;
        addCounts(into, counts, base?.routes[key]);
        requests += into.count - before;
        routes.set(key, into);
      }
      byPid.set(sample.pid, requests);
      cacheHits += sample.cacheHits - (base?.cacheHits ?? 0);
      cacheMisses += sample.cacheMisses - (base?.cacheMisses ?? 0);
      previous.set(sample.pid, sample);
    }
    const total = emptyCounts(bounds.length + 1);
    for (const counts of routes.values()) addCounts(total, counts);
    for (const pid of previous.keys()) if (!live.includes(pid)) previous.delete(pid);
    const current = [...previous.values()];
    ring.push({
      ...facts,
      at,
      seconds: Math.max(0.001, (at - lastAt) / 1000),
      routes,
      total,
      byPid,
      cacheHits,
      cacheMisses,
      rssBytes: current.reduce((sum, s) => sum + s.rssBytes, facts.primaryRssBytes ?? 0),
      heapUsedBytes: current.reduce((sum, s) => sum + s.heapUsedBytes, 0),
    });
    lastAt = at;
    if (ring.length > capacity) ring.shift();
  }

  return {
    record,
    intervals: () => ring,
    latest: () => [...previous.values()],
    bounds: () => bounds,
  };
}
