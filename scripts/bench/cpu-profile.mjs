#!/usr/bin/env node
// Summarizes V8 .cpuprofile files (node --cpu-prof): self time by module (npm package, our source
// file, node internals, GC) and by function. Positions in the bundle dist/main.cjs are mapped back
// to their source through its source map, so a profile of the bundle names packages and files too.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('../..', import.meta.url));
const HELP = `Usage: node scripts/bench/cpu-profile.mjs <file.cpuprofile | directory> [--top N]

Prints, for each profile (busiest process first: in a cluster, the worker before the primary),
where its CPU time went by module and by function, as self time and share of the busy time.
Profiles come from \`npm run bench -- --cpu-prof DIR\` or any node --cpu-prof run.`;

const maps = new Map();

/** sourceMapOf loads the source map next to a bundled file, once; null when there is none. */
function sourceMapOf(url) {
  if (!maps.has(url)) {
    let map = null;
    try {
      const file = fileURLToPath(url);
      if (existsSync(`${file}.map`)) map = { map: new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8'))), base: join(file, '..') };
    } catch {
      map = null;
    }
    maps.set(url, map);
  }
  return maps.get(url);
}

/** locate returns the source file and line (1-based) a call frame's code came from, through the bundle's source map when it has one. */
function locate({ url, lineNumber, columnNumber }) {
  if (!url.startsWith('file://')) return { file: url, line: lineNumber + 1 };
  const found = sourceMapOf(url);
  if (found) {
    const entry = found.map.findEntry(lineNumber, columnNumber);
    if (entry?.originalSource) return { file: join(found.base, entry.originalSource.replace(/^file:\/\//, '')), line: entry.originalLine + 1 };
  }
  return { file: fileURLToPath(url), line: lineNumber + 1 };
}

/** moduleOf groups a source file: an npm package, one of our files, or node's internals. */
function moduleOf(file, functionName) {
  if (!file) return functionName.startsWith('(') ? functionName : '(native)';
  if (file.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return pkg[1];
  return relative(root, file).replace(/^(\.\.\/)+/, '');
}

/** summarizeProfile adds up one profile's self time by module and by function. */
export function summarizeProfile(path) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const modules = new Map();
  const functions = new Map();
  let total = 0;
  let idle = 0;
  for (const [id, micros] of self) {
    const { callFrame } = nodes.get(id);
    total += micros;
    if (callFrame.functionName === '(idle)') {
      idle += micros;
      continue;
    }
    const { file, line } = locate(callFrame);
    const module = moduleOf(file, callFrame.functionName);
    const where = file ? `${module === relative(root, file) ? module : basename(file)}:${line}` : '';
    const fn = `${callFrame.functionName || '(anonymous)'}${where ? ` ${where}` : ''} [${module}]`;
    modules.set(module, (modules.get(module) ?? 0) + micros);
    functions.set(fn, (functions.get(fn) ?? 0) + micros);
  }
  return { path, totalMs: total / 1000, busyMs: (total - idle) / 1000, modules, functions };
}

/** summarizeProfiles renders every profile of a directory (or one file), busiest first. */
export function summarizeProfiles(target, { top = 20 } = {}) {
  if (!existsSync(target)) return `(no profiles in ${target})`;
  const files = statSync(target).isDirectory()
    ? readdirSync(target).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(target, f))
    : [target];
  const summaries = files.map(summarizeProfile).sort((a, b) => b.busyMs - a.busyMs);
  const out = [];
  for (const s of summaries) {
    out.push(`${basename(s.path)}: busy ${(s.busyMs / 1000).toFixed(1)} s of ${(s.totalMs / 1000).toFixed(1)} s`);
    const table = (title, map) => {
      out.push(`  ${title}:`);
      for (const [name, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
        out.push(`    ${((micros / 1000 / s.busyMs) * 100).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${name}`);
      }
    };
    table('self time by module', s.modules);
    table('self time by function', s.functions);
  }
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '20' }, help: { type: 'boolean' } } });
  } catch (error) {
    console.error(`cpu-profile: ${error.message}\n\n${HELP}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    console.log(HELP);
    process.exit(0);
  }
  if (parsed.positionals.length !== 1 || !existsSync(parsed.positionals[0])) {
    console.error(`cpu-profile: give one .cpuprofile file or a directory of them\n\n${HELP}`);
    process.exit(2);
  }
  console.log(summarizeProfiles(parsed.positionals[0], { top: Number(parsed.values.top) || 20 }));
}
