// Types for scripts/node-runtime.mjs, so the TypeScript tests can import what it pins.
export declare const RUNTIME: Readonly<{ major: number; version: string; integrity: Readonly<Record<string, string>> }>;
export interface Runtime {
  readonly dir: string;
  readonly node: string;
  readonly version: string;
  readonly abi: string;
}
type Options = { env?: Record<string, string | undefined>; log?: (line: string) => void };
export declare function buildCacheDir(env?: Record<string, string | undefined>): string;
export declare function ensureRuntime(options?: Options): Runtime;
export declare function ensureAddon(runtime: Runtime, options?: Options): string;
