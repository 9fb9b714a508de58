import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../assets.js';

/** readmeSection is the text of one README section, from its heading to the next heading of level 2 or 3. */
export function readmeSection(heading: string): string {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `the README has a section ${heading}`);
  const end = readme.slice(start + heading.length + 2).search(/\n#{2,3} /);
  return readme.slice(start, end < 0 ? undefined : start + heading.length + 2 + end);
}

/** readmeBlocks are the bash blocks of one README section, exactly as written there. */
export function readmeBlocks(heading: string): string[] {
  return [...readmeSection(heading).matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!);
}
