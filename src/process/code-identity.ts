import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { projectRoot } from '../assets.js';

/**
 * codeIdentity names the code a new process started now would run: the executable (the single
 * executable, or node), the script node runs (the bundle), and for a run from source every
 * source file and package.json. It reads what is on disk (size, mtime, inode), so the primary
 * can compare what it started with against what a worker forked now would load.
 */
export function codeIdentity(execPath: string = process.execPath, script: string | undefined = process.argv[1]): string {
  const files = new Set([resolve(execPath)]);
  if (script) {
    const path = resolve(script);
    if (path.endsWith('.ts')) {
      for (const file of sourceFiles(dirname(path))) files.add(file);
      files.add(join(projectRoot, 'package.json'));
    } else {
      files.add(path);
    }
  }
  const hash = createHash('sha256');
  for (const file of [...files].sort()) hash.update(`${file}\0${fileStamp(file)}\n`);
  return hash.digest('hex').slice(0, 16);
}

function fileStamp(file: string): string {
  try {
    const stat = statSync(file);
    return `${stat.size}:${stat.mtimeMs}:${stat.ino}`;
  } catch {
    return 'missing';
  }
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .map((file) => join(dir, file));
}
