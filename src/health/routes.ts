import type { Request, Response } from 'express';
import type { Db } from '../db/database.js';
import type { OperationHandler } from '../openapi/router.js';

export type DependencyState = 'up' | 'down' | 'disabled';

/** Lifecycle is where the server tells the app whether it takes traffic. */
export interface Lifecycle {
  state: 'starting' | 'ready' | 'stopping';
}

interface HealthDeps {
  readonly db: Db;
  readonly version: string;
  readonly lifecycle: Lifecycle;
  readonly redisState: () => DependencyState;
}

/** healthHandlers: liveness with each dependency's state, and readiness for load balancers. */
export function healthHandlers({ db, version, lifecycle, redisState }: HealthDeps): Record<string, OperationHandler> {
  const ping = db.prepare('SELECT 1');
  const dbState = (): DependencyState => {
    try {
      ping.get();
      return 'up';
    } catch {
      return 'down';
    }
  };
  return {
    getHealth(_req: Request, res: Response) {
      const checks = { db: dbState(), redis: redisState() };
      const status = checks.db === 'down' ? 'down' : checks.redis === 'down' ? 'degraded' : 'ok';
      res.set('Cache-Control', 'no-store');
      res.status(checks.db === 'up' ? 200 : 503).json({ status, version, uptimeSeconds: Math.round(process.uptime()), checks });
    },

    getReadiness(_req: Request, res: Response) {
      res.set('Cache-Control', 'no-store');
      res.status(lifecycle.state === 'ready' ? 200 : 503).json({ status: lifecycle.state });
    },
  };
}
