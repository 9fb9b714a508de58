import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import swaggerUi from 'swagger-ui-express';
import { stringify } from 'yaml';
import { PAGE_ASSETS, readAssetBytes, SWAGGER_DIST } from '../assets.js';
import { DOCS_CSP } from '../http/security-headers.js';

const PUBLIC = 'public/';

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  png: 'image/png',
  json: 'application/json; charset=utf-8',
  yaml: 'application/yaml; charset=utf-8',
};

// Our own files change with each release under the same name, so browsers revalidate them;
// Swagger UI's files change only with the package, and a day of staleness after an upgrade is harmless.
const REVALIDATE = 'no-cache';
const VENDOR = 'public, max-age=86400';

/** send answers every request with one body that was built or read when the router was built. */
function send(body: Buffer | string, type: string, cacheControl: string) {
  const bytes = Buffer.from(body);
  return function sendFromMemory(_req: Request, res: Response): void {
    res.set({ 'Content-Type': type, 'Cache-Control': cacheControl }).send(bytes);
  };
}

/**
 * sendMadeOnce is send with a body made at the first request, not when the router is built: the
 * YAML of the spec costs about 0.1 s of CPU that every start of every process would pay.
 */
function sendMadeOnce(make: () => string, type: string, cacheControl: string) {
  let handler: RequestHandler | undefined;
  return function sendMadeOnceFromMemory(req: Request, res: Response, next: NextFunction): void {
    handler ??= send(make(), type, cacheControl);
    void handler(req, res, next);
  };
}

/** file serves an asset from memory, typed by its extension. */
function file(name: string, cacheControl: string) {
  return send(readAssetBytes(name), TYPES[name.split('.').at(-1) ?? ''] ?? 'application/octet-stream', cacheControl);
}

// Swagger UI sets inline styles and uses data: fonts; only /api-docs gets this looser policy.
function docsPolicy(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', DOCS_CSP);
  next();
}

/**
 * swaggerInitScript is what swagger-ui-express's own init file does, built once here so that it is
 * served from memory with our headers. The spec goes in as JSON, a valid JavaScript expression;
 * authorizations are not persisted, because Swagger UI would keep the token in localStorage.
 */
function swaggerInitScript(document: object): string {
  const options = { spec: document, dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: false, layout: 'StandaloneLayout' };
  return `'use strict';
window.addEventListener('load', function start() {
  var options = ${JSON.stringify(options)};
  options.presets = [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset];
  options.plugins = [SwaggerUIBundle.plugins.DownloadUrl];
  window.ui = SwaggerUIBundle(options);
});
`;
}

/** The pages' router, and every path it answers (they have a rate-limit budget of their own). */
export interface Pages {
  readonly router: Router;
  readonly paths: ReadonlySet<string>;
}

/** pagesRouter serves the dashboard (public/), Swagger UI at /api-docs/ and the spec at /openapi.yaml and /openapi.json. */
export function pagesRouter(document: object): Pages {
  const router = Router({ strict: true });
  const paths = new Set<string>();
  const get = (path: string, ...handlers: RequestHandler[]) => {
    paths.add(path);
    router.get(path, ...handlers);
  };

  for (const name of PAGE_ASSETS.filter((n) => n.startsWith(PUBLIC))) {
    const base = name.slice(PUBLIC.length);
    get(base === 'index.html' ? '/' : `/${base}`, file(name, REVALIDATE));
  }
  get('/openapi.json', send(JSON.stringify(document), TYPES.json!, REVALIDATE));
  get('/openapi.yaml', sendMadeOnce(() => stringify(document), TYPES.yaml!, REVALIDATE));

  // generateHTML only for the page: its links are relative, so the page lives at /api-docs/.
  const html = swaggerUi.generateHTML(document, { customSiteTitle: 'backend-api — API docs' });
  get('/api-docs', (_req, res) => res.redirect(301, '/api-docs/'));
  get('/api-docs/', docsPolicy, send(html, TYPES.html!, REVALIDATE));
  get('/api-docs/swagger-ui-init.js', docsPolicy, send(swaggerInitScript(document), TYPES.js!, REVALIDATE));
  for (const name of PAGE_ASSETS.filter((n) => n.startsWith(SWAGGER_DIST))) {
    get(`/api-docs/${name.slice(SWAGGER_DIST.length + 1)}`, docsPolicy, file(name, VENDOR));
  }
  return { router, paths };
}
