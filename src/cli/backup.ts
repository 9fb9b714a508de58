import { closeSync, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { openDatabase } from '../db/database.js';
import { CommandError, EXIT_USAGE } from './command-error.js';

/**
 * backupCommand copies the live database to a new file with SQLite's online backup (writers go
 * on meanwhile), then runs integrity_check on the copy; a copy that fails it is removed.
 */
export async function backupCommand(config: Config, args: string[]): Promise<void> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new CommandError('usage: backend-api backup <file>', EXIT_USAGE);
  const target = resolve(positionals[0] as string);
  if (!existsSync(config.database.path)) throw new CommandError(`no database at ${config.database.path} (see DATABASE_PATH)`);
  createPrivateFile(target);

  const source = openDatabase(config.database.path, config.database);
  try {
    await source.backup(target);
  } catch (error) {
    rmSync(target, { force: true });
    throw error;
  } finally {
    source.close();
  }

  const copy = openDatabase(target, config.database);
  let verdict: string[];
  try {
    // A backup is one file to carry around: no -wal or -shm beside it.
    copy.pragma('journal_mode = DELETE');
    verdict = (copy.pragma('integrity_check') as Array<{ integrity_check: string }>).map((row) => row.integrity_check);
  } finally {
    copy.close();
  }
  if (verdict.join('') !== 'ok') {
    rmSync(target, { force: true });
    throw new CommandError(`the copy failed integrity_check, so the database did too; ${target} removed:\n  ${verdict.slice(0, 20).join('\n  ')}`);
  }
  process.stdout.write(`${target}: ${statSync(target).size} bytes, integrity_check ok\n`);
}

/** createPrivateFile makes the empty target first: mode 0600 (it holds password hashes), and never over an existing file. */
function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CommandError(`${path} exists; a backup never overwrites a file`);
    throw new CommandError(`cannot create ${path}: ${(error as Error).message}`);
  }
}
