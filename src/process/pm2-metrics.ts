import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Db } from '../db/database.js';

/** How often an instance publishes its registry: a scrape sees the others' counts at most this old. */
export const PUBLISH_INTERVAL_MS = 5000;
/** A snapshot not refreshed for this long is an instance that stopped: left out of scrapes, then deleted. */
const STALE_MS = 3 * PUBLISH_INTERVAL_MS;

// Outside the migrations, like RateLimiterSQLite's table: PM2-only bookkeeping, no application data.
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS pm2_metrics (
  pid INTEGER PRIMARY KEY,
  updated_at INTEGER NOT NULL,
  metrics TEXT NOT NULL
)`;

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * sharedMetricsCollector is /metrics under PM2, where no primary of ours can gather the
 * instances' registries: each instance writes its own (as JSON) into the SQLite file they all
 * share, every PUBLISH_INTERVAL_MS and at each scrape, and the instance that answers a scrape
 * sums the fresh ones with prom-client's aggregation, the same sums as in our cluster mode.
 */
export function sharedMetricsCollector(db: Db, registry: Registry, pid = process.pid): () => Promise<{ contentType: string; text: string }> {
  db.exec(CREATE_TABLE);
  const upsert = db.prepare('INSERT INTO pm2_metrics (pid, updated_at, metrics) VALUES (?, ?, ?) ON CONFLICT (pid) DO UPDATE SET updated_at = excluded.updated_at, metrics = excluded.metrics');
  const prune = db.prepare('DELETE FROM pm2_metrics WHERE updated_at < ?');
  const fresh = db.prepare<[number], { metrics: string }>('SELECT metrics FROM pm2_metrics WHERE updated_at >= ?');

  async function publish(): Promise<void> {
    const json = JSON.stringify(await registry.getMetricsAsJSON());
    // A draining instance closes its database; its last snapshot then ages out.
    if (!db.open) return;
    const now = Date.now();
    db.transaction(() => {
      upsert.run(pid, now, json);
      prune.run(now - STALE_MS);
    })();
  }

  const timer = setInterval(() => publish().catch(() => undefined), PUBLISH_INTERVAL_MS);
  // Never what keeps an instance alive.
  timer.unref();
  void publish().catch(() => undefined);

  return async () => {
    await publish();
    const snapshots = fresh.all(Date.now() - STALE_MS).map((row) => JSON.parse(row.metrics) as MetricsJson);
    const sum = AggregatorRegistry.aggregate(snapshots);
    return { contentType: registry.contentType, text: await sum.metrics() };
  };
}
