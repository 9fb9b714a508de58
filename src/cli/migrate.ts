import type { Config } from '../config.js';
import { migrate } from '../db/migrations.js';
import { openStateDatabase } from './state-files.js';

/** migrateCommand brings the schema up to date, as `serve` does before forking, and says what it did. */
export function migrateCommand(config: Config): void {
  const db = openStateDatabase(config);
  try {
    const { from, to } = migrate(db);
    process.stdout.write(
      from === to ? `${config.database.path}: schema up to date (version ${to})\n` : `${config.database.path}: schema migrated from version ${from} to ${to}\n`,
    );
  } finally {
    db.close();
  }
}
