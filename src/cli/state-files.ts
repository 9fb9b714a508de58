import { chownSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config.js';
import { openDatabase, type Db } from '../db/database.js';

/** The files SQLite keeps for a database in WAL mode, beside it. */
const SQLITE_SUFFIXES = ['', '-wal', '-shm'];

/**
 * keepStateOwner gives the database files root just made (the file itself on a first migrate,
 * its -wal and -shm whenever the service was not running) to the owner of the database's
 * directory. An operator command run as root (sudo backend-api backup …) must leave nothing
 * there that the service's own user could not open next time. Call it right after opening.
 */
export function keepStateOwner(databasePath: string, uid = process.getuid?.()): void {
  if (uid !== 0) return;
  const owner = statSync(dirname(databasePath));
  // A directory root owns is root's service (a container, a development machine): nothing to hand over.
  if (owner.uid === 0) return;
  for (const suffix of SQLITE_SUFFIXES) {
    const file = `${databasePath}${suffix}`;
    try {
      if (statSync(file).uid === 0) chownSync(file, owner.uid, owner.gid);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** openStateDatabase opens the service's database for an operator command, leaving its files to their owner. */
export function openStateDatabase(config: Config): Db {
  const db = openDatabase(config.database.path, config.database);
  try {
    keepStateOwner(config.database.path);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
