import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

declare global {
  /** Set by the bundle build: the files of ASSET_FILES, base64, carried inside the bundle. */
  var __BACKEND_API_ASSETS__: Readonly<Record<string, string>> | undefined;
}

/** Where Swagger UI's files come from; the pages serve them under /api-docs/. */
export const SWAGGER_DIST = 'node_modules/swagger-ui-dist';

/** The files the pages serve: the dashboard (public/, each at /<name>, index.html at /) and Swagger UI's. */
export const PAGE_ASSETS = [
  'public/index.html',
  'public/app.js',
  'public/status.js',
  'public/style.css',
  `${SWAGGER_DIST}/swagger-ui.css`,
  `${SWAGGER_DIST}/swagger-ui-bundle.js`,
  `${SWAGGER_DIST}/swagger-ui-standalone-preset.js`,
  `${SWAGGER_DIST}/favicon-16x16.png`,
  `${SWAGGER_DIST}/favicon-32x32.png`,
] as const;

/**
 * ASSET_FILES lists every file the server reads at run time, relative to the project root.
 * The bundle build embeds exactly these, so the single executable needs nothing beside it.
 */
export const ASSET_FILES: readonly string[] = ['openapi.yaml', 'package.json', 'node_modules/bcryptjs/umd/index.js', ...PAGE_ASSETS];

/**
 * projectRoot is the checkout the server runs from when it runs from source. A CommonJS bundle
 * has no import.meta.url; there it is the working directory, and nothing is read from it.
 */
export const projectRoot = import.meta.url ? fileURLToPath(new URL('..', import.meta.url)) : process.cwd();

/** readAssetBytes returns a file of ASSET_FILES, embedded in a bundle or read from the checkout. */
export function readAssetBytes(name: string): Buffer {
  if (!ASSET_FILES.includes(name)) throw new Error(`${name} is not in ASSET_FILES`);
  const embedded = globalThis.__BACKEND_API_ASSETS__?.[name];
  return embedded !== undefined ? Buffer.from(embedded, 'base64') : readFileSync(join(projectRoot, name));
}

/** readAsset returns a text file of ASSET_FILES. */
export function readAsset(name: string): string {
  return readAssetBytes(name).toString('utf8');
}
