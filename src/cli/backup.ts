import { closeSync, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { openDatabase, type Db } from '../db/database.js';
import { openStateDatabase } from './state-files.js';
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

  try {
    const source = openStateDatabase(config);
    try {
      await source.backup(target);
    } finally {
      source.close();
    }
  } catch (error) {
    removeCopy(target);
    throw error;
  }

  let verdict: string[];
  try {
    const copy = openDatabase(target, config.database);
    try {
      verdict = integrityCheck(copy);
      // A backup is one file to carry around: no -wal or -shm beside it.
      if (verdict.join('') === 'ok') copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
  } catch (error) {
    removeCopy(target);
    throw error;
  }
  if (verdict.join('') !== 'ok') {
    removeCopy(target);
    throw new CommandError(`the copy failed integrity_check, so the database did too; ${target} removed:\n  ${verdict.slice(0, 20).join('\n  ')}`);
  }
  process.stdout.write(`${target}: ${statSync(target).size} bytes, integrity_check ok\n`);
}

/** integrityCheck returns SQLite's findings, "ok" alone when healthy; damage bad enough to stop the check is a finding too. */
function integrityCheck(db: Db): string[] {
  try {
    return (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((row) => row.integrity_check);
  } catch (error) {
    if (/^SQLITE_(CORRUPT|NOTADB)/.test(String((error as { code?: unknown }).code))) return [(error as Error).message];
    throw error;
  }
}

function removeCopy(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
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
