import type { Config } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrate } from '../db/migrations.js';

/** migrateCommand brings the schema up to date, as `serve` does before forking, and says what it did. */
export function migrateCommand(config: Config): void {
  const db = openDatabase(config.database.path, config.database);
  try {
    const { from, to } = migrate(db);
    process.stdout.write(
      from === to ? `${config.database.path}: schema up to date (version ${to})\n` : `${config.database.path}: schema migrated from version ${from} to ${to}\n`,
    );
  } finally {
    db.close();
  }
}
