import { Router, type NextFunction, type Request, type Response } from 'express';
import swaggerUi from 'swagger-ui-express';
import { stringify } from 'yaml';
import { readAssetBytes } from '../assets.js';

const SWAGGER_DIST = 'node_modules/swagger-ui-dist';

/** The files the pages need at run time; src/assets.ts lists them so that bundles carry them. */
export const PAGE_ASSETS = [
  'public/index.html',
  'public/app.js',
  'public/style.css',
  `${SWAGGER_DIST}/swagger-ui.css`,
  `${SWAGGER_DIST}/swagger-ui-bundle.js`,
  `${SWAGGER_DIST}/swagger-ui-standalone-preset.js`,
  `${SWAGGER_DIST}/favicon-16x16.png`,
  `${SWAGGER_DIST}/favicon-32x32.png`,
] as const;

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  png: 'image/png',
};

// Swagger UI sets inline styles and uses data: images; only /api-docs gets this looser policy,
// every other response keeps the app's strict one. Scripts stay 'self' only.
const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** A file served from memory, loaded once when the router is built. */
function file(name: string, cacheControl = 'no-cache') {
  const body = readAssetBytes(name);
  const type = TYPES[name.split('.').at(-1) ?? ''] ?? 'application/octet-stream';
  return function serveFile(_req: Request, res: Response): void {
    res.set({ 'Content-Type': type, 'Cache-Control': cacheControl }).send(body);
  };
}

function docsPolicy(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', DOCS_CSP);
  next();
}

/** pagesRouter serves the dashboard (public/), Swagger UI at /api-docs/ and the spec at /openapi.yaml and /openapi.json. */
export function pagesRouter(document: object): Router {
  const router = Router({ strict: true });
  const json = JSON.stringify(document);
  const yamlText = stringify(document);

  router.get('/', file('public/index.html'));
  router.get('/app.js', file('public/app.js'));
  router.get('/style.css', file('public/style.css'));
  router.get('/openapi.json', (_req, res) => void res.set('Cache-Control', 'no-cache').type('application/json').send(json));
  router.get('/openapi.yaml', (_req, res) => void res.set('Cache-Control', 'no-cache').type('application/yaml').send(yamlText));

  const options = { customSiteTitle: 'backend-api — API docs', swaggerOptions: { persistAuthorization: false } };
  const html = swaggerUi.generateHTML(document, options);
  const [init] = swaggerUi.serveFiles(document, options);
  router.get('/api-docs', (_req, res) => res.redirect(301, '/api-docs/'));
  router.get('/api-docs/', docsPolicy, (_req, res) => void res.set('Cache-Control', 'no-cache').type('html').send(html));
  router.get('/api-docs/swagger-ui-init.js', docsPolicy, init as (req: Request, res: Response, next: NextFunction) => void);
  for (const name of PAGE_ASSETS.filter((n) => n.startsWith(SWAGGER_DIST))) {
    router.get(`/api-docs/${name.slice(SWAGGER_DIST.length + 1)}`, docsPolicy, file(name, 'public, max-age=86400'));
  }
  return router;
}
