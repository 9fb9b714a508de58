#!/usr/bin/env node
// Builds dist/: the server bundled by esbuild into one CommonJS file (every file of ASSET_FILES
// inside it) in two flavours, one for node beside node_modules and one for the single executable;
// then, unless --bundle-only, the single executable dist/backend-api: the pinned Node 24 LTS
// (scripts/node-runtime.mjs, from the npm registry) with that bundle and better-sqlite3's addon,
// built for that Node, injected (Node's single executable applications).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { build } from 'esbuild';
import postject from 'postject';
import { tsImport } from 'tsx/esm/api';
import { parse as parseYaml } from 'yaml';
import { ensureAddon, ensureRuntime, RUNTIME } from './node-runtime.mjs';

const HELP = `Usage: npm run build [-- --bundle-only] [--out <dir>]

Writes, into dist/ or --out <dir>, each bundle with its source map (.map):
  main.cjs         the server in one CommonJS file, with openapi.yaml, package.json and every
                   other file of ASSET_FILES (src/assets.ts) inside; run it with node from the
                   checkout (better-sqlite3 stays in node_modules): node dist/main.cjs serve
  backend-api.cjs  the same with better-sqlite3 inside too: the executable's script
  backend-api      the single executable (skipped with --bundle-only): needs no Node.js, no
                   node_modules and no file beside it

The executable is Node ${RUNTIME.version} (pinned in scripts/node-runtime.mjs, fetched once from the
npm registry), whatever Node runs this build, with the bundle and better-sqlite3's addon compiled
for it (the first build compiles it: python3, make and g++). Build on the platform you ship to.`;

// The sentinel Node's binary carries to say whether a single-executable blob is injected.
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** Must match ADDON_ASSET in src/db/native-binding.ts. */
const ADDON_ASSET = 'better_sqlite3.node';

const root = fileURLToPath(new URL('..', import.meta.url));
let options;
try {
  options = parseArgs({
    options: { help: { type: 'boolean', short: 'h' }, 'bundle-only': { type: 'boolean' }, out: { type: 'string' } },
  }).values;
} catch (error) {
  fail(`${error.message}\n\n${HELP}`);
}
if (options.help) {
  console.log(HELP);
  process.exit(0);
}
const dist = resolve(options.out ?? join(root, 'dist'));

function fail(message) {
  console.error(`build: ${message}`);
  process.exit(1);
}

/** assetsBanner returns the statement that hands the bundle its files before any module runs. */
async function assetsBanner() {
  const { ASSET_FILES } = await tsImport('../src/assets.ts', import.meta.url);
  const assets = {};
  const parsed = {};
  for (const name of ASSET_FILES) {
    try {
      assets[name] = readFileSync(join(root, name)).toString('base64');
    } catch (error) {
      fail(`ASSET_FILES names ${name}, which cannot be read: ${error.message}`);
    }
    if (name.endsWith('.yaml')) parsed[name] = parsedAsJson(name, Buffer.from(assets[name], 'base64').toString('utf8'));
  }
  const js =
    `globalThis.__BACKEND_API_ASSETS__ = Object.freeze(${JSON.stringify(assets)});\n` +
    `globalThis.__BACKEND_API_PARSED_ASSETS__ = Object.freeze(${JSON.stringify(parsed)});`;
  return { count: ASSET_FILES.length, js };
}

/** parsedAsJson is a YAML file parsed, as JSON text (see readYamlAsset); it fails the build when JSON cannot hold exactly what YAML gives. */
function parsedAsJson(name, text) {
  const value = parseYaml(text);
  const json = JSON.stringify(value);
  if (!isDeepStrictEqual(JSON.parse(json), value)) fail(`${name} holds values JSON cannot carry (such as .inf or .nan)`);
  return json;
}

/** bundle writes one CommonJS bundle and its source map; the packages named in external stay outside. */
async function bundle(outfile, banner, external = []) {
  const result = await build({
    entryPoints: [join(root, 'src/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    // Node's single executables run one CommonJS script.
    format: 'cjs',
    sourcemap: 'linked',
    // Whitespace and syntax only: names stay, so stack traces from the executable still read.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    // import.meta.url is empty in CommonJS; src/assets.ts knows it, so say it plainly.
    define: { 'import.meta.url': '""' },
    banner: { js: banner.js },
    external,
    logLevel: 'warning',
  });
  if (result.errors.length > 0) fail('esbuild failed');
}

/** run runs a program quietly, showing what it printed only when it fails. */
function run(file, args) {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    fail(`${file} ${args.join(' ')} failed:\n${error.stdout ?? ''}${error.stderr ?? error.message}`);
  }
}

/** quietly runs work with console.warn dropping the lines that match: postject's ELF reader warns about notes it does not touch. */
async function quietly(noise, work) {
  const warn = console.warn;
  console.warn = (...parts) => noise.test(parts.join(' ')) || warn(...parts);
  try {
    return await work();
  } finally {
    console.warn = warn;
  }
}

/** singleExecutable copies the pinned runtime's node binary and injects the bundle and the SQLite addon built for it. */
async function singleExecutable(main, binary) {
  try {
    statSync(join(root, 'node_modules/better-sqlite3/package.json'));
  } catch {
    fail('node_modules/better-sqlite3 is missing: run npm ci first');
  }
  let runtime;
  let addon;
  try {
    const log = (line) => console.log(line);
    runtime = ensureRuntime({ log });
    addon = ensureAddon(runtime, { log });
  } catch (error) {
    fail(error.message);
  }
  const blob = join(dist, 'sea-prep.blob');
  const seaConfig = join(dist, 'sea-config.json');
  writeFileSync(
    seaConfig,
    JSON.stringify({
      main,
      output: blob,
      disableExperimentalSEAWarning: true,
      // Compiled code in the blob starts each process (primary and every worker) sooner.
      useCodeCache: true,
      assets: { [ADDON_ASSET]: addon },
    }),
  );
  // The blob (its code cache above all) is the runtime's own: made by the node it goes into.
  run(runtime.node, ['--experimental-sea-config', seaConfig]);
  copyFileSync(runtime.node, binary);
  chmodSync(binary, 0o755);
  // Linux binaries carry no signature to remove; macOS would need codesign here.
  await quietly(/Can't find string offset for section name/, () =>
    postject.inject(binary, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE }),
  );
  rmSync(blob);
  rmSync(seaConfig);
}

const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
const megabytes = (file) => (statSync(file).size / 1e6).toFixed(1);
const shown = (file) => (relative(process.cwd(), file).startsWith('..') ? file : relative(process.cwd(), file));
mkdirSync(dist, { recursive: true });
const forNode = join(dist, 'main.cjs');
const seaMain = join(dist, 'backend-api.cjs');
const binary = join(dist, 'backend-api');
// Never a stale executable beside a fresh bundle, even when this build fails half-way.
rmSync(binary, { force: true });
const banner = await assetsBanner();
// node finds better-sqlite3's addon through node_modules; the executable loads it itself.
await bundle(forNode, banner, ['better-sqlite3']);
await bundle(seaMain, banner);
console.log(`${shown(forNode)}, ${shown(seaMain)}: ${megabytes(seaMain)} MB each, ${banner.count} embedded files (${seconds()} s)`);
if (!options['bundle-only']) {
  if (process.platform !== 'linux') fail(`the executable is built for Linux only (this is ${process.platform})`);
  await singleExecutable(seaMain, binary);
  const version = run(binary, ['--version']).trim();
  console.log(`${shown(binary)}: ${megabytes(binary)} MB, version ${version} (${seconds()} s)`);
}
