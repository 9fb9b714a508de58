import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join } from 'node:path';
import { userInfo } from 'node:os';
import type * as Sea from 'node:sea';

/** The name of better-sqlite3's addon among the executable's assets (see scripts/build.mjs). */
export const ADDON_ASSET = 'better_sqlite3.node';

type Env = Record<string, string | undefined>;

// A require of our own: node:sea exists from Node 20.12 on, and a static import would stop older
// Nodes running from source; import.meta.url is empty in the CommonJS bundle, the exec path never is.
const requireBuiltin = createRequire(process.execPath);

let loaded: object | undefined;
let sea: boolean | undefined;

/** isSea tells whether this process runs as the single executable. */
export function isSea(): boolean {
  try {
    sea ??= (requireBuiltin('node:sea') as typeof Sea).isSea();
  } catch {
    sea = false;
  }
  return sea;
}

/**
 * addonCacheDir picks the directory that keeps the extracted addon: systemd's CacheDirectory=
 * ($CACHE_DIRECTORY), else $XDG_CACHE_HOME/backend-api, else ~/.cache/backend-api.
 */
export function addonCacheDir(env: Env): string {
  const systemd = env.CACHE_DIRECTORY?.split(':')[0];
  if (systemd) return systemd;
  // The XDG spec says to ignore a relative XDG_CACHE_HOME.
  if (env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME)) return join(env.XDG_CACHE_HOME, 'backend-api');
  return join(env.HOME || userInfo().homedir, '.cache', 'backend-api');
}

/**
 * extractAddon makes sure <baseDir>/<sha256>/better_sqlite3.node holds exactly these bytes and
 * returns its path. Processes starting together each write a temporary file and rename it into
 * place: rename is atomic, so a reader sees a whole addon or none, never half of one.
 */
export function extractAddon(bytes: Uint8Array, baseDir: string): string {
  const hash = sha256(bytes);
  const dir = join(baseDir, hash);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  assertPrivate(baseDir);
  assertPrivate(dir);
  const file = join(dir, ADDON_ASSET);
  if (hashOf(file) === hash) return file;
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, bytes, { flag: 'wx', mode: 0o500 });
    renameSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
  return file;
}

/**
 * prepareNativeBinding, inside the single executable, extracts better-sqlite3's addon to the
 * cache directory the environment names and loads it, once per process; from source it does nothing.
 */
export function prepareNativeBinding(env: Env): void {
  if (loaded !== undefined || !isSea()) return;
  const { getAsset } = requireBuiltin('node:sea') as typeof Sea;
  const file = extractAddon(new Uint8Array(getAsset(ADDON_ASSET)), addonCacheDir(env));
  const addon = { exports: {} };
  process.dlopen(addon, file);
  loaded = addon.exports;
}

/** nativeBinding returns the addon for better-sqlite3's nativeBinding option, or undefined from source. */
export function nativeBinding(): object | undefined {
  if (loaded === undefined && isSea()) throw new Error('prepareNativeBinding must run before the executable opens a database');
  return loaded;
}

/** assertPrivate refuses a directory that someone else could write into: they could swap the addon we load. */
function assertPrivate(dir: string): void {
  const stat = statSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o022) !== 0) {
    throw new Error(`${dir} must be a directory owned by this user and writable by no one else (it holds the native addon)`);
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function hashOf(file: string): string | null {
  try {
    return sha256(readFileSync(file));
  } catch {
    return null;
  }
}
