import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

declare global {
  /** Set by the bundle build: the files the single executable carries inside it. */
  var __BACKEND_API_ASSETS__: Readonly<Record<string, string>> | undefined;
}

/** projectRoot is the checkout the server runs from when it runs from source. */
export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** readAsset returns a text file of the project (openapi.yaml, public/*), embedded in a bundle or read from the checkout. */
export function readAsset(name: string): string {
  const embedded = globalThis.__BACKEND_API_ASSETS__?.[name];
  return embedded ?? readFileSync(new URL(`../${name}`, import.meta.url), 'utf8');
}
