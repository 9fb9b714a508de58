import { readAsset } from './assets.js';

/** VERSION is package.json's version (embedded in a bundle). */
export const VERSION: string = (JSON.parse(readAsset('package.json')) as { version: string }).version;
