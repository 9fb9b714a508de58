// Which Node runs the servers under test. The bench itself and its load generator run on the Node
// that started it; every server (ours and the references) runs on the runtime asked for: the
// pinned Node 24 the executable ships (scripts/node-runtime.mjs), or the Node that runs the bench.
// better-sqlite3's addon must match the runtime's ABI, so for another ABI the servers run from a
// directory of their own whose node_modules links every package of ours but better-sqlite3,
// which is a copy carrying the addon built for that runtime.
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureAddon, ensureRuntime } from '../node-runtime.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const REFERENCE_FILES = ['reference-common.mjs', 'reference-raw.mjs', 'reference-express.mjs', 'reference-fastify.mjs'];

/** runtimeNames parses --node: "24" (the shipped runtime), "current" (the bench's own Node), comma-separated. */
export function runtimeNames(value) {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => n !== '24' && n !== 'current');
  if (bad.length || names.length === 0) throw new Error(`--node takes 24, current or both (24,current); got "${value}"`);
  return [...new Set(names)];
}

/**
 * prepareRuntime returns how to run servers on one runtime: { label, node, version, bundle,
 * referenceDir }. For an ABI other than node_modules' it lays out `dir` as described above, with
 * a copy of the bundle (which must exist: the source through tsx runs only on the bench's Node).
 */
export function prepareRuntime(name, { bundle, dir, log }) {
  if (name === 'current') return { label: `Node ${process.version}`, node: process.execPath, version: process.version, bundle, referenceDir: join(root, 'scripts/bench') };
  const runtime = ensureRuntime({ log });
  const base = { label: `Node ${runtime.version}`, node: runtime.node, version: runtime.version };
  if (runtime.abi === process.versions.modules) return { ...base, bundle, referenceDir: join(root, 'scripts/bench') };
  if (!bundle) throw new Error(`Node ${runtime.version} runs our server from a bundle only: run \`npm run build\` or pass --build (not --source)`);
  const addon = ensureAddon(runtime, { log });
  const modules = join(dir, 'node_modules');
  mkdirSync(modules, { recursive: true });
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (entry !== 'better-sqlite3' && entry !== '.bin') symlinkSync(join(root, 'node_modules', entry), join(modules, entry));
  }
  const sqlite = join(modules, 'better-sqlite3');
  for (const part of ['package.json', 'lib']) cpSync(join(root, 'node_modules/better-sqlite3', part), join(sqlite, part), { recursive: true });
  mkdirSync(join(sqlite, 'build', 'Release'), { recursive: true });
  copyFileSync(addon, join(sqlite, 'build', 'Release', 'better_sqlite3.node'));
  copyFileSync(bundle, join(dir, 'main.cjs'));
  if (existsSync(`${bundle}.map`)) copyFileSync(`${bundle}.map`, join(dir, 'main.cjs.map'));
  const referenceDir = join(dir, 'bench');
  mkdirSync(referenceDir);
  for (const file of REFERENCE_FILES) copyFileSync(join(root, 'scripts/bench', file), join(referenceDir, file));
  return { ...base, bundle: join(dir, 'main.cjs'), referenceDir };
}
