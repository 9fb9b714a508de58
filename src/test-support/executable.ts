import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../assets.js';

/** The variable through which scripts/test.mjs hands every test file the one build of its run. */
const SHARED_BUILD_VARIABLE = 'BACKEND_API_TEST_BUILD';

/**
 * builtExecutable is the single executable of `npm run build` for a test: the one scripts/test.mjs
 * built once for the whole run (a build takes 10-20 s, and three test files need it), else one
 * built now into `dir`. Callers copy it before changing anything about it.
 */
export function builtExecutable(dir: string, timeoutMs = 300_000): string {
  const shared = process.env[SHARED_BUILD_VARIABLE];
  if (shared && existsSync(join(shared, 'backend-api'))) return join(shared, 'backend-api');
  const build = spawnSync(process.execPath, [join(projectRoot, 'scripts/build.mjs'), '--out', dir], { encoding: 'utf8', timeout: timeoutMs });
  assert.equal(build.status, 0, `${build.stdout}${build.stderr}`);
  return join(dir, 'backend-api');
}
