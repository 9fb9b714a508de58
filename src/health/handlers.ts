import type { Request, Response } from 'express';
import type { Db } from '../db/database.js';
import { storageWatch } from '../db/storage.js';
import type { OperationHandler } from '../openapi/router.js';
import type { DatabaseState, DependencyState, Lifecycle } from './states.js';

interface HealthDeps {
  readonly db: Db;
  readonly version: string;
  readonly lifecycle: Lifecycle;
  readonly redisState: () => DependencyState;
}

/** healthHandlers: liveness with each dependency's state, and readiness for load balancers. */
export function healthHandlers({ db, version, lifecycle, redisState }: HealthDeps): Record<string, OperationHandler> {
  const ping = db.prepare('SELECT 1');
  const storage = storageWatch(db);
  const dbState = (): DatabaseState => {
    try {
      ping.get();
    } catch {
      return 'down';
    }
    return storage.state() === 'full' ? 'full' : 'up';
  };
  return {
    getHealth(_req: Request, res: Response) {
      const checks = { db: dbState(), redis: redisState() };
      const status = checks.db === 'down' ? 'down' : checks.db === 'full' || checks.redis === 'down' ? 'degraded' : 'ok';
      res.set('Cache-Control', 'no-store');
      // Full still serves reads: a load balancer or systemd must not take this instance out for it.
      res.status(checks.db === 'down' ? 503 : 200).json({ status, version, uptimeSeconds: Math.round(process.uptime()), checks });
    },

    getReadiness(_req: Request, res: Response) {
      res.set('Cache-Control', 'no-store');
      res.status(lifecycle.state === 'ready' ? 200 : 503).json({ status: lifecycle.state });
    },
  };
}
