import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { ValidationError } from '@tenantfold/core';
import { PATH_PART } from '../language/ast.js';
import { valueSql } from '../sql/fieldSql.js';

const PREFIX = 'state_ix_';

/** Index name for a state path: stable, and safe whatever the path (a hash, not the path). */
function indexName(path: string): string {
  return PREFIX + createHash('sha256').update(path).digest('hex').slice(0, 16);
}

/** Checks a dotted index path from a manifest (`owner.name`). */
export function parseIndexPath(path: string, field = 'query.indexes'): readonly string[] {
  const parts = path.split('.');
  if (!parts.every((part) => PATH_PART.test(part))) {
    throw new ValidationError(
      `${field}: ${JSON.stringify(path)} is not a dotted path of names ([A-Za-z_$][A-Za-z0-9_$]*)`,
      field,
    );
  }
  return parts;
}

export interface IndexChanges {
  /** State paths that got an index. */
  readonly created: readonly string[];
  /** Names of the indexes dropped (`state_ix_<hash of the path>`). */
  readonly dropped: readonly string[];
}

/**
 * Makes the database's state indexes exactly the declared paths: one
 * expression index per path, over (tenant, type, value), so a filter on the
 * path within one tenant and type is a range scan in the index. The primary
 * key (id) rides in every index entry, which lets `ORDER BY value, id` stream.
 */
export function syncIndexes(db: Database.Database, paths: Iterable<string>): IndexChanges {
  const wanted = new Map<string, string>();
  for (const path of paths) wanted.set(indexName(path), path);
  const existing = (
    db
      .prepare(`SELECT name FROM sqlite_schema WHERE type = 'index' AND name LIKE ?`)
      .all(`${PREFIX}%`) as { name: string }[]
  ).map((r) => r.name);
  const created: string[] = [];
  const dropped: string[] = [];
  db.transaction(() => {
    for (const name of existing) {
      if (wanted.has(name)) continue;
      db.exec(`DROP INDEX "${name}"`);
      dropped.push(name);
    }
    for (const [name, path] of wanted) {
      if (existing.includes(name)) continue;
      const expression = valueSql({ kind: 'state', path: parseIndexPath(path) });
      db.exec(`CREATE INDEX "${name}" ON aggregates (tenant, type, ${expression})`);
      created.push(path);
    }
  })();
  return { created, dropped };
}
