import { timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { problems } from '../http/errors.js';
import type { OperationHandler } from '../openapi/router.js';

interface MetricsDeps {
  readonly token: string | null;
  /** The Prometheus text for the whole process group (aggregated by the primary in cluster mode). */
  readonly collect: () => Promise<{ contentType: string; text: string }>;
}

/** metricsHandlers serves /metrics to holders of METRICS_TOKEN; without a token configured it does not exist. */
export function metricsHandlers({ token, collect }: MetricsDeps): Record<string, OperationHandler> {
  const expected = token === null ? null : Buffer.from(`Bearer ${token}`);
  return {
    async getMetrics(req: Request, res: Response) {
      if (expected === null) throw problems.routeNotFound();
      const offered = Buffer.from(req.headers.authorization ?? '');
      if (offered.length !== expected.length || !timingSafeEqual(offered, expected)) throw problems.missingToken();
      const { contentType, text } = await collect();
      res.set('Cache-Control', 'no-store').type(contentType).send(text);
    },
  };
}
