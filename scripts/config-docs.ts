// Writes .env.example and the README's configuration table from SETTINGS in src/config.ts, the
// one place each variable is described; --check only says whether they are up to date.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/assets.js';
import { envExample, withConfigTable } from '../src/config-docs.js';

const HELP = `Usage: npm run docs:config [-- --check]

Generates .env.example and the configuration table of README.md (between its markers) from
SETTINGS in src/config.ts. With --check it writes nothing and exits 1 when either file differs.`;

/** main writes (or checks) each generated file; a file out of date under --check is a failure. */
function main(args: string[]): number {
  if (args.includes('--help')) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const unknown = args.filter((arg) => arg !== '--check');
  if (unknown.length > 0) {
    process.stderr.write(`config-docs: unknown argument ${unknown.join(' ')}\n${HELP}\n`);
    return 2;
  }
  const check = args.includes('--check');
  const files = [
    { name: '.env.example', render: () => envExample() },
    { name: 'README.md', render: (current: string) => withConfigTable(current) },
  ];
  let stale = 0;
  for (const { name, render } of files) {
    const path = join(projectRoot, name);
    const current = readFileSync(path, 'utf8');
    const wanted = render(current);
    if (wanted === current) continue;
    stale++;
    if (check) process.stderr.write(`${name} is out of date: run npm run docs:config\n`);
    else {
      writeFileSync(path, wanted);
      process.stdout.write(`wrote ${name}\n`);
    }
  }
  return check && stale > 0 ? 1 : 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`config-docs: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
