import type { Request, Response } from 'express';
import type { OperationHandler } from '../openapi/router.js';
import type { StatusSource } from './source.js';

/** statusHandlers serves the operator's status view: the recent past of the whole group, for admins (x-roles in openapi.yaml). */
export function statusHandlers({ source }: { readonly source: StatusSource }): Record<string, OperationHandler> {
  return {
    async getStatus(_req: Request, res: Response) {
      const report = await source();
      res.set('Cache-Control', 'no-store').json(report);
    },
  };
}
